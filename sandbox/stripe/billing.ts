/**
 * The billing engine: subscriptions, their invoices, payment of invoices and
 * behaviour over time (renewals, trials, retries, scheduled cancellations).
 *
 * Resource modules (`resources/subscriptions.ts`, `invoices.ts`,
 * `billing_portal.ts`) and Checkout call into it; the clock drives it through
 * `registerBillingClock` (everything due is processed in time order, period by
 * period when the clock jumps several periods).
 *
 * Simplifications (documented in the report / README):
 *  - no taxes, discounts or prorations (`proration_behavior` is accepted, price and
 *    quantity changes apply from the next period);
 *  - renewal invoices are finalized and charged at the period boundary (Stripe
 *    waits about an hour after `invoice.created`);
 *  - events are stamped with the sandbox time at which the clock advance ran, while
 *    the objects carry the due time of the action (period end, retry date).
 */
import type Stripe from 'stripe'
import type { ResourceContext } from './context.js'
import { ApiError, invalidRequest, resourceMissing } from './errors.js'
import type { EventOrigin } from './events.js'
import { newId } from './ids.js'
import { clone, previousAttributes } from './json.js'
import {
  type CollectPaymentResult,
  MAGIC_PAYMENT_METHODS,
  attachPaymentMethod,
  collectPayment,
  declineFor,
  findCustomerRef,
  requirePaymentMethod,
} from './payments.js'
import { formatAmount } from './hosted/html.js'
import { asDecimal, lineAmount } from './resources/prices.js'

/** Engine bookkeeping that has no field on Stripe's objects (never sent). */
export interface InvoiceState {
  id: string
  applicationFeeAmount: number | null
  transferData: { destination: string; amount: number | null } | null
  onBehalfOf: string | null
  /** The PaymentIntent of the last attempt (retries reuse it, as Stripe does). */
  paymentIntent: string | null
  /** The invoice_payment of that PaymentIntent. */
  invoicePayment: string | null
  /** When the first automatic attempt failed (retry offsets count from here). */
  firstFailureAt: number | null
  /** Retries of the schedule already made. */
  retriesDone: number
}

export interface SubscriptionState {
  id: string
  trialWillEndSent: boolean
  /** For `incomplete` subscriptions: when they expire (23 hours after creation). */
  incompleteExpiresAt: number | null
  /** trial_settings.end_behavior.missing_payment_method */
  trialEndBehavior: 'cancel' | 'create_invoice' | 'pause'
}

declare module './store.js' {
  interface CollectionTypes {
    'subscription': Stripe.Subscription
    'subscription_item': Stripe.SubscriptionItem
    'invoice': Stripe.Invoice
    'invoiceitem': Stripe.InvoiceItem
    'invoice_payment': Stripe.InvoicePayment
    'billing.invoice_state': InvoiceState
    'billing.subscription_state': SubscriptionState
  }
}

// ---------------------------------------------------------------------------
// Contract
// ---------------------------------------------------------------------------

export interface StartSubscriptionInput {
  customer: string
  items: Array<{ price: string; quantity: number; metadata?: Record<string, string> }>
  metadata: Record<string, string>
  defaultPaymentMethod: string | null
  description?: string | null
  applicationFeePercent?: number | null
  transferData?: { destination: string; amount_percent?: number | null } | null
  trialPeriodDays?: number | null
  /** A trial end timestamp (as subscriptions.create's `trial_end`); wins over trialPeriodDays. */
  trialEnd?: number | null
  /** The subscription's `on_behalf_of` (a connected account). */
  onBehalfOf?: string | null
  /** Checkout pays the first invoice on-session (a ...0341 card succeeds there). */
  offSession: boolean
  origin: EventOrigin | null
}

export interface StartSubscriptionResult {
  subscription: Stripe.Subscription
  invoice: Stripe.Invoice
  payment: CollectPaymentResult | null
}

/**
 * Creates the subscription (items with current_period_start/end), its first invoice
 * (billing_reason subscription_create, parent.subscription_details, payments), pays it,
 * and emits customer.subscription.created, invoice.created, invoice.finalized, payment
 * events, invoice.paid, invoice.payment_succeeded, invoice_payment.paid, then
 * customer.subscription.updated (incomplete → active/trialing); or the failure path
 * (invoice.payment_failed, status 'incomplete').
 */
export function startSubscription(
  ctx: ResourceContext,
  input: StartSubscriptionInput
): StartSubscriptionResult {
  return createSubscription(ctx, {
    customer: input.customer,
    items: input.items.map((item) => ({
      price: item.price,
      quantity: item.quantity,
      metadata: item.metadata ?? {},
    })),
    metadata: input.metadata,
    defaultPaymentMethod: input.defaultPaymentMethod,
    description: input.description ?? null,
    applicationFeePercent: input.applicationFeePercent ?? null,
    transferData: input.transferData
      ? {
          destination: input.transferData.destination,
          amount_percent: input.transferData.amount_percent ?? null,
        }
      : null,
    trialEnd:
      input.trialEnd !== undefined && input.trialEnd !== null
        ? input.trialEnd
        : trialEndFromDays(ctx, input.trialPeriodDays ?? null),
    onBehalfOf: input.onBehalfOf ?? null,
    offSession: input.offSession,
    paymentBehavior: 'allow_incomplete',
    origin: input.origin,
  })
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/**
 * Connect scoping of the billing endpoints: subscriptions, invoices and portal
 * objects live on the platform only. A request made with `Stripe-Account` sees none
 * of them (404 `resource_missing` for an id, empty lists), and creating them on a
 * connected account is refused (not modelled: it would need direct charges on that
 * account).
 */
export function connectGuard(
  request: { stripeAccount: string | undefined },
  label: string,
  id: string | null
) {
  if (!request.stripeAccount) return
  if (id !== null) throw resourceMissing(label, id)
  throw invalidRequest(
    `The sandbox does not model ${label} objects on connected accounts: make this request without the Stripe-Account header.`,
    { validation: true }
  )
}

const DAY = 86_400
/** Stripe lets an incomplete subscription's first invoice be paid for 23 hours. */
export const INCOMPLETE_EXPIRY_SECONDS = 23 * 3600
/** customer.subscription.trial_will_end is sent 3 days before the trial ends. */
export const TRIAL_WILL_END_SECONDS = 3 * DAY

function trialEndFromDays(ctx: ResourceContext, days: number | null): number | null {
  return days && days > 0 ? ctx.clock.now() + days * DAY : null
}

function unitDecimal(price: Stripe.Price): Stripe.Decimal | null {
  if (price.unit_amount_decimal !== null) return price.unit_amount_decimal
  return price.unit_amount === null ? null : asDecimal(String(price.unit_amount))
}

export function productName(ctx: ResourceContext, price: Stripe.Price): string {
  const id = productId(price)
  const product = ctx.store.getRecord('product', id)?.value
  return product && 'name' in product ? product.name : id
}

function productId(price: Stripe.Price): string {
  return typeof price.product === 'string' ? price.product : price.product.id
}

/** The `plan` that Stripe still mirrors on subscription items. */
export function planFromPrice(price: Stripe.Price): Stripe.Plan {
  const recurring = price.recurring
  return {
    id: price.id,
    object: 'plan',
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: unitDecimal(price),
    billing_scheme: price.billing_scheme,
    created: price.created,
    currency: price.currency,
    interval: recurring?.interval ?? 'month',
    interval_count: recurring?.interval_count ?? 1,
    livemode: false,
    metadata: { ...price.metadata },
    meter: recurring?.meter ?? null,
    nickname: price.nickname,
    product: productId(price),
    tiers_mode: price.tiers_mode,
    transform_usage: price.transform_quantity
      ? {
          divide_by: price.transform_quantity.divide_by,
          round: price.transform_quantity.round,
        }
      : null,
    trial_period_days: recurring?.trial_period_days ?? null,
    usage_type: recurring?.usage_type ?? 'licensed',
  }
}

/**
 * `anchor` moved by `n` intervals. Months and years keep the anchor's day of month,
 * clamped to the month's last day (Jan 31 → Feb 28 → Mar 31), as Stripe bills.
 */
export function addIntervals(anchor: number, interval: string, count: number, n: number): number {
  if (interval === 'day') return anchor + DAY * count * n
  if (interval === 'week') return anchor + 7 * DAY * count * n
  const months = (interval === 'year' ? 12 : 1) * count * n
  const date = new Date(anchor * 1000)
  const target = new Date(
    Date.UTC(
      date.getUTCFullYear(),
      date.getUTCMonth() + months,
      1,
      date.getUTCHours(),
      date.getUTCMinutes(),
      date.getUTCSeconds()
    )
  )
  const lastDay = new Date(
    Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)
  ).getUTCDate()
  target.setUTCDate(Math.min(date.getUTCDate(), lastDay))
  return Math.floor(target.getTime() / 1000)
}

/** The first period boundary of the anchor's cycle strictly after `after`. */
export function nextBoundary(anchor: number, interval: string, count: number, after: number) {
  // Jump close first (average interval length), then step.
  const approx =
    interval === 'day'
      ? DAY * count
      : interval === 'week'
        ? 7 * DAY * count
        : interval === 'year'
          ? 365 * DAY * count
          : 30 * DAY * count
  let n = Math.max(1, Math.floor((after - anchor) / approx) - 1)
  while (n > 1 && addIntervals(anchor, interval, count, n - 1) > after) n--
  while (addIntervals(anchor, interval, count, n) <= after) n++
  return addIntervals(anchor, interval, count, n)
}

function intervalOf(sub: Stripe.Subscription): { interval: string; count: number } {
  const recurring = sub.items.data[0]?.price.recurring
  return { interval: recurring?.interval ?? 'month', count: recurring?.interval_count ?? 1 }
}

/** Earliest current_period_end over the items (the subscription's period end). */
export function periodEnd(sub: Stripe.Subscription): number {
  return Math.min(...sub.items.data.map((item) => item.current_period_end))
}

export function periodStart(sub: Stripe.Subscription): number {
  return Math.min(...sub.items.data.map((item) => item.current_period_start))
}

export function subscriptionState(ctx: ResourceContext, id: string): SubscriptionState {
  const existing = ctx.store.get('billing.subscription_state', id)
  if (existing) return existing
  const state: SubscriptionState = {
    id,
    trialWillEndSent: false,
    incompleteExpiresAt: null,
    trialEndBehavior: 'create_invoice',
  }
  ctx.store.insert('billing.subscription_state', id, state)
  return state
}

function saveSubscriptionState(ctx: ResourceContext, state: SubscriptionState) {
  ctx.store.replace('billing.subscription_state', state.id, { ...state })
}

export function invoiceState(ctx: ResourceContext, id: string): InvoiceState {
  const existing = ctx.store.get('billing.invoice_state', id)
  if (existing) return existing
  const state: InvoiceState = {
    id,
    applicationFeeAmount: null,
    transferData: null,
    onBehalfOf: null,
    paymentIntent: null,
    invoicePayment: null,
    firstFailureAt: null,
    retriesDone: 0,
  }
  ctx.store.insert('billing.invoice_state', id, state)
  return state
}

function saveInvoiceState(ctx: ResourceContext, state: InvoiceState) {
  ctx.store.replace('billing.invoice_state', state.id, { ...state })
}

/** Writes the subscription and mirrors its items into the subscription_item collection. */
export function saveSubscription(ctx: ResourceContext, sub: Stripe.Subscription) {
  if (ctx.store.getRecord('subscription', sub.id)) ctx.store.replace('subscription', sub.id, sub)
  else ctx.store.insert('subscription', sub.id, sub)
  const live = new Set(sub.items.data.map((item) => item.id))
  for (const item of sub.items.data) {
    const record = ctx.store.getRecord('subscription_item', item.id)
    if (!record) ctx.store.insert('subscription_item', item.id, clone(item))
    else if (!record.deleted) ctx.store.replace('subscription_item', item.id, clone(item))
  }
  for (const record of ctx.store.records('subscription_item')) {
    if (!record.deleted && record.value.subscription === sub.id && !live.has(record.id)) {
      ctx.store.markDeleted('subscription_item', record.id)
    }
  }
}

/** Applies `change` to a copy, saves it and emits customer.subscription.updated (if anything changed). */
export function updateSubscription(
  ctx: ResourceContext,
  id: string,
  change: (next: Stripe.Subscription) => void,
  origin: EventOrigin | null
): Stripe.Subscription {
  const current = ctx.store.get('subscription', id)
  if (!current) throw resourceMissing('subscription', id)
  const next = clone(current)
  change(next)
  const previous = previousAttributes(current, next)
  if (Object.keys(previous).length === 0) return current
  saveSubscription(ctx, next)
  ctx.events.emit('customer.subscription.updated', next, {
    request: origin,
    previousAttributes: previous,
  })
  return next
}

export function updateInvoice(
  ctx: ResourceContext,
  id: string,
  change: (next: Stripe.Invoice) => void
): Stripe.Invoice {
  const current = ctx.store.get('invoice', id)
  if (!current) throw resourceMissing('invoice', id)
  const next = clone(current)
  change(next)
  ctx.store.replace('invoice', id, next)
  return next
}

// ---------------------------------------------------------------------------
// Subscription items
// ---------------------------------------------------------------------------

export function buildSubscriptionItem(
  ctx: ResourceContext,
  subscriptionId: string,
  price: Stripe.Price,
  quantity: number,
  metadata: Record<string, string>,
  start: number,
  end: number
): Stripe.SubscriptionItem {
  return {
    id: newId('subscription_item'),
    object: 'subscription_item',
    billing_thresholds: null,
    created: ctx.clock.now(),
    current_period_end: end,
    current_period_start: start,
    current_trial: null,
    discounts: [],
    metadata: { ...metadata },
    plan: planFromPrice(price),
    price: clone(price),
    quantity,
    subscription: subscriptionId,
    tax_rates: [],
  }
}

/** Throws Stripe's 400s for prices a subscription cannot use (before any mutation). */
export function checkSubscriptionPrices(prices: Array<{ price: Stripe.Price; param: string }>) {
  let currency: string | null = null
  let cadence: string | null = null
  for (const { price, param } of prices) {
    if (!price.recurring) {
      throw invalidRequest(
        `The price specified is set to \`type=one_time\` but this field only accepts prices with \`type=recurring\`.`,
        { param, validation: true }
      )
    }
    const itsCadence = `${price.recurring.interval}/${price.recurring.interval_count}`
    if (currency !== null && (currency !== price.currency || cadence !== itsCadence)) {
      throw invalidRequest(
        'Currency and interval fields must match across all plans on this subscription. Found mismatch in ' +
          (currency !== price.currency ? 'currency' : 'interval') +
          ' field.',
        { param, validation: true }
      )
    }
    currency = price.currency
    cadence = itsCadence
  }
}

// ---------------------------------------------------------------------------
// Invoices
// ---------------------------------------------------------------------------

export interface NewInvoiceInput {
  customer: Stripe.Customer
  subscription: Stripe.Subscription | null
  billingReason: Stripe.Invoice.BillingReason
  collectionMethod: 'charge_automatically' | 'send_invoice'
  daysUntilDue: number | null
  autoAdvance: boolean
  currency: string
  description: string | null
  metadata: Record<string, string>
  defaultPaymentMethod: string | null
  periodStart: number
  periodEnd: number
  created: number
  footer?: string | null
}

export function blankInvoice(input: NewInvoiceInput): Stripe.Invoice {
  const id = newId('invoice')
  const customer = input.customer
  const sub = input.subscription
  return {
    id,
    object: 'invoice',
    account_country: 'US',
    account_name: null,
    account_tax_ids: null,
    amount_due: 0,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: 0,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: input.autoAdvance,
    automatic_tax: {
      disabled_reason: null,
      enabled: false,
      liability: null,
      provider: null,
      status: null,
    },
    automatically_finalizes_at: null,
    billing_reason: input.billingReason,
    collection_method: input.collectionMethod,
    created: input.created,
    currency: input.currency,
    custom_fields: customer.invoice_settings.custom_fields,
    customer: customer.id,
    customer_account: null,
    customer_address: customer.address ?? null,
    customer_email: customer.email,
    customer_name: customer.name ?? null,
    customer_phone: customer.phone ?? null,
    customer_shipping: customer.shipping
      ? {
          address: customer.shipping.address,
          carrier: customer.shipping.carrier ?? null,
          name: customer.shipping.name,
          phone: customer.shipping.phone ?? null,
          tracking_number: customer.shipping.tracking_number ?? null,
        }
      : null,
    customer_tax_exempt: customer.tax_exempt ?? 'none',
    customer_tax_ids: [],
    default_payment_method: input.defaultPaymentMethod,
    default_source: null,
    default_tax_rates: [],
    description: input.description,
    discounts: [],
    due_date: null,
    effective_at: null,
    ending_balance: null,
    footer: input.footer ?? customer.invoice_settings.footer ?? null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: 'self' },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: 'list', data: [], has_more: false, url: `/v1/invoices/${id}/lines` },
    livemode: false,
    metadata: { ...input.metadata },
    next_payment_attempt: null,
    number: null,
    on_behalf_of: null,
    parent: sub
      ? {
          quote_details: null,
          subscription_details: { metadata: { ...sub.metadata }, subscription: sub.id },
          type: 'subscription_details',
        }
      : null,
    payment_settings: {
      default_mandate: null,
      payment_method_options: null,
      payment_method_types: null,
    },
    period_end: input.periodEnd,
    period_start: input.periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: 'draft',
    status_transitions: {
      finalized_at: null,
      marked_uncollectible_at: null,
      paid_at: null,
      voided_at: null,
    },
    subtotal: 0,
    subtotal_excluding_tax: 0,
    test_clock: null,
    total: 0,
    total_discount_amounts: [],
    total_excluding_tax: 0,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
  }
}

/** Recomputes subtotal/total/amount_due/remaining of a draft from its lines. */
export function recomputeTotals(invoice: Stripe.Invoice) {
  const subtotal = invoice.lines.data.reduce((sum, line) => sum + line.amount, 0)
  invoice.subtotal = subtotal
  invoice.subtotal_excluding_tax = subtotal
  invoice.total = subtotal
  invoice.total_excluding_tax = subtotal
  if (invoice.status === 'draft') {
    invoice.amount_due = Math.max(0, subtotal)
    invoice.amount_remaining = Math.max(0, subtotal - invoice.amount_paid)
  }
}

export function subscriptionLine(
  ctx: ResourceContext,
  invoice: Stripe.Invoice,
  /** The subscription billed (id null for the preview of a new subscription). */
  sub: { id: string | null; metadata: Stripe.Metadata },
  item: Stripe.SubscriptionItem
): Stripe.InvoiceLineItem {
  const quantity = item.quantity ?? 1
  const amount = lineAmount(item.price, quantity)
  const recurring = item.price.recurring
  const every = recurring
    ? recurring.interval_count === 1
      ? recurring.interval
      : `every ${recurring.interval_count} ${recurring.interval}s`
    : ''
  const unit =
    item.price.unit_amount !== null
      ? formatAmount(item.price.unit_amount, item.price.currency)
      : `${String(item.price.unit_amount_decimal)} ${item.price.currency.toUpperCase()} cents`
  return {
    id: newId('invoice_line_item'),
    object: 'line_item',
    amount,
    currency: item.price.currency,
    description: `${quantity} × ${productName(ctx, item.price)} (at ${unit} / ${every})`,
    discount_amounts: [],
    discountable: true,
    discounts: [],
    invoice: invoice.id,
    livemode: false,
    metadata: { ...sub.metadata },
    parent: {
      invoice_item_details: null,
      subscription_item_details: {
        invoice_item: null,
        proration: false,
        proration_details: { credited_items: null },
        subscription: sub.id,
        subscription_item: item.id,
      },
      type: 'subscription_item_details',
    },
    period: { start: item.current_period_start, end: item.current_period_end },
    pretax_credit_amounts: [],
    pricing: {
      price_details: { price: item.price.id, product: productId(item.price) },
      type: 'price_details',
      unit_amount_decimal: unitDecimal(item.price),
    },
    quantity,
    quantity_decimal: asDecimal(String(quantity)),
    subscription: sub.id,
    subtotal: amount,
    taxes: [],
  }
}

export function invoiceItemLine(
  invoice: Stripe.Invoice,
  ii: Stripe.InvoiceItem
): Stripe.InvoiceLineItem {
  const subscription = ii.parent?.subscription_details?.subscription ?? null
  return {
    id: newId('invoice_line_item'),
    object: 'line_item',
    amount: ii.amount,
    currency: ii.currency,
    description: ii.description,
    discount_amounts: [],
    discountable: ii.discountable,
    discounts: [],
    invoice: invoice.id,
    livemode: false,
    metadata: { ...(ii.metadata ?? {}) },
    parent: {
      invoice_item_details: {
        invoice_item: ii.id,
        proration: ii.proration,
        proration_details: { credited_items: null },
        subscription,
      },
      subscription_item_details: null,
      type: 'invoice_item_details',
    },
    period: { ...ii.period },
    pretax_credit_amounts: [],
    pricing: ii.pricing ? clone(ii.pricing) : null,
    quantity: ii.quantity,
    quantity_decimal: ii.quantity_decimal,
    subscription,
    subtotal: ii.amount,
    taxes: [],
  }
}

/** Pending invoice items of the customer (optionally only those of a subscription or none). */
export function pendingInvoiceItems(
  ctx: ResourceContext,
  customer: string,
  subscription: string | null,
  currency: string | null
): Stripe.InvoiceItem[] {
  return ctx.store
    .list('invoiceitem')
    .filter((ii) => {
      if (ii.customer !== customer || ii.invoice !== null) return false
      if (currency !== null && ii.currency !== currency) return false
      const itsSub = ii.parent?.subscription_details?.subscription ?? null
      return itsSub === null || itsSub === subscription
    })
    .reverse()
}

/** Attaches an invoice item to a draft invoice: sets `invoice` on it and adds the line. */
export function attachInvoiceItem(
  ctx: ResourceContext,
  invoice: Stripe.Invoice,
  ii: Stripe.InvoiceItem
) {
  const next: Stripe.InvoiceItem = { ...ii, invoice: invoice.id }
  ctx.store.replace('invoiceitem', ii.id, next)
  invoice.lines.data.push(invoiceItemLine(invoice, next))
}

function hostedInvoiceUrl(ctx: ResourceContext, id: string) {
  return `${ctx.publicUrl()}/i/${id}`
}

/**
 * Finalizes a draft: number from the customer's prefix and sequence, status open,
 * hosted_invoice_url, customer balance applied; emits invoice.finalized. A zero
 * amount due is paid right away (invoice.paid, invoice.payment_succeeded).
 */
export function finalizeInvoice(
  ctx: ResourceContext,
  id: string,
  origin: EventOrigin | null,
  at = ctx.clock.now()
): Stripe.Invoice {
  const current = ctx.store.get('invoice', id)
  if (!current) throw resourceMissing('invoice', id)
  if (current.status !== 'draft') {
    throw invalidRequest(
      "This invoice is already finalized, you can't re-finalize a non-draft invoice."
    )
  }
  const customer = findCustomerRef(ctx, String(current.customer), 'customer')
  const number = `${customer.invoice_prefix ?? 'INV'}-${String(customer.next_invoice_sequence ?? 1).padStart(4, '0')}`
  const balance = customer.balance
  // A credit (negative balance) reduces what is due; a debit adds to it.
  let applied = 0
  if (balance < 0) applied = Math.max(balance, -current.total)
  else if (balance > 0) applied = balance
  const nextCustomer: Stripe.Customer = {
    ...customer,
    next_invoice_sequence: (customer.next_invoice_sequence ?? 1) + 1,
    balance: balance - applied,
  }
  ctx.store.replace('customer', customer.id, nextCustomer)
  if (applied !== 0) {
    ctx.events.emit('customer.updated', nextCustomer, {
      request: origin,
      previousAttributes: { balance },
    })
  }
  const invoice = updateInvoice(ctx, id, (next) => {
    recomputeTotals(next)
    next.status = 'open'
    next.number = number
    // The customer's balance before finalization (Stripe), not the part applied.
    next.starting_balance = balance
    next.ending_balance = balance - applied
    next.amount_due = Math.max(0, next.total + applied)
    next.amount_remaining = next.amount_due - next.amount_paid
    next.status_transitions.finalized_at = at
    next.effective_at = at
    next.hosted_invoice_url = hostedInvoiceUrl(ctx, id)
    next.invoice_pdf = `${hostedInvoiceUrl(ctx, id)}/pdf`
    if (next.collection_method === 'send_invoice') {
      next.due_date = next.due_date ?? at + 30 * DAY
    } else if (next.amount_due > 0 && next.auto_advance) {
      // Stripe attempts an auto-advancing invoice about an hour after finalization
      // (subscription flows attempt right away and overwrite this).
      next.next_payment_attempt = at + 3600
    }
  })
  ctx.events.emit('invoice.finalized', invoice, { request: origin })
  if (invoice.amount_due === 0)
    return markInvoicePaid(ctx, id, { origin, at, paidOutOfBand: false })
  return invoice
}

/**
 * Marks an open invoice paid (amount_remaining → amount_paid) and emits invoice.paid,
 * invoice.payment_succeeded and, with a payment, invoice_payment.paid; then
 * reactivates its subscription if it was incomplete/past_due/unpaid.
 */
export function markInvoicePaid(
  ctx: ResourceContext,
  id: string,
  options: {
    origin: EventOrigin | null
    at: number
    paidOutOfBand: boolean
    invoicePayment?: Stripe.InvoicePayment | null
  }
): Stripe.Invoice {
  const invoice = updateInvoice(ctx, id, (next) => {
    if (options.paidOutOfBand) {
      next.amount_paid_off_stripe = (next.amount_paid_off_stripe ?? 0) + next.amount_remaining
    }
    next.amount_paid += next.amount_remaining
    next.amount_remaining = 0
    next.status = 'paid'
    next.status_transitions.paid_at = options.at
    next.next_payment_attempt = null
    next.attempted = true
  })
  ctx.events.emit('invoice.paid', invoice, { request: options.origin })
  if (!options.paidOutOfBand) {
    ctx.events.emit('invoice.payment_succeeded', invoice, { request: options.origin })
  }
  if (options.invoicePayment) {
    ctx.events.emit('invoice_payment.paid', options.invoicePayment, { request: options.origin })
  }
  const subId = invoice.parent?.subscription_details?.subscription
  if (typeof subId === 'string') reactivateAfterPayment(ctx, subId, options.origin)
  return ctx.store.get('invoice', id) ?? invoice
}

function reactivateAfterPayment(ctx: ResourceContext, subId: string, origin: EventOrigin | null) {
  const sub = ctx.store.get('subscription', subId)
  if (!sub || !['incomplete', 'past_due', 'unpaid'].includes(sub.status)) return
  const stillOpen = ctx.store
    .list('invoice')
    .some(
      (inv) =>
        inv.status === 'open' &&
        inv.parent?.subscription_details?.subscription === subId &&
        inv.amount_remaining > 0
    )
  if (stillOpen) return
  const trialing = sub.trial_end !== null && sub.trial_end > ctx.clock.now()
  updateSubscription(
    ctx,
    subId,
    (next) => {
      next.status = trialing ? 'trialing' : 'active'
    },
    origin
  )
  const state = subscriptionState(ctx, subId)
  if (state.incompleteExpiresAt !== null) {
    saveSubscriptionState(ctx, { ...state, incompleteExpiresAt: null })
  }
}

/** The payment method an invoice is charged with: param → invoice → subscription → customer. */
export function paymentMethodFor(
  ctx: ResourceContext,
  invoice: Stripe.Invoice,
  explicit?: string | null
): string | null {
  if (explicit) return explicit
  if (typeof invoice.default_payment_method === 'string') return invoice.default_payment_method
  const subId = invoice.parent?.subscription_details?.subscription
  if (typeof subId === 'string') {
    const sub = ctx.store.get('subscription', subId)
    if (sub && typeof sub.default_payment_method === 'string') return sub.default_payment_method
  }
  const customer = ctx.store.get('customer', String(invoice.customer))
  const pm = customer?.invoice_settings.default_payment_method
  return typeof pm === 'string' ? pm : null
}

export function noPaymentMethod(): ApiError {
  return invalidRequest(
    'This customer has no attached payment source or default payment method. Please consider adding a default payment method. For more information, visit https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority.'
  )
}

export interface PayAttemptResult {
  invoice: Stripe.Invoice
  payment: CollectPaymentResult | null
  /** The 402 to throw from synchronous endpoints (null on success). */
  error: ApiError | null
}

function paymentDescription(invoice: Stripe.Invoice): string | null {
  if (invoice.billing_reason === 'subscription_create') return 'Subscription creation'
  if (invoice.billing_reason === 'subscription_cycle') return 'Subscription update'
  if (invoice.billing_reason === 'subscription_update') return 'Subscription update'
  return invoice.description
}

/**
 * One payment attempt on an open invoice: charges its payment method (retries reuse
 * the PaymentIntent), records the invoice_payment and either marks the invoice paid
 * or counts the failure (attempt_count, next_payment_attempt per the retry schedule
 * for automatic collection) and emits invoice.payment_failed.
 */
export function attemptInvoicePayment(
  ctx: ResourceContext,
  id: string,
  options: {
    paymentMethod?: string | null
    offSession: boolean
    origin: EventOrigin | null
    at?: number
    /** Automatic attempts (renewals, retries) follow the retry schedule. */
    automatic: boolean
  }
): PayAttemptResult {
  const at = options.at ?? ctx.clock.now()
  const invoice = ctx.store.get('invoice', id)
  if (!invoice) throw resourceMissing('invoice', id)
  const state = invoiceState(ctx, id)
  const paymentMethod = paymentMethodFor(ctx, invoice, options.paymentMethod)
  if (!paymentMethod) {
    if (!options.automatic) throw noPaymentMethod()
    const failed = recordFailure(ctx, id, state, at, options.automatic)
    ctx.events.emit('invoice.payment_failed', failed, { request: options.origin })
    return { invoice: failed, payment: null, error: null }
  }
  const customer = typeof invoice.customer === 'string' ? invoice.customer : null
  let payment: CollectPaymentResult
  try {
    payment = collectPayment(ctx, {
      amount: invoice.amount_remaining,
      currency: invoice.currency,
      customer,
      paymentMethod,
      offSession: options.offSession,
      description: paymentDescription(invoice),
      metadata: {},
      applicationFeeAmount: state.applicationFeeAmount,
      transferData: state.transferData,
      onBehalfOf: state.onBehalfOf,
      paymentIntent: state.paymentIntent,
      origin: options.origin,
    })
  } catch (error) {
    // An automatic attempt that cannot even start (e.g. the destination account is gone)
    // counts as a failed attempt; API calls get the error.
    if (!options.automatic || !(error instanceof ApiError)) throw error
    const failed = recordFailure(ctx, id, state, at, options.automatic)
    ctx.events.emit('invoice.payment_failed', failed, { request: options.origin })
    return { invoice: failed, payment: null, error }
  }
  const inpay = recordInvoicePayment(ctx, invoice, state, payment, at)
  if (payment.succeeded) {
    updateInvoice(ctx, id, (next) => {
      next.attempt_count += 1
      next.attempted = true
    })
    const paid = markInvoicePaid(ctx, id, {
      origin: options.origin,
      at,
      paidOutOfBand: false,
      invoicePayment: inpay,
    })
    return { invoice: paid, payment, error: null }
  }
  const failed = recordFailure(ctx, id, invoiceState(ctx, id), at, options.automatic)
  ctx.events.emit('invoice.payment_failed', failed, { request: options.origin })
  return { invoice: failed, payment, error: payment.error }
}

function recordInvoicePayment(
  ctx: ResourceContext,
  invoice: Stripe.Invoice,
  state: InvoiceState,
  payment: CollectPaymentResult,
  at: number
): Stripe.InvoicePayment {
  const pi = payment.paymentIntent
  const existing = state.invoicePayment
    ? ctx.store.get('invoice_payment', state.invoicePayment)
    : undefined
  const status = payment.succeeded ? 'paid' : 'open'
  let inpay: Stripe.InvoicePayment
  if (existing && existing.payment.payment_intent === pi.id) {
    inpay = {
      ...existing,
      amount_paid: payment.succeeded ? pi.amount : null,
      status,
      status_transitions: {
        ...existing.status_transitions,
        paid_at: payment.succeeded ? at : null,
      },
    }
    ctx.store.replace('invoice_payment', inpay.id, inpay)
  } else {
    inpay = {
      id: newId('invoice_payment'),
      object: 'invoice_payment',
      amount_paid: payment.succeeded ? pi.amount : null,
      amount_requested: pi.amount,
      created: at,
      currency: invoice.currency,
      invoice: invoice.id,
      is_default: true,
      livemode: false,
      payment: { payment_intent: pi.id, type: 'payment_intent' },
      status,
      status_transitions: { canceled_at: null, paid_at: payment.succeeded ? at : null },
    }
    ctx.store.insert('invoice_payment', inpay.id, inpay)
  }
  saveInvoiceState(ctx, { ...state, paymentIntent: pi.id, invoicePayment: inpay.id })
  return inpay
}

/** The retry date after a failure, or null when the schedule is exhausted. */
function nextRetryAt(ctx: ResourceContext, state: InvoiceState): number | null {
  const schedule = ctx.settings.billing.retryScheduleDays
  if (state.firstFailureAt === null || state.retriesDone >= schedule.length) return null
  return state.firstFailureAt + Math.round(schedule[state.retriesDone] * DAY)
}

function recordFailure(
  ctx: ResourceContext,
  id: string,
  state: InvoiceState,
  at: number,
  automatic: boolean
): Stripe.Invoice {
  const invoice = ctx.store.get('invoice', id)
  // Smart retries: invoices that advance automatically, except a subscription's first
  // invoice (its subscription stays incomplete and expires instead).
  const retrying =
    invoice?.auto_advance === true &&
    invoice.collection_method === 'charge_automatically' &&
    invoice.billing_reason !== 'subscription_create'
  let nextState = state
  if (retrying && automatic) {
    if (state.firstFailureAt === null) nextState = { ...state, firstFailureAt: at }
    else nextState = { ...state, retriesDone: state.retriesDone + 1 }
    saveInvoiceState(ctx, nextState)
  } else if (retrying && state.firstFailureAt === null) {
    nextState = { ...state, firstFailureAt: at }
    saveInvoiceState(ctx, nextState)
  }
  return updateInvoice(ctx, id, (next) => {
    next.attempt_count += 1
    next.attempted = true
    next.next_payment_attempt = retrying ? nextRetryAt(ctx, nextState) : null
  })
}

// ---------------------------------------------------------------------------
// Creating subscriptions
// ---------------------------------------------------------------------------

export interface CreateSubscriptionInput {
  customer: string
  items: Array<{ price: string; quantity: number; metadata: Record<string, string> }>
  metadata: Record<string, string>
  defaultPaymentMethod: string | null
  description: string | null
  applicationFeePercent: number | null
  transferData: { destination: string; amount_percent: number | null } | null
  onBehalfOf?: string | null
  trialEnd: number | null
  trialEndBehavior?: 'cancel' | 'create_invoice' | 'pause'
  cancelAtPeriodEnd?: boolean
  cancelAt?: number | null
  collectionMethod?: 'charge_automatically' | 'send_invoice'
  daysUntilDue?: number | null
  offSession: boolean
  paymentBehavior: 'allow_incomplete' | 'default_incomplete' | 'error_if_incomplete'
  origin: EventOrigin | null
}

/** Shared by the API create, startSubscription (Checkout) and the portal. */
export function createSubscription(
  ctx: ResourceContext,
  input: CreateSubscriptionInput
): StartSubscriptionResult {
  const now = ctx.clock.now()
  const customer = findCustomerRef(ctx, input.customer, 'customer')
  if (input.items.length === 0)
    throw invalidRequest('Missing required param: items.', {
      param: 'items',
      code: 'parameter_missing',
      validation: true,
    })
  const prices = input.items.map((item, index) => {
    const price = ctx.store.get('price', item.price)
    if (!price) throw resourceMissing('price', item.price, `items[${index}][price]`)
    return { price, param: `items[${index}][price]` }
  })
  checkSubscriptionPrices(prices)
  if (input.defaultPaymentMethod) {
    requirePaymentMethod(ctx, input.defaultPaymentMethod, 'default_payment_method')
  }
  const currency = prices[0].price.currency
  const recurring = prices[0].price.recurring
  const interval = recurring?.interval ?? 'month'
  const count = recurring?.interval_count ?? 1
  const trialEnd = input.trialEnd !== null && input.trialEnd > now ? input.trialEnd : null
  const anchor = trialEnd ?? now
  const firstEnd = trialEnd ?? addIntervals(anchor, interval, count, 1)
  const id = newId('subscription')
  const items = input.items.map((item, index) =>
    buildSubscriptionItem(ctx, id, prices[index].price, item.quantity, item.metadata, now, firstEnd)
  )
  const paymentMethod =
    input.defaultPaymentMethod ??
    (typeof customer.invoice_settings.default_payment_method === 'string'
      ? customer.invoice_settings.default_payment_method
      : null)
  const collectionMethod = input.collectionMethod ?? 'charge_automatically'
  const total = items.reduce((sum, item) => sum + lineAmount(item.price, item.quantity ?? 1), 0)
  const firstDue = trialEnd ? 0 : total
  if (
    input.paymentBehavior !== 'default_incomplete' &&
    collectionMethod === 'charge_automatically' &&
    firstDue > 0
  ) {
    if (!paymentMethod) throw noPaymentMethod()
    if (input.paymentBehavior === 'error_if_incomplete') {
      // Stripe creates nothing when the first payment of error_if_incomplete fails.
      const decline = declineFor(ctx, paymentMethod, input.offSession)
      if (decline) {
        throw new ApiError(402, 'card_error', decline.message, {
          code: decline.code,
          extra: { decline_code: decline.decline_code },
        })
      }
    }
  }
  // Validation is over. A magic test id (`pm_card_visa`) becomes a real, attached pm_.
  let defaultPaymentMethod = input.defaultPaymentMethod
  if (defaultPaymentMethod && Object.hasOwn(MAGIC_PAYMENT_METHODS, defaultPaymentMethod)) {
    defaultPaymentMethod = attachPaymentMethod(
      ctx,
      defaultPaymentMethod,
      customer.id,
      input.origin
    ).id
  }
  const chargeWith =
    paymentMethod === input.defaultPaymentMethod ? defaultPaymentMethod : paymentMethod
  const cancelAt = input.cancelAtPeriodEnd ? firstEnd : (input.cancelAt ?? null)
  const sub: Stripe.Subscription = {
    id,
    object: 'subscription',
    application: null,
    application_fee_percent: input.applicationFeePercent,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: anchor,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: 'classic' },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: cancelAt,
    cancel_at_period_end: input.cancelAtPeriodEnd ?? false,
    canceled_at: cancelAt !== null ? now : null,
    cancellation_details: {
      comment: null,
      feedback: null,
      feedback_option: null,
      reason: cancelAt !== null ? 'cancellation_requested' : null,
    },
    collection_method: collectionMethod,
    created: now,
    currency,
    customer: customer.id,
    customer_account: null,
    days_until_due: collectionMethod === 'send_invoice' ? (input.daysUntilDue ?? 30) : null,
    default_payment_method: defaultPaymentMethod,
    default_source: null,
    default_tax_rates: [],
    description: input.description,
    discounts: [],
    ended_at: null,
    invoice_settings: {
      account_tax_ids: null,
      custom_fields: null,
      description: null,
      footer: null,
      issuer: { type: 'self' },
    },
    items: {
      object: 'list',
      data: items,
      has_more: false,
      url: `/v1/subscription_items?subscription=${id}`,
    },
    latest_invoice: null,
    livemode: false,
    managed_payments: null,
    metadata: { ...input.metadata },
    next_pending_invoice_item_invoice: null,
    on_behalf_of: input.onBehalfOf ?? null,
    pause_collection: null,
    payment_settings: {
      payment_method_options: null,
      payment_method_types: null,
      save_default_payment_method: 'off',
    },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: now,
    status: trialEnd ? 'trialing' : 'incomplete',
    test_clock: null,
    transfer_data: input.transferData
      ? {
          amount_percent: input.transferData.amount_percent,
          destination: input.transferData.destination,
        }
      : null,
    trial_end: trialEnd,
    trial_settings: {
      end_behavior: {
        billing_cycle_anchor: null,
        missing_payment_method: input.trialEndBehavior ?? 'create_invoice',
      },
    },
    trial_start: trialEnd ? now : null,
  }

  // The first invoice is built before the subscription is announced so that
  // latest_invoice is set in customer.subscription.created, as on Stripe.
  const invoice = blankInvoice({
    customer,
    subscription: sub,
    billingReason: 'subscription_create',
    collectionMethod,
    daysUntilDue: sub.days_until_due,
    autoAdvance: true,
    currency,
    description: null,
    metadata: {},
    defaultPaymentMethod: null,
    periodStart: now,
    periodEnd: now,
    created: now,
  })
  for (const item of items) {
    const line = subscriptionLine(ctx, invoice, sub, item)
    if (trialEnd) {
      line.amount = 0
      line.subtotal = 0
      line.description = `Trial period for ${productName(ctx, item.price)}`
    }
    invoice.lines.data.push(line)
  }
  for (const ii of pendingInvoiceItems(ctx, customer.id, id, currency)) {
    attachInvoiceItem(ctx, invoice, ii)
  }
  recomputeTotals(invoice)
  if (collectionMethod === 'send_invoice') invoice.due_date = now + (sub.days_until_due ?? 30) * DAY
  sub.latest_invoice = invoice.id

  saveSubscription(ctx, sub)
  const subState = subscriptionState(ctx, id)
  saveSubscriptionState(ctx, {
    ...subState,
    trialEndBehavior: input.trialEndBehavior ?? 'create_invoice',
    incompleteExpiresAt: sub.status === 'incomplete' ? now + INCOMPLETE_EXPIRY_SECONDS : null,
  })
  ctx.store.insert('invoice', invoice.id, invoice)
  const invState = invoiceState(ctx, invoice.id)
  saveInvoiceState(ctx, {
    ...invState,
    ...settlementFor(sub, invoice.total),
  })
  ctx.events.emit('customer.subscription.created', sub, { request: input.origin })
  ctx.events.emit('invoice.created', invoice, { request: input.origin })

  let finalized = finalizeInvoice(ctx, invoice.id, input.origin, now)
  let payment: CollectPaymentResult | null = null
  if (finalized.status === 'open' && collectionMethod === 'charge_automatically') {
    if (input.paymentBehavior === 'default_incomplete') {
      finalized = updateInvoice(ctx, invoice.id, (next) => {
        next.next_payment_attempt = null
      })
    } else if (chargeWith) {
      const attempt = attemptInvoicePayment(ctx, invoice.id, {
        paymentMethod: chargeWith,
        offSession: input.offSession,
        origin: input.origin,
        at: now,
        automatic: false,
      })
      payment = attempt.payment
      finalized = attempt.invoice
    }
  } else if (finalized.status === 'open' && collectionMethod === 'send_invoice') {
    // A send_invoice subscription is active right away; the invoice is paid later.
    updateSubscription(ctx, id, (next) => void (next.status = 'active'), input.origin)
  }
  return {
    subscription: ctx.store.get('subscription', id) ?? sub,
    invoice: ctx.store.get('invoice', invoice.id) ?? finalized,
    payment,
  }
}

/** Application fee and destination of a subscription invoice of `total`. */
function settlementFor(
  sub: Stripe.Subscription,
  total: number
): Pick<InvoiceState, 'applicationFeeAmount' | 'transferData' | 'onBehalfOf'> {
  const destination = sub.transfer_data
    ? typeof sub.transfer_data.destination === 'string'
      ? sub.transfer_data.destination
      : sub.transfer_data.destination.id
    : null
  return {
    applicationFeeAmount:
      sub.application_fee_percent !== null
        ? Math.round((total * sub.application_fee_percent) / 100)
        : null,
    transferData: destination
      ? {
          destination,
          amount:
            sub.transfer_data?.amount_percent !== null &&
            sub.transfer_data?.amount_percent !== undefined
              ? Math.floor((total * sub.transfer_data.amount_percent) / 100)
              : null,
        }
      : null,
    onBehalfOf:
      typeof sub.on_behalf_of === 'string' ? sub.on_behalf_of : (sub.on_behalf_of?.id ?? null),
  }
}

// ---------------------------------------------------------------------------
// Cancelling
// ---------------------------------------------------------------------------

export interface CancelInput {
  reason: Stripe.Subscription.CancellationDetails.Reason
  comment?: string | null
  feedback?: Stripe.Subscription.CancellationDetails.Feedback | null
  origin: EventOrigin | null
  at?: number
  invoiceNow?: boolean
}

/** Ends a subscription now: status canceled, ended_at; emits customer.subscription.deleted. */
export function cancelSubscriptionNow(
  ctx: ResourceContext,
  id: string,
  input: CancelInput
): Stripe.Subscription {
  const current = ctx.store.get('subscription', id)
  if (!current) throw resourceMissing('subscription', id)
  const at = input.at ?? ctx.clock.now()
  const next = clone(current)
  next.status = 'canceled'
  next.ended_at = at
  next.canceled_at = next.canceled_at ?? at
  if (next.cancel_at !== null && next.cancel_at > at) next.cancel_at = null
  next.cancel_at_period_end = false
  next.cancellation_details = {
    comment:
      input.comment !== undefined ? input.comment : (current.cancellation_details?.comment ?? null),
    feedback:
      input.feedback !== undefined
        ? input.feedback
        : (current.cancellation_details?.feedback ?? null),
    feedback_option: current.cancellation_details?.feedback_option ?? null,
    reason: current.cancellation_details?.reason ?? input.reason,
  }
  if (input.reason !== 'cancellation_requested') next.cancellation_details.reason = input.reason
  saveSubscription(ctx, next)
  ctx.events.emit('customer.subscription.deleted', next, { request: input.origin })
  stopCollection(ctx, id, input.origin)
  if (input.invoiceNow) {
    const pending = pendingInvoiceItems(ctx, String(next.customer), id, next.currency).filter(
      (ii) => ii.parent?.subscription_details?.subscription === id
    )
    if (pending.length > 0) {
      const customer = findCustomerRef(ctx, String(next.customer), 'customer')
      const invoice = blankInvoice({
        customer,
        subscription: next,
        billingReason: 'subscription_update',
        collectionMethod: 'charge_automatically',
        daysUntilDue: null,
        autoAdvance: true,
        currency: next.currency,
        description: null,
        metadata: {},
        defaultPaymentMethod: null,
        periodStart: at,
        periodEnd: at,
        created: at,
      })
      ctx.store.insert('invoice', invoice.id, invoice)
      for (const ii of pending) attachInvoiceItem(ctx, invoice, ii)
      recomputeTotals(invoice)
      ctx.store.replace('invoice', invoice.id, invoice)
      ctx.events.emit('invoice.created', invoice, { request: input.origin })
      const finalized = finalizeInvoice(ctx, invoice.id, input.origin, at)
      if (finalized.status === 'open') {
        attemptInvoicePayment(ctx, invoice.id, {
          offSession: true,
          origin: input.origin,
          at,
          automatic: false,
        })
      }
    }
  }
  return ctx.store.get('subscription', id) ?? next
}

/**
 * As Stripe does when a subscription is canceled: its open invoices stay open but
 * are no longer collected automatically (auto_advance false, no next attempt);
 * emits invoice.updated with previous_attributes for each.
 */
function stopCollection(ctx: ResourceContext, subscriptionId: string, origin: EventOrigin | null) {
  for (const invoice of ctx.store.list('invoice')) {
    if (
      invoice.status !== 'open' ||
      invoice.parent?.subscription_details?.subscription !== subscriptionId ||
      (invoice.auto_advance === false && invoice.next_payment_attempt === null)
    ) {
      continue
    }
    const before = clone(invoice)
    const after = updateInvoice(ctx, invoice.id, (next) => {
      next.auto_advance = false
      next.next_payment_attempt = null
    })
    ctx.events.emit('invoice.updated', after, {
      request: origin,
      previousAttributes: previousAttributes(before, after),
    })
  }
}

/** True when the invoice belongs to a subscription that has ended. */
function subscriptionEnded(ctx: ResourceContext, invoice: Stripe.Invoice): boolean {
  const subId = invoice.parent?.subscription_details?.subscription
  if (typeof subId !== 'string') return false
  const sub = ctx.store.get('subscription', subId)
  return sub !== undefined && (sub.status === 'canceled' || sub.status === 'incomplete_expired')
}

export interface ScheduleCancelOptions {
  feedback?: Stripe.Subscription.CancellationDetails.Feedback | null
  comment?: string | null
  origin: EventOrigin | null
}

/**
 * Sets (`on`) or clears cancel-at-period-end on a draft of a subscription: cancel_at
 * = end of the current period, canceled_at = now, cancellation_details.reason
 * `cancellation_requested` (feedback/comment when given); clearing resets all of them.
 * Used by `scheduleCancel` and by the API update (which saves several changes at once).
 */
export function applyScheduleCancel(
  next: Stripe.Subscription,
  on: boolean,
  now: number,
  details: {
    feedback?: Stripe.Subscription.CancellationDetails.Feedback | null
    comment?: string | null
  } = {}
) {
  const current = next.cancellation_details ?? {
    comment: null,
    feedback: null,
    feedback_option: null,
    reason: null,
  }
  if (on) {
    next.cancel_at_period_end = true
    next.cancel_at = periodEnd(next)
    next.canceled_at = now
    next.cancellation_details = {
      comment: details.comment !== undefined ? details.comment : current.comment,
      feedback: details.feedback !== undefined ? details.feedback : current.feedback,
      feedback_option: current.feedback_option ?? null,
      reason: 'cancellation_requested',
    }
  } else {
    next.cancel_at_period_end = false
    next.cancel_at = null
    next.canceled_at = null
    next.cancellation_details = {
      comment: null,
      feedback: null,
      feedback_option: null,
      reason: null,
    }
  }
}

/** Sets or clears cancel-at-period-end; emits customer.subscription.updated when it changed. */
export function scheduleCancel(
  ctx: ResourceContext,
  sub: Stripe.Subscription,
  on: boolean,
  options: ScheduleCancelOptions
): Stripe.Subscription {
  const now = ctx.clock.now()
  return updateSubscription(
    ctx,
    sub.id,
    (next) => applyScheduleCancel(next, on, now, options),
    options.origin
  )
}

// ---------------------------------------------------------------------------
// Behaviour over time
// ---------------------------------------------------------------------------

type DueAction =
  | { at: number; kind: 'retry'; id: string }
  | { at: number; kind: 'expire_incomplete'; id: string }
  | { at: number; kind: 'trial_will_end'; id: string }
  | { at: number; kind: 'cancel_at'; id: string }
  | { at: number; kind: 'period_end'; id: string }

const ORDER: Record<DueAction['kind'], number> = {
  retry: 0,
  expire_incomplete: 1,
  trial_will_end: 2,
  cancel_at: 3,
  period_end: 4,
}

/** The earliest action due at or before `now`, or null. */
export function nextDueAction(ctx: ResourceContext, now: number): DueAction | null {
  const due: DueAction[] = []
  for (const inv of ctx.store.list('invoice')) {
    if (
      inv.status === 'open' &&
      inv.collection_method === 'charge_automatically' &&
      inv.auto_advance === true &&
      inv.next_payment_attempt !== null &&
      inv.next_payment_attempt <= now &&
      !subscriptionEnded(ctx, inv)
    ) {
      due.push({ at: inv.next_payment_attempt, kind: 'retry', id: inv.id })
    }
  }
  for (const sub of ctx.store.list('subscription')) {
    const state = ctx.store.get('billing.subscription_state', sub.id)
    if (sub.status === 'incomplete') {
      if (state && state.incompleteExpiresAt !== null && state.incompleteExpiresAt <= now) {
        due.push({ at: state.incompleteExpiresAt, kind: 'expire_incomplete', id: sub.id })
      }
      continue
    }
    if (!['active', 'trialing', 'past_due', 'unpaid'].includes(sub.status)) continue
    if (
      sub.status === 'trialing' &&
      sub.trial_end !== null &&
      state &&
      !state.trialWillEndSent &&
      sub.trial_end - TRIAL_WILL_END_SECONDS <= now &&
      sub.trial_end - TRIAL_WILL_END_SECONDS > sub.created
    ) {
      due.push({ at: sub.trial_end - TRIAL_WILL_END_SECONDS, kind: 'trial_will_end', id: sub.id })
    }
    const end = periodEnd(sub)
    if (sub.cancel_at !== null && sub.cancel_at < end && sub.cancel_at <= now) {
      due.push({ at: sub.cancel_at, kind: 'cancel_at', id: sub.id })
    } else if (end <= now) {
      due.push({ at: end, kind: 'period_end', id: sub.id })
    }
  }
  if (due.length === 0) return null
  due.sort((a, b) => a.at - b.at || ORDER[a.kind] - ORDER[b.kind])
  return due[0]
}

/** Processes everything due up to `now`, in time order. */
export function processDue(ctx: ResourceContext, now: number) {
  for (let guard = 0; guard < 100_000; guard++) {
    const action = nextDueAction(ctx, now)
    if (!action) return
    runAction(ctx, action)
  }
  throw new Error('Billing clock: too many actions in one advance')
}

function runAction(ctx: ResourceContext, action: DueAction) {
  switch (action.kind) {
    case 'retry':
      retryInvoice(ctx, action.id, action.at)
      return
    case 'expire_incomplete':
      expireIncomplete(ctx, action.id, action.at)
      return
    case 'trial_will_end': {
      const state = subscriptionState(ctx, action.id)
      saveSubscriptionState(ctx, { ...state, trialWillEndSent: true })
      const sub = ctx.store.get('subscription', action.id)
      if (sub) ctx.events.emit('customer.subscription.trial_will_end', sub, { request: null })
      return
    }
    case 'cancel_at':
      cancelSubscriptionNow(ctx, action.id, {
        reason: 'cancellation_requested',
        origin: null,
        at: action.at,
      })
      return
    case 'period_end':
      periodEnded(ctx, action.id, action.at)
  }
}

function expireIncomplete(ctx: ResourceContext, id: string, at: number) {
  const sub = ctx.store.get('subscription', id)
  if (!sub) return
  const state = subscriptionState(ctx, id)
  saveSubscriptionState(ctx, { ...state, incompleteExpiresAt: null })
  const invoiceId = typeof sub.latest_invoice === 'string' ? sub.latest_invoice : null
  const invoice = invoiceId ? ctx.store.get('invoice', invoiceId) : undefined
  if (invoice && invoice.status === 'open') voidInvoice(ctx, invoice.id, null, at)
  const next = clone(ctx.store.get('subscription', id) ?? sub)
  next.status = 'incomplete_expired'
  next.ended_at = at
  saveSubscription(ctx, next)
  ctx.events.emit('customer.subscription.deleted', next, { request: null })
}

/** Void an open (or uncollectible) invoice; emits invoice.voided. */
export function voidInvoice(
  ctx: ResourceContext,
  id: string,
  origin: EventOrigin | null,
  at = ctx.clock.now()
): Stripe.Invoice {
  const invoice = updateInvoice(ctx, id, (next) => {
    next.status = 'void'
    next.status_transitions.voided_at = at
    next.next_payment_attempt = null
    next.amount_remaining = 0
  })
  const state = ctx.store.get('billing.invoice_state', id)
  if (state?.invoicePayment) {
    const inpay = ctx.store.get('invoice_payment', state.invoicePayment)
    if (inpay && inpay.status === 'open') {
      ctx.store.replace('invoice_payment', inpay.id, {
        ...inpay,
        status: 'canceled',
        status_transitions: { ...inpay.status_transitions, canceled_at: at },
      })
    }
  }
  ctx.events.emit('invoice.voided', invoice, { request: origin })
  return invoice
}

function retryInvoice(ctx: ResourceContext, id: string, at: number) {
  const result = attemptInvoicePayment(ctx, id, {
    offSession: true,
    origin: null,
    at,
    automatic: true,
  })
  if (result.invoice.status === 'paid') return
  if (result.invoice.next_payment_attempt === null) finalFailure(ctx, result.invoice, at)
}

/** After the last retry failed: per settings.billing.afterFinalFailure. */
function finalFailure(ctx: ResourceContext, invoice: Stripe.Invoice, at: number) {
  const subId = invoice.parent?.subscription_details?.subscription
  if (typeof subId !== 'string') return
  const sub = ctx.store.get('subscription', subId)
  if (!sub || sub.status === 'canceled' || sub.status === 'incomplete_expired') return
  switch (ctx.settings.billing.afterFinalFailure) {
    case 'cancel':
      cancelSubscriptionNow(ctx, subId, { reason: 'payment_failed', origin: null, at })
      return
    case 'mark_unpaid':
      updateSubscription(ctx, subId, (next) => void (next.status = 'unpaid'), null)
      return
    case 'leave_past_due':
      return
  }
}

function periodEnded(ctx: ResourceContext, id: string, at: number) {
  const sub = ctx.store.get('subscription', id)
  if (!sub) return
  if (sub.cancel_at_period_end || (sub.cancel_at !== null && sub.cancel_at <= at)) {
    cancelSubscriptionNow(ctx, id, { reason: 'cancellation_requested', origin: null, at })
    return
  }
  renewSubscription(ctx, sub, at)
}

export interface RenewOptions {
  origin?: EventOrigin | null
  billingReason?: Stripe.Invoice.BillingReason
  /** Start a fresh cycle at `at` (resume, trial_end=now) instead of advancing one period. */
  resetAnchor?: boolean
}

/**
 * Starts the subscription's next period at `at`: advances the items' periods, emits
 * customer.subscription.updated (items, latest_invoice, status when a trial ends or a
 * paused subscription resumes), creates the invoice (invoice.created), finalizes it and
 * charges it off-session. A failure moves the subscription to past_due.
 */
export function renewSubscription(
  ctx: ResourceContext,
  sub: Stripe.Subscription,
  at: number,
  options: RenewOptions = {}
): Stripe.Invoice | null {
  const origin = options.origin ?? null
  const { interval, count } = intervalOf(sub)
  const trialEnding = sub.status === 'trialing'
  const customer = ctx.store.get('customer', String(sub.customer))
  if (!customer) {
    // The customer is gone: nothing can be billed any more.
    cancelSubscriptionNow(ctx, sub.id, { reason: 'cancellation_requested', origin, at })
    return null
  }
  const oldStart = periodStart(sub)
  const state = subscriptionState(ctx, sub.id)
  const paymentMethod =
    (typeof sub.default_payment_method === 'string' ? sub.default_payment_method : null) ??
    (typeof customer.invoice_settings.default_payment_method === 'string'
      ? customer.invoice_settings.default_payment_method
      : null)

  if (trialEnding && !paymentMethod && sub.collection_method === 'charge_automatically') {
    if (state.trialEndBehavior === 'cancel') {
      cancelSubscriptionNow(ctx, sub.id, { reason: 'cancellation_requested', origin, at })
      return null
    }
    if (state.trialEndBehavior === 'pause') {
      const paused = updateSubscription(
        ctx,
        sub.id,
        (next) => {
          next.status = 'paused'
        },
        origin
      )
      ctx.events.emit('customer.subscription.paused', paused, { request: origin })
      return null
    }
  }

  const next = clone(sub)
  if (options.resetAnchor) next.billing_cycle_anchor = at
  for (const item of next.items.data) {
    item.current_period_start = options.resetAnchor ? at : item.current_period_end
    item.current_period_end = nextBoundary(
      next.billing_cycle_anchor,
      interval,
      count,
      item.current_period_start
    )
  }
  if (trialEnding || sub.status === 'paused') next.status = 'active'
  if (trialEnding && next.trial_end !== null && next.trial_end > at) next.trial_end = at
  if (next.cancel_at_period_end) next.cancel_at = periodEnd(next)
  const leaveDraft = sub.status === 'unpaid'
  const invoice = blankInvoice({
    customer,
    subscription: next,
    billingReason: options.billingReason ?? 'subscription_cycle',
    collectionMethod:
      next.collection_method === 'send_invoice' ? 'send_invoice' : 'charge_automatically',
    daysUntilDue: next.days_until_due,
    autoAdvance: !leaveDraft,
    currency: next.currency,
    description: null,
    metadata: {},
    defaultPaymentMethod: null,
    periodStart: options.resetAnchor ? at : oldStart,
    periodEnd: at,
    created: at,
  })
  for (const item of next.items.data) {
    invoice.lines.data.push(subscriptionLine(ctx, invoice, next, item))
  }
  for (const ii of pendingInvoiceItems(ctx, customer.id, next.id, next.currency)) {
    attachInvoiceItem(ctx, invoice, ii)
  }
  recomputeTotals(invoice)
  if (invoice.collection_method === 'send_invoice') {
    invoice.due_date = at + (next.days_until_due ?? 30) * DAY
  }
  next.latest_invoice = invoice.id
  const previous = previousAttributes(sub, next)
  saveSubscription(ctx, next)
  ctx.store.insert('invoice', invoice.id, invoice)
  saveInvoiceState(ctx, {
    ...invoiceState(ctx, invoice.id),
    ...settlementFor(next, invoice.total),
  })
  ctx.events.emit('customer.subscription.updated', next, {
    request: origin,
    previousAttributes: previous,
  })
  ctx.events.emit('invoice.created', invoice, { request: origin })
  if (leaveDraft) return invoice

  const finalized = finalizeInvoice(ctx, invoice.id, origin, at)
  if (finalized.status !== 'open' || finalized.collection_method !== 'charge_automatically') {
    return finalized
  }
  const result = attemptInvoicePayment(ctx, invoice.id, {
    offSession: true,
    origin,
    at,
    automatic: true,
  })
  if (result.invoice.status === 'paid') return result.invoice
  const current = ctx.store.get('subscription', sub.id)
  if (current && (current.status === 'active' || current.status === 'trialing')) {
    updateSubscription(ctx, sub.id, (s) => void (s.status = 'past_due'), origin)
  }
  if (result.invoice.next_payment_attempt === null) finalFailure(ctx, result.invoice, at)
  return ctx.store.get('invoice', invoice.id) ?? result.invoice
}

/**
 * Hooks the engine into the sandbox: the clock drives renewals, and deleting a
 * customer cancels their subscriptions right away (as Stripe does).
 */
export function registerBillingClock(ctx: ResourceContext) {
  ctx.clock.onAdvance((now) => processDue(ctx, now))
  ctx.events.onEvent((event) => {
    if (event.type !== 'customer.deleted') return
    const origin: EventOrigin | null = event.request?.id
      ? { requestId: event.request.id, idempotencyKey: event.request.idempotency_key ?? null }
      : null
    for (const sub of ctx.store.list('subscription')) {
      if (
        sub.customer === event.data.object.id &&
        sub.status !== 'canceled' &&
        sub.status !== 'incomplete_expired'
      ) {
        cancelSubscriptionNow(ctx, sub.id, { reason: 'cancellation_requested', origin })
      }
    }
  })
}
