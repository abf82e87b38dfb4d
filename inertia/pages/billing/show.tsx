import { Form, Head } from '@inertiajs/react'
import { formatCents } from '~/lib/format.js'

interface Props {
  plan: 'free' | 'premium'
  limits: { projects: number; deploys: number }
  currency: string
  offers: {
    premium: {
      amountCents: number
      interval: string
      limits: { projects: number; deploys: number }
      freeLimits: { projects: number; deploys: number }
    }
    creditPackages: Array<{ key: string; amountCents: number }>
    deploySlot: { amountCents: number }
  }
  checkoutCanceled: boolean
}

/** One Buy button: posts the purchase; the server answers with Stripe Checkout's URL. */
function BuyButton(props: { kind: string; packageKey?: string; label: string; primary?: boolean }) {
  return (
    <Form action="/billing/checkout" method="post">
      {({ processing }) => (
        <>
          <input type="hidden" name="kind" value={props.kind} />
          {props.packageKey ? <input type="hidden" name="packageKey" value={props.packageKey} /> : null}
          <button
            type="submit"
            className={`button ${props.primary ? 'button-primary' : 'button-secondary'} button-block`}
            disabled={processing}
          >
            {processing ? 'Opening checkout…' : props.label}
          </button>
        </>
      )}
    </Form>
  )
}

export default function Billing({ plan, limits, currency, offers, checkoutCanceled }: Props) {
  return (
    <>
      <Head title="Billing" />
      <div className="page-header">
        <div>
          <h1>Billing</h1>
          <p className="muted">
            You are on the {plan === 'premium' ? 'Premium' : 'Free'} plan: {limits.projects}{' '}
            project{limits.projects === 1 ? '' : 's'}, {limits.deploys} deploy
            {limits.deploys === 1 ? '' : 's'}.
          </p>
        </div>
      </div>

      {checkoutCanceled ? (
        <p className="alert alert-info" role="status">
          Checkout canceled. Nothing was charged.
        </p>
      ) : null}

      <div className="grid-3">
        <section className="card" aria-labelledby="premium-title">
          <h2 id="premium-title">Premium</h2>
          <p className="price">
            {formatCents(offers.premium.amountCents, currency)}
            <span className="muted"> / {offers.premium.interval}</span>
          </p>
          <p className="muted">
            <a href="/plans">Compare plans</a>.{' '}
            {offers.premium.limits.projects} projects and {offers.premium.limits.deploys} deploys
            instead of {offers.premium.freeLimits.projects} and {offers.premium.freeLimits.deploys}.
            Cancel any time.
          </p>
          {plan === 'premium' ? (
            <p className="badge badge-premium">Your plan</p>
          ) : (
            <BuyButton kind="premium" label="Upgrade to Premium" primary />
          )}
        </section>

        <section className="card" aria-labelledby="credits-title">
          <h2 id="credits-title">Credit packs</h2>
          <p className="muted">Prepaid credits are spent on AI usage before any card charge.</p>
          <div className="stack">
            {offers.creditPackages.map((pack) => (
              <BuyButton
                key={pack.key}
                kind="credits"
                packageKey={pack.key}
                label={`Buy ${formatCents(pack.amountCents, currency)} of credits`}
              />
            ))}
          </div>
        </section>

        <section className="card" aria-labelledby="slot-title">
          <h2 id="slot-title">Deploy slot</h2>
          <p className="price">{formatCents(offers.deploySlot.amountCents, currency)}</p>
          <p className="muted">One more project deployed at the same time, for good.</p>
          <BuyButton kind="deploy_slot" label="Buy a deploy slot" />
        </section>
      </div>
    </>
  )
}
