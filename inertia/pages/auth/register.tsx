import type { ReactNode } from 'react'
import { Form, Head, Link } from '@inertiajs/react'
import AuthLayout from '~/layouts/auth.js'
import Field from '~/components/field.js'

export default function Register() {
  return (
    <>
      <Head title="Create account" />
      <h1>Create your account</h1>
      <p className="muted">Free forever for one project. No card needed.</p>
      <Form action="/register" method="post" className="stack" resetOnError={['password', 'passwordConfirmation']}>
        {({ errors, processing }) => (
          <>
            <Field label="Full name" name="fullName" autoComplete="name" required error={errors.fullName} />
            <Field label="Email" name="email" type="email" autoComplete="email" required error={errors.email} />
            <Field
              label="Password"
              name="password"
              type="password"
              autoComplete="new-password"
              required
              minLength={8}
              hint="At least 8 characters."
              error={errors.password}
            />
            <Field
              label="Confirm password"
              name="passwordConfirmation"
              type="password"
              autoComplete="new-password"
              required
              error={errors.passwordConfirmation}
            />
            <button type="submit" className="button button-primary button-block" disabled={processing}>
              {processing ? 'Creating account…' : 'Create account'}
            </button>
          </>
        )}
      </Form>
      <p className="muted center">
        Already have an account? <Link href="/login">Log in</Link>
      </p>
    </>
  )
}

Register.layout = (page: ReactNode) => <AuthLayout>{page}</AuthLayout>
