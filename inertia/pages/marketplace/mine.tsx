import { Head, Link } from '@inertiajs/react'
import { formatDate } from '~/lib/format.js'

// A type alias, not an interface: page props must be plain JSON records.
type OwnedAgent = {
  entitlementId: number
  status: string
  pricingType: string
  cancelAtPeriodEnd: boolean
  currentPeriodEnd: string | null
  since: string
  agent: { id: number; slug: string; name: string; description: string }
}

type Props = { agents: OwnedAgent[] }

const STATUS: Record<string, string> = {
  active: 'Active',
  pending: 'Payment processing',
  past_due: 'Payment failed',
  canceled: 'Ended',
  refunded: 'Refunded',
}

const HOW: Record<string, string> = {
  free: 'Free',
  api: 'Per token',
  monthly: 'Monthly',
  one_time: 'Bought once',
}

/** The agents you have, and the ones you had. */
export default function MyAgents({ agents }: Props) {
  return (
    <>
      <Head title="My agents" />
      <div className="page-header">
        <div>
          <h1>My agents</h1>
          <p className="muted">Agents you can use in your apps, and your past ones.</p>
        </div>
        <Link href="/marketplace" className="button button-secondary">
          Browse the marketplace
        </Link>
      </div>
      {agents.length === 0 ? (
        <p className="card empty">
          You have no agents yet. <Link href="/marketplace">Find one in the marketplace.</Link>
        </p>
      ) : (
        <div className="card table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">How</th>
                <th scope="col">Status</th>
                <th scope="col">Since</th>
                <th scope="col">Renews / ends</th>
              </tr>
            </thead>
            <tbody>
              {agents.map((row) => (
                <tr key={row.entitlementId}>
                  <td>
                    <Link href={`/marketplace/${row.agent.slug}`}>{row.agent.name}</Link>
                  </td>
                  <td>{HOW[row.pricingType] ?? row.pricingType}</td>
                  <td>
                    {STATUS[row.status] ?? row.status}
                    {row.cancelAtPeriodEnd && row.status === 'active' ? ' (ends at period end)' : ''}
                  </td>
                  <td>{formatDate(row.since)}</td>
                  <td>{row.currentPeriodEnd ? formatDate(row.currentPeriodEnd) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  )
}
