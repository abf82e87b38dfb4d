import { Form, Head } from '@inertiajs/react'
import type { Data } from '@generated/data.js'
import Field from '~/components/field.js'
import { formatCents } from '~/lib/format.js'

export default function Profile({ profile }: { profile: Data.User }) {
  return (
    <>
      <Head title="Profile" />
      <div className="page-header">
        <div>
          <h1>Profile</h1>
          <p className="muted">Your name, email and password.</p>
        </div>
      </div>

      <div className="grid-2">
        <section className="card" aria-labelledby="details-title">
          <h2 id="details-title">Details</h2>
          <Form action="/profile" method="put" className="stack" options={{ preserveScroll: true }}>
            {({ errors, processing }) => (
              <>
                <Field label="Full name" name="fullName" defaultValue={profile.fullName} autoComplete="name" required error={errors.fullName} />
                <Field label="Email" name="email" type="email" defaultValue={profile.email} autoComplete="email" required error={errors.email} />
                <button type="submit" className="button button-primary" disabled={processing}>
                  Save changes
                </button>
              </>
            )}
          </Form>
        </section>

        <section className="card" aria-labelledby="password-title">
          <h2 id="password-title">Password</h2>
          <Form
            action="/profile/password"
            method="put"
            className="stack"
            resetOnSuccess
            resetOnError
            options={{ preserveScroll: true }}
          >
            {({ errors, processing }) => (
              <>
                <Field label="Current password" name="currentPassword" type="password" autoComplete="current-password" required error={errors.currentPassword} />
                <Field label="New password" name="password" type="password" autoComplete="new-password" required minLength={8} hint="At least 8 characters." error={errors.password} />
                <Field label="Confirm new password" name="passwordConfirmation" type="password" autoComplete="new-password" required error={errors.passwordConfirmation} />
                <button type="submit" className="button button-secondary" disabled={processing}>
                  Change password
                </button>
              </>
            )}
          </Form>
        </section>
      </div>

      <section className="card card-muted" aria-labelledby="plan-title">
        <h2 id="plan-title">Plan and credits</h2>
        <p>
          You are on the <strong>{profile.plan === 'premium' ? 'Premium' : 'Free'}</strong> plan with{' '}
          <strong>{formatCents(profile.creditsBalanceCents)}</strong> in prepaid credits.
        </p>
        <p className="muted small">Plan and credits change only through payments, never through this form.</p>
      </section>
    </>
  )
}
