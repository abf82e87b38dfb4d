import { useEffect, useRef, useState } from 'react'
import { Form, Head, Link } from '@inertiajs/react'
import { formatCents, formatDate } from '~/lib/format.js'
import CheckoutButton from '~/components/checkout_button.js'
import UsageInvoices, { type UsageInvoice } from '~/components/usage_invoices.js'

// Type aliases, not interfaces: page props must be plain JSON records.
type Limits = { projects: number; deploys: number }

type SubscriptionStatus =
  | 'incomplete'
  | 'incomplete_expired'
  | 'trialing'
  | 'active'
  | 'past_due'
  | 'unpaid'
  | 'canceled'
  | 'paused'

type SubscriptionView = {
  id: string
  status: SubscriptionStatus
  cancelAtPeriodEnd: boolean
  currentPeriodStart: string | null
  currentPeriodEnd: string | null
  trialEndsAt: string | null
  canceledAt: string | null
  endedAt: string | null
  pastDueSince: string | null
  graceEndsAt: string | null
}

type Usage = {
  plan: 'free' | 'premium'
  projects: { used: number; limit: number }
  deploys: { used: number; limit: number; planLimit: number }
  slots: { active: number }
}

type Transaction = {
  source: string
  id: number
  type: string
  amountCents: number
  status: string | null
  description: string | null
  occurredAt: string
}

type Transactions = {
  meta: { total: number; perPage: number; currentPage: number; lastPage: number }
  data: Transaction[]
}

type Props = {
  plan: 'free' | 'premium'
  limits: Limits
  /** The live Premium subscription, else the most recent one (null when never subscribed). */
  subscription: SubscriptionView | null
  pastDueGraceDays: number
  creditsBalanceCents: number
  usage: Usage
  transactions: Transactions
  usageInvoices: UsageInvoice[]
  currency: string
  offers: {
    premium: {
      amountCents: number
      interval: string
      limits: Limits
      freeLimits: Limits
    }
    creditPackages: Array<{ key: string; amountCents: number }>
    deploySlot: { amountCents: number }
  }
  checkoutCanceled: boolean
}

function plural(count: number, word: string) {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

function formatDateTime(iso: string) {
  return new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short' }).format(
    new Date(iso)
  )
}

/** A button posting one subscription action (cancel, resume) to its page route. */
function ActionButton(props: {
  action: string
  label: string
  busy: string
  mode?: 'period_end' | 'now'
  variant?: 'primary' | 'secondary' | 'danger'
}) {
  return (
    <Form action={props.action} method="post" options={{ preserveScroll: true }}>
      {({ processing }) => (
        <>
          {props.mode ? <input type="hidden" name="mode" value={props.mode} /> : null}
          <button type="submit" className={`button button-${props.variant ?? 'secondary'}`} disabled={processing}>
            {processing ? props.busy : props.label}
          </button>
        </>
      )}
    </Form>
  )
}

/** The customer portal: an Inertia visit the server answers with the portal's URL. */
function PortalButton({ label, primary }: { label: string; primary?: boolean }) {
  return (
    <Link href="/billing/portal" method="post" as="button" className={`button ${primary ? 'button-primary' : 'button-secondary'}`}>
      {label}
    </Link>
  )
}

const STATUS_LABELS: Record<SubscriptionStatus, string> = {
  active: 'Active',
  trialing: 'Trial',
  past_due: 'Past due',
  unpaid: 'Unpaid',
  incomplete: 'Payment incomplete',
  incomplete_expired: 'Expired',
  canceled: 'Canceled',
  paused: 'Paused',
}

function statusBadge(subscription: SubscriptionView) {
  const ended = subscription.status === 'canceled' || subscription.status === 'incomplete_expired'
  if (subscription.cancelAtPeriodEnd && !ended) return { label: 'Canceling', tone: 'warning' }
  const tone =
    subscription.status === 'active' || subscription.status === 'trialing'
      ? 'live'
      : subscription.status === 'past_due' || subscription.status === 'unpaid'
        ? 'past-due'
        : 'stopped'
  return { label: STATUS_LABELS[subscription.status], tone }
}

/** Premium: what the user has, until when, and the actions that fit its state. */
function SubscriptionCard(props: Pick<Props, 'plan' | 'subscription' | 'offers' | 'currency' | 'pastDueGraceDays'>) {
  const { plan, subscription, offers, currency } = props
  const [confirmingCancelNow, setConfirmingCancelNow] = useState(false)
  const live =
    subscription !== null && subscription.status !== 'canceled' && subscription.status !== 'incomplete_expired'
  const price = (
    <>
      {formatCents(offers.premium.amountCents, currency)}
      <span className="muted"> / {offers.premium.interval}</span>
    </>
  )

  if (!live || subscription.status === 'incomplete') {
    return (
      <section className="card" aria-labelledby="subscription-title" data-testid="subscription-card">
        <h2 id="subscription-title">Subscription</h2>
        <p className="plan-line">
          <strong>{plan === 'premium' ? 'Premium' : 'Free plan'}</strong>
          {subscription?.status === 'incomplete' ? (
            <span className="badge badge-past-due">Payment incomplete</span>
          ) : null}
        </p>
        {subscription && !live ? (
          <p className="muted">
            Your Premium subscription ended
            {subscription.endedAt ? ` on ${formatDate(subscription.endedAt)}` : ''}.
          </p>
        ) : null}
        <p className="muted">
          {plural(offers.premium.freeLimits.projects, 'project')} and{' '}
          {plural(offers.premium.freeLimits.deploys, 'deploy')}. Premium gives you{' '}
          {plural(offers.premium.limits.projects, 'project')} and {plural(offers.premium.limits.deploys, 'deploy')}{' '}
          for {formatCents(offers.premium.amountCents, currency)} a {offers.premium.interval}.{' '}
          <a href="/plans">Compare plans</a>.
        </p>
        <p className="price">{price}</p>
        <CheckoutButton block kind="premium" label="Upgrade to Premium" primary />
      </section>
    )
  }

  const badge = statusBadge(subscription)
  const periodEnd = subscription.currentPeriodEnd ? formatDate(subscription.currentPeriodEnd) : null
  const owing = subscription.status === 'past_due' || subscription.status === 'unpaid'
  return (
    <section className="card" aria-labelledby="subscription-title" data-testid="subscription-card">
      <h2 id="subscription-title">Subscription</h2>
      <p className="plan-line">
        <strong>Premium</strong>
        <span className={`badge badge-${badge.tone}`} data-testid="subscription-status">
          {badge.label}
        </span>
      </p>
      <p className="price">{price}</p>

      {owing ? (
        <div className="alert alert-danger" role="alert">
          {subscription.status === 'past_due' ? (
            <>
              Your renewal payment failed.{' '}
              {plan === 'premium' && subscription.graceEndsAt
                ? `Premium stays until ${formatDate(subscription.graceEndsAt)} while we retry; update your card to keep it.`
                : 'Your account is on the free limits until the payment goes through; update your card to restore Premium.'}
            </>
          ) : (
            'Your Premium subscription is unpaid. Update your card to restore it.'
          )}
        </div>
      ) : subscription.cancelAtPeriodEnd ? (
        <p data-testid="subscription-period">
          Cancels on {periodEnd ?? 'the end of the period'}. Premium stays until then; resume to keep it.
        </p>
      ) : periodEnd ? (
        <p data-testid="subscription-period">
          {subscription.status === 'trialing' ? 'Trial ends, then renews' : 'Renews'} on {periodEnd}.
        </p>
      ) : null}

      <div className="actions">
        {owing ? <PortalButton label="Update card" primary /> : null}
        {subscription.cancelAtPeriodEnd ? (
          <ActionButton action="/billing/resume" label="Resume Premium" busy="Resuming…" variant="primary" />
        ) : owing ? null : (
          <ActionButton action="/billing/cancel" mode="period_end" label="Cancel at period end" busy="Cancelling…" />
        )}
        {owing ? null : <PortalButton label="Manage in portal" />}
        {confirmingCancelNow ? null : (
          <button type="button" className="button button-danger" onClick={() => setConfirmingCancelNow(true)}>
            Cancel now
          </button>
        )}
      </div>
      {confirmingCancelNow ? (
        <div className="confirm" role="group" aria-labelledby="cancel-now-title">
          <p id="cancel-now-title">
            <strong>Cancel Premium now?</strong> Premium ends at once and the rest of this period is not refunded.
            Nothing is deleted; deployments over the free limit are stopped.
          </p>
          <div className="actions">
            <ActionButton action="/billing/cancel" mode="now" label="Yes, cancel now" busy="Cancelling…" variant="danger" />
            <button type="button" className="button button-ghost" onClick={() => setConfirmingCancelNow(false)}>
              Keep Premium
            </button>
          </div>
        </div>
      ) : null}
    </section>
  )
}

function Meter(props: { label: string; used: number; limit: number; unit: string }) {
  const { used, limit } = props
  const width = Math.min(100, Math.round((used / Math.max(1, limit)) * 100))
  return (
    <div
      className="usage-meter"
      role="meter"
      aria-label={props.label}
      aria-valuenow={used}
      aria-valuemin={0}
      aria-valuemax={limit}
      aria-valuetext={`${used} of ${limit} ${props.unit} used`}
    >
      <div className="usage-meter-label">
        <span>{props.label}</span>
        <span>
          {used} / {limit} {props.unit}
        </span>
      </div>
      <div className="usage-meter-bar">
        <div className={used >= limit ? 'usage-meter-fill full' : 'usage-meter-fill'} style={{ width: `${width}%` }} />
      </div>
    </div>
  )
}

/** The three credit packs in a modal dialog; each posts its own checkout. */
function CreditsModal(props: { packages: Props['offers']['creditPackages']; currency: string; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const element = dialog.current
    if (element && !element.open) element.showModal()
  }, [])
  return (
    <dialog ref={dialog} className="modal" aria-labelledby="credits-modal-title" onClose={props.onClose}>
      <h2 id="credits-modal-title">Buy credits</h2>
      <p className="muted">
        1 credit = 1 cent, spent on AI usage before any card charge. Credits are added once the payment is confirmed.
      </p>
      <ul className="packages">
        {props.packages.map((pack) => (
          <li key={pack.key} className="package">
            <div>
              <strong className="package-name">{pack.key[0].toUpperCase() + pack.key.slice(1)}</strong>
              <span className="muted small">{pack.amountCents.toLocaleString('en-US')} credits</span>
            </div>
            <CheckoutButton block
              kind="credits"
              packageKey={pack.key}
              label={`Buy ${formatCents(pack.amountCents, props.currency)} of credits`}
            />
          </li>
        ))}
      </ul>
      <div className="modal-actions">
        <button type="button" className="button button-ghost" onClick={props.onClose}>
          Close
        </button>
      </div>
    </dialog>
  )
}

const TYPE_LABELS: Record<string, string> = {
  purchase: 'Credits added',
  usage_invoice: 'AI usage',
  refund_clawback: 'Credits taken back',
  operator_grant: 'Credits granted by support',
  operator_debit: 'Credits removed by support',
  deploy_slot: 'Deploy slot',
}

function describe(row: Transaction) {
  if (row.type.startsWith('credit_pack_')) {
    const size = row.type.slice('credit_pack_'.length)
    return `Credit pack (${size})`
  }
  return TYPE_LABELS[row.type] ?? row.type
}

/** Ledger entries move credits (signed); purchases are money paid. */
function amount(row: Transaction, currency: string) {
  if (row.source === 'credit_ledger') {
    const sign = row.amountCents > 0 ? '+' : '−'
    return `${sign}${Math.abs(row.amountCents).toLocaleString('en-US')} credits`
  }
  return formatCents(row.amountCents, currency)
}

function TransactionsCard({ transactions, currency }: Pick<Props, 'transactions' | 'currency'>) {
  const { meta, data } = transactions
  return (
    <section className="card" aria-labelledby="transactions-title" id="transactions">
      <h2 id="transactions-title">Recent transactions</h2>
      {data.length === 0 ? (
        <p className="muted">No purchases or credit movements yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="table table-wide" data-testid="transactions">
            <thead>
              <tr>
                <th scope="col">Date</th>
                <th scope="col">What</th>
                <th scope="col">Amount</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {data.map((row) => (
                <tr key={`${row.source}-${row.id}`}>
                  <td className="nowrap">{formatDateTime(row.occurredAt)}</td>
                  <td className="wrap-anywhere">
                    {describe(row)}
                    {row.description && row.source !== 'deploy_slot_purchase' ? (
                      <span className="muted small"> · {row.description}</span>
                    ) : null}
                  </td>
                  <td className="nowrap">{amount(row, currency)}</td>
                  <td>{row.status ?? (row.source === 'credit_ledger' ? 'recorded' : '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {meta.lastPage > 1 ? (
        <nav className="pager" aria-label="Transactions pages">
          {meta.currentPage > 1 ? (
            <Link href={`/billing?page=${meta.currentPage - 1}#transactions`} preserveScroll>
              ← Newer
            </Link>
          ) : (
            <span />
          )}
          <span className="muted small">
            Page {meta.currentPage} of {meta.lastPage} · {plural(meta.total, 'transaction')}
          </span>
          {meta.currentPage < meta.lastPage ? (
            <Link href={`/billing?page=${meta.currentPage + 1}#transactions`} preserveScroll>
              Older →
            </Link>
          ) : (
            <span />
          )}
        </nav>
      ) : null}
    </section>
  )
}

/** The billing dashboard: subscription, usage, credits, deploy slots and recent transactions. */
export default function Billing(props: Props) {
  const { plan, limits, currency, offers, checkoutCanceled, usage, creditsBalanceCents, transactions } = props
  const [buyingCredits, setBuyingCredits] = useState(false)
  return (
    <>
      <Head title="Billing" />
      <div className="page-header">
        <div>
          <h1>Billing</h1>
          <p className="muted">
            You are on the {plan === 'premium' ? 'Premium' : 'Free'} plan: {plural(limits.projects, 'project')},{' '}
            {plural(limits.deploys, 'deploy')}.
          </p>
        </div>
      </div>

      {checkoutCanceled ? (
        <p className="alert alert-info" role="status">
          Checkout canceled. Nothing was charged.
        </p>
      ) : null}

      <div className="grid-2">
        <SubscriptionCard
          plan={plan}
          subscription={props.subscription}
          offers={offers}
          currency={currency}
          pastDueGraceDays={props.pastDueGraceDays}
        />

        <section className="card stack" aria-labelledby="usage-title" data-testid="usage-card">
          <h2 id="usage-title">Usage</h2>
          <Meter label="Projects" used={usage.projects.used} limit={usage.projects.limit} unit="projects" />
          <Meter label="Deployed" used={usage.deploys.used} limit={usage.deploys.limit} unit="deploys" />
          <p className="muted small">
            {plan === 'premium' ? 'Premium' : 'Free'} allows {plural(usage.projects.limit, 'project')} and{' '}
            {plural(usage.deploys.planLimit, 'deploy')}
            {usage.slots.active > 0 ? `, plus ${plural(usage.slots.active, 'purchased deploy slot')}` : ''}.
          </p>
        </section>
      </div>

      <div className="grid-2">
        <section className="card stack" aria-labelledby="credits-title" data-testid="credits-card">
          <h2 id="credits-title">Credits</h2>
          <p className="price" data-testid="credits-balance">
            {creditsBalanceCents.toLocaleString('en-US')}
            <span className="muted"> credits ({formatCents(creditsBalanceCents, currency)})</span>
          </p>
          <p className="muted">Prepaid credits are spent on AI usage before any card charge.</p>
          <button type="button" className="button button-primary" onClick={() => setBuyingCredits(true)}>
            Buy credits
          </button>
        </section>

        <section className="card stack" aria-labelledby="slot-title" data-testid="slots-card">
          <h2 id="slot-title">Deploy slots</h2>
          <p className="price" data-testid="slots-active">
            {usage.slots.active}
            <span className="muted"> active slot{usage.slots.active === 1 ? '' : 's'}</span>
          </p>
          <p className="muted">
            One more project deployed at the same time, for good: {formatCents(offers.deploySlot.amountCents, currency)}{' '}
            once.
          </p>
          <CheckoutButton block kind="deploy_slot" label="Buy a deploy slot" />
        </section>
      </div>

      <section className="card" aria-labelledby="usage-invoices-title">
        <div className="card-header">
          <h2 id="usage-invoices-title">AI usage invoices</h2>
          <Link href="/usage" className="button button-ghost button-small">
            See usage
          </Link>
        </div>
        <UsageInvoices invoices={props.usageInvoices} />
      </section>

      <TransactionsCard transactions={transactions} currency={currency} />

      {buyingCredits ? (
        <CreditsModal packages={offers.creditPackages} currency={currency} onClose={() => setBuyingCredits(false)} />
      ) : null}
    </>
  )
}
