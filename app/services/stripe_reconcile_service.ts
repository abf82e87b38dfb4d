import { inject } from '@adonisjs/core'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import type Stripe from 'stripe'
import StripeGateway from '#services/stripe_gateway'
import StripeEventService from '#services/stripe_event_service'
import PayoutService from '#services/marketplace/payout_service'
import AgentEntitlementService, { statusFrom } from '#services/marketplace/entitlement_service'
import UsageInvoiceService from '#services/usage/usage_invoice_service'
import { handlers } from '#services/webhooks/handlers'
import { TERMINAL_SUBSCRIPTION_STATUSES } from '#models/subscription'
import { stripeId } from '#support/stripe_ids'
import { fromStripeTime } from '#support/stripe_time'

export type ReconcileArea =
  'events' | 'customers' | 'subscriptions' | 'invoices' | 'refunds' | 'transfers'

export const RECONCILE_AREAS: readonly ReconcileArea[] = [
  'events',
  'customers',
  'subscriptions',
  'invoices',
  'refunds',
  'transfers',
]

/** One way our records and Stripe's disagree. */
export interface Difference {
  area: ReconcileArea
  kind: string
  /** The Stripe object (event, customer, subscription, invoice, charge, transfer). */
  stripeId: string | null
  userId: number | null
  /** What we hold, and what Stripe holds, in a few words. */
  ours: string
  stripe: string
  /** What `--fix` does about it; null when a person must decide (then see `hint`). */
  fix: string | null
  hint: string | null
  /** After `--fix`: 'fixed' or 'failed: <why>'; null when no fix was attempted. */
  result: string | null
}

export interface StripeReconcileResult {
  since: string
  until: string | null
  fix: boolean
  /** How many objects of each area were compared. */
  checked: Record<ReconcileArea, number>
  differences: Difference[]
}

export interface ReconcileOptions {
  /** Events, paid invoices, refunds and transfers from this moment (default: 30 days ago). */
  since?: DateTime
  until?: DateTime
  /** Repair what is safe to repair (default: only report). */
  fix?: boolean
  /** Only these areas (default: all, in the order of RECONCILE_AREAS). */
  areas?: readonly ReconcileArea[]
  /** Called as each area starts, and with a running count of Stripe objects read. */
  onProgress?: (area: ReconcileArea, read: number) => void
}

/** Stripe keeps events for 30 days: older ones cannot be listed. */
const EVENT_RETENTION_DAYS = 30
const PAGE = 100
const CHUNK = 1000

const HINTS = {
  customer_missing:
    "If the customer was deleted on purpose, clear the user's stripe_customer_id and run customers:sync; otherwise check STRIPE_SECRET_KEY names the right account.",
  customer_duplicate:
    'Two Stripe customers for one user: keep the one with the subscriptions and cards, delete the other in the Stripe dashboard.',
  subscription_unknown_to_stripe:
    'Our row names a subscription Stripe does not have: check STRIPE_SECRET_KEY, then cancel the row by hand if Stripe is right.',
  invoice_unknown:
    'A paid usage invoice with no row of ours: find its user by customer and period, then run invoices:generate for that period.',
  transfers: 'Run payouts:reconcile for detail; amounts above the payout need a person.',
} as const

const seconds = (moment: DateTime) => Math.floor(moment.toSeconds())

/**
 * Compares our records with Stripe's and, with `fix`, repairs what is safe:
 * - events: every event Stripe sent in the window (at most its 30 days) that a
 *   handler cares about must be recorded and done. Missing ones are recorded
 *   from Stripe's copy and processed like a delivery; failed ones are processed
 *   again (as webhooks:replay). This runs first: it explains most differences.
 * - customers: each user's customer exists; a customer made for a user (its
 *   metadata and email) but never saved on the user is linked.
 * - subscriptions: Premium rows and agent entitlements against Stripe's live
 *   subscriptions (status, cancel at period end); a row Stripe has ended, or a
 *   live subscription we lack, is re-fetched and applied through its webhook
 *   handler.
 * - invoices: paid usage invoices are paid with us, paid agent invoices have
 *   their creator's earning.
 * - refunds: refunded charges of credit packs, deploy slots and agents have
 *   their clawback or reversal recorded.
 * - transfers: PayoutService.reconcile (payouts against Connect transfers).
 * A fix never moves money: it applies Stripe's state through the same
 * handlers a webhook uses (idempotent, freshness-guarded), or records a link.
 */
@inject()
export default class StripeReconcileService {
  constructor(
    protected gateway: StripeGateway,
    protected events: StripeEventService,
    protected payouts: PayoutService
  ) {}

  async run(options: ReconcileOptions = {}): Promise<StripeReconcileResult> {
    const since = options.since ?? DateTime.utc().minus({ days: EVENT_RETENTION_DAYS })
    const fix = options.fix ?? false
    const result: StripeReconcileResult = {
      since: since.toISO()!,
      until: options.until?.toISO() ?? null,
      fix,
      checked: { events: 0, customers: 0, subscriptions: 0, invoices: 0, refunds: 0, transfers: 0 },
      differences: [],
    }
    const run = { ...options, since, fix, result }
    const compare: Record<ReconcileArea, (run: Run) => Promise<void>> = {
      events: (r) => this.compareEvents(r),
      customers: (r) => this.compareCustomers(r),
      subscriptions: (r) => this.compareSubscriptions(r),
      invoices: (r) => this.compareInvoices(r),
      refunds: (r) => this.compareRefunds(r),
      transfers: (r) => this.compareTransfers(r),
    }
    // Events first: processing what we missed explains most other differences.
    for (const area of RECONCILE_AREAS) {
      if (!options.areas || options.areas.includes(area)) await compare[area](run)
    }
    return result
  }

  protected async compareEvents(run: Run) {
    run.onProgress?.('events', 0)
    const retention = DateTime.utc().minus({ days: EVENT_RETENTION_DAYS })
    const from = run.since < retention ? retention : run.since
    const listed = await this.listAll(
      'events',
      run,
      (params) => this.gateway.client.events.list(params),
      { created: this.created(from, run.until) }
    )
    // Oldest first, as Stripe sent them (the list is newest first).
    const events = listed.filter((event) => handlers[event.type] !== undefined).reverse()
    events.sort((a, b) => a.created - b.created)
    run.result.checked.events = events.length
    const recorded = new Map<string, { status: string; last_error: string | null }>()
    for (const ids of chunks(events.map((event) => event.id))) {
      const rows: { stripe_event_id: string; status: string; last_error: string | null }[] =
        await db
          .from('stripe_events')
          .whereIn('stripe_event_id', ids)
          .select('stripe_event_id', 'status', 'last_error')
      for (const row of rows) recorded.set(row.stripe_event_id, row)
    }
    for (const event of events) {
      const row = recorded.get(event.id)
      const stripe = `${event.type} at ${fromStripeTime(event.created).toISO()}`
      if (!row) {
        await this.found(
          run,
          {
            area: 'events',
            kind: 'event_missing',
            stripeId: event.id,
            userId: null,
            ours: 'never received',
            stripe,
            fix: 'record it from Stripe and process it',
          },
          async () => {
            await this.events.record(event, JSON.stringify(event))
            await this.processOrThrow(event.id)
          }
        )
      } else if (row.status === 'failed' || row.status === 'received') {
        await this.found(
          run,
          {
            area: 'events',
            kind: 'event_not_processed',
            stripeId: event.id,
            userId: null,
            ours: row.last_error ? `${row.status}: ${row.last_error.slice(0, 120)}` : row.status,
            stripe,
            fix: 'process it again (as webhooks:replay)',
          },
          () => this.processOrThrow(event.id)
        )
      }
    }
  }

  protected async compareCustomers(run: Run) {
    run.onProgress?.('customers', 0)
    const customers = await this.listAll('customers', run, (params) =>
      this.gateway.client.customers.list(params)
    )
    const byId = new Map(customers.map((customer) => [customer.id, customer]))
    const ours: { id: number; email: string; stripe_customer_id: string }[] = await db
      .from('users')
      .whereNotNull('stripe_customer_id')
      .select('id', 'email', 'stripe_customer_id')
    run.result.checked.customers = ours.length
    const linked = new Set<string>()
    for (const user of ours) {
      linked.add(user.stripe_customer_id)
      if (byId.has(user.stripe_customer_id)) continue
      await this.found(run, {
        area: 'customers',
        kind: 'customer_missing',
        stripeId: user.stripe_customer_id,
        userId: user.id,
        ours: `user ${user.email}`,
        stripe: 'no such customer',
        fix: null,
        hint: HINTS.customer_missing,
      })
    }

    // Customers made for a user of ours (same id and email) that the user does not point at.
    const candidates = customers.filter(
      (customer) => !linked.has(customer.id) && /^\d+$/.test(customer.metadata?.user_id ?? '')
    )
    const users = new Map<
      number,
      { id: number; email: string; stripe_customer_id: string | null }
    >()
    for (const ids of chunks(candidates.map((customer) => Number(customer.metadata.user_id)))) {
      const rows: { id: number; email: string; stripe_customer_id: string | null }[] = await db
        .from('users')
        .whereIn('id', ids)
        .select('id', 'email', 'stripe_customer_id')
      for (const row of rows) users.set(Number(row.id), row)
    }
    for (const customer of candidates) {
      const user = users.get(Number(customer.metadata.user_id))
      if (!user || user.email.toLowerCase() !== (customer.email ?? '').toLowerCase()) continue
      if (user.stripe_customer_id === null) {
        await this.found(
          run,
          {
            area: 'customers',
            kind: 'customer_unlinked',
            stripeId: customer.id,
            userId: user.id,
            ours: 'user has no customer',
            stripe: `customer for ${customer.email}`,
            fix: 'link the customer to the user',
          },
          async () => {
            const updated = await db
              .from('users')
              .where('id', user.id)
              .whereNull('stripe_customer_id')
              .update({ stripe_customer_id: customer.id, updated_at: new Date() })
            if (Number(updated) !== 1) throw new Error('the user got a customer meanwhile')
          }
        )
      } else {
        await this.found(run, {
          area: 'customers',
          kind: 'customer_duplicate',
          stripeId: customer.id,
          userId: user.id,
          ours: `user points at ${user.stripe_customer_id}`,
          stripe: `another customer for ${customer.email}`,
          fix: null,
          hint: HINTS.customer_duplicate,
        })
      }
    }
  }

  /**
   * Stripe's live subscriptions (its default list leaves out canceled ones),
   * against our live Premium rows and monthly agent entitlements. A live row
   * of ours that Stripe does not list live is read on its own: that is how a
   * cancellation we never heard of shows.
   */
  protected async compareSubscriptions(run: Run) {
    run.onProgress?.('subscriptions', 0)
    const live = await this.listAll('subscriptions', run, (params) =>
      this.gateway.client.subscriptions.list(params)
    )
    const liveById = new Map(live.map((subscription) => [subscription.id, subscription]))

    type Row = {
      source: 'premium' | 'agent'
      user_id: number
      stripe_subscription_id: string
      status: string
      cancel_at_period_end: boolean
    }
    const { rows }: { rows: Row[] } = await db.rawQuery(
      `SELECT 'premium' AS source, user_id, stripe_subscription_id, status, cancel_at_period_end
         FROM subscriptions
        WHERE status <> ALL (?::text[])
       UNION ALL
       SELECT 'agent', user_id, stripe_subscription_id, status, cancel_at_period_end
         FROM agent_entitlements
        WHERE stripe_subscription_id IS NOT NULL AND status IN ('active', 'past_due', 'pending')`,
      [[...TERMINAL_SUBSCRIPTION_STATUSES]]
    )
    run.result.checked.subscriptions = rows.length

    for (const row of rows) {
      const subscription =
        liveById.get(row.stripe_subscription_id) ??
        (await this.gateway.retrieveSubscription(row.stripe_subscription_id))
      if (!subscription) {
        await this.found(run, {
          area: 'subscriptions',
          kind: 'subscription_unknown_to_stripe',
          stripeId: row.stripe_subscription_id,
          userId: Number(row.user_id),
          ours: `${row.source} ${row.status}`,
          stripe: 'no such subscription',
          fix: null,
          hint: HINTS.subscription_unknown_to_stripe,
        })
        continue
      }
      const theirs = row.source === 'agent' ? statusFrom(subscription) : subscription.status
      const cancelAtEnd = subscription.cancel_at_period_end || subscription.cancel_at !== null
      if (theirs === row.status && cancelAtEnd === row.cancel_at_period_end) continue
      await this.applySubscription(run, subscription, {
        kind: 'subscription_differs',
        userId: Number(row.user_id),
        ours: describe(row.source, row.status, row.cancel_at_period_end),
        stripe: describe(row.source, theirs, cancelAtEnd),
      })
    }

    // Live at Stripe, for a user of ours (by customer), with no row of ours.
    const known = new Set(rows.map((row) => row.stripe_subscription_id))
    const ours = live.filter(
      (subscription) =>
        !known.has(subscription.id) &&
        (subscription.metadata?.kind === 'premium' || subscription.metadata?.kind === 'agent')
    )
    const tracked = new Set<string>()
    for (const ids of chunks(ours.map((subscription) => subscription.id))) {
      const found: { stripe_subscription_id: string }[] = await db
        .from('subscriptions')
        .whereIn('stripe_subscription_id', ids)
        .select('stripe_subscription_id')
        .union((query) =>
          query
            .from('agent_entitlements')
            .whereIn('stripe_subscription_id', ids)
            .select('stripe_subscription_id')
        )
      for (const row of found) tracked.add(row.stripe_subscription_id)
    }
    const owners = await this.usersByCustomer(
      ours.map((subscription) => stripeId(subscription.customer)!)
    )
    for (const subscription of ours) {
      if (tracked.has(subscription.id)) continue
      const owner = owners.get(stripeId(subscription.customer)!)
      if (!owner || String(owner) !== subscription.metadata?.user_id) continue
      await this.applySubscription(run, subscription, {
        kind: 'subscription_missing',
        userId: owner,
        ours: 'no row',
        stripe: describe(
          subscription.metadata.kind,
          subscription.status,
          subscription.cancel_at_period_end
        ),
      })
    }
  }

  protected applySubscription(
    run: Run,
    subscription: Stripe.Subscription,
    difference: Pick<Difference, 'kind' | 'userId' | 'ours' | 'stripe'>
  ) {
    return this.found(
      run,
      {
        area: 'subscriptions',
        stripeId: subscription.id,
        ...difference,
        fix: "re-read the subscription and apply Stripe's state",
      },
      () => this.events.applyCurrent('customer.subscription.updated', subscription)
    )
  }

  /** Paid usage invoices must be paid with us; paid agent invoices must have their earning. */
  protected async compareInvoices(run: Run) {
    run.onProgress?.('invoices', 0)
    const paid = await this.listAll(
      'invoices',
      run,
      (params) => this.gateway.client.invoices.list(params),
      { status: 'paid', created: this.created(run.since, run.until) }
    )
    const usage = paid.filter((invoice) => UsageInvoiceService.isUsageInvoice(invoice))
    const agent = paid.filter((invoice) => AgentEntitlementService.isAgentInvoice(invoice))
    run.result.checked.invoices = usage.length + agent.length

    const usageRows = new Map<string, { user_id: number; status: string }>()
    for (const ids of chunks(usage.map((invoice) => invoice.id!))) {
      const rows: { stripe_invoice_id: string; user_id: number; status: string }[] = await db
        .from('usage_invoices')
        .whereIn('stripe_invoice_id', ids)
        .select('stripe_invoice_id', 'user_id', 'status')
      for (const row of rows) usageRows.set(row.stripe_invoice_id, row)
    }
    for (const invoice of usage) {
      const row = usageRows.get(invoice.id!)
      if (row?.status === 'paid') continue
      if (!row) {
        // Another environment's invoice on the same account is not ours to judge.
        const owners = await this.usersByCustomer([stripeId(invoice.customer)!])
        if (owners.size === 0) continue
        await this.found(run, {
          area: 'invoices',
          kind: 'invoice_unknown',
          stripeId: invoice.id!,
          userId: [...owners.values()][0] ?? null,
          ours: 'no usage invoice',
          stripe: `paid ${invoice.amount_paid} cents (${invoice.metadata?.period ?? 'no period'})`,
          fix: null,
          hint: HINTS.invoice_unknown,
        })
        continue
      }
      await this.found(
        run,
        {
          area: 'invoices',
          kind: 'invoice_not_paid',
          stripeId: invoice.id!,
          userId: Number(row.user_id),
          ours: row.status,
          stripe: `paid ${invoice.amount_paid} cents`,
          fix: 'apply the paid invoice (as invoice.paid)',
        },
        () => this.events.applyCurrent('invoice.paid', invoice)
      )
    }

    const earned = new Set<string>()
    for (const ids of chunks(agent.map((invoice) => invoice.id!))) {
      const rows: { source_id: string }[] = await db
        .from('marketplace_transactions')
        .where('source_type', 'invoice')
        .whereIn('source_id', ids)
        .select('source_id')
      for (const row of rows) earned.add(row.source_id)
    }
    const entitled = new Map<string, number>()
    const agentSubscriptions = agent.map((invoice) =>
      stripeId(invoice.parent?.subscription_details?.subscription)
    )
    for (const ids of chunks(agentSubscriptions.filter((id): id is string => id !== null))) {
      const rows: { stripe_subscription_id: string; user_id: number }[] = await db
        .from('agent_entitlements')
        .whereIn('stripe_subscription_id', ids)
        .select('stripe_subscription_id', 'user_id')
      for (const row of rows) entitled.set(row.stripe_subscription_id, Number(row.user_id))
    }
    for (const [index, invoice] of agent.entries()) {
      if (earned.has(invoice.id!) || invoice.amount_paid <= 0) continue
      const subscription = agentSubscriptions[index]
      const owner = subscription ? entitled.get(subscription) : undefined
      if (owner === undefined) continue // not a subscription of ours (see subscriptions)
      await this.found(
        run,
        {
          area: 'invoices',
          kind: 'earning_missing',
          stripeId: invoice.id!,
          userId: owner,
          ours: "no creator's earning",
          stripe: `paid ${invoice.amount_paid} cents`,
          fix: "apply the paid invoice (records the creator's earning)",
        },
        () => this.events.applyCurrent('invoice.paid', invoice)
      )
    }
  }

  /**
   * Each refunded charge of a credit pack, deploy slot or agent sale must
   * have its effect: the credits ledger entry, the slot marked refunded, the
   * creator's reversal. Each is keyed on the charge's refunded total, as the
   * charge.refunded handler writes it.
   */
  protected async compareRefunds(run: Run) {
    run.onProgress?.('refunds', 0)
    const refunds = await this.listAll(
      'refunds',
      run,
      (params) => this.gateway.client.refunds.list(params),
      { created: this.created(run.since, run.until), expand: ['data.charge'] }
    )
    const charges = new Map<string, Stripe.Charge>()
    for (const refund of refunds) {
      if (refund.status !== 'succeeded') continue
      const charge = refund.charge
      if (charge && typeof charge !== 'string') charges.set(charge.id, charge)
    }
    run.result.checked.refunds = charges.size
    for (const charge of charges.values()) {
      const intent = stripeId(charge.payment_intent)
      const missing = await this.missingRefundEffect(charge, intent)
      if (!missing) continue
      await this.found(
        run,
        {
          area: 'refunds',
          kind: 'refund_unrecorded',
          stripeId: charge.id,
          userId: missing.userId,
          ours: missing.ours,
          stripe: `refunded ${charge.amount_refunded} of ${charge.amount} cents`,
          fix: 'apply the refund (as charge.refunded)',
        },
        () => this.events.applyCurrent('charge.refunded', charge)
      )
    }
  }

  /** What of a refunded charge's effect we lack; null when it is recorded, or not ours. */
  protected async missingRefundEffect(
    charge: Stripe.Charge,
    intent: string | null
  ): Promise<{ userId: number; ours: string } | null> {
    if (charge.amount_refunded <= 0) return null
    const full = charge.refunded || charge.amount_refunded >= charge.amount
    if (intent) {
      const credits = await db
        .from('credit_purchases')
        .where('stripe_payment_intent_id', intent)
        .select('user_id')
        .first()
      if (credits) {
        const entry = await db
          .from('credit_ledger_entries')
          .where('idempotency_key', `refund:${charge.id}:${charge.amount_refunded}`)
          .select('id')
          .first()
        return entry ? null : { userId: Number(credits.user_id), ours: 'no credits clawback' }
      }
      const slot = await db
        .from('deploy_slot_purchases')
        .where('stripe_payment_intent_id', intent)
        .select('user_id', 'status')
        .first()
      if (slot) {
        return !full || slot.status === 'refunded'
          ? null
          : { userId: Number(slot.user_id), ours: `deploy slot ${slot.status}` }
      }
    }
    const sale = await db
      .from('marketplace_transactions')
      .where('stripe_charge_id', charge.id)
      .where('gross_cents', '>', 0)
      .select('buyer_id')
      .first()
    if (!sale) return null
    const reversal = await db
      .from('marketplace_transactions')
      .where('kind', 'refund')
      .where('source_id', `${charge.id}:${charge.amount_refunded}`)
      .select('id')
      .first()
    return reversal ? null : { userId: Number(sale.buyer_id), ours: "no creator's reversal" }
  }

  /** Payouts against Connect transfers: PayoutService.reconcile, repairing with --fix. */
  protected async compareTransfers(run: Run) {
    run.onProgress?.('transfers', 0)
    const reconciled = await this.payouts.reconcile({ repair: run.fix, since: run.since })
    run.result.checked.transfers = reconciled.checkedPayouts
    for (const mismatch of reconciled.mismatches) {
      const repaired = mismatch.repaired !== null && !mismatch.repaired.startsWith('not repaired')
      run.result.differences.push({
        area: 'transfers',
        kind: mismatch.kind,
        stripeId: mismatch.stripeTransferId,
        userId: mismatch.creatorId,
        ours: mismatch.payoutId === null ? 'no payout' : `payout ${mismatch.payoutId}`,
        stripe: mismatch.detail,
        fix: repaired || !run.fix ? 'repair it (as payouts:reconcile --repair)' : null,
        hint: repaired ? null : HINTS.transfers,
        result: run.fix ? (repaired ? 'fixed' : mismatch.repaired) : null,
      })
    }
  }

  /** Records a difference and, with --fix and a safe fix, applies it. */
  protected async found(
    run: Run,
    difference: Omit<Difference, 'hint' | 'result'> & { hint?: string | null },
    repair?: () => Promise<void>
  ) {
    const entry: Difference = { hint: null, result: null, ...difference }
    run.result.differences.push(entry)
    if (!run.fix || !repair || entry.fix === null) return
    try {
      await repair()
      entry.result = 'fixed'
    } catch (error) {
      entry.result = `failed: ${error instanceof Error ? error.message : String(error)}`
    }
  }

  protected async processOrThrow(stripeEventId: string) {
    const outcome = await this.events.process(stripeEventId)
    if (outcome !== 'failed') return
    const row = await db
      .from('stripe_events')
      .where('stripe_event_id', stripeEventId)
      .select('last_error')
      .first()
    throw new Error(row?.last_error ?? 'its handler failed')
  }

  /** customer id -> user id, for the customers given. */
  protected async usersByCustomer(customers: string[]) {
    const owners = new Map<string, number>()
    for (const ids of chunks([...new Set(customers)])) {
      const rows: { id: number; stripe_customer_id: string }[] = await db
        .from('users')
        .whereIn('stripe_customer_id', ids)
        .select('id', 'stripe_customer_id')
      for (const row of rows) owners.set(row.stripe_customer_id, Number(row.id))
    }
    return owners
  }

  protected created(since: DateTime, until: DateTime | undefined): Stripe.RangeQueryParam {
    return until ? { gte: seconds(since), lt: seconds(until) } : { gte: seconds(since) }
  }

  /** Every page of a Stripe list, with a running count for the progress bar. */
  protected async listAll<T, P extends Stripe.PaginationParams>(
    area: ReconcileArea,
    run: Run,
    list: (params: P) => Stripe.ApiListPromise<T>,
    params?: Omit<P, keyof Stripe.PaginationParams>
  ): Promise<T[]> {
    return StripeGateway.call(async () => {
      const items: T[] = []
      for await (const item of list({ ...params, limit: PAGE } as P)) {
        items.push(item)
        if (items.length % PAGE === 0) run.onProgress?.(area, items.length)
      }
      run.onProgress?.(area, items.length)
      return items
    })
  }
}

type Run = ReconcileOptions & { since: DateTime; fix: boolean; result: StripeReconcileResult }

function describe(what: string, status: string, cancelAtPeriodEnd: boolean) {
  return `${what} ${status}${cancelAtPeriodEnd ? ', cancels at period end' : ''}`
}

function* chunks<T>(items: T[]): Generator<T[]> {
  for (let start = 0; start < items.length; start += CHUNK) {
    yield items.slice(start, start + CHUNK)
  }
}
