/**
 * Checkout Sessions (`/v1/checkout/sessions`) and the hosted Checkout page
 * (`/c/pay/:id`).
 *
 * A session is created `open` with its line items (prices or `price_data`), and
 * completed when the customer pays on the hosted page (or through
 * `completeCheckoutSession` / `POST /_sim/checkout/sessions/:id/complete`):
 *  - payment mode: the card PaymentMethod, an optional Customer, and the payment
 *    through `collectPayment` (PaymentIntent, Charge, destination transfer and
 *    application fee) with `payment_intent_data`;
 *  - subscription mode: the Customer, the PaymentMethod attached to it, and
 *    `startSubscription` (subscription, first invoice and its payment) with
 *    `subscription_data`.
 * `checkout.session.completed` comes last. A declined card leaves the session
 * open (the PaymentIntent records the failure and a retry reuses it). Sessions
 * expire through `POST …/expire`, or when the sandbox clock passes `expires_at`.
 *
 * Asynchronous payments: `completeCheckoutSession(…, { async: 'pending' })` (payment
 * mode; sim `POST /_sim/checkout/sessions/:id/complete {async: 'pending'}`) completes the
 * session `unpaid` with a `processing` PaymentIntent; `settleAsyncCheckout` (sim
 * `POST …/settle {outcome}`) then pays or fails it and emits
 * `checkout.session.async_payment_succeeded` / `…_failed`.
 *
 * Simplifications (documented): `mode=setup` and non-hosted `ui_mode`s are 400s;
 * sessions cannot be created on a connected account (`Stripe-Account` is a 400; use
 * destination charges), reads and expiry stay scoped to the header;
 * subscription mode takes recurring prices only (one-time items on the first
 * invoice are a 400); `invoice_creation` is echoed but creates no invoice; no tax,
 * discounts, shipping or adaptive pricing.
 */
import type Stripe from 'stripe'
import { startSubscription } from '../billing.js'
import type { ResourceContext, ResourceModule } from '../context.js'
import {
  ApiError,
  invalidParameter,
  invalidRequest,
  missingParameter,
  resourceMissing,
} from '../errors.js'
import type { EventOrigin } from '../events.js'
import {
  type CheckoutErrors,
  type CheckoutValues,
  COUNTRIES,
  checkoutPage,
  completedPage,
  expiredPage,
  notFoundPage,
} from '../hosted/checkout_page.js'
import { newId, randomBase62 } from '../ids.js'
import { previousAttributes } from '../json.js'
import { paginate } from '../list.js'
import type { PageResult } from '../pages.js'
import {
  type ObjectOut,
  Spec,
  applyMetadata,
  array,
  boolean,
  enumOf,
  integer,
  matchesRange,
  metadata,
  object,
  paginationShape,
  range,
  required,
  string,
} from '../params.js'
import {
  type CardProblem,
  type CollectPaymentInput,
  type TestCardInput,
  attachPaymentMethod,
  beginProcessingPayment,
  checkCard,
  collectPayment,
  createCardPaymentMethod,
  declineFor,
  minimumChargeAmount,
  parseExpiry,
  settleProcessingPayment,
  validateAmount,
  validateConnectParams,
} from '../payments.js'
import { type Body, SimError, str } from '../sim.js'
import { insertCustomer } from './customers.js'
import {
  type PriceDataInput,
  buildPrice,
  buildProduct,
  createPriceFromData,
  findPrice,
  findProduct,
  lineAmount,
} from './prices.js'
import { requireTransferDestination } from './transfers.js'

// ---------------------------------------------------------------------------
// Stored state
// ---------------------------------------------------------------------------

/** What a session remembers beyond its public shape. */
export interface CheckoutSessionExtras {
  id: string
  /** The session's line items (`item` objects with the Price embedded), in order. */
  line_items: Stripe.LineItem[]
  subscription_data: SubscriptionDataParams | null
  payment_intent_data: PaymentIntentDataParams | null
  /** Payment mode: the PaymentIntent of a declined attempt, reused by the next one. */
  pending_payment_intent: string | null
  /** The last decline shown on the hosted page. */
  last_error: { message: string; code: string | null; decline_code: string | null } | null
  /**
   * Payment mode, completed with an asynchronous payment (`async: 'pending'`): `pending`
   * until `settleAsyncCheckout`, then its outcome. Absent/null for card payments.
   */
  async_payment?: 'pending' | 'succeeded' | 'failed' | null
}

declare module '../store.js' {
  interface CollectionTypes {
    'checkout.session': Stripe.Checkout.Session
    'checkout.session_extras': CheckoutSessionExtras
  }
}

export const DEFAULT_MERCHANT_NAME = 'Studio Billing (sandbox)'
/** Stripe's bounds for `expires_at`: 30 minutes to 24 hours after creation. */
export const MIN_EXPIRY_SECONDS = 30 * 60
export const MAX_EXPIRY_SECONDS = 24 * 60 * 60
const MAX_LINE_ITEMS = 100
const DAY_SECONDS = 24 * 60 * 60
/** `subscription_data.trial_end`: at least 48 hours, at most 730 days away (as Stripe). */
const MIN_TRIAL_END_SECONDS = 48 * 60 * 60
const MAX_TRIAL_DAYS = 730

/** What the sandbox accepts as an email address (session params and the hosted form). */
const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/

const LOCALES = [
  'auto',
  'bg',
  'cs',
  'da',
  'de',
  'el',
  'en',
  'en-GB',
  'es',
  'es-419',
  'et',
  'fi',
  'fil',
  'fr',
  'fr-CA',
  'hi-IN',
  'hr',
  'hu',
  'id',
  'it',
  'ja',
  'ko',
  'lt',
  'lv',
  'ms',
  'mt',
  'nb',
  'nl',
  'pl',
  'pt',
  'pt-BR',
  'ro',
  'ru',
  'sk',
  'sl',
  'sv',
  'th',
  'tr',
  'vi',
  'zh',
  'zh-HK',
  'zh-TW',
] as const

/** Payment method types Stripe knows (params); the sandbox only takes cards. */
const PAYMENT_METHOD_TYPES = [
  'acss_debit',
  'affirm',
  'afterpay_clearpay',
  'alipay',
  'alma',
  'amazon_pay',
  'au_becs_debit',
  'bacs_debit',
  'bancontact',
  'billie',
  'bizum',
  'blik',
  'boleto',
  'card',
  'cashapp',
  'crypto',
  'customer_balance',
  'eps',
  'fpx',
  'giropay',
  'grabpay',
  'ideal',
  'kakao_pay',
  'klarna',
  'konbini',
  'kr_card',
  'link',
  'mb_way',
  'mobilepay',
  'multibanco',
  'naver_pay',
  'nz_bank_account',
  'oxxo',
  'p24',
  'pay_by_bank',
  'payco',
  'paynow',
  'paypal',
  'paypay',
  'payto',
  'pix',
  'promptpay',
  'revolut_pay',
  'samsung_pay',
  'satispay',
  'scalapay',
  'sepa_debit',
  'sequra',
  'sofort',
  'sunbit',
  'swish',
  'twint',
  'upi',
  'us_bank_account',
  'wechat_pay',
  'zip',
] as const

// ---------------------------------------------------------------------------
// Params
// ---------------------------------------------------------------------------

/** A decimal number param (`application_fee_percent=12.5`), within [min, max]. */
function decimal(options: { min: number; max: number }): Spec<number> {
  return new Spec('decimal', false, (raw, path) => {
    const text = typeof raw === 'string' ? raw.trim() : ''
    if (!/^\d+(\.\d+)?$/.test(text)) {
      throw invalidParameter(
        path,
        `Invalid decimal: ${typeof raw === 'string' ? raw : '[object]'}`,
        'parameter_invalid_decimal'
      )
    }
    const value = Number(text)
    if (value < options.min || value > options.max) {
      throw invalidParameter(
        path,
        `Invalid ${path}: must be between ${options.min} and ${options.max}`,
        'parameter_invalid_decimal'
      )
    }
    return value
  })
}

const intervalEnum = enumOf(['day', 'week', 'month', 'year'])

const lineItemShape = {
  price: string(),
  price_data: object({
    currency: required(string()),
    product: string(),
    product_data: object({
      name: required(string({ maxLength: 5000 })),
      description: string({ maxLength: 40000 }),
      images: array(string()),
      metadata: metadata(),
      tax_code: string(),
      unit_label: string({ maxLength: 12 }),
    }),
    recurring: object({ interval: required(intervalEnum), interval_count: integer() }),
    tax_behavior: enumOf(['exclusive', 'inclusive', 'unspecified']),
    unit_amount: integer({ min: 0 }),
    unit_amount_decimal: string(),
  }),
  quantity: integer({ min: 0, max: 999_999 }),
  adjustable_quantity: object({
    enabled: required(boolean()),
    maximum: integer({ min: 1, max: 999_999 }),
    minimum: integer({ min: 0, max: 999_999 }),
  }),
  metadata: metadata(),
  tax_rates: array(string()),
}

const subscriptionDataShape = {
  application_fee_percent: decimal({ min: 0, max: 100 }),
  description: string({ maxLength: 500 }),
  metadata: metadata(),
  on_behalf_of: string(),
  trial_end: integer(),
  trial_period_days: integer({ min: 1, max: 730 }),
  transfer_data: object({
    destination: required(string()),
    amount_percent: decimal({ min: 0, max: 100 }),
  }),
}

const paymentIntentDataShape = {
  application_fee_amount: integer({ min: 0 }),
  capture_method: enumOf(['automatic', 'automatic_async', 'manual']),
  description: string({ maxLength: 1000 }),
  metadata: metadata(),
  on_behalf_of: string(),
  receipt_email: string(),
  setup_future_usage: enumOf(['off_session', 'on_session']),
  statement_descriptor: string({ maxLength: 22 }),
  statement_descriptor_suffix: string({ maxLength: 22 }),
  transfer_data: object({ destination: required(string()), amount: integer({ min: 0 }) }),
  transfer_group: string(),
}

const createShape = {
  mode: enumOf(['payment', 'setup', 'subscription']),
  line_items: array(object(lineItemShape)),
  success_url: string({ maxLength: 5000 }),
  cancel_url: string({ maxLength: 5000 }),
  return_url: string({ maxLength: 5000 }),
  customer: string(),
  customer_email: string({ maxLength: 512 }),
  customer_creation: enumOf(['always', 'if_required']),
  client_reference_id: string({ maxLength: 200 }),
  currency: string(),
  metadata: metadata(),
  subscription_data: object(subscriptionDataShape),
  payment_intent_data: object(paymentIntentDataShape),
  expires_at: integer(),
  allowed_payment_method_types: array(enumOf(PAYMENT_METHOD_TYPES)),
  excluded_payment_method_types: array(enumOf(PAYMENT_METHOD_TYPES)),
  ui_mode: enumOf(['hosted_page', 'embedded_page', 'elements', 'form']),
  allow_promotion_codes: boolean(),
  billing_address_collection: enumOf(['auto', 'required']),
  locale: enumOf(LOCALES),
  submit_type: enumOf(['auto', 'book', 'donate', 'pay', 'subscribe']),
  payment_method_collection: enumOf(['always', 'if_required']),
  phone_number_collection: object({ enabled: required(boolean()) }),
  invoice_creation: object({
    enabled: required(boolean()),
    invoice_data: object({
      account_tax_ids: array(string()),
      custom_fields: array(
        object({
          name: required(string({ maxLength: 40 })),
          value: required(string({ maxLength: 140 })),
        }),
        { maxItems: 4 }
      ),
      description: string({ maxLength: 1500 }),
      footer: string({ maxLength: 5000 }),
      issuer: object({ type: required(enumOf(['account', 'self'])), account: string() }),
      metadata: metadata(),
      rendering_options: object({
        amount_tax_display: enumOf(['exclude_tax', 'include_inclusive_tax']),
        template: string(),
      }),
    }),
  }),
  saved_payment_method_options: object({
    allow_redisplay_filters: array(enumOf(['always', 'limited', 'unspecified'])),
    payment_method_remove: enumOf(['disabled', 'enabled']),
    payment_method_save: enumOf(['disabled', 'enabled']),
  }),
  consent_collection: object({
    payment_method_reuse_agreement: object({ position: required(enumOf(['auto', 'hidden'])) }),
    promotions: enumOf(['auto', 'none']),
    terms_of_service: enumOf(['none', 'required']),
  }),
}

const updateShape = { metadata: metadata() }

const listShape = {
  ...paginationShape,
  created: range(),
  customer: string(),
  customer_details: object({ email: required(string()) }),
  payment_intent: string(),
  payment_link: string(),
  status: enumOf(['complete', 'expired', 'open']),
  subscription: string(),
}

type CreateParams = ObjectOut<typeof createShape>
type LineItemParams = ObjectOut<typeof lineItemShape>
export type SubscriptionDataParams = ObjectOut<typeof subscriptionDataShape>
export type PaymentIntentDataParams = ObjectOut<typeof paymentIntentDataShape>

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

function cleanMetadata(value: Record<string, string | null> | null | undefined, param: string) {
  return applyMetadata({}, value ?? undefined, param)
}

function findSessionRecord(ctx: ResourceContext, id: string, account?: string | null) {
  const record = ctx.store.getRecord('checkout.session', id)
  if (!record || record.deleted) throw resourceMissing('checkout.session', id)
  if (account !== null && record.account !== account) throw resourceMissing('checkout.session', id)
  return record
}

function extrasOf(ctx: ResourceContext, id: string): CheckoutSessionExtras {
  const extras = ctx.store.get('checkout.session_extras', id)
  if (!extras) throw new Error(`Checkout Session ${id} has no stored line items`)
  return extras
}

function saveExtras(ctx: ResourceContext, extras: CheckoutSessionExtras) {
  ctx.store.replace('checkout.session_extras', extras.id, extras)
}

/** `success_url` with `{CHECKOUT_SESSION_ID}` replaced, as Stripe redirects to it. */
export function successUrlFor(session: Stripe.Checkout.Session): string | null {
  return session.success_url === null
    ? null
    : session.success_url.replaceAll('{CHECKOUT_SESSION_ID}', session.id)
}

function merchantName(ctx: ResourceContext, session: Stripe.Checkout.Session): string {
  const accountId =
    ctx.store.accountOf('checkout.session', session.id) ??
    extrasOrNull(ctx, session.id)?.payment_intent_data?.on_behalf_of ??
    null
  if (accountId) {
    const account = ctx.store.get('account', accountId)
    const name = account?.business_profile?.name ?? account?.settings?.dashboard?.display_name
    if (name) return name
  }
  return DEFAULT_MERCHANT_NAME
}

/** The free trial of a subscription session in days (`trial_end` rounded up), or null. */
function trialDaysOf(data: SubscriptionDataParams | null, now: number): number | null {
  if (data?.trial_end !== undefined && data.trial_end !== null) {
    return Math.max(1, Math.ceil((data.trial_end - now) / DAY_SECONDS))
  }
  return data?.trial_period_days ?? null
}

function extrasOrNull(ctx: ResourceContext, id: string): CheckoutSessionExtras | null {
  return ctx.store.get('checkout.session_extras', id) ?? null
}

function modeError(message: string, param: string) {
  return invalidRequest(message, { param, validation: true })
}

// ---------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------

interface PlannedItem {
  index: number
  params: LineItemParams
  /** Existing price (by id), or null for price_data. */
  price: Stripe.Price | null
  /** Validated, not yet stored price built from price_data (for amounts and checks). */
  draft: Stripe.Price
  productName: string
  quantity: number
}

/** Validates every line item (nothing is stored): the plan of the session's items. */
function planLineItems(
  ctx: ResourceContext,
  params: CreateParams,
  account: string | undefined
): PlannedItem[] {
  const items = params.line_items ?? []
  if (items.length === 0) throw missingParameter('line_items')
  if (items.length > MAX_LINE_ITEMS) {
    throw invalidParameter('line_items', `Invalid line_items: must have at most 100 items`)
  }
  return items.map((item, index) => {
    const param = `line_items[${index}]`
    const hasPrice = item.price !== undefined && item.price !== null
    const hasPriceData = item.price_data !== undefined && item.price_data !== null
    if (hasPrice && hasPriceData) {
      throw invalidRequest(
        `You may only specify one of these parameters: ${param}[price], ${param}[price_data].`,
        { param: `${param}[price]`, validation: true }
      )
    }
    if (!hasPrice && !hasPriceData) {
      throw invalidRequest(`You must specify either \`price\` or \`price_data\` in \`${param}\`.`, {
        code: 'parameter_missing',
        param: `${param}[price]`,
        validation: true,
      })
    }
    if (item.quantity === undefined || item.quantity === null) {
      throw invalidRequest(`Quantity is required. Add \`quantity\` to \`${param}\``, {
        code: 'parameter_missing',
        param: `${param}[quantity]`,
        validation: true,
      })
    }
    const adjustable = item.adjustable_quantity
    if (adjustable?.minimum !== undefined && adjustable.minimum !== null) {
      if (
        adjustable.maximum !== undefined &&
        adjustable.maximum !== null &&
        adjustable.minimum > adjustable.maximum
      ) {
        throw invalidParameter(
          `${param}[adjustable_quantity][minimum]`,
          'The adjustable_quantity minimum must be less than or equal to the maximum.'
        )
      }
    }
    cleanMetadata(item.metadata, `${param}[metadata]`)
    if (item.tax_rates && item.tax_rates.length > 0) {
      const taxRate = item.tax_rates[0]
      if (!ctx.store.find('tax_rate', taxRate))
        throw resourceMissing('tax_rate', taxRate, `${param}[tax_rates][0]`)
    }
    if (hasPrice) {
      const price = findPrice(ctx, item.price ?? '', `${param}[price]`, { account })
      if (!price.active) {
        throw invalidRequest(
          `The price specified is inactive. This field only accepts active prices.`,
          { param: `${param}[price]`, validation: true }
        )
      }
      const product = typeof price.product === 'string' ? price.product : price.product.id
      const productName = ctx.store.get('product', product)?.name ?? product
      return { index, params: item, price, draft: price, productName, quantity: item.quantity }
    }
    const data = item.price_data
    if (!data) throw missingParameter(`${param}[price_data]`)
    const dataParam = `${param}[price_data]`
    const hasProduct = data.product !== undefined && data.product !== null
    const hasProductData = data.product_data !== undefined && data.product_data !== null
    if (hasProduct && hasProductData) {
      throw invalidRequest(
        `You may only specify one of these parameters: ${dataParam}[product], ${dataParam}[product_data].`,
        { param: `${dataParam}[product]`, validation: true }
      )
    }
    if (!hasProduct && !hasProductData) throw missingParameter(`${dataParam}[product]`)
    let productId: string
    let productName: string
    if (data.product) {
      const product = findProduct(ctx, data.product, `${dataParam}[product]`, { account })
      productId = product.id
      productName = product.name
    } else {
      const productData = data.product_data ?? { name: '' }
      const product = buildProduct(
        ctx,
        {
          name: productData.name,
          description: productData.description ?? null,
          metadata: productData.metadata ?? null,
          images: productData.images ?? null,
          tax_code: productData.tax_code ?? null,
          unit_label: productData.unit_label ?? null,
        },
        `${dataParam}[product_data]`
      )
      productId = product.id
      productName = product.name
    }
    const draft = buildPrice(
      ctx,
      {
        currency: data.currency,
        unit_amount: data.unit_amount,
        unit_amount_decimal: data.unit_amount_decimal,
        recurring: data.recurring
          ? { interval: data.recurring.interval, interval_count: data.recurring.interval_count }
          : null,
        tax_behavior: data.tax_behavior,
        active: false,
      },
      productId,
      { param: dataParam, account }
    )
    return { index, params: item, price: null, draft, productName, quantity: item.quantity }
  })
}

/** Mode-specific rules on the planned items (Stripe's wording). */
function checkItemsForMode(mode: 'payment' | 'subscription', items: PlannedItem[]) {
  const currency = items[0].draft.currency
  items.forEach((item) => {
    if (item.draft.currency !== currency) {
      throw invalidRequest(
        `All line items must use the same currency. \`line_items[${item.index}]\` uses ${item.draft.currency}, but \`line_items[0]\` uses ${currency}.`,
        { param: `line_items[${item.index}]`, validation: true }
      )
    }
  })
  const param = (item: PlannedItem) =>
    item.price ? `line_items[${item.index}][price]` : `line_items[${item.index}][price_data]`
  if (mode === 'payment') {
    const recurring = items.find((item) => item.draft.recurring !== null)
    if (recurring) {
      throw modeError(
        'You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.',
        param(recurring)
      )
    }
    return
  }
  const recurring = items.filter((item) => item.draft.recurring !== null)
  if (recurring.length === 0) {
    throw modeError(
      'You must provide at least one recurring price in `subscription` mode when using prices.',
      'line_items'
    )
  }
  const oneTime = items.find((item) => item.draft.recurring === null)
  if (oneTime) {
    throw modeError(
      'The Stripe sandbox does not support one-time prices in `subscription` mode (they would be added to the first invoice); use only recurring prices.',
      param(oneTime)
    )
  }
  const first = recurring[0].draft.recurring
  for (const item of recurring) {
    const other = item.draft.recurring
    if (
      first &&
      other &&
      (other.interval !== first.interval || other.interval_count !== first.interval_count)
    ) {
      throw modeError(
        'All prices on a subscription must have the same `recurring.interval` and `recurring.interval_count`.',
        param(item)
      )
    }
  }
  if (recurring.length > 20) {
    throw modeError('You can only have up to 20 recurring line items.', 'line_items')
  }
}

function validateCreate(
  ctx: ResourceContext,
  params: CreateParams,
  account: string | undefined
): {
  mode: 'payment' | 'subscription'
  items: PlannedItem[]
  customer: Stripe.Customer | null
  amountSubtotal: number
  expiresAt: number
} {
  if (params.mode === undefined || params.mode === null) throw missingParameter('mode')
  if (params.mode === 'setup') {
    throw invalidParameter(
      'mode',
      'The Stripe sandbox does not support `mode=setup` Checkout Sessions; use `payment` or `subscription`.'
    )
  }
  const mode = params.mode
  const uiMode = params.ui_mode ?? 'hosted_page'
  if (uiMode !== 'hosted_page') {
    throw invalidParameter(
      'ui_mode',
      `The Stripe sandbox only serves the hosted Checkout page (\`ui_mode=hosted_page\`); \`${uiMode}\` is not supported.`
    )
  }
  if (params.return_url) {
    throw invalidParameter(
      'return_url',
      '`return_url` can only be used with `ui_mode=embedded_page`, `elements` or `form`; use `success_url` with the hosted page.'
    )
  }
  if (!params.success_url) throw missingParameter('success_url')
  for (const key of ['success_url', 'cancel_url'] as const) {
    const url = params[key]
    if (url && !/^https?:\/\/\S+$/i.test(url)) {
      throw invalidParameter(key, 'Not a valid URL', 'url_invalid')
    }
  }
  if (params.customer && params.customer_email) {
    throw invalidRequest(
      'You may only specify one of these parameters: customer, customer_email.',
      { param: 'customer_email', validation: true }
    )
  }
  let customer: Stripe.Customer | null = null
  if (params.customer) {
    customer = ctx.store.getFor('customer', params.customer, account) ?? null
    if (!customer) throw resourceMissing('customer', params.customer, 'customer')
  }
  if (params.customer_email && !EMAIL_PATTERN.test(params.customer_email)) {
    throw invalidParameter('customer_email', 'Invalid email address: ' + params.customer_email)
  }
  if (params.customer_creation) {
    if (mode !== 'payment') {
      throw modeError(
        '`customer_creation` can only be used in `payment` mode.',
        'customer_creation'
      )
    }
    if (params.customer) {
      throw modeError(
        '`customer_creation` cannot be used when `customer` is specified.',
        'customer_creation'
      )
    }
  }
  if (mode === 'subscription' && params.payment_intent_data) {
    throw modeError(
      'You can not pass `payment_intent_data` in `subscription` mode.',
      'payment_intent_data'
    )
  }
  if (mode === 'payment' && params.subscription_data) {
    throw modeError('You can not pass `subscription_data` in `payment` mode.', 'subscription_data')
  }
  if (mode !== 'payment' && params.invoice_creation) {
    throw modeError('`invoice_creation` can only be used in `payment` mode.', 'invoice_creation')
  }
  if (mode !== 'subscription' && params.payment_method_collection) {
    throw modeError(
      '`payment_method_collection` can only be used in `subscription` mode.',
      'payment_method_collection'
    )
  }
  if (params.payment_method_collection === 'if_required') {
    throw invalidParameter(
      'payment_method_collection',
      'The Stripe sandbox always collects a card (`payment_method_collection=always`).'
    )
  }
  if (mode === 'subscription' && params.submit_type && params.submit_type !== 'auto') {
    throw modeError(
      '`submit_type` can only be used in `payment` mode (or `auto` in `subscription` mode).',
      'submit_type'
    )
  }
  for (const key of ['allowed_payment_method_types', 'excluded_payment_method_types'] as const) {
    for (const [index, type] of (params[key] ?? []).entries()) {
      if (key === 'allowed_payment_method_types' && type !== 'card') {
        throw invalidParameter(
          `${key}[${index}]`,
          `The payment method type \`${type}\` is not supported by the Stripe sandbox; only \`card\` is.`
        )
      }
      if (key === 'excluded_payment_method_types' && type === 'card') {
        throw invalidParameter(
          `${key}[${index}]`,
          'The Stripe sandbox only offers cards: excluding `card` leaves no payment method.'
        )
      }
    }
  }
  if (params.allowed_payment_method_types && params.allowed_payment_method_types.length === 0) {
    throw invalidParameter('allowed_payment_method_types', 'Invalid array: must not be empty')
  }
  cleanMetadata(params.metadata, 'metadata')

  const now = ctx.clock.now()
  const expiresAt = params.expires_at ?? now + MAX_EXPIRY_SECONDS
  if (expiresAt < now + MIN_EXPIRY_SECONDS) {
    throw invalidParameter(
      'expires_at',
      'The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.',
      'parameter_invalid_integer'
    )
  }
  if (expiresAt > now + MAX_EXPIRY_SECONDS) {
    throw invalidParameter(
      'expires_at',
      'The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.',
      'parameter_invalid_integer'
    )
  }

  const items = planLineItems(ctx, params, account)
  checkItemsForMode(mode, items)
  const currency = items[0].draft.currency
  if (params.currency && params.currency.toLowerCase() !== currency) {
    throw invalidParameter(
      'currency',
      `The \`currency\` (${params.currency}) does not match the currency of the line items (${currency}).`
    )
  }
  const amountSubtotal = items.reduce((sum, item) => sum + lineAmount(item.draft, item.quantity), 0)

  if (mode === 'payment') {
    const minimum = minimumChargeAmount(currency)
    if (amountSubtotal < minimum) {
      throw invalidRequest(
        `The Checkout Session's total amount due must add up to at least ${minimum} ${currency} (smallest currency unit).`,
        { param: 'line_items', validation: true }
      )
    }
    const pid = params.payment_intent_data
    if (pid) {
      cleanMetadata(pid.metadata, 'payment_intent_data[metadata]')
      if (pid.capture_method === 'manual') {
        throw invalidParameter(
          'payment_intent_data[capture_method]',
          'The Stripe sandbox captures payments immediately; `capture_method=manual` is not supported.'
        )
      }
      if (pid.on_behalf_of) {
        if (!ctx.store.get('account', pid.on_behalf_of))
          throw resourceMissing('account', pid.on_behalf_of, 'payment_intent_data[on_behalf_of]')
      }
      if (pid.transfer_data) {
        requireTransferDestination(
          ctx,
          pid.transfer_data.destination,
          'payment_intent_data[transfer_data][destination]'
        )
        const amount = pid.transfer_data.amount
        if (amount !== undefined && amount !== null && amount > amountSubtotal) {
          throw invalidParameter(
            'payment_intent_data[transfer_data][amount]',
            `The \`transfer_data[amount]\` (${amount}) cannot be greater than the Checkout Session's total amount (${amountSubtotal}).`
          )
        }
      }
      const fee = pid.application_fee_amount
      if (fee !== undefined && fee !== null) {
        if (!pid.transfer_data) {
          throw invalidRequest(
            'Can only apply an application_fee_amount when the PaymentIntent is attempting a direct payment (using an OAuth key or Stripe-Account header) or destination payment (using `transfer_data[destination]`).',
            { param: 'payment_intent_data[application_fee_amount]', validation: true }
          )
        }
        const transferAmount = pid.transfer_data?.amount
        if (transferAmount !== undefined && transferAmount !== null) {
          throw invalidRequest(
            'You cannot specify both application_fee_amount and transfer_data[amount].',
            { param: 'payment_intent_data[application_fee_amount]', validation: true }
          )
        }
        if (fee > amountSubtotal) {
          throw invalidParameter(
            'payment_intent_data[application_fee_amount]',
            `The \`application_fee_amount\` (${fee}) cannot be greater than the Checkout Session's total amount (${amountSubtotal}).`,
            'parameter_invalid_integer'
          )
        }
      }
      if (pid.receipt_email && !EMAIL_PATTERN.test(pid.receipt_email)) {
        throw invalidParameter(
          'payment_intent_data[receipt_email]',
          'Invalid email address: ' + pid.receipt_email
        )
      }
    }
  } else {
    const sd = params.subscription_data
    if (sd) {
      cleanMetadata(sd.metadata, 'subscription_data[metadata]')
      if (sd.on_behalf_of) {
        if (!ctx.store.get('account', sd.on_behalf_of))
          throw resourceMissing('account', sd.on_behalf_of, 'subscription_data[on_behalf_of]')
      }
      if (sd.transfer_data) {
        requireTransferDestination(
          ctx,
          sd.transfer_data.destination,
          'subscription_data[transfer_data][destination]'
        )
      }
      if (sd.trial_end !== undefined && sd.trial_end !== null) {
        if (sd.trial_period_days !== undefined && sd.trial_period_days !== null) {
          throw invalidRequest(
            'You may only specify one of these parameters: subscription_data[trial_end], subscription_data[trial_period_days].',
            { param: 'subscription_data[trial_end]', validation: true }
          )
        }
        if (sd.trial_end < now + MIN_TRIAL_END_SECONDS) {
          throw invalidParameter(
            'subscription_data[trial_end]',
            '`subscription_data[trial_end]` has to be at least 48 hours in the future.',
            'parameter_invalid_integer'
          )
        }
        if (sd.trial_end > now + MAX_TRIAL_DAYS * DAY_SECONDS) {
          throw invalidParameter(
            'subscription_data[trial_end]',
            '`subscription_data[trial_end]` can be no more than 730 days in the future.',
            'parameter_invalid_integer'
          )
        }
      }
      if (
        sd.application_fee_percent !== undefined &&
        sd.application_fee_percent !== null &&
        !sd.transfer_data
      ) {
        throw invalidRequest(
          'You can only set an `application_fee_percent` on a subscription for a connected account (using the Stripe-Account header or `transfer_data[destination]`).',
          { param: 'subscription_data[application_fee_percent]', validation: true }
        )
      }
    }
  }
  return { mode, items, customer, amountSubtotal, expiresAt }
}

/** The contract's `PriceDataInput` from the parsed `line_items[i][price_data]`. */
function priceDataInput(item: LineItemParams, currency: string): PriceDataInput {
  const data = item.price_data
  if (!data) return { currency }
  const productData = data.product_data
  return {
    currency: data.currency,
    product: data.product ?? null,
    product_data: productData
      ? {
          name: productData.name,
          description: productData.description ?? null,
          metadata: cleanMetadata(productData.metadata, 'product_data[metadata]'),
          images: productData.images ?? undefined,
        }
      : null,
    unit_amount: data.unit_amount ?? null,
    unit_amount_decimal: data.unit_amount_decimal ?? null,
    recurring: data.recurring
      ? { interval: data.recurring.interval, interval_count: data.recurring.interval_count ?? null }
      : null,
    tax_behavior: data.tax_behavior ?? null,
  }
}

function createSession(
  ctx: ResourceContext,
  params: CreateParams,
  origin: EventOrigin,
  account: string | undefined
): Stripe.Checkout.Session {
  // Every check happens before anything is stored.
  if (account) {
    // The payment, charge and subscription of a completed session would have to live on
    // the connected account too; the sandbox only runs Checkout on the platform.
    throw invalidRequest(
      'The Stripe sandbox does not support Checkout Sessions on connected accounts (the `Stripe-Account` header): create the session on the platform (use `payment_intent_data[transfer_data]` / `subscription_data[transfer_data]` for destination charges).',
      { validation: true }
    )
  }
  const plan = validateCreate(ctx, params, account)
  const { mode, customer } = plan
  const id = newId('checkout_session')

  // price_data items become inactive Prices (and Products) now, as on Stripe.
  const lineItems: Stripe.LineItem[] = plan.items.map((item) => {
    const price =
      item.price ??
      createPriceFromData(
        ctx,
        priceDataInput(item.params, item.draft.currency),
        origin,
        `line_items[${item.index}][price_data]`,
        { account }
      )
    const amount = lineAmount(price, item.quantity)
    const adjustable = item.params.adjustable_quantity
    return {
      id: `li_${randomBase62(24)}`,
      object: 'item',
      adjustable_quantity: adjustable
        ? {
            enabled: adjustable.enabled,
            maximum: adjustable.enabled ? (adjustable.maximum ?? 99) : null,
            minimum: adjustable.enabled ? (adjustable.minimum ?? 0) : null,
          }
        : null,
      amount_discount: 0,
      amount_subtotal: amount,
      amount_tax: 0,
      amount_total: amount,
      currency: price.currency,
      description: item.productName,
      metadata: cleanMetadata(item.params.metadata, `line_items[${item.index}][metadata]`),
      price,
      quantity: item.quantity,
    }
  })

  const trial =
    (params.subscription_data?.trial_period_days ?? null) !== null ||
    (params.subscription_data?.trial_end ?? null) !== null
  // With a free trial the first invoice is $0 (what Checkout charges today).
  const dueToday = mode === 'subscription' && trial ? 0 : plan.amountSubtotal
  const invoiceCreation = params.invoice_creation
  const consent = params.consent_collection
  const saved = params.saved_payment_method_options
  const session: Stripe.Checkout.Session = {
    id,
    object: 'checkout.session',
    adaptive_pricing: { enabled: false },
    after_expiration: null,
    allow_promotion_codes: params.allow_promotion_codes ?? null,
    allowed_payment_method_types: params.allowed_payment_method_types ?? null,
    amount_subtotal: dueToday,
    amount_total: dueToday,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: params.billing_address_collection ?? null,
    cancel_url: params.cancel_url ?? null,
    client_reference_id: params.client_reference_id ?? null,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: consent
      ? {
          payment_method_reuse_agreement: consent.payment_method_reuse_agreement
            ? { position: consent.payment_method_reuse_agreement.position }
            : null,
          promotions: consent.promotions ?? null,
          terms_of_service: consent.terms_of_service ?? null,
        }
      : null,
    created: ctx.clock.now(),
    currency: lineItems[0].currency,
    currency_conversion: null,
    custom_fields: [],
    custom_text: {
      after_submit: null,
      shipping_address: null,
      submit: null,
      terms_of_service_acceptance: null,
    },
    customer: customer?.id ?? null,
    customer_account: null,
    customer_creation:
      mode === 'payment' && !customer ? (params.customer_creation ?? 'if_required') : null,
    customer_details: null,
    customer_email: params.customer_email ?? null,
    discounts: [],
    expires_at: plan.expiresAt,
    integration_identifier: null,
    invoice: null,
    invoice_creation:
      mode === 'payment'
        ? {
            enabled: invoiceCreation?.enabled ?? false,
            invoice_data: {
              account_tax_ids: invoiceCreation?.invoice_data?.account_tax_ids ?? null,
              custom_fields: invoiceCreation?.invoice_data?.custom_fields ?? null,
              description: invoiceCreation?.invoice_data?.description ?? null,
              footer: invoiceCreation?.invoice_data?.footer ?? null,
              issuer: invoiceCreation?.invoice_data?.issuer
                ? { type: invoiceCreation.invoice_data.issuer.type }
                : null,
              metadata: cleanMetadata(
                invoiceCreation?.invoice_data?.metadata,
                'invoice_creation[invoice_data][metadata]'
              ),
              rendering_options: invoiceCreation?.invoice_data?.rendering_options
                ? {
                    amount_tax_display:
                      invoiceCreation.invoice_data.rendering_options.amount_tax_display ?? null,
                    template: invoiceCreation.invoice_data.rendering_options.template ?? null,
                  }
                : null,
            },
          }
        : null,
    livemode: false,
    locale: params.locale ?? null,
    managed_payments: null,
    metadata: cleanMetadata(params.metadata, 'metadata'),
    mode,
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_collection: mode === 'subscription' ? 'always' : 'if_required',
    payment_method_configuration_details: null,
    payment_method_options: { card: { request_three_d_secure: 'automatic' } },
    payment_method_types: ['card'],
    payment_status: 'unpaid',
    permissions: null,
    phone_number_collection: { enabled: params.phone_number_collection?.enabled ?? false },
    recovered_from: null,
    saved_payment_method_options: saved
      ? {
          allow_redisplay_filters: saved.allow_redisplay_filters ?? null,
          payment_method_remove: saved.payment_method_remove ?? null,
          payment_method_save: saved.payment_method_save ?? null,
        }
      : customer
        ? {
            allow_redisplay_filters: ['always'],
            payment_method_remove: null,
            payment_method_save: null,
          }
        : null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: 'open',
    submit_type: params.submit_type ?? null,
    subscription: null,
    success_url: params.success_url ?? null,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted_page',
    url: `${ctx.publicUrl()}/c/pay/${id}`,
    wallet_options: null,
  }
  if (params.excluded_payment_method_types) {
    session.excluded_payment_method_types = params.excluded_payment_method_types
  }
  ctx.store.insert('checkout.session', id, session, { account })
  ctx.store.insert(
    'checkout.session_extras',
    id,
    {
      id,
      line_items: lineItems,
      subscription_data: params.subscription_data ?? null,
      payment_intent_data: params.payment_intent_data ?? null,
      pending_payment_intent: null,
      last_error: null,
    },
    { account }
  )
  return session
}

// ---------------------------------------------------------------------------
// Expire and complete (cross-module contract)
// ---------------------------------------------------------------------------

function replaceSession(
  ctx: ResourceContext,
  next: Stripe.Checkout.Session
): Stripe.Checkout.Session {
  ctx.store.replace('checkout.session', next.id, next)
  return next
}

/** `POST /v1/checkout/sessions/:id/expire`: an open session becomes `expired`. */
export function expireCheckoutSession(
  ctx: ResourceContext,
  id: string,
  origin: EventOrigin | null
): Stripe.Checkout.Session {
  const record = findSessionRecord(ctx, id, null)
  const session = record.value
  if (session.status !== 'open') {
    throw invalidRequest(
      `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${session.status}".`
    )
  }
  const next = replaceSession(ctx, { ...session, status: 'expired', url: null })
  ctx.events.emit('checkout.session.expired', next, { request: origin, account: record.account })
  return next
}

export interface CompleteCheckoutInput {
  card?: TestCardInput
  email?: string | null
  name?: string | null
  /** Billing country (ISO code) the page collects; default `US`. */
  country?: string | null
  /**
   * Payment mode only: `pending` completes the session as an asynchronous payment
   * method would (`payment_status: 'unpaid'`, PaymentIntent `processing`); settle it
   * with `settleAsyncCheckout`.
   */
  async?: 'pending' | null
}

const DEFAULT_EMAIL = 'customer@example.com'

function defaultCard(ctx: ResourceContext): TestCardInput {
  const year = new Date(ctx.clock.now() * 1000).getUTCFullYear()
  return { number: '4242424242424242', exp_month: 12, exp_year: year + 3, cvc: '123' }
}

function cardDeclineError(decline: { code: string; decline_code: string; message: string }) {
  return new ApiError(402, 'card_error', decline.message, {
    code: decline.code,
    extra: { decline_code: decline.decline_code },
  })
}

/**
 * What the hosted page does when the customer presses Pay/Subscribe. Returns the
 * session, or the decline (session stays open). Throws 400 when the session is
 * not open, 402 card_error for a card that cannot be used (bad number/expiry).
 */
export function completeCheckoutSession(
  ctx: ResourceContext,
  id: string,
  input: CompleteCheckoutInput = {}
): { session: Stripe.Checkout.Session; error: ApiError | null } {
  const record = findSessionRecord(ctx, id, null)
  const account = record.account
  let session = record.value
  if (session.status === 'open' && session.expires_at <= ctx.clock.now()) {
    session = expireCheckoutSession(ctx, id, null)
  }
  if (session.status !== 'open') {
    throw invalidRequest(
      session.status === 'complete'
        ? 'This Checkout Session has already been completed.'
        : 'This Checkout Session is no longer active (it has expired).'
    )
  }
  const extras = extrasOf(ctx, id)
  const existing = session.customer
    ? (ctx.store.get('customer', String(session.customer)) ?? null)
    : null
  if (session.customer && !existing) {
    throw invalidRequest(`The Customer of this Checkout Session no longer exists.`)
  }
  const email = input.email ?? existing?.email ?? session.customer_email ?? DEFAULT_EMAIL
  const card = input.card ?? defaultCard(ctx)
  const name = input.name ?? card.name ?? null
  const country = input.country ?? 'US'
  const address: Stripe.Address = {
    city: null,
    country,
    line1: null,
    line2: null,
    postal_code: card.postal_code ?? null,
    state: null,
  }

  const asyncPending = input.async === 'pending'
  // Everything that can refuse the completion is checked before anything is written
  // (no orphan Customer or PaymentMethod): the destination and amounts here, the card
  // (402 for a bad number or expiry) first thing in createCardPaymentMethod.
  validateCompletion(ctx, session, extras, asyncPending)
  const paymentMethod = createCardPaymentMethod(
    ctx,
    { ...card, name, email },
    { customer: null, origin: null }
  )
  const fail = (error: ApiError) => {
    saveExtras(ctx, {
      ...extrasOf(ctx, id),
      last_error: {
        message: error.message,
        code: error.code ?? null,
        decline_code:
          typeof error.extra.decline_code === 'string' ? error.extra.decline_code : null,
      },
    })
    return { session: findSessionRecord(ctx, id, null).value, error }
  }

  let customer = existing
  let paymentIntent: string | null = null
  let subscription: string | null = null
  let invoice: string | null = null
  let paymentStatus: Stripe.Checkout.Session.PaymentStatus = 'paid'

  if (session.mode === 'subscription') {
    const decline = declineFor(ctx, paymentMethod.id, false)
    if (decline) return fail(cardDeclineError(decline))
    customer = customer ?? insertCustomer(ctx, { email, name, address }, null, account)
    attachPaymentMethod(ctx, paymentMethod.id, customer.id, null)
    const data = extras.subscription_data
    const result = startSubscription(ctx, {
      customer: customer.id,
      items: extras.line_items.map((item) => ({
        price: item.price?.id ?? '',
        quantity: item.quantity ?? 1,
      })),
      metadata: cleanMetadata(data?.metadata, 'subscription_data[metadata]'),
      defaultPaymentMethod: paymentMethod.id,
      description: data?.description ?? null,
      applicationFeePercent: data?.application_fee_percent ?? null,
      transferData: data?.transfer_data
        ? {
            destination: data.transfer_data.destination,
            amount_percent: data.transfer_data.amount_percent ?? null,
          }
        : null,
      trialPeriodDays: data?.trial_period_days ?? null,
      trialEnd: data?.trial_end ?? null,
      onBehalfOf: data?.on_behalf_of ?? null,
      offSession: false,
      origin: null,
    })
    if (result.payment && !result.payment.succeeded) {
      return fail(
        result.payment.error ??
          cardDeclineError({
            code: 'card_declined',
            decline_code: 'generic_decline',
            message: 'Your card was declined.',
          })
      )
    }
    subscription = result.subscription.id
    invoice = result.invoice.id
    if (result.payment === null) paymentStatus = 'no_payment_required'
  } else {
    const data = extras.payment_intent_data
    const needsCustomer =
      !customer &&
      (session.customer_creation === 'always' ||
        (data?.setup_future_usage !== undefined && data.setup_future_usage !== null))
    // A decline creates no Customer: the PaymentIntent records the failure alone.
    // An asynchronous payment's outcome is only known when it settles.
    const willDecline = asyncPending ? null : declineFor(ctx, paymentMethod.id, false)
    if (needsCustomer && !willDecline) {
      customer = insertCustomer(ctx, { email, name, address }, null, account)
    }
    const save =
      (data?.setup_future_usage !== undefined && data.setup_future_usage !== null) ||
      session.saved_payment_method_options?.payment_method_save === 'enabled'
    if (customer && save && !willDecline) {
      attachPaymentMethod(ctx, paymentMethod.id, customer.id, null)
    }
    const payment: CollectPaymentInput = {
      amount: session.amount_total ?? 0,
      currency: session.currency ?? 'usd',
      customer: willDecline ? (existing?.id ?? null) : (customer?.id ?? null),
      paymentMethod: paymentMethod.id,
      offSession: false,
      description: data?.description ?? null,
      metadata: cleanMetadata(data?.metadata, 'payment_intent_data[metadata]'),
      applicationFeeAmount: data?.application_fee_amount ?? null,
      transferData: data?.transfer_data
        ? { destination: data.transfer_data.destination, amount: data.transfer_data.amount ?? null }
        : null,
      onBehalfOf: data?.on_behalf_of ?? null,
      transferGroup: data?.transfer_group ?? null,
      receiptEmail: data?.receipt_email ?? null,
      setupFutureUsage: data?.setup_future_usage ?? null,
      paymentIntent: extras.pending_payment_intent,
      origin: null,
    }
    if (asyncPending) {
      paymentIntent = beginProcessingPayment(ctx, payment).id
      paymentStatus = 'unpaid'
    }
    const result = asyncPending ? null : collectPayment(ctx, payment)
    if (result && !result.succeeded) {
      saveExtras(ctx, { ...extrasOf(ctx, id), pending_payment_intent: result.paymentIntent.id })
      return fail(
        result.error ??
          cardDeclineError({
            code: 'card_declined',
            decline_code: 'generic_decline',
            message: 'Your card was declined.',
          })
      )
    }
    if (result) paymentIntent = result.paymentIntent.id
  }

  const current = findSessionRecord(ctx, id, null).value
  const consentCollection = current.consent_collection
  const next: Stripe.Checkout.Session = {
    ...current,
    status: 'complete',
    payment_status: paymentStatus,
    customer: customer?.id ?? null,
    customer_details: {
      address,
      business_name: null,
      email,
      individual_name: null,
      name,
      phone: null,
      tax_exempt: customer?.tax_exempt ?? 'none',
      tax_ids: [],
    },
    collected_information: { business_name: null, individual_name: null, shipping_details: null },
    consent: consentCollection
      ? {
          promotions: null,
          terms_of_service: consentCollection.terms_of_service === 'required' ? 'accepted' : null,
        }
      : null,
    payment_intent: paymentIntent,
    subscription,
    invoice,
    url: null,
  }
  replaceSession(ctx, next)
  saveExtras(ctx, {
    ...extrasOf(ctx, id),
    pending_payment_intent: null,
    last_error: null,
    async_payment: asyncPending ? 'pending' : null,
  })
  ctx.events.emit('checkout.session.completed', next, { request: null, account })
  return { session: next, error: null }
}

/**
 * The checks a completion makes before it writes anything: the Connect params of the
 * session (the destination may have been deleted or lost its capability since the
 * session was created) and the amount. Throws Stripe's 400s.
 */
function validateCompletion(
  ctx: ResourceContext,
  session: Stripe.Checkout.Session,
  extras: CheckoutSessionExtras,
  asyncPending: boolean
) {
  if (session.mode === 'payment') {
    const data = extras.payment_intent_data
    const amount = session.amount_total ?? 0
    if (!extras.pending_payment_intent) validateAmount(amount, session.currency ?? 'usd')
    validateConnectParams(ctx, {
      amount,
      applicationFeeAmount: data?.application_fee_amount ?? null,
      transferData: data?.transfer_data
        ? { destination: data.transfer_data.destination, amount: data.transfer_data.amount ?? null }
        : null,
      onBehalfOf: data?.on_behalf_of ?? null,
    })
    return
  }
  if (asyncPending) {
    throw invalidRequest(
      'The Stripe sandbox only simulates asynchronous payments (`async: pending`) for `payment` mode Checkout Sessions.'
    )
  }
  const data = extras.subscription_data
  if (data?.transfer_data) {
    requireTransferDestination(
      ctx,
      data.transfer_data.destination,
      'subscription_data[transfer_data][destination]'
    )
  }
  if (data?.on_behalf_of && !ctx.store.get('account', data.on_behalf_of)) {
    throw resourceMissing('account', data.on_behalf_of, 'subscription_data[on_behalf_of]')
  }
}

/**
 * Settles the asynchronous payment of a session completed with `async: 'pending'`:
 * `succeeded` pays the PaymentIntent (charge, transfer, fee and their events), sets
 * `payment_status: 'paid'` and emits checkout.session.async_payment_succeeded;
 * `failed` fails it (payment_intent.payment_failed) and emits
 * checkout.session.async_payment_failed (the session stays `unpaid`). `request: null`.
 */
export function settleAsyncCheckout(
  ctx: ResourceContext,
  id: string,
  outcome: 'succeeded' | 'failed'
): Stripe.Checkout.Session {
  const record = findSessionRecord(ctx, id, null)
  const session = record.value
  const extras = extrasOf(ctx, id)
  if (session.status !== 'complete' || extras.async_payment !== 'pending') {
    throw invalidRequest(
      'This Checkout Session has no asynchronous payment waiting to settle (complete it with `async: pending` first).'
    )
  }
  const paymentIntent =
    typeof session.payment_intent === 'string'
      ? session.payment_intent
      : (session.payment_intent?.id ?? null)
  if (!paymentIntent) throw new Error(`Checkout Session ${id} has no PaymentIntent to settle`)
  settleProcessingPayment(ctx, paymentIntent, outcome, null)
  const next =
    outcome === 'succeeded'
      ? replaceSession(ctx, { ...session, payment_status: 'paid' })
      : findSessionRecord(ctx, id, null).value
  saveExtras(ctx, { ...extrasOf(ctx, id), async_payment: outcome })
  const on = { request: null, account: record.account }
  if (outcome === 'succeeded') {
    ctx.events.emit('checkout.session.async_payment_succeeded', next, on)
  } else {
    ctx.events.emit('checkout.session.async_payment_failed', next, on)
  }
  return next
}

// ---------------------------------------------------------------------------
// Hosted page
// ---------------------------------------------------------------------------

/** Elements' wording of the expiry problems `checkCard` finds. */
const EXPIRY_MESSAGES: Record<CardProblem['reason'], string> = {
  number: "Your card's expiration date is invalid.",
  month_invalid: "Your card's expiration date is invalid.",
  year_invalid: "Your card's expiration year is invalid.",
  year_past: "Your card's expiration year is in the past.",
  month_past: "Your card's expiration date is in the past.",
  cvc: "Your card's expiration date is invalid.",
}

interface ParsedCard {
  card: TestCardInput
  errors: CheckoutErrors
}

/** The checks the Checkout form makes before it submits (Stripe Elements' messages). */
export function validateCheckoutForm(values: CheckoutValues, now: number): ParsedCard {
  const errors: CheckoutErrors = {}
  const email = values.email.trim()
  if (email === '') errors.email = 'Your email is incomplete.'
  else if (!EMAIL_PATTERN.test(email)) errors.email = 'Your email address is invalid.'

  // Elements words "incomplete" fields itself; the rest is payments.ts's card check.
  const digits = values.cardNumber.replace(/[\s-]/g, '')
  const expiry = parseExpiry(values.cardExpiry)
  const cvc = values.cardCvc.trim()
  if (digits === '' || (/^\d+$/.test(digits) && digits.length < 13)) {
    errors.cardNumber = 'Your card number is incomplete.'
  }
  if (!expiry) errors.cardExpiry = "Your card's expiration date is incomplete."
  if (!/^\d{3,4}$/.test(cvc)) errors.cardCvc = "Your card's security code is incomplete."
  const expMonth = expiry?.exp_month ?? 0
  const expYear = expiry?.exp_year ?? 0
  // The card's checks, field by field, in the page's words.
  const probe = (card: TestCardInput) => checkCard(card, now)
  const nextYear = new Date(now * 1000).getUTCFullYear() + 1
  const good = { number: '4242424242424242', exp_month: 12, exp_year: nextYear, cvc: null }
  if (!errors.cardNumber && probe({ ...good, number: digits })) {
    errors.cardNumber = 'Your card number is invalid.'
  }
  if (expiry) {
    const problem = probe({ ...good, exp_month: expMonth, exp_year: expYear })
    if (problem) errors.cardExpiry = EXPIRY_MESSAGES[problem.reason]
  }

  if (values.billingName.trim() === '') errors.billingName = 'Your name on card is incomplete.'

  return {
    card: {
      number: digits,
      exp_month: expMonth,
      exp_year: expYear,
      cvc,
      name: values.billingName.trim() || null,
      email: email || null,
      postal_code: values.billingPostalCode.trim() || null,
    },
    errors,
  }
}

function registerPages(ctx: ResourceContext) {
  const blankValues = (session: Stripe.Checkout.Session): CheckoutValues => {
    const customer = session.customer
      ? ctx.store.get('customer', String(session.customer))
      : undefined
    return {
      email: customer?.email ?? session.customer_email ?? '',
      cardNumber: '',
      cardExpiry: '',
      cardCvc: '',
      billingName: customer?.name ?? '',
      billingCountry: customer?.address?.country ?? 'US',
      billingPostalCode: '',
    }
  }

  const render = (
    session: Stripe.Checkout.Session,
    values: CheckoutValues,
    errors: CheckoutErrors,
    formError: string | null,
    status: number
  ): PageResult => {
    const extras = extrasOf(ctx, session.id)
    const customer = session.customer
      ? ctx.store.get('customer', String(session.customer))
      : undefined
    return {
      status,
      html: checkoutPage({
        session,
        lineItems: extras.line_items,
        merchant: merchantName(ctx, session),
        values,
        errors,
        formError,
        emailLocked: Boolean(customer?.email),
        trialDays: trialDaysOf(extras.subscription_data, ctx.clock.now()),
      }),
    }
  }

  /** The session if the page can still take a payment, else the page to show. */
  const load = (id: string): { session: Stripe.Checkout.Session } | { page: PageResult } => {
    const record = ctx.store.getRecord('checkout.session', id)
    if (!record || record.deleted) return { page: { status: 404, html: notFoundPage(id) } }
    let session = record.value
    if (session.status === 'open' && session.expires_at <= ctx.clock.now()) {
      session = expireCheckoutSession(ctx, id, null)
    }
    const merchant = merchantName(ctx, session)
    if (session.status === 'complete') {
      return { page: { html: completedPage(session, merchant, successUrlFor(session)) } }
    }
    if (session.status !== 'open') {
      return { page: { html: expiredPage(session, merchant, ctx.clock.now()) } }
    }
    return { session }
  }

  ctx.page({
    method: 'GET',
    path: '/c/pay/:id',
    handler({ path }) {
      const loaded = load(path.id)
      if ('page' in loaded) return loaded.page
      return render(loaded.session, blankValues(loaded.session), {}, null, 200)
    },
  })

  ctx.page({
    method: 'POST',
    path: '/c/pay/:id',
    handler({ path, form }) {
      const loaded = load(path.id)
      if ('page' in loaded) {
        return 'html' in loaded.page ? { ...loaded.page, status: 400 } : loaded.page
      }
      const { session } = loaded
      const defaults = blankValues(session)
      const values: CheckoutValues = {
        email: form.get('email') ?? '',
        cardNumber: form.get('cardNumber') ?? '',
        cardExpiry: form.get('cardExpiry') ?? '',
        cardCvc: form.get('cardCvc') ?? '',
        billingName: form.get('billingName') ?? '',
        billingCountry: form.get('billingCountry') ?? defaults.billingCountry,
        billingPostalCode: form.get('billingPostalCode') ?? '',
      }
      const customer = session.customer
        ? ctx.store.get('customer', String(session.customer))
        : undefined
      // An existing Customer's email is fixed, whatever the form says.
      if (customer?.email) values.email = customer.email
      if (!COUNTRIES.some(([code]) => code === values.billingCountry)) values.billingCountry = 'US'
      const parsed = validateCheckoutForm(values, ctx.clock.now())
      if (Object.keys(parsed.errors).length > 0) {
        return render(session, values, parsed.errors, null, 400)
      }
      let outcome: { session: Stripe.Checkout.Session; error: ApiError | null }
      try {
        outcome = completeCheckoutSession(ctx, session.id, {
          card: parsed.card,
          email: values.email.trim(),
          name: values.billingName.trim(),
          country: values.billingCountry,
        })
      } catch (error) {
        if (!(error instanceof ApiError)) throw error
        // payments.ts names card params `card[exp_year]`, `card[cvc]`…
        const param = error.param ?? ''
        const field = /exp_(year|month)\]?$/.test(param)
          ? 'cardExpiry'
          : /cvc\]?$/.test(param)
            ? 'cardCvc'
            : 'cardNumber'
        if (error.type === 'card_error') {
          return render(session, values, { [field]: error.message }, null, 400)
        }
        return render(session, values, {}, error.message, error.status)
      }
      if (outcome.error) {
        return render(
          outcome.session,
          { ...values, cardCvc: '' },
          {},
          outcome.error.message,
          outcome.error.status
        )
      }
      const target = successUrlFor(outcome.session)
      return target
        ? { redirect: target }
        : { html: completedPage(outcome.session, merchantName(ctx, outcome.session), null) }
    },
  })
}

// ---------------------------------------------------------------------------
// Sim controls
// ---------------------------------------------------------------------------

function cardFromBody(ctx: ResourceContext, body: Body): TestCardInput | undefined {
  const raw = body.card
  const fallback = defaultCard(ctx)
  if (raw === undefined || raw === null || raw === '') {
    const number = str(body, 'card_number')
    return number ? { ...fallback, number: number.replace(/\s/g, '') } : undefined
  }
  if (typeof raw === 'string' || typeof raw === 'number') {
    return { ...fallback, number: String(raw).replace(/\s/g, '') }
  }
  if (typeof raw === 'object' && !Array.isArray(raw)) {
    const fields = raw as Record<string, unknown>
    const text = (key: string) =>
      typeof fields[key] === 'string' || typeof fields[key] === 'number'
        ? String(fields[key])
        : undefined
    const number = text('number')
    if (!number) throw new SimError(400, 'card.number is required')
    return {
      number: number.replace(/\s/g, ''),
      exp_month: Number(text('exp_month') ?? fallback.exp_month),
      exp_year: Number(text('exp_year') ?? fallback.exp_year),
      cvc: text('cvc') ?? fallback.cvc,
      name: text('name') ?? null,
      postal_code: text('postal_code') ?? null,
    }
  }
  throw new SimError(400, 'card must be a card number or {number, exp_month, exp_year, cvc}')
}

// ---------------------------------------------------------------------------
// Module
// ---------------------------------------------------------------------------

function lineItemList(
  ctx: ResourceContext,
  id: string,
  params: { limit?: number | null; starting_after?: string | null; ending_before?: string | null }
): Stripe.ApiList<Stripe.LineItem> {
  // A copy: `expand` (e.g. `line_items.data.price.product`) rewrites the answer in place.
  const items = structuredClone(extrasOf(ctx, id).line_items)
  const seqs = new Map(items.map((item, index) => [item.id, items.length - index]))
  const records = items.map((item, index) => ({ seq: items.length - index, value: item }))
  return paginate(records, params, {
    url: `/v1/checkout/sessions/${id}/line_items`,
    label: 'line_item',
    seqOf: (itemId) => seqs.get(itemId),
  })
}

export const checkoutSessions: ResourceModule = {
  name: 'checkout_sessions',
  register(ctx) {
    ctx.route({
      method: 'POST',
      path: '/v1/checkout/sessions',
      params: createShape,
      returns: 'checkout.session',
      handler({ params, origin, request }) {
        return createSession(ctx, params, origin, request.stripeAccount)
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/checkout/sessions/:id',
      params: {},
      returns: 'checkout.session',
      handler({ path, request }) {
        return findSessionRecord(ctx, path.id, request.stripeAccount).value
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/checkout/sessions/:id',
      params: updateShape,
      returns: 'checkout.session',
      handler({ params, path, request }) {
        const current = findSessionRecord(ctx, path.id, request.stripeAccount).value
        const next: Stripe.Checkout.Session = {
          ...current,
          metadata: applyMetadata(current.metadata ?? {}, params.metadata),
        }
        if (Object.keys(previousAttributes(current, next)).length === 0) return current
        return replaceSession(ctx, next)
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/checkout/sessions',
      params: listShape,
      returns: 'list:checkout.session',
      handler({ params, request }) {
        if (
          params.customer &&
          !ctx.store.getFor('customer', params.customer, request.stripeAccount)
        )
          throw resourceMissing('customer', params.customer, 'customer')
        const records = ctx.store
          .records('checkout.session')
          .filter(
            ({ value, deleted, account }) =>
              !deleted &&
              account === request.stripeAccount &&
              (!params.customer || value.customer === params.customer) &&
              (!params.payment_intent || value.payment_intent === params.payment_intent) &&
              (!params.subscription || value.subscription === params.subscription) &&
              (!params.payment_link || value.payment_link === params.payment_link) &&
              (!params.status || value.status === params.status) &&
              (!params.customer_details ||
                value.customer_details?.email === params.customer_details.email) &&
              matchesRange(value.created, params.created)
          )
        return paginate(records, params, {
          url: '/v1/checkout/sessions',
          label: 'checkout.session',
          seqOf: (id) => ctx.store.seqOf('checkout.session', id),
        })
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/checkout/sessions/:id/expire',
      params: {},
      returns: 'checkout.session',
      handler({ path, origin, request }) {
        findSessionRecord(ctx, path.id, request.stripeAccount)
        return expireCheckoutSession(ctx, path.id, origin)
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/checkout/sessions/:id/line_items',
      params: { ...paginationShape },
      returns: 'list:item',
      handler({ params, path, request }) {
        findSessionRecord(ctx, path.id, request.stripeAccount)
        return lineItemList(ctx, path.id, params)
      },
    })

    // Expandable references and the includable `line_items`.
    ctx.references('checkout.session', {
      customer: 'customer',
      payment_intent: 'payment_intent',
      subscription: 'subscription',
      invoice: 'invoice',
      setup_intent: 'setup_intent',
      payment_link: 'payment_link',
    })
    ctx.expandable('checkout.session', 'line_items', {
      kind: 'include',
      target: 'list:item',
      build: (parent) => lineItemList(ctx, String(parent.id), {}),
    })
    // `item.price` is always embedded; its own references (`price.product`) expand.
    ctx.expandable('item', 'price', { kind: 'nested', target: 'price' })

    // Expiry over time: the clock passing `expires_at` expires open sessions.
    ctx.clock.onAdvance((now) => {
      const due = ctx.store
        .records('checkout.session')
        .filter(
          ({ value, deleted }) => !deleted && value.status === 'open' && value.expires_at <= now
        )
        .sort((a, b) => a.seq - b.seq)
      for (const { id } of due) expireCheckoutSession(ctx, id, null)
    })

    registerPages(ctx)

    ctx.sim({
      method: 'POST',
      path: '/_sim/checkout/sessions/:id/complete',
      describe:
        "POST /_sim/checkout/sessions/:id/complete {card?: number | {number, exp_month, exp_year, cvc}, email?, name?, country?, async?: 'pending'}",
      run(body, params) {
        const mode = str(body, 'async')
        if (mode !== undefined && mode !== 'pending') {
          throw new SimError(400, "async must be 'pending' (or absent)")
        }
        const outcome = completeCheckoutSession(ctx, params.id, {
          card: cardFromBody(ctx, body),
          email: str(body, 'email') ?? null,
          name: str(body, 'name') ?? null,
          country: str(body, 'country') ?? null,
          async: mode === 'pending' ? 'pending' : null,
        })
        return {
          session: outcome.session,
          error: outcome.error ? outcome.error.toBody().error : null,
        }
      },
    })

    ctx.sim({
      method: 'POST',
      path: '/_sim/checkout/sessions/:id/settle',
      describe: 'POST /_sim/checkout/sessions/:id/settle {outcome: succeeded | failed}',
      run(body, params) {
        const outcome = str(body, 'outcome')
        if (outcome !== 'succeeded' && outcome !== 'failed') {
          throw new SimError(400, "outcome must be 'succeeded' or 'failed'")
        }
        return settleAsyncCheckout(ctx, params.id, outcome)
      },
    })

    ctx.sim({
      method: 'POST',
      path: '/_sim/checkout/sessions/:id/expire',
      describe: 'POST /_sim/checkout/sessions/:id/expire',
      run(_body, params) {
        return expireCheckoutSession(ctx, params.id, null)
      },
    })
  },
}
