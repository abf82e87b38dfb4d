import { useState } from 'react'
import { Form, Head, Link } from '@inertiajs/react'
import { formatCents, formatDate, formatMicros, formatNumber } from '~/lib/format.js'
import UsageInvoices, { type UsageInvoice } from '~/components/usage_invoices.js'

// Type aliases, not interfaces: page props must be plain JSON records.
type UsageLine = { key: string; label: string; requests: number; tokens: number; costMicros: number }

type Summary = {
  range: { name: string; from: string; to: string }
  totals: {
    requests: number
    promptTokens: number
    completionTokens: number
    costMicros: number
    costCents: number
    unbilledMicros: number
  }
  byDay: UsageLine[]
  byModel: UsageLine[]
  byAgent: UsageLine[]
  byProject: UsageLine[]
  lastRequestAt: string | null
}

type LogRow = {
  requestId: string
  startedAt: string | null
  model: string
  modelGroup: string | null
  totalTokens: number
  cacheHit: boolean
  costMicros: number
  agent: { slug: string; name: string } | null
  project: { slug: string; name: string } | null
  invoiced: boolean
}


type Props = { summary: Summary; logs: LogRow[]; invoices: UsageInvoice[]; currency: string }

const RANGES = [
  { name: '7d', label: 'Last 7 days' },
  { name: '30d', label: 'Last 30 days' },
  { name: 'month', label: 'This month' },
]

/** Spend per day as bars; the numbers are also in the table the chart summarises. */
function SpendChart({ days, currency }: { days: UsageLine[]; currency: string }) {
  const max = Math.max(1, ...days.map((day) => day.costMicros))
  const width = 720
  const height = 160
  const gap = days.length > 40 ? 1 : 3
  const barWidth = Math.max(1, (width - gap * (days.length - 1)) / days.length)
  const total = days.reduce((sum, day) => sum + day.costMicros, 0)
  return (
    <figure className="usage-chart">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`Spend per day from ${days[0]?.key} to ${days.at(-1)?.key}: ${formatMicros(total, currency)} in total`}
        preserveAspectRatio="none"
      >
        {days.map((day, index) => {
          const barHeight = day.costMicros === 0 ? 0 : Math.max(2, (day.costMicros / max) * (height - 4))
          return (
            <rect
              key={day.key}
              x={index * (barWidth + gap)}
              y={height - barHeight}
              width={barWidth}
              height={barHeight}
              rx={2}
              className="usage-chart-bar"
            >
              <title>{`${day.key}: ${formatMicros(day.costMicros, currency)}, ${formatNumber(day.requests)} requests`}</title>
            </rect>
          )
        })}
      </svg>
      <figcaption className="muted small">
        {days[0]?.key} to {days.at(-1)?.key}; highest day {formatMicros(max === 1 ? 0 : max, currency)}
      </figcaption>
    </figure>
  )
}

function Breakdown(props: { title: string; id: string; lines: UsageLine[]; currency: string; empty: string }) {
  return (
    <section className="card" aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.lines.length === 0 ? (
        <p className="muted">{props.empty}</p>
      ) : (
        <div className="table-scroll">
          <table className="table" data-testid={props.id}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Requests</th>
                <th scope="col">Tokens</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              {props.lines.map((line) => (
                <tr key={line.key}>
                  <td>{line.label}</td>
                  <td>{formatNumber(line.requests)}</td>
                  <td>{formatNumber(line.tokens)}</td>
                  <td>{formatMicros(line.costMicros, props.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}


/** The usage dashboard: totals, spend per day, breakdowns by model, agent and project, recent requests, invoices. */
export default function UsageDashboard({ summary, logs, invoices, currency }: Props) {
  const [customOpen, setCustomOpen] = useState(summary.range.name === 'custom')
  const { totals } = summary
  return (
    <>
      <Head title="Usage" />
      <div className="page-header">
        <div>
          <h1>AI usage</h1>
          <p className="muted">
            {formatDate(summary.range.from)} to {formatDate(summary.range.to)} (UTC).{' '}
            {summary.lastRequestAt ? `Last request ${formatDate(summary.lastRequestAt)}.` : 'No requests in this range.'}
          </p>
        </div>
        <Form action="/usage/sync" method="post" options={{ preserveScroll: true }}>
          {({ processing }) => (
            <button type="submit" className="button button-secondary" disabled={processing}>
              {processing ? 'Syncing…' : 'Sync now'}
            </button>
          )}
        </Form>
      </div>

      <nav className="range-picker" aria-label="Date range">
        {RANGES.map((range) => (
          <Link
            key={range.name}
            href={`/usage?range=${range.name}`}
            className={summary.range.name === range.name ? 'button button-primary button-small' : 'button button-ghost button-small'}
            aria-current={summary.range.name === range.name ? 'page' : undefined}
          >
            {range.label}
          </Link>
        ))}
        <button
          type="button"
          className={summary.range.name === 'custom' ? 'button button-primary button-small' : 'button button-ghost button-small'}
          aria-expanded={customOpen}
          onClick={() => setCustomOpen(!customOpen)}
        >
          Custom
        </button>
      </nav>
      {customOpen ? (
        <form method="get" action="/usage" className="card inline-form range-form">
          <input type="hidden" name="range" value="custom" />
          <div className="field">
            <label htmlFor="range-from">From</label>
            <input id="range-from" type="date" name="from" defaultValue={summary.range.from} required />
          </div>
          <div className="field">
            <label htmlFor="range-to">To</label>
            <input id="range-to" type="date" name="to" defaultValue={summary.range.to} required />
          </div>
          <button type="submit" className="button button-secondary">
            Show
          </button>
        </form>
      ) : null}

      <dl className="grid-3 usage-totals" data-testid="usage-totals">
        <div className="card">
          <dt className="muted small">Cost</dt>
          <dd className="price" title={formatMicros(totals.costMicros, currency)}>
            {formatCents(totals.costCents, currency)}
          </dd>
          <dd className="muted small">Not yet invoiced: {formatMicros(totals.unbilledMicros, currency)}</dd>
        </div>
        <div className="card">
          <dt className="muted small">Requests</dt>
          <dd className="price">{formatNumber(totals.requests)}</dd>
        </div>
        <div className="card">
          <dt className="muted small">Tokens (in / out)</dt>
          <dd className="price">
            {formatNumber(totals.promptTokens)} / {formatNumber(totals.completionTokens)}
          </dd>
        </div>
      </dl>

      <section className="card" aria-labelledby="chart-title">
        <h2 id="chart-title">Spend per day</h2>
        <SpendChart days={summary.byDay} currency={currency} />
      </section>

      <div className="grid-2">
        <Breakdown title="By model" id="by-model" lines={summary.byModel} currency={currency} empty="No usage in this range." />
        <Breakdown title="By agent" id="by-agent" lines={summary.byAgent} currency={currency} empty="No usage in this range." />
      </div>
      <Breakdown title="By project" id="by-project" lines={summary.byProject} currency={currency} empty="No usage in this range." />

      <section className="card" aria-labelledby="requests-title">
        <h2 id="requests-title">Recent requests</h2>
        {logs.length === 0 ? (
          <p className="muted">No requests in this range.</p>
        ) : (
          <div className="table-scroll">
            <table className="table table-wide" data-testid="requests">
              <thead>
                <tr>
                  <th scope="col">When (UTC)</th>
                  <th scope="col">Model</th>
                  <th scope="col">Agent</th>
                  <th scope="col">Tokens</th>
                  <th scope="col">Cost</th>
                  <th scope="col">Invoiced</th>
                </tr>
              </thead>
              <tbody>
                {logs.map((row) => (
                  <tr key={row.requestId}>
                    <td className="nowrap">{row.startedAt?.replace('T', ' ').slice(0, 19)}</td>
                    <td>
                      {row.modelGroup ?? row.model}
                      {row.cacheHit ? ' (cached)' : ''}
                    </td>
                    <td>{row.agent?.name ?? '—'}</td>
                    <td>{formatNumber(row.totalTokens)}</td>
                    <td>{formatMicros(row.costMicros, currency)}</td>
                    <td>{row.invoiced ? 'Yes' : 'Not yet'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="invoices-title">
        <h2 id="invoices-title">Usage invoices</h2>
        <UsageInvoices invoices={invoices} />
      </section>
    </>
  )
}
