import { Head, Link } from '@inertiajs/react'
import { formatCents } from '~/lib/format.js'
import CheckoutButton from '~/components/checkout_button.js'

// A type alias, not an interface: page props must be plain JSON records.
type Limits = {
  projects: number
  deploys: number
}

interface Props {
  currency: string
  premium: { amountCents: number; interval: string }
  limits: { free: Limits; premium: Limits }
  deploySlotCents: number
  creditPackages: Array<{ key: string; amountCents: number }>
  currentPlan: 'free' | 'premium' | null
}

function plural(count: number, word: string) {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

/** Free vs Premium, the feature comparison and the questions people ask before upgrading. */
export default function Plans({ currency, premium, limits, deploySlotCents, creditPackages, currentPlan }: Props) {
  const rows = [
    { feature: 'Projects', free: plural(limits.free.projects, 'project'), premium: plural(limits.premium.projects, 'project') },
    { feature: 'Deployed at once', free: plural(limits.free.deploys, 'deploy'), premium: plural(limits.premium.deploys, 'deploy') },
    { feature: 'Extra deploy slots', free: `${formatCents(deploySlotCents, currency)} each`, premium: `${formatCents(deploySlotCents, currency)} each` },
    { feature: 'Prepaid AI credits', free: 'Yes', premium: 'Yes' },
    { feature: 'Marketplace agents', free: 'Yes', premium: 'Yes' },
  ]
  const faqs = [
    {
      q: 'What happens if I cancel?',
      a: 'Premium stays until the end of the period you paid for, then your account moves to the Free limits. Nothing is deleted: projects over the limit stay readable, and extra deployments are stopped, newest first.',
    },
    {
      q: 'What if a renewal payment fails?',
      a: 'Premium keeps working for a grace period while Stripe retries the payment. Update your card in the billing portal to recover.',
    },
    {
      q: 'How do credits work?',
      a: `Credits are prepaid (${creditPackages.map((pack) => formatCents(pack.amountCents, currency)).join(', ')} packs, 1 credit = 1 cent) and are spent on AI usage before any card charge.`,
    },
    {
      q: 'Are deploy slots a subscription?',
      a: 'No. A slot is bought once and adds one deployment on top of your plan for as long as you keep it.',
    },
  ]
  return (
    <>
      <Head title="Plans" />
      <div className="page-header">
        <div>
          <h1>Plans</h1>
          <p className="muted">Start free. Upgrade when your apps need more room.</p>
        </div>
      </div>

      <div className="grid-2">
        <section className="card" aria-labelledby="free-title">
          <h2 id="free-title">Free</h2>
          <p className="price">{formatCents(0, currency)}</p>
          <p className="muted">
            {plural(limits.free.projects, 'project')}, {plural(limits.free.deploys, 'deploy')}.
          </p>
          {currentPlan === 'free' ? <p className="badge badge-free">Your plan</p> : null}
        </section>
        <section className="card" aria-labelledby="premium-title">
          <h2 id="premium-title">Premium</h2>
          <p className="price">
            {formatCents(premium.amountCents, currency)}
            <span className="muted"> / {premium.interval}</span>
          </p>
          <p className="muted">
            {plural(limits.premium.projects, 'project')}, {plural(limits.premium.deploys, 'deploy')}. Cancel any time.
          </p>
          {currentPlan === 'premium' ? (
            <p className="badge badge-premium">Your plan</p>
          ) : currentPlan === 'free' ? (
            <CheckoutButton kind="premium" label="Upgrade to Premium" primary block />
          ) : (
            <Link href="/register" className="button button-primary button-block">
              Create an account
            </Link>
          )}
        </section>
      </div>

      <section className="card" aria-labelledby="compare-title">
        <h2 id="compare-title">Compare</h2>
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Feature</th>
              <th scope="col">Free</th>
              <th scope="col">Premium</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.feature}>
                <th scope="row">{row.feature}</th>
                <td>{row.free}</td>
                <td>{row.premium}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section className="card" aria-labelledby="faq-title">
        <h2 id="faq-title">Questions</h2>
        <dl className="faq">
          {faqs.map((item) => (
            <div key={item.q}>
              <dt>{item.q}</dt>
              <dd>{item.a}</dd>
            </div>
          ))}
        </dl>
      </section>
    </>
  )
}
