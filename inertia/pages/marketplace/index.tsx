import { Head, Link } from '@inertiajs/react'
import { creatorEarnsLabel, heldLabel, priceLabel, type AgentListing } from '~/lib/agents.js'

type Props = { agents: AgentListing[]; currency: string }

/** The marketplace: every published agent, its price, its creator's share and whether you have it. */
export default function Marketplace({ agents, currency }: Props) {
  return (
    <>
      <Head title="Marketplace" />
      <div className="page-header">
        <div>
          <h1>Marketplace</h1>
          <p className="muted">AI agents for your apps. Creators earn 90% of what their agents sell.</p>
        </div>
        <Link href="/marketplace/mine" className="button button-secondary">
          My agents
        </Link>
      </div>
      {agents.length === 0 ? (
        <p className="card empty">No agents are published yet.</p>
      ) : (
        <ul className="grid-3 agent-list" aria-label="Agents">
          {agents.map((agent) => {
            const held = heldLabel(agent)
            return (
              <li key={agent.id} className="card agent-card" data-testid={`agent-${agent.slug}`}>
                <h2 className="agent-name">
                  <Link href={`/marketplace/${agent.slug}`}>{agent.name}</Link>
                </h2>
                <p className="price">{priceLabel(agent, currency)}</p>
                <p className="muted small">{creatorEarnsLabel(agent, currency)}</p>
                <p>{agent.description}</p>
                {held ? <span className="badge badge-premium">{held}</span> : null}
              </li>
            )
          })}
        </ul>
      )}
    </>
  )
}
