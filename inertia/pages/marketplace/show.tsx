import { Form, Head, Link } from '@inertiajs/react'
import CheckoutButton from '~/components/checkout_button.js'
import { formatDate } from '~/lib/format.js'
import { creatorEarnsLabel, heldLabel, priceLabel, type AgentListing } from '~/lib/agents.js'

type Props = { agent: AgentListing; currency: string }

const BUY_LABELS: Record<string, string> = {
  free: 'Add to my agents',
  api: 'Add (billed per token)',
  monthly: 'Subscribe',
  one_time: 'Buy once',
}

/** One agent: what it costs, what its creator earns, and the button to get it (or your status with it). */
export default function AgentPage({ agent, currency }: Props) {
  const held = heldLabel(agent)
  return (
    <>
      <Head title={agent.name} />
      <div className="page-header">
        <div>
          <p className="small">
            <Link href="/marketplace">Marketplace</Link> /
          </p>
          <h1>{agent.name}</h1>
          <p className="muted">{creatorEarnsLabel(agent, currency)}</p>
        </div>
      </div>
      <section className="card stack" aria-labelledby="agent-price">
        <p className="price" id="agent-price">
          {priceLabel(agent, currency)}
        </p>
        <p>{agent.description}</p>
        {agent.pricingType === 'api' ? (
          <p className="muted small">
            Billed with your monthly usage: credits first, then your card. You need credits or a saved card to add it.
          </p>
        ) : null}
        {held ? (
          <div className="stack" data-testid="agent-status">
            <p>
              <span className="badge badge-premium">{held}</span>{' '}
              {agent.held?.currentPeriodEnd
                ? agent.held.cancelAtPeriodEnd
                  ? `Access until ${formatDate(agent.held.currentPeriodEnd)}.`
                  : `Renews on ${formatDate(agent.held.currentPeriodEnd)}.`
                : null}
            </p>
            {agent.pricingType === 'monthly' && agent.held && !agent.held.cancelAtPeriodEnd ? (
              <Form action={`/marketplace/${agent.slug}/cancel`} method="post">
                {({ processing }) => (
                  <button type="submit" className="button button-secondary" disabled={processing}>
                    {processing ? 'Cancelling…' : 'Cancel at period end'}
                  </button>
                )}
              </Form>
            ) : null}
          </div>
        ) : agent.own && agent.pricingType !== 'free' ? (
          <p className="muted">This is your agent.</p>
        ) : agent.available ? (
          <CheckoutButton
            action={`/marketplace/${agent.slug}/purchase`}
            label={BUY_LABELS[agent.pricingType] ?? 'Get it'}
            busyLabel={agent.pricingType === 'monthly' || agent.pricingType === 'one_time' ? 'Opening checkout…' : 'Adding…'}
            primary
          />
        ) : (
          <p className="muted">Not available right now: its price is being updated.</p>
        )}
      </section>
    </>
  )
}
