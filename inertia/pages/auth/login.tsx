import type { ReactNode } from 'react'
import { Form, Head, Link } from '@inertiajs/react'
import AuthLayout from '~/layouts/auth.js'
import Field from '~/components/field.js'

export default function Login() {
  return (
    <>
      <Head title="Log in" />
      <h1>Log in</h1>
      <p className="muted">Welcome back. Enter your email and password.</p>
      <Form action="/login" method="post" className="stack" resetOnError={['password']} resetOnSuccess={['password']}>
        {({ errors, processing }) => (
          <>
            <Field label="Email" name="email" type="email" autoComplete="username" required error={errors.email} />
            <Field
              label="Password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              error={errors.password}
            />
            <button type="submit" className="button button-primary button-block" disabled={processing}>
              {processing ? 'Logging in…' : 'Log in'}
            </button>
          </>
        )}
      </Form>
      <p className="muted center">
        New to Studio? <Link href="/register">Create an account</Link>
      </p>
    </>
  )
}

Login.layout = (page: ReactNode) => <AuthLayout>{page}</AuthLayout>
