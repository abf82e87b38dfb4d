/**
 * The customer portal: `/v1/billing_portal/configurations` (create, retrieve,
 * update, list; a default `bpc_…` with is_default true is created on first use),
 * `/v1/billing_portal/sessions` (create) and the hosted portal page
 * `/p/session/:id` with its actions (cancel at period end, renew, cancel now,
 * update payment method). Every action changes the same objects and emits the same
 * events as the API call would (with `request: null`: the customer did it in the
 * browser), then answers 303 back to the page with a notice.
 *
 * The session URL is valid for 5 minutes of sandbox time; once opened, the session
 * stays usable for an hour (Stripe keeps the customer's portal visit alive).
 */
import type Stripe from 'stripe'
import {
  attemptInvoicePayment,
  cancelSubscriptionNow,
  periodEnd,
  productName,
  scheduleCancel,
  updateSubscription,
  connectGuard,
} from '../billing.js'
import type { ResourceContext, ResourceModule } from '../context.js'
import { ApiError, invalidRequest, resourceMissing } from '../errors.js'
import { formatAmount, formatDate, html, page, type SafeHtml } from '../hosted/html.js'
import { newId } from '../ids.js'
import { clone, previousAttributes } from '../json.js'
import { paginate } from '../list.js'
import {
  type ObjectOut,
  applyMetadata,
  array,
  boolean,
  enumOf,
  metadata,
  object,
  paginationShape,
  required,
  string,
} from '../params.js'
import { createCardPaymentMethod, findCustomerRef, parseExpiry } from '../payments.js'
import { lineAmount } from './prices.js'

export interface PortalSessionState {
  id: string
  /** First time the page was opened (sandbox time), or null. */
  openedAt: number | null
}

declare module '../store.js' {
  interface CollectionTypes {
    'billing_portal.session': Stripe.BillingPortal.Session
    'billing_portal.configuration': Stripe.BillingPortal.Configuration
    'billing.portal_session_state': PortalSessionState
  }
}

/** How long a portal session URL can be opened (Stripe: 5 minutes). */
export const PORTAL_URL_TTL_SECONDS = 5 * 60
/** How long an opened portal visit stays usable. */
export const PORTAL_VISIT_TTL_SECONDS = 60 * 60

const CANCELLATION_REASONS = [
  'too_expensive',
  'missing_features',
  'switched_service',
  'unused',
  'customer_service',
  'too_complex',
  'low_quality',
  'other',
] as const

const REASON_LABELS: Record<string, string> = {
  too_expensive: "It's too expensive",
  missing_features: 'Some features are missing',
  switched_service: "I'm switching to a different service",
  unused: "I don't use the service enough",
  customer_service: 'Customer service was less than expected',
  too_complex: 'Ease of use was less than expected',
  low_quality: 'Quality was less than expected',
  other: 'Other reason',
}

const featuresShape = object({
  customer_update: object({
    allowed_updates: array(enumOf(['address', 'email', 'name', 'phone', 'shipping', 'tax_id'])),
    enabled: boolean(),
  }),
  invoice_history: object({ enabled: required(boolean()) }),
  payment_method_update: object({
    enabled: required(boolean()),
    payment_method_configuration: string(),
  }),
  subscription_cancel: object({
    cancellation_reason: object({
      enabled: required(boolean()),
      options: array(enumOf(CANCELLATION_REASONS)),
    }),
    enabled: boolean(),
    mode: enumOf(['at_period_end', 'immediately']),
    proration_behavior: enumOf(['always_invoice', 'create_prorations', 'none']),
  }),
  subscription_update: object({
    default_allowed_updates: array(enumOf(['price', 'promotion_code', 'quantity'])),
    enabled: boolean(),
    proration_behavior: enumOf(['always_invoice', 'create_prorations', 'none']),
    products: array(object({ prices: required(array(string())), product: required(string()) })),
  }),
  subscription_pause: object({ enabled: boolean() }),
})

const businessProfile = object({
  headline: string({ maxLength: 60 }),
  privacy_policy_url: string(),
  terms_of_service_url: string(),
})

const configurationShape = {
  business_profile: businessProfile,
  default_return_url: string(),
  features: featuresShape,
  login_page: object({ enabled: required(boolean()) }),
  metadata: metadata(),
  name: string({ maxLength: 256 }),
}

type FeaturesParams = ObjectOut<typeof featuresShape.shape>

const flowDataShape = object({
  type: required(
    enumOf([
      'payment_method_update',
      'subscription_cancel',
      'subscription_update',
      'subscription_update_confirm',
    ])
  ),
  after_completion: object({
    type: required(enumOf(['hosted_confirmation', 'portal_homepage', 'redirect'])),
    hosted_confirmation: object({ custom_message: string({ maxLength: 500 }) }),
    redirect: object({ return_url: required(string()) }),
  }),
  subscription_cancel: object({
    subscription: required(string()),
    retention: object({
      type: required(enumOf(['coupon_offer'])),
      coupon_offer: required(object({ coupon: required(string()) })),
    }),
  }),
  subscription_update: object({ subscription: required(string()) }),
  subscription_update_confirm: object({
    subscription: required(string()),
    items: required(array(object({ id: required(string()), price: string(), quantity: string() }))),
  }),
})

function defaultFeatures(): Stripe.BillingPortal.Configuration.Features {
  return {
    customer_update: { allowed_updates: ['email', 'address'], enabled: true },
    invoice_history: { enabled: true },
    payment_method_update: { enabled: true, payment_method_configuration: null },
    subscription_cancel: {
      cancellation_reason: {
        enabled: true,
        feedback_options: null,
        options: [...CANCELLATION_REASONS],
      },
      enabled: true,
      mode: 'at_period_end',
      proration_behavior: 'none',
    },
    subscription_pause: {
      duration: { interval_options: [], type: 'indefinite' },
      enabled: false,
    },
    subscription_update: {
      billing_cycle_anchor: null,
      default_allowed_updates: [],
      enabled: false,
      products: null,
      proration_behavior: 'none',
      schedule_at_period_end: { conditions: [] },
      trial_update_behavior: 'end_trial',
    },
  }
}

function applyFeatures(
  current: Stripe.BillingPortal.Configuration.Features,
  params: FeaturesParams | null | undefined
): Stripe.BillingPortal.Configuration.Features {
  const next = clone(current)
  if (!params) return next
  if (params.customer_update) {
    if (params.customer_update.enabled !== undefined && params.customer_update.enabled !== null) {
      next.customer_update.enabled = params.customer_update.enabled
    }
    if (params.customer_update.allowed_updates !== undefined) {
      next.customer_update.allowed_updates = params.customer_update.allowed_updates ?? []
    }
  }
  if (params.invoice_history) next.invoice_history.enabled = params.invoice_history.enabled
  if (params.payment_method_update) {
    next.payment_method_update.enabled = params.payment_method_update.enabled
  }
  const cancel = params.subscription_cancel
  if (cancel) {
    if (cancel.enabled !== undefined && cancel.enabled !== null) {
      next.subscription_cancel.enabled = cancel.enabled
    }
    if (cancel.mode) next.subscription_cancel.mode = cancel.mode
    if (cancel.proration_behavior) {
      next.subscription_cancel.proration_behavior = cancel.proration_behavior
    }
    if (cancel.cancellation_reason) {
      next.subscription_cancel.cancellation_reason.enabled = cancel.cancellation_reason.enabled
      if (cancel.cancellation_reason.options !== undefined) {
        next.subscription_cancel.cancellation_reason.options =
          cancel.cancellation_reason.options ?? []
      }
    }
  }
  const update = params.subscription_update
  if (update) {
    if (update.enabled !== undefined && update.enabled !== null) {
      next.subscription_update.enabled = update.enabled
    }
    if (update.default_allowed_updates !== undefined) {
      next.subscription_update.default_allowed_updates = update.default_allowed_updates ?? []
    }
    if (update.proration_behavior) {
      next.subscription_update.proration_behavior = update.proration_behavior
    }
    if (update.products !== undefined) {
      next.subscription_update.products = update.products
        ? update.products.map((product) => ({
            adjustable_quantity: { enabled: false, maximum: null, minimum: 1 },
            prices: product.prices,
            product: product.product,
          }))
        : null
    }
  }
  if (
    params.subscription_pause?.enabled !== undefined &&
    params.subscription_pause.enabled !== null
  ) {
    next.subscription_pause.enabled = params.subscription_pause.enabled
  }
  return next
}

function newConfiguration(
  ctx: ResourceContext,
  isDefault: boolean
): Stripe.BillingPortal.Configuration {
  const now = ctx.clock.now()
  return {
    id: newId('billing_portal_configuration'),
    object: 'billing_portal.configuration',
    active: true,
    application: null,
    business_profile: { headline: null, privacy_policy_url: null, terms_of_service_url: null },
    created: now,
    default_return_url: null,
    features: defaultFeatures(),
    is_default: isDefault,
    livemode: false,
    login_page: { enabled: false, url: null },
    metadata: {},
    name: null,
    updated: now,
  }
}

/** The default configuration (is_default true), created on first use. */
export function defaultConfiguration(ctx: ResourceContext): Stripe.BillingPortal.Configuration {
  const existing = ctx.store
    .list('billing_portal.configuration')
    .find((config) => config.is_default)
  if (existing) return existing
  const config = newConfiguration(ctx, true)
  ctx.store.insert('billing_portal.configuration', config.id, config)
  ctx.events.emit('billing_portal.configuration.created', config, { request: null })
  return config
}

function findConfiguration(ctx: ResourceContext, id: string, param = 'id') {
  const config = ctx.store.get('billing_portal.configuration', id)
  if (!config) throw resourceMissing('billing_portal.configuration', id, param)
  return config
}

function findSession(ctx: ResourceContext, id: string) {
  const session = ctx.store.get('billing_portal.session', id)
  if (!session) throw resourceMissing('billing_portal.session', id)
  return session
}

/** Whether the portal page of a session can be used now (and marks it opened). */
export function openPortalSession(
  ctx: ResourceContext,
  id: string
): { session: Stripe.BillingPortal.Session; usable: boolean } {
  const session = findSession(ctx, id)
  const now = ctx.clock.now()
  const state = ctx.store.get('billing.portal_session_state', id)
  if (state?.openedAt !== null && state?.openedAt !== undefined) {
    return { session, usable: now <= state.openedAt + PORTAL_VISIT_TTL_SECONDS }
  }
  if (now > session.created + PORTAL_URL_TTL_SECONDS) return { session, usable: false }
  const opened: PortalSessionState = { id, openedAt: now }
  if (state) ctx.store.replace('billing.portal_session_state', id, opened)
  else ctx.store.insert('billing.portal_session_state', id, opened)
  return { session, usable: true }
}

/** Subscriptions the portal shows (not ended). */
function portalSubscriptions(ctx: ResourceContext, customer: string): Stripe.Subscription[] {
  return ctx.store
    .list('subscription')
    .filter(
      (sub) =>
        sub.customer === customer &&
        sub.status !== 'canceled' &&
        sub.status !== 'incomplete_expired'
    )
}

/** The session's customer's subscription `id`; 404 when not theirs, 400 when canceled. */
function ownedSubscription(
  ctx: ResourceContext,
  session: Stripe.BillingPortal.Session,
  id: string
): Stripe.Subscription {
  const sub = ctx.store.get('subscription', id)
  if (!sub || sub.customer !== session.customer) {
    throw invalidRequest(`No such subscription: '${id}'`, { status: 404, code: 'resource_missing' })
  }
  if (sub.status === 'canceled')
    throw invalidRequest('This subscription has already been canceled.')
  return sub
}

// ---------------------------------------------------------------------------
// Portal actions (what the page's buttons do); exported for tests.
// ---------------------------------------------------------------------------

export function portalCancelAtPeriodEnd(
  ctx: ResourceContext,
  session: Stripe.BillingPortal.Session,
  subscriptionId: string,
  feedback: Stripe.Subscription.CancellationDetails.Feedback | null,
  comment: string | null = null
): Stripe.Subscription {
  const sub = ownedSubscription(ctx, session, subscriptionId)
  const config = findConfiguration(ctx, String(session.configuration))
  if (config.features.subscription_cancel.mode === 'immediately') {
    return portalCancelNow(ctx, session, subscriptionId, feedback, comment)
  }
  return scheduleCancel(ctx, sub, true, { feedback, comment, origin: null })
}

export function portalRenew(
  ctx: ResourceContext,
  session: Stripe.BillingPortal.Session,
  subscriptionId: string
): Stripe.Subscription {
  const sub = ownedSubscription(ctx, session, subscriptionId)
  return scheduleCancel(ctx, sub, false, { origin: null })
}

export function portalCancelNow(
  ctx: ResourceContext,
  session: Stripe.BillingPortal.Session,
  subscriptionId: string,
  feedback: Stripe.Subscription.CancellationDetails.Feedback | null,
  comment: string | null = null
): Stripe.Subscription {
  const sub = ownedSubscription(ctx, session, subscriptionId)
  return cancelSubscriptionNow(ctx, sub.id, {
    reason: 'cancellation_requested',
    feedback,
    comment,
    origin: null,
  })
}

export interface PortalCardInput {
  number: string
  exp_month: number
  exp_year: number
  cvc?: string | null
}

/**
 * Adds the card, makes it the customer's invoice default and the default of their
 * subscriptions (customer.updated, customer.subscription.updated), then retries open,
 * already-attempted invoices now. Returns the decline of a retry, if any.
 */
export function portalUpdatePaymentMethod(
  ctx: ResourceContext,
  session: Stripe.BillingPortal.Session,
  card: PortalCardInput
): { paymentMethod: Stripe.PaymentMethod; retried: Stripe.Invoice[]; error: ApiError | null } {
  const customer = findCustomerRef(ctx, session.customer, 'customer')
  const pm = createCardPaymentMethod(ctx, card, { customer: customer.id, origin: null })
  const current = findCustomerRef(ctx, customer.id, 'customer')
  const nextCustomer: Stripe.Customer = {
    ...current,
    invoice_settings: { ...current.invoice_settings, default_payment_method: pm.id },
  }
  ctx.store.replace('customer', customer.id, nextCustomer)
  ctx.events.emit('customer.updated', nextCustomer, {
    request: null,
    previousAttributes: previousAttributes(current, nextCustomer),
  })
  for (const sub of portalSubscriptions(ctx, customer.id)) {
    updateSubscription(ctx, sub.id, (next) => void (next.default_payment_method = pm.id), null)
  }
  const retried: Stripe.Invoice[] = []
  let error: ApiError | null = null
  const open = ctx.store
    .list('invoice')
    .filter(
      (inv) =>
        inv.customer === customer.id &&
        inv.status === 'open' &&
        inv.collection_method === 'charge_automatically' &&
        inv.attempt_count > 0 &&
        inv.amount_remaining > 0
    )
    .reverse()
  for (const inv of open) {
    const result = attemptInvoicePayment(ctx, inv.id, {
      paymentMethod: pm.id,
      offSession: false,
      origin: null,
      automatic: false,
    })
    retried.push(result.invoice)
    if (result.error && !error) error = result.error
  }
  return { paymentMethod: pm, retried, error }
}

// ---------------------------------------------------------------------------
// Page rendering
// ---------------------------------------------------------------------------

function priceLabel(price: Stripe.Price, quantity: number): string {
  const recurring = price.recurring
  const per = recurring
    ? recurring.interval_count === 1
      ? `per ${recurring.interval}`
      : `every ${recurring.interval_count} ${recurring.interval}s`
    : ''
  const amount = formatAmount(lineAmount(price, quantity), price.currency)
  return `${amount} ${per}${quantity > 1 ? ` (${quantity} × ${formatAmount(lineAmount(price, 1), price.currency)})` : ''}`
}

function statusBadge(status: string): SafeHtml {
  const tone =
    status === 'active' || status === 'trialing'
      ? 'ok'
      : status === 'past_due' || status === 'incomplete' || status === 'paused'
        ? 'warn'
        : 'bad'
  const label =
    status === 'past_due' ? 'Past due' : status.charAt(0).toUpperCase() + status.slice(1)
  return html`<span class="badge ${tone}">${label}</span>`
}

function paymentMethodLabel(ctx: ResourceContext, id: string | null): string | null {
  if (!id) return null
  const pm = ctx.store.get('payment_method', id)
  if (!pm || !pm.card) return null
  const brand = pm.card.brand.charAt(0).toUpperCase() + pm.card.brand.slice(1)
  return `${brand} •••• ${pm.card.last4}`
}

function reasonSelect(config: Stripe.BillingPortal.Configuration): SafeHtml {
  const reason = config.features.subscription_cancel.cancellation_reason
  if (!reason.enabled) return html``
  const options = reason.options.map(
    (option) => html`<option value="${option}">${REASON_LABELS[option] ?? option}</option>`
  )
  return html`<label for="reason">Reason for cancelling</label>
    <select name="reason" id="reason">
      <option value="">Choose a reason (optional)</option>
      ${options}
    </select>`
}

function subscriptionBlock(
  ctx: ResourceContext,
  session: Stripe.BillingPortal.Session,
  config: Stripe.BillingPortal.Configuration,
  sub: Stripe.Subscription
): SafeHtml {
  const base = `/p/session/${encodeURIComponent(session.id)}`
  const names = sub.items.data.map((item) => productName(ctx, item.price)).join(', ')
  const prices = sub.items.data.map(
    (item) => html`<div class="desc">${priceLabel(item.price, item.quantity ?? 1)}</div>`
  )
  const end = periodEnd(sub)
  const when =
    sub.cancel_at !== null
      ? `Cancels on ${formatDate(sub.cancel_at)}`
      : sub.status === 'trialing' && sub.trial_end !== null
        ? `Trial ends on ${formatDate(sub.trial_end)}`
        : `Renews on ${formatDate(end)}`
  const cancelEnabled = config.features.subscription_cancel.enabled
  const actions: SafeHtml[] = []
  if (sub.cancel_at_period_end || sub.cancel_at !== null) {
    actions.push(
      html`<form method="post" action="${base}/renew">
        <input type="hidden" name="subscription" value="${sub.id}" />
        <button type="submit">Renew plan</button>
      </form>`
    )
  } else if (cancelEnabled) {
    actions.push(
      html`<form method="post" action="${base}/cancel">
        <input type="hidden" name="subscription" value="${sub.id}" />
        ${reasonSelect(config)}
        <button type="submit" class="secondary">Cancel plan</button>
      </form>`
    )
  }
  if (cancelEnabled) {
    actions.push(
      html`<form method="post" action="${base}/cancel_now">
        <input type="hidden" name="subscription" value="${sub.id}" />
        <button type="submit" class="danger">Cancel immediately</button>
      </form>`
    )
  }
  return html`<li class="subscription" data-subscription="${sub.id}">
    <div>
      <div class="name">${names}</div>
      ${prices}
      <div class="desc">${statusBadge(sub.status)} ${when}</div>
      ${actions}
    </div>
  </li>`
}

function invoiceHistory(ctx: ResourceContext, customer: string): SafeHtml {
  const rows = ctx.store
    .list('invoice')
    .filter((inv) => inv.customer === customer && inv.status !== 'draft')
    .slice(0, 24)
    .map(
      (inv) =>
        html`<li class="invoice" data-invoice="${inv.id}">
          <div>
            <div class="name">${formatDate(inv.created)}</div>
            <div class="desc">${inv.number ?? ''}</div>
          </div>
          <div>
            ${formatAmount(inv.total, inv.currency)} ${statusBadge(inv.status ?? 'draft')}
            ${inv.hosted_invoice_url ? html`<a class="back" href="${inv.hosted_invoice_url}">View</a>` : ''}
          </div>
        </li>`
    )
  if (rows.length === 0) return html`<p class="muted">No invoices yet.</p>`
  return html`<ul class="items">
    ${rows}
  </ul>`
}

function cardForm(base: string): SafeHtml {
  return html`<form method="post" action="${base}/payment_method">
    <label for="card_number">Card number</label>
    <input
      id="card_number"
      name="card_number"
      inputmode="numeric"
      autocomplete="cc-number"
      placeholder="4242 4242 4242 4242"
      required
    />
    <div class="row">
      <div>
        <label for="expiry">Expiry (MM / YY)</label>
        <input id="expiry" name="expiry" autocomplete="cc-exp" placeholder="12 / 34" required />
      </div>
      <div>
        <label for="cvc">CVC</label
        ><input id="cvc" name="cvc" autocomplete="cc-csc" placeholder="123" />
      </div>
    </div>
    <button type="submit">Update payment method</button>
  </form>`
}

function renderPortal(
  ctx: ResourceContext,
  session: Stripe.BillingPortal.Session,
  query: URLSearchParams
): string {
  const config = findConfiguration(ctx, String(session.configuration))
  const customer = findCustomerRef(ctx, session.customer, 'customer')
  const base = `/p/session/${encodeURIComponent(session.id)}`
  const notice = query.get('notice')
  const error = query.get('error')
  const returnUrl = session.return_url
  const banner = html`${notice ? html`<div class="notice" role="status">${notice}</div>` : ''}${error ? html`<div class="error" role="alert">${error}</div>` : ''}`
  const back = returnUrl
    ? html`<a class="back" id="return" href="${returnUrl}">← Return to ${returnUrl}</a>`
    : ''
  const headline = config.business_profile.headline ?? 'Manage your billing'

  // Flow: subscription_cancel shows the confirmation for that subscription only.
  if (session.flow?.type === 'subscription_cancel' && session.flow.subscription_cancel) {
    const sub = ctx.store.get('subscription', session.flow.subscription_cancel.subscription)
    if (
      sub &&
      sub.status !== 'canceled' &&
      !sub.cancel_at_period_end &&
      query.get('done') !== '1'
    ) {
      return page(
        'Cancel your plan',
        html`<div class="wrap">
          <div class="panel">
            ${back}
            <h1>Cancel your plan</h1>
            ${banner}
            <p>
              Your plan will be canceled, but is still available until the end of your billing
              period on ${formatDate(periodEnd(sub))}.
            </p>
            <form method="post" action="${base}/cancel">
              <input type="hidden" name="subscription" value="${sub.id}" /><input
                type="hidden"
                name="flow"
                value="1"
              />
              ${reasonSelect(config)}
              <button type="submit" class="danger">Cancel plan</button>
            </form>
          </div>
        </div>`
      )
    }
  }

  const subs = portalSubscriptions(ctx, customer.id)
  const defaultPm =
    typeof customer.invoice_settings.default_payment_method === 'string'
      ? customer.invoice_settings.default_payment_method
      : ((subs.find((sub) => typeof sub.default_payment_method === 'string')
          ?.default_payment_method as string | undefined) ?? null)
  const pmLabel = paymentMethodLabel(ctx, defaultPm)
  const subsBlock =
    subs.length === 0
      ? html`<p class="muted">No active subscriptions.</p>`
      : html`<ul class="items">
          ${subs.map((sub) => subscriptionBlock(ctx, session, config, sub))}
        </ul>`
  return page(
    'Customer portal',
    html`<div class="wrap">
      <div class="summary">
        ${back}
        <div class="merchant"><span class="logo">S</span>${headline}</div>
        ${banner}
        <h2>Current subscription${subs.length === 1 ? '' : 's'}</h2>
        ${subsBlock}
      </div>
      <div class="panel">
        <h2>Payment method</h2>
        <p id="payment-method">${pmLabel ?? 'No payment method on file'}</p>
        ${config.features.payment_method_update.enabled ? cardForm(base) : ''}
        ${
          config.features.invoice_history.enabled
            ? html`<h2>Invoice history</h2>
                ${invoiceHistory(ctx, customer.id)}`
            : ''
        }
        <p class="muted">${customer.email ?? ''}</p>
      </div>
    </div>`
  )
}

function expiredPage(session: Stripe.BillingPortal.Session): string {
  return page(
    'Session expired',
    html`<div class="wrap">
      <div class="panel">
        <h1>This link has expired</h1>
        <p>Portal links are valid for 5 minutes. Return to the site and open the portal again.</p>
        ${session.return_url ? html`<a class="back" href="${session.return_url}">← Return to ${session.return_url}</a>` : ''}
      </div>
    </div>`
  )
}

function feedbackOf(value: string | null): Stripe.Subscription.CancellationDetails.Feedback | null {
  if (!value) return null
  return (CANCELLATION_REASONS as readonly string[]).includes(value) ? value : null
}

/** The form's expiry: "MM / YY" (payments.ts's parser), or exp_month/exp_year fields. */
function expiryOf(form: URLSearchParams): { month: number; year: number } {
  const expiry = form.get('expiry')
  if (expiry) {
    const parsed = parseExpiry(expiry)
    return parsed ? { month: parsed.exp_month, year: parsed.exp_year } : { month: 0, year: 0 }
  }
  return { month: Number(form.get('exp_month') ?? 0), year: Number(form.get('exp_year') ?? 0) }
}

export const billingPortal: ResourceModule = {
  name: 'billing_portal',
  register(ctx) {
    // ---- configurations --------------------------------------------------------------
    ctx.route({
      method: 'POST',
      path: '/v1/billing_portal/configurations',
      params: { ...configurationShape, features: required(featuresShape) },
      returns: 'billing_portal.configuration',
      handler({ params, origin, request }) {
        connectGuard(request, 'billing_portal.configuration', null)
        defaultConfiguration(ctx)
        const config = newConfiguration(ctx, false)
        config.features = applyFeatures(config.features, params.features)
        if (!params.features.subscription_cancel)
          config.features.subscription_cancel.enabled = false
        if (!params.features.payment_method_update) {
          config.features.payment_method_update.enabled = false
        }
        if (!params.features.invoice_history) config.features.invoice_history.enabled = false
        if (!params.features.customer_update) config.features.customer_update.enabled = false
        if (params.business_profile) {
          config.business_profile = {
            headline: params.business_profile.headline ?? null,
            privacy_policy_url: params.business_profile.privacy_policy_url ?? null,
            terms_of_service_url: params.business_profile.terms_of_service_url ?? null,
          }
        }
        config.default_return_url = params.default_return_url ?? null
        config.login_page = {
          enabled: params.login_page?.enabled ?? false,
          url: params.login_page?.enabled ? `${ctx.publicUrl()}/p/login/${config.id}` : null,
        }
        config.metadata = applyMetadata({}, params.metadata)
        config.name = params.name ?? null
        ctx.store.insert('billing_portal.configuration', config.id, config)
        ctx.events.emit('billing_portal.configuration.created', config, { request: origin })
        return config
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/billing_portal/configurations/:id',
      params: {},
      returns: 'billing_portal.configuration',
      handler({ path, request }) {
        connectGuard(request, 'billing_portal.configuration', path.id)
        return findConfiguration(ctx, path.id)
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/billing_portal/configurations/:id',
      params: { ...configurationShape, active: boolean() },
      returns: 'billing_portal.configuration',
      handler({ params, path, origin, request }) {
        connectGuard(request, 'billing_portal.configuration', path.id)
        const current = findConfiguration(ctx, path.id)
        if (params.active === false && current.is_default) {
          throw invalidRequest('You cannot deactivate the default configuration.', {
            param: 'active',
            validation: true,
          })
        }
        const next = clone(current)
        if (params.active !== undefined && params.active !== null) next.active = params.active
        next.features = applyFeatures(next.features, params.features)
        if (params.business_profile) {
          for (const key of ['headline', 'privacy_policy_url', 'terms_of_service_url'] as const) {
            const value = params.business_profile[key]
            if (value !== undefined) next.business_profile[key] = value
          }
        }
        if (params.default_return_url !== undefined) {
          next.default_return_url = params.default_return_url
        }
        if (params.login_page) {
          next.login_page = {
            enabled: params.login_page.enabled,
            url: params.login_page.enabled ? `${ctx.publicUrl()}/p/login/${next.id}` : null,
          }
        }
        if (params.metadata !== undefined)
          next.metadata = applyMetadata(next.metadata ?? {}, params.metadata)
        if (params.name !== undefined) next.name = params.name
        const previous = previousAttributes(current, next)
        if (Object.keys(previous).length === 0) return current
        next.updated = ctx.clock.now()
        ctx.store.replace('billing_portal.configuration', path.id, next)
        ctx.events.emit('billing_portal.configuration.updated', next, {
          request: origin,
          previousAttributes: previousAttributes(current, next),
        })
        return next
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/billing_portal/configurations',
      params: { ...paginationShape, active: boolean(), is_default: boolean() },
      returns: 'list:billing_portal.configuration',
      handler({ params, request }) {
        const records = ctx.store
          .records('billing_portal.configuration')
          .filter(
            ({ value, deleted, account }) =>
              !deleted &&
              account === request.stripeAccount &&
              (params.active === undefined ||
                params.active === null ||
                value.active === params.active) &&
              (params.is_default === undefined ||
                params.is_default === null ||
                value.is_default === params.is_default)
          )
        return paginate(records, params, {
          url: '/v1/billing_portal/configurations',
          label: 'billing_portal.configuration',
          seqOf: (id) => ctx.store.seqOf('billing_portal.configuration', id),
        })
      },
    })

    // ---- sessions --------------------------------------------------------------------
    ctx.route({
      method: 'POST',
      path: '/v1/billing_portal/sessions',
      params: {
        customer: required(string()),
        return_url: string(),
        configuration: string(),
        flow_data: flowDataShape,
        locale: string(),
        on_behalf_of: string(),
      },
      returns: 'billing_portal.session',
      handler({ params, origin, request }) {
        connectGuard(request, 'billing_portal.session', null)
        const customer = findCustomerRef(ctx, params.customer, 'customer')
        let config: Stripe.BillingPortal.Configuration | null = null
        if (params.configuration) {
          config = findConfiguration(ctx, params.configuration, 'configuration')
          if (!config.active) {
            throw invalidRequest(
              `The configuration ${config.id} is inactive; use an active configuration.`,
              { param: 'configuration', validation: true }
            )
          }
        }
        const flowData = params.flow_data
        let flow: Stripe.BillingPortal.Session.Flow | null = null
        if (flowData) {
          const subscriptionOf = (id: string, param: string) => {
            const sub = ctx.store.get('subscription', id)
            if (!sub) throw resourceMissing('subscription', id, param)
            if (sub.customer !== customer.id) {
              throw invalidRequest(
                `The subscription ${id} does not belong to customer ${customer.id}.`,
                { param, validation: true }
              )
            }
            return sub
          }
          const after = flowData.after_completion
          if (after?.type === 'redirect' && !after.redirect) {
            throw invalidRequest('Missing required param: flow_data[after_completion][redirect].', {
              code: 'parameter_missing',
              param: 'flow_data[after_completion][redirect]',
              validation: true,
            })
          }
          flow = {
            after_completion: {
              hosted_confirmation:
                after?.type === 'hosted_confirmation'
                  ? { custom_message: after.hosted_confirmation?.custom_message ?? null }
                  : null,
              redirect:
                after?.type === 'redirect' && after.redirect
                  ? { return_url: after.redirect.return_url }
                  : null,
              type: after?.type ?? 'portal_homepage',
            },
            customer_update: null,
            subscription_cancel: null,
            subscription_pause: null,
            subscription_update: null,
            subscription_update_confirm: null,
            type: flowData.type,
          }
          if (flowData.type === 'subscription_cancel') {
            if (!flowData.subscription_cancel) {
              throw invalidRequest('Missing required param: flow_data[subscription_cancel].', {
                code: 'parameter_missing',
                param: 'flow_data[subscription_cancel]',
                validation: true,
              })
            }
            const sub = subscriptionOf(
              flowData.subscription_cancel.subscription,
              'flow_data[subscription_cancel][subscription]'
            )
            if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
              throw invalidRequest(
                `You can't cancel the subscription ${sub.id} because it has already been canceled.`,
                { param: 'flow_data[subscription_cancel][subscription]', validation: true }
              )
            }
            flow.subscription_cancel = { retention: null, subscription: sub.id }
          } else if (flowData.type === 'subscription_update') {
            if (!flowData.subscription_update) {
              throw invalidRequest('Missing required param: flow_data[subscription_update].', {
                code: 'parameter_missing',
                param: 'flow_data[subscription_update]',
                validation: true,
              })
            }
            const sub = subscriptionOf(
              flowData.subscription_update.subscription,
              'flow_data[subscription_update][subscription]'
            )
            flow.subscription_update = { subscription: sub.id }
          } else if (flowData.type === 'subscription_update_confirm') {
            if (!flowData.subscription_update_confirm) {
              throw invalidRequest(
                'Missing required param: flow_data[subscription_update_confirm].',
                {
                  code: 'parameter_missing',
                  param: 'flow_data[subscription_update_confirm]',
                  validation: true,
                }
              )
            }
            const sub = subscriptionOf(
              flowData.subscription_update_confirm.subscription,
              'flow_data[subscription_update_confirm][subscription]'
            )
            flow.subscription_update_confirm = {
              discounts: null,
              items: flowData.subscription_update_confirm.items.map((item) => ({
                id: item.id,
                price: item.price ?? null,
                quantity: item.quantity ? Number(item.quantity) : undefined,
              })),
              subscription: sub.id,
            }
          }
        }
        const configuration = config ?? defaultConfiguration(ctx)
        const returnUrl = params.return_url ?? configuration.default_return_url
        const id = newId('billing_portal_session')
        const session: Stripe.BillingPortal.Session = {
          id,
          object: 'billing_portal.session',
          configuration: configuration.id,
          created: ctx.clock.now(),
          customer: customer.id,
          customer_account: null,
          flow,
          livemode: false,
          locale: params.locale ?? null,
          on_behalf_of: params.on_behalf_of ?? null,
          return_url: returnUrl ?? null,
          url: `${ctx.publicUrl()}/p/session/${id}`,
        }
        ctx.store.insert('billing_portal.session', id, session)
        ctx.events.emit('billing_portal.session.created', session, { request: origin })
        return session
      },
    })

    ctx.references('billing_portal.session', { configuration: 'billing_portal.configuration' })

    // ---- hosted portal page ---------------------------------------------------------
    ctx.page({
      method: 'GET',
      path: '/p/session/:id',
      handler({ path, query }) {
        const session = ctx.store.get('billing_portal.session', path.id)
        if (!session) {
          return {
            status: 404,
            html: page(
              'Not found',
              html`<div class="wrap">
                <div class="panel"><h1>This portal session does not exist</h1></div>
              </div>`
            ),
          }
        }
        const { usable } = openPortalSession(ctx, path.id)
        if (!usable) return { status: 410, html: expiredPage(session) }
        return { html: renderPortal(ctx, session, query) }
      },
    })

    const action = (
      name: string,
      run: (session: Stripe.BillingPortal.Session, form: URLSearchParams) => string
    ) =>
      ctx.page({
        method: 'POST',
        path: `/p/session/:id/${name}`,
        handler({ path, form }) {
          const session = ctx.store.get('billing_portal.session', path.id)
          if (!session) {
            return {
              status: 404,
              html: page(
                'Not found',
                html`<div class="wrap">
                  <div class="panel"><h1>This portal session does not exist</h1></div>
                </div>`
              ),
            }
          }
          const base = `/p/session/${encodeURIComponent(session.id)}`
          const { usable } = openPortalSession(ctx, path.id)
          if (!usable) return { status: 410, html: expiredPage(session) }
          let notice: string
          try {
            notice = run(session, form)
          } catch (error) {
            if (error instanceof ApiError) {
              return { redirect: `${base}?error=${encodeURIComponent(error.message)}` }
            }
            throw error
          }
          // A completed flow goes where after_completion says.
          const flow = session.flow
          if (flow && form.get('flow') === '1') {
            if (flow.after_completion.type === 'redirect' && flow.after_completion.redirect) {
              return { redirect: flow.after_completion.redirect.return_url }
            }
            const message = flow.after_completion.hosted_confirmation?.custom_message ?? notice
            return { redirect: `${base}?done=1&notice=${encodeURIComponent(message)}` }
          }
          return { redirect: `${base}?notice=${encodeURIComponent(notice)}` }
        },
      })

    action('cancel', (session, form) => {
      const sub = portalCancelAtPeriodEnd(
        ctx,
        session,
        form.get('subscription') ?? '',
        feedbackOf(form.get('reason')),
        form.get('comment') || null
      )
      return sub.status === 'canceled'
        ? 'Your plan has been canceled.'
        : `Your plan will be canceled on ${formatDate(sub.cancel_at ?? periodEnd(sub))}.`
    })
    action('renew', (session, form) => {
      const sub = portalRenew(ctx, session, form.get('subscription') ?? '')
      return `Your plan has been renewed. It renews on ${formatDate(periodEnd(sub))}.`
    })
    action('cancel_now', (session, form) => {
      portalCancelNow(
        ctx,
        session,
        form.get('subscription') ?? '',
        feedbackOf(form.get('reason')),
        form.get('comment') || null
      )
      return 'Your plan has been canceled.'
    })
    action('payment_method', (session, form) => {
      const { month, year } = expiryOf(form)
      const result = portalUpdatePaymentMethod(ctx, session, {
        number: (form.get('card_number') ?? form.get('number') ?? '').replace(/\s+/g, ''),
        exp_month: month,
        exp_year: year,
        cvc: form.get('cvc') || null,
      })
      if (result.error) throw result.error
      const label = paymentMethodLabel(ctx, result.paymentMethod.id) ?? 'Your card'
      return result.retried.length > 0
        ? `${label} has been added and your outstanding invoice has been paid.`
        : `${label} has been added as your default payment method.`
    })
  },
}
