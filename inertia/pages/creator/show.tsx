import { useState, type ReactNode } from 'react'
import { Form, Head } from '@inertiajs/react'
import { formatCents, formatDate } from '~/lib/format.js'
import '~/css/creator.css'

// Type aliases, not interfaces: page props must be plain JSON records.
type PricingType = 'free' | 'monthly' | 'one_time' | 'api'

type ConnectStatus = {
  stripeAccountId: string | null
  state: 'none' | 'incomplete' | 'restricted' | 'enabled'
  detailsSubmitted: boolean
  chargesEnabled: boolean
  payoutsEnabled: boolean
  canReceiveFunds: boolean
  requirementsDue: string[]
  disabledReason: string | null
  updatedAt: string | null
}

type Balances = {
  pendingCents: number
  payableCents: number
  inFlightCents: number
  paidCents: number
  reversedCents: number
  reversalPendingCents: number
  netEarnedCents: number
}

type Agent = {
  id: number
  slug: string
  name: string
  description: string
  pricingType: PricingType
  priceCents: number | null
  inputPriceMicrosPerMillion: number | null
  outputPriceMicrosPerMillion: number | null
  isPublished: boolean
  inStripeSync: boolean
  stripeSyncError: string | null
  createdAt: string
}

type AgentFigures = {
  agentId: number
  slug: string
  name: string
  sales: number
  reversals: number
  grossCents: number
  creatorCents: number
  platformCents: number
}

type Payout = {
  id: number
  amountCents: number
  currency: string
  status: 'pending' | 'processing' | 'paid' | 'failed' | 'reversed'
  reversedCents: number
  stripeTransferId: string | null
  failureReason: string | null
  createdAt: string
  paidAt: string | null
}

type Props = {
  connect: ConnectStatus
  balances: Balances
  agents: Agent[]
  earningsByAgent: AgentFigures[]
  payouts: Payout[]
  currency: string
  creatorSharePercent: number
  payoutHoldDays: number
  priceLimits: { minPriceCents: number; maxPriceCents: number; maxMicrosPerMillion: number }
}

const PRICING_LABELS: Record<PricingType, string> = {
  free: 'Free',
  monthly: 'Monthly subscription',
  one_time: 'One-time purchase',
  api: 'Per token (API)',
}

function plural(count: number, word: string) {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

/** Micro-dollars per million tokens, as dollars (up to 4 decimals: $0.15, $3.00, $0.0375). */
function formatMicros(micros: number) {
  return `$${(micros / 1_000_000).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 6 })}`
}

function describePrice(agent: Agent, currency: string) {
  switch (agent.pricingType) {
    case 'free':
      return 'Free'
    case 'monthly':
      return `${formatCents(agent.priceCents ?? 0, currency)} / month`
    case 'one_time':
      return `${formatCents(agent.priceCents ?? 0, currency)} once`
    case 'api':
      return `${formatMicros(agent.inputPriceMicrosPerMillion ?? 0)} / M input, ${formatMicros(agent.outputPriceMicrosPerMillion ?? 0)} / M output tokens`
  }
}

/** Cents or micros as the text a price field starts with ("9.99", "3.00"). */
function centsText(cents: number | null) {
  return cents === null ? '' : (cents / 100).toFixed(2)
}
function microsText(micros: number | null) {
  if (micros === null) return ''
  const [whole, fraction] = (micros / 1_000_000).toFixed(6).split('.')
  return `${whole}.${fraction.replace(/0+$/, '').padEnd(2, '0')}`
}

/** A labelled control with its error (or hint) right below it. */
function FieldRow(props: {
  id: string
  label: string
  error?: string
  hint?: string
  children: ReactNode
}) {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      {props.children}
      {props.error ? (
        <p className="field-error" id={`${props.id}-error`}>
          {props.error}
        </p>
      ) : props.hint ? (
        <p className="field-hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      ) : null}
    </div>
  )
}

function describedBy(id: string, error?: string, hint?: string) {
  return error ? `${id}-error` : hint ? `${id}-hint` : undefined
}

/** Pricing type and the price fields that type uses (the others are not sent). */
function PricingFields(props: {
  prefix: string
  errors: Record<string, string>
  agent?: Agent
  limits: Props['priceLimits']
  currency: string
}) {
  const { prefix, errors, agent, limits, currency } = props
  const [type, setType] = useState<PricingType>(agent?.pricingType ?? 'monthly')
  const id = (name: string) => `${prefix}-${name}`
  const priceHint = `From ${formatCents(limits.minPriceCents, currency)} to ${formatCents(limits.maxPriceCents, currency)}`
  const tokenHint = `Dollars per million tokens, up to ${formatMicros(limits.maxMicrosPerMillion)}`
  return (
    <>
      <FieldRow id={id('pricingType')} label="Pricing" error={errors.pricingType}>
        <select
          id={id('pricingType')}
          name="pricingType"
          value={type}
          onChange={(event) => setType(event.target.value as PricingType)}
          aria-invalid={errors.pricingType ? true : undefined}
          aria-describedby={describedBy(id('pricingType'), errors.pricingType)}
        >
          {(Object.keys(PRICING_LABELS) as PricingType[]).map((key) => (
            <option key={key} value={key}>
              {PRICING_LABELS[key]}
            </option>
          ))}
        </select>
      </FieldRow>
      {type === 'monthly' || type === 'one_time' ? (
        <FieldRow
          id={id('price')}
          label={type === 'monthly' ? 'Price per month (USD)' : 'Price (USD)'}
          error={errors.price}
          hint={priceHint}
        >
          <input
            id={id('price')}
            name="price"
            inputMode="decimal"
            placeholder="9.99"
            defaultValue={agent && agent.pricingType === type ? centsText(agent.priceCents) : ''}
            aria-invalid={errors.price ? true : undefined}
            aria-describedby={describedBy(id('price'), errors.price, priceHint)}
          />
        </FieldRow>
      ) : null}
      {type === 'api' ? (
        <div className="creator-pair">
          <FieldRow
            id={id('inputPrice')}
            label="Input tokens, per million (USD)"
            error={errors.inputPrice}
            hint={tokenHint}
          >
            <input
              id={id('inputPrice')}
              name="inputPrice"
              inputMode="decimal"
              placeholder="3.00"
              defaultValue={
                agent?.pricingType === 'api' ? microsText(agent.inputPriceMicrosPerMillion) : ''
              }
              aria-invalid={errors.inputPrice ? true : undefined}
              aria-describedby={describedBy(id('inputPrice'), errors.inputPrice, tokenHint)}
            />
          </FieldRow>
          <FieldRow
            id={id('outputPrice')}
            label="Output tokens, per million (USD)"
            error={errors.outputPrice}
            hint={tokenHint}
          >
            <input
              id={id('outputPrice')}
              name="outputPrice"
              inputMode="decimal"
              placeholder="15.00"
              defaultValue={
                agent?.pricingType === 'api' ? microsText(agent.outputPriceMicrosPerMillion) : ''
              }
              aria-invalid={errors.outputPrice ? true : undefined}
              aria-describedby={describedBy(id('outputPrice'), errors.outputPrice, tokenHint)}
            />
          </FieldRow>
        </div>
      ) : null}
    </>
  )
}

const STATE_TEXT: Record<ConnectStatus['state'], { badge: string; tone: string }> = {
  none: { badge: 'Not set up', tone: 'stopped' },
  incomplete: { badge: 'Onboarding incomplete', tone: 'warning' },
  restricted: { badge: 'Details needed', tone: 'past-due' },
  enabled: { badge: 'Payouts enabled', tone: 'live' },
}

/** Where the creator's money goes: the Connect state and the button to (continue) onboarding. */
function PayoutsCard({ connect, payoutHoldDays }: Pick<Props, 'connect' | 'payoutHoldDays'>) {
  const state = STATE_TEXT[connect.state]
  return (
    <section className="card" aria-labelledby="payouts-setup-title" data-testid="onboarding">
      <h2 id="payouts-setup-title">
        Payout account
        <span className={`badge badge-${state.tone}`} data-testid="onboarding-state">
          {state.badge}
        </span>
      </h2>
      {connect.state === 'enabled' ? (
        <p className="muted">
          Your Stripe account can receive payouts. Earnings are paid {payoutHoldDays} days after
          each sale, in one transfer per payout run.
        </p>
      ) : connect.state === 'none' ? (
        <p className="muted">
          Set up a Stripe account to be paid. You can publish agents and earn before you do:
          earnings are kept until your account can receive them.
        </p>
      ) : (
        <>
          <p className="muted">
            Stripe needs a few more details before it can pay you. Your earnings are kept in the
            meantime.
          </p>
          {connect.requirementsDue.length > 0 ? (
            <p className="small" data-testid="requirements-due">
              Still needed:{' '}
              {connect.requirementsDue.map((item) => item.replaceAll('_', ' ')).join(', ')}
            </p>
          ) : null}
        </>
      )}
      {connect.state === 'enabled' ? null : (
        <Form action="/creator/connect" method="post">
          {({ processing }) => (
            <button type="submit" className="button button-primary" disabled={processing}>
              {processing
                ? 'Opening Stripe…'
                : connect.state === 'none'
                  ? 'Set up payouts'
                  : 'Continue onboarding'}
            </button>
          )}
        </Form>
      )}
    </section>
  )
}

/** Pending, payable, paid and reversed money, with what each means. */
function BalancesCard({
  balances,
  currency,
  payoutHoldDays,
}: Pick<Props, 'balances' | 'currency' | 'payoutHoldDays'>) {
  const items = [
    {
      key: 'pending',
      label: 'Pending',
      cents: balances.pendingCents,
      note: `In the ${payoutHoldDays}-day hold after each sale`,
    },
    {
      key: 'payable',
      label: 'Payable',
      cents: balances.payableCents + balances.inFlightCents,
      note:
        balances.inFlightCents > 0
          ? `${formatCents(balances.inFlightCents, currency)} of it is being transferred`
          : 'Paid in the next payout run',
    },
    {
      key: 'paid',
      label: 'Paid out',
      cents: balances.paidCents,
      note: 'Transferred to your Stripe account',
    },
    {
      key: 'reversed',
      label: 'Reversed',
      cents: balances.reversedCents + balances.reversalPendingCents,
      note: 'Taken back from payouts for refunds and disputes',
    },
  ]
  return (
    <section aria-labelledby="balances-title">
      <h2 id="balances-title" className="sr-only">
        Balances
      </h2>
      <dl className="creator-balances" data-testid="balances">
        {items.map((item) => (
          <div key={item.key} className="card creator-balance" data-testid={`balance-${item.key}`}>
            <dt>{item.label}</dt>
            <dd className="creator-amount">{formatCents(item.cents, currency)}</dd>
            <dd className="muted small">{item.note}</dd>
          </div>
        ))}
      </dl>
    </section>
  )
}

/** One agent: its price, state, figures and actions (change price, unpublish / publish). */
function AgentRow(props: {
  agent: Agent
  figures?: AgentFigures
  currency: string
  limits: Props['priceLimits']
}) {
  const { agent, figures, currency, limits } = props
  const [editing, setEditing] = useState(false)
  return (
    <>
      <tr data-testid={`agent-${agent.slug}`}>
        <th scope="row">
          {agent.name}
          <span className="muted small creator-slug">{agent.slug}</span>
        </th>
        <td>{describePrice(agent, currency)}</td>
        <td>
          <span className={`badge badge-${agent.isPublished ? 'live' : 'stopped'}`}>
            {agent.isPublished ? 'Published' : 'Unpublished'}
          </span>
          {agent.inStripeSync ? null : (
            <span className="badge badge-warning" title={agent.stripeSyncError ?? undefined}>
              Price not in Stripe yet
            </span>
          )}
        </td>
        <td className="nowrap">{figures?.sales ?? 0}</td>
        <td className="nowrap">{formatCents(figures?.grossCents ?? 0, currency)}</td>
        <td className="nowrap">{formatCents(figures?.creatorCents ?? 0, currency)}</td>
        <td>
          <div className="actions">
            <button
              type="button"
              className="button button-secondary button-small"
              onClick={() => setEditing(!editing)}
              aria-expanded={editing}
              aria-controls={`price-form-${agent.id}`}
            >
              Change price<span className="sr-only"> of {agent.name}</span>
            </button>
            <Form
              action={`/creator/agents/${agent.id}/${agent.isPublished ? 'unpublish' : 'publish'}`}
              method="post"
              options={{ preserveScroll: true }}
            >
              {({ processing }) => (
                <button
                  type="submit"
                  className="button button-ghost button-small"
                  disabled={processing}
                >
                  {agent.isPublished ? 'Unpublish' : 'Publish'}
                  <span className="sr-only"> {agent.name}</span>
                </button>
              )}
            </Form>
          </div>
        </td>
      </tr>
      {editing ? (
        <tr>
          <td colSpan={7}>
            <Form
              id={`price-form-${agent.id}`}
              action={`/creator/agents/${agent.id}/price`}
              method="put"
              errorBag={`price${agent.id}`}
              className="creator-form creator-price-form"
              onSuccess={() => setEditing(false)}
              options={{ preserveScroll: true }}
              aria-label={`New price for ${agent.name}`}
            >
              {({ errors, processing }) => (
                <>
                  <PricingFields
                    prefix={`agent-${agent.id}`}
                    errors={errors}
                    agent={agent}
                    limits={limits}
                    currency={currency}
                  />
                  <p className="muted small">
                    A new price applies to new purchases; current subscribers keep theirs.
                  </p>
                  <div className="actions">
                    <button
                      type="submit"
                      className="button button-primary button-small"
                      disabled={processing}
                    >
                      {processing ? 'Saving…' : 'Save price'}
                    </button>
                    <button
                      type="button"
                      className="button button-ghost button-small"
                      onClick={() => setEditing(false)}
                    >
                      Cancel
                    </button>
                  </div>
                </>
              )}
            </Form>
          </td>
        </tr>
      ) : null}
    </>
  )
}

function AgentsCard(props: Pick<Props, 'agents' | 'earningsByAgent' | 'currency' | 'priceLimits'>) {
  const figures = new Map(props.earningsByAgent.map((row) => [row.agentId, row]))
  return (
    <section className="card" aria-labelledby="agents-title">
      <h2 id="agents-title">Your agents</h2>
      {props.agents.length === 0 ? (
        <p className="muted">You have not published an agent yet. Publish your first one below.</p>
      ) : (
        <div className="table-scroll">
          <table className="table" data-testid="agents">
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Price</th>
                <th scope="col">Status</th>
                <th scope="col">Sales</th>
                <th scope="col">Gross</th>
                <th scope="col">Your earnings</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {props.agents.map((agent) => (
                <AgentRow
                  key={agent.id}
                  agent={agent}
                  figures={figures.get(agent.id)}
                  currency={props.currency}
                  limits={props.priceLimits}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}

const DESCRIPTION_HINT = 'What it does, and for whom (optional)'

function PublishCard(props: Pick<Props, 'priceLimits' | 'currency' | 'creatorSharePercent'>) {
  return (
    <section className="card" aria-labelledby="publish-title">
      <h2 id="publish-title">Publish an agent</h2>
      <p className="muted small">
        You earn {props.creatorSharePercent}% of every sale, renewal and per-token charge of your
        agents.
      </p>
      <Form
        action="/creator/agents"
        method="post"
        errorBag="publish"
        resetOnSuccess
        className="creator-form"
        options={{ preserveScroll: true }}
      >
        {({ errors, processing }) => (
          <>
            <FieldRow id="agent-name" label="Name" error={errors.name}>
              <input
                id="agent-name"
                name="name"
                maxLength={120}
                required
                aria-invalid={errors.name ? true : undefined}
                aria-describedby={describedBy('agent-name', errors.name)}
              />
            </FieldRow>
            <FieldRow
              id="agent-description"
              label="Description"
              error={errors.description}
              hint={DESCRIPTION_HINT}
            >
              <textarea
                id="agent-description"
                name="description"
                rows={3}
                maxLength={2000}
                aria-invalid={errors.description ? true : undefined}
                aria-describedby={describedBy(
                  'agent-description',
                  errors.description,
                  DESCRIPTION_HINT
                )}
              />
            </FieldRow>
            <PricingFields
              prefix="new-agent"
              errors={errors}
              limits={props.priceLimits}
              currency={props.currency}
            />
            <div className="actions">
              <button type="submit" className="button button-primary" disabled={processing}>
                {processing ? 'Publishing…' : 'Publish agent'}
              </button>
            </div>
          </>
        )}
      </Form>
    </section>
  )
}

const PAYOUT_STATUS: Record<Payout['status'], { label: string; tone: string }> = {
  pending: { label: 'Pending', tone: 'warning' },
  processing: { label: 'Processing', tone: 'warning' },
  paid: { label: 'Paid', tone: 'live' },
  failed: { label: 'Not sent', tone: 'past-due' },
  reversed: { label: 'Reversed', tone: 'stopped' },
}

function PayoutsHistory({ payouts, currency }: Pick<Props, 'payouts' | 'currency'>) {
  return (
    <section className="card" aria-labelledby="payout-history-title">
      <h2 id="payout-history-title">Payout history</h2>
      {payouts.length === 0 ? (
        <p className="muted">No payouts yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="table" data-testid="payouts">
            <thead>
              <tr>
                <th scope="col">Date</th>
                <th scope="col">Amount</th>
                <th scope="col">Status</th>
                <th scope="col">Reversed</th>
                <th scope="col">Stripe transfer</th>
              </tr>
            </thead>
            <tbody>
              {payouts.map((payout) => {
                const status = PAYOUT_STATUS[payout.status]
                return (
                  <tr key={payout.id}>
                    <td className="nowrap">{formatDate(payout.paidAt ?? payout.createdAt)}</td>
                    <td className="nowrap">
                      {formatCents(payout.amountCents, payout.currency || currency)}
                    </td>
                    <td>
                      <span className={`badge badge-${status.tone}`}>{status.label}</span>
                      {payout.status === 'failed' ? (
                        <span className="muted small">
                          {' '}
                          The amount stays payable and is sent in a later run.
                        </span>
                      ) : null}
                    </td>
                    <td className="nowrap">
                      {payout.reversedCents > 0
                        ? formatCents(payout.reversedCents, payout.currency || currency)
                        : '—'}
                    </td>
                    <td className="wrap-anywhere small">{payout.stripeTransferId ?? '—'}</td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}

/** The creator's earnings page: payout account, balances, agents and their figures, payouts. */
export default function CreatorShow(props: Props) {
  const { balances, currency, agents } = props
  return (
    <>
      <Head title="Creator earnings" />
      <div className="page-header">
        <div>
          <h1>Creator earnings</h1>
          <p className="muted">
            {plural(agents.length, 'agent')} · {formatCents(balances.netEarnedCents, currency)}{' '}
            earned in total, net of refunds
          </p>
        </div>
      </div>
      <div className="stack creator-page">
        <PayoutsCard connect={props.connect} payoutHoldDays={props.payoutHoldDays} />
        <BalancesCard
          balances={balances}
          currency={currency}
          payoutHoldDays={props.payoutHoldDays}
        />
        <AgentsCard
          agents={agents}
          earningsByAgent={props.earningsByAgent}
          currency={currency}
          priceLimits={props.priceLimits}
        />
        <PublishCard
          priceLimits={props.priceLimits}
          currency={currency}
          creatorSharePercent={props.creatorSharePercent}
        />
        <PayoutsHistory payouts={props.payouts} currency={currency} />
      </div>
    </>
  )
}
