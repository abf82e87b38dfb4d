/**
 * The money core shared by the API resources, Checkout and Billing: test cards,
 * PaymentMethods, and `collectPayment` (PaymentIntent → Charge → ledger, plus the
 * transfer and application fee of a destination charge).
 *
 * Test cards (any future expiry, any CVC):
 * | Number | Behaviour |
 * |---|---|
 * | 4242424242424242 (visa), 5555555555554444 (mastercard), 378282246310005 (amex), 4000056655665556 (visa debit) | succeed |
 * | 4000000000000077 | succeeds, funds available at once (bypasses pending) |
 * | 4000000000000002 | declined, `generic_decline` |
 * | 4000000000009995 | declined, `insufficient_funds` |
 * | 4000000000000341 | succeeds on-session, declined off-session (renewals, retries) |
 * | 4000000000000069 / 0127 / 0119 | declined: `expired_card` / `incorrect_cvc` / `processing_error` |
 * | 4000000000009987 / 9979 | declined, `lost_card` / `stolen_card` |
 * | 4000000000000259 | succeeds, then the cardholder disputes it (`fraudulent`) |
 */
import { createHash } from 'node:crypto'
import type Stripe from 'stripe'
import type { ResourceContext } from './context.js'
import { ApiError, invalidRequest, resourceMissing } from './errors.js'
import type { EventOrigin } from './events.js'
import { formatAmount } from './hosted/html.js'
import { newId, randomBase62 } from './ids.js'
import { clone } from './json.js'
import {
  DAY,
  PENDING_DAYS,
  addBalanceTransaction,
  feeDetail,
  stripeFee,
} from './resources/balance.js'
import { createApplicationFee } from './resources/application_fees.js'
import { createDispute } from './resources/disputes.js'
import {
  PLATFORM_APPLICATION,
  createTransfer,
  requireTransferDestination,
} from './resources/transfers.js'

declare module './store.js' {
  interface CollectionTypes {
    payment_method: Stripe.PaymentMethod
    payment_intent: Stripe.PaymentIntent
    charge: Stripe.Charge
  }
}

export type CardBehavior = 'succeed' | 'decline' | 'insufficient_funds' | 'fail_off_session'

export interface TestCardInput {
  number: string
  exp_month: number
  exp_year: number
  cvc?: string | null
  name?: string | null
  email?: string | null
  postal_code?: string | null
}

interface CardProfile {
  behavior: CardBehavior
  funding: 'credit' | 'debit'
  /** Funds available immediately instead of after PENDING_DAYS (4000000000000077). */
  bypassPending: boolean
  /** The decline of a `decline` card, when not the generic one. */
  decline?: Decline
  /** A successful payment is disputed at once (4000000000000259). */
  disputes?: boolean
}

const TEST_CARDS: Record<string, Partial<CardProfile>> = {
  '4242424242424242': {},
  '4000056655665556': { funding: 'debit' },
  '5555555555554444': {},
  '2223003122003222': {},
  '5200828282828210': { funding: 'debit' },
  '378282246310005': {},
  '6011111111111117': {},
  '4000000000000077': { bypassPending: true },
  '4000000000000002': { behavior: 'decline' },
  '4000000000009995': { behavior: 'insufficient_funds' },
  '4000000000000341': { behavior: 'fail_off_session' },
  '4000000000000069': {
    behavior: 'decline',
    decline: {
      code: 'expired_card',
      decline_code: 'expired_card',
      message: 'Your card has expired.',
    },
  },
  '4000000000000127': {
    behavior: 'decline',
    decline: {
      code: 'incorrect_cvc',
      decline_code: 'incorrect_cvc',
      message: "Your card's security code is incorrect.",
    },
  },
  '4000000000000119': {
    behavior: 'decline',
    decline: {
      code: 'processing_error',
      decline_code: 'processing_error',
      message: 'An error occurred while processing your card. Try again in a little bit.',
    },
  },
  '4000000000009987': {
    behavior: 'decline',
    decline: {
      code: 'card_declined',
      decline_code: 'lost_card',
      message: 'Your card was declined.',
    },
  },
  '4000000000009979': {
    behavior: 'decline',
    decline: {
      code: 'card_declined',
      decline_code: 'stolen_card',
      message: 'Your card was declined.',
    },
  },
  '4000000000000259': { disputes: true },
}

/** Magic PaymentMethod ids accepted wherever a PaymentMethod id is: each use makes a fresh `pm_`. */
export const MAGIC_PAYMENT_METHODS: Record<string, string> = {
  pm_card_visa: '4242424242424242',
  pm_card_visa_debit: '4000056655665556',
  pm_card_mastercard: '5555555555554444',
  pm_card_amex: '378282246310005',
  pm_card_discover: '6011111111111117',
  pm_card_bypassPending: '4000000000000077',
  pm_card_chargeDeclined: '4000000000000002',
  pm_card_chargeDeclinedInsufficientFunds: '4000000000009995',
  pm_card_chargeCustomerFail: '4000000000000341',
  pm_card_chargeDeclinedExpiredCard: '4000000000000069',
  pm_card_chargeDeclinedIncorrectCvc: '4000000000000127',
  pm_card_chargeDeclinedProcessingError: '4000000000000119',
  pm_card_chargeDeclinedLostCard: '4000000000009987',
  pm_card_chargeDeclinedStolenCard: '4000000000009979',
  pm_card_createDispute: '4000000000000259',
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/** Stable per card number, like Stripe's `card.fingerprint`. */
export function cardFingerprint(number: string): string {
  const digest = createHash('sha256').update(`sandbox-card:${number}`).digest()
  let out = ''
  for (const byte of digest.subarray(0, 16)) out += BASE62[byte % 62]
  return out
}

const PROFILE_BY_FINGERPRINT = new Map<string, CardProfile>(
  Object.entries(TEST_CARDS).map(([number, profile]) => [
    cardFingerprint(number),
    { behavior: 'succeed', funding: 'credit', bypassPending: false, ...profile },
  ])
)

function profileOf(pm: Stripe.PaymentMethod | undefined, fingerprintOf?: string): CardProfile {
  const fingerprint = fingerprintOf ?? pm?.card?.fingerprint
  return (
    (fingerprint ? PROFILE_BY_FINGERPRINT.get(fingerprint) : undefined) ?? {
      behavior: 'succeed',
      funding: 'credit',
      bypassPending: false,
    }
  )
}

function brandOf(number: string): { brand: string; display: string } {
  if (/^3[47]/.test(number)) return { brand: 'amex', display: 'american_express' }
  if (/^(5[1-5]|2[2-7])/.test(number)) return { brand: 'mastercard', display: 'mastercard' }
  if (/^(6011|65|64[4-9])/.test(number)) return { brand: 'discover', display: 'discover' }
  if (/^4/.test(number)) return { brand: 'visa', display: 'visa' }
  if (/^35/.test(number)) return { brand: 'jcb', display: 'jcb' }
  return { brand: 'unknown', display: 'unknown' }
}

/** Luhn check of a card number (digits only). */
export function luhnValid(number: string): boolean {
  let sum = 0
  for (let i = 0; i < number.length; i++) {
    let digit = Number(number[number.length - 1 - i])
    if (i % 2 === 1) {
      digit *= 2
      if (digit > 9) digit -= 9
    }
    sum += digit
  }
  return sum % 10 === 0
}

/** "MM / YY" (or "MM/YYYY") as typed in a card form; null when it does not parse. */
export function parseExpiry(text: string): { exp_month: number; exp_year: number } | null {
  const match = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(text)
  if (!match) return null
  const year = Number(match[2])
  return { exp_month: Number(match[1]), exp_year: match[2].length === 2 ? 2000 + year : year }
}

/** Why a card cannot be used (Stripe's card_error code and message), see `checkCard`. */
export interface CardProblem {
  field: 'number' | 'exp_month' | 'exp_year' | 'cvc'
  code: 'incorrect_number' | 'invalid_expiry_month' | 'invalid_expiry_year' | 'invalid_cvc'
  message: string
  /** Finer reason, for forms that word it differently (Elements). */
  reason: 'number' | 'month_invalid' | 'year_invalid' | 'year_past' | 'month_past' | 'cvc'
}

/** The checks Stripe makes on raw card details at `now` (unix seconds); null when usable. */
export function checkCard(card: TestCardInput, now: number): CardProblem | null {
  const number = String(card.number).replace(/[\s-]/g, '')
  if (!/^\d{12,19}$/.test(number) || !luhnValid(number)) {
    return {
      field: 'number',
      code: 'incorrect_number',
      message: 'Your card number is incorrect.',
      reason: 'number',
    }
  }
  const monthInvalid = "Your card's expiration month is invalid."
  const month = Number(card.exp_month)
  if (!Number.isInteger(month) || month < 1 || month > 12) {
    return {
      field: 'exp_month',
      code: 'invalid_expiry_month',
      message: monthInvalid,
      reason: 'month_invalid',
    }
  }
  const year = expiryYear(card.exp_year)
  const today = new Date(now * 1000)
  const thisYear = today.getUTCFullYear()
  if (!Number.isInteger(year) || year < thisYear || year > thisYear + 50) {
    return {
      field: 'exp_year',
      code: 'invalid_expiry_year',
      message: "Your card's expiration year is invalid.",
      reason: Number.isInteger(year) && year < thisYear ? 'year_past' : 'year_invalid',
    }
  }
  if (year === thisYear && month < today.getUTCMonth() + 1) {
    return {
      field: 'exp_month',
      code: 'invalid_expiry_month',
      message: monthInvalid,
      reason: 'month_past',
    }
  }
  if (card.cvc !== undefined && card.cvc !== null && !/^\d{3,4}$/.test(card.cvc)) {
    return {
      field: 'cvc',
      code: 'invalid_cvc',
      message: "Your card's security code is invalid.",
      reason: 'cvc',
    }
  }
  return null
}

function expiryYear(value: number): number {
  const year = Number(value)
  return Number.isInteger(year) && year >= 0 && year < 100 ? year + 2000 : year
}

function cardError(code: string, message: string, param: string): ApiError {
  return new ApiError(402, 'card_error', message, { code, param, validation: true })
}

/** Throws the 402 card_error Stripe answers for a bad number, expiry or CVC. */
export function validateCard(
  ctx: ResourceContext,
  card: TestCardInput,
  prefix = 'card'
): { number: string; expYear: number } {
  const problem = checkCard(card, ctx.clock.now())
  if (problem) throw cardError(problem.code, problem.message, `${prefix}[${problem.field}]`)
  return { number: String(card.number).replace(/[\s-]/g, ''), expYear: expiryYear(card.exp_year) }
}

function nullAddress(): Stripe.Address {
  return { city: null, country: null, line1: null, line2: null, postal_code: null, state: null }
}

export interface NewPaymentMethod {
  card: TestCardInput
  billingDetails?: Partial<Stripe.PaymentMethod.BillingDetails> | null
  metadata?: Record<string, string>
  allowRedisplay?: Stripe.PaymentMethod.AllowRedisplay | null
  /** Connect: the connected account whose store holds it (`Stripe-Account`). */
  account?: string
}

/** Builds and stores a card PaymentMethod (validated); no event (Stripe sends none on create). */
export function insertCardPaymentMethod(
  ctx: ResourceContext,
  input: NewPaymentMethod
): Stripe.PaymentMethod {
  const { card } = input
  const { number, expYear } = validateCard(ctx, card)
  const { brand, display } = brandOf(number)
  const fingerprint = cardFingerprint(number)
  const profile = PROFILE_BY_FINGERPRINT.get(fingerprint)
  const given = input.billingDetails ?? {}
  const address: Stripe.Address = { ...nullAddress(), ...(given.address ?? {}) }
  if (card.postal_code) address.postal_code = card.postal_code
  const id = newId('payment_method')
  const pm: Stripe.PaymentMethod = {
    id,
    object: 'payment_method',
    allow_redisplay: input.allowRedisplay ?? 'unspecified',
    billing_details: {
      address,
      email: card.email ?? given.email ?? null,
      name: card.name ?? given.name ?? null,
      phone: given.phone ?? null,
      tax_id: null,
    },
    card: {
      brand,
      checks: {
        address_line1_check: address.line1 ? 'pass' : null,
        address_postal_code_check: address.postal_code ? 'pass' : null,
        cvc_check: card.cvc ? 'pass' : null,
      },
      country: 'US',
      display_brand: display,
      exp_month: Number(card.exp_month),
      exp_year: expYear,
      fingerprint,
      funding: profile?.funding ?? 'credit',
      generated_from: null,
      last4: number.slice(-4),
      networks: { available: [brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: ctx.clock.now(),
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: input.metadata ?? {},
    type: 'card',
  }
  ctx.store.insert('payment_method', id, pm, { account: input.account })
  return pm
}

/** A PaymentMethod, or 400 resource_missing on `param` (404 when `param` is 'id'). */
export function findPaymentMethod(
  ctx: ResourceContext,
  id: string,
  param = 'id',
  account?: string
): Stripe.PaymentMethod {
  const pm = ctx.store.getFor('payment_method', id, account)
  if (!pm) throw resourceMissing('PaymentMethod', id, param)
  return pm
}

/** Checks a PaymentMethod reference without writing anything (magic ids pass). */
export function requirePaymentMethod(
  ctx: ResourceContext,
  id: string,
  param: string,
  account?: string
) {
  if (Object.hasOwn(MAGIC_PAYMENT_METHODS, id)) return
  findPaymentMethod(ctx, id, param, account)
}

/** Resolves a PaymentMethod reference: magic ids (`pm_card_visa`…) create a fresh `pm_`. */
export function resolvePaymentMethod(
  ctx: ResourceContext,
  id: string,
  param: string,
  account?: string
): Stripe.PaymentMethod {
  const magic = Object.hasOwn(MAGIC_PAYMENT_METHODS, id) ? MAGIC_PAYMENT_METHODS[id] : undefined
  if (magic) {
    const year = new Date(ctx.clock.now() * 1000).getUTCFullYear() + 3
    return insertCardPaymentMethod(ctx, {
      card: { number: magic, exp_month: 12, exp_year: year, cvc: '123' },
      account,
    })
  }
  return findPaymentMethod(ctx, id, param, account)
}

export function findCustomerRef(ctx: ResourceContext, id: string, param: string): Stripe.Customer {
  const customer = ctx.store.get('customer', id)
  if (!customer) throw resourceMissing('customer', id, param)
  return customer
}

/** Creates a card PaymentMethod from raw test-card input (Checkout's form, tests). */
export function createCardPaymentMethod(
  ctx: ResourceContext,
  card: TestCardInput,
  options: { customer?: string | null; origin?: EventOrigin | null } = {}
): Stripe.PaymentMethod {
  if (options.customer) findCustomerRef(ctx, options.customer, 'customer')
  const pm = insertCardPaymentMethod(ctx, { card })
  if (!options.customer) return pm
  return attachPaymentMethod(ctx, pm.id, options.customer, options.origin ?? null)
}

/** Attaches a PaymentMethod to a customer (emits payment_method.attached). */
export function attachPaymentMethod(
  ctx: ResourceContext,
  paymentMethodId: string,
  customerId: string,
  origin: EventOrigin | null,
  account?: string
): Stripe.PaymentMethod {
  findCustomerRef(ctx, customerId, 'customer')
  if (!Object.hasOwn(MAGIC_PAYMENT_METHODS, paymentMethodId)) {
    const existing = findPaymentMethod(ctx, paymentMethodId, 'payment_method', account)
    if (existing.customer === customerId) return existing
    if (existing.customer) {
      throw invalidRequest(
        'The payment method you provided has already been attached to a customer.',
        { code: 'payment_method_unexpected_state' }
      )
    }
  }
  const pm = resolvePaymentMethod(ctx, paymentMethodId, 'payment_method', account)
  const next: Stripe.PaymentMethod = { ...pm, customer: customerId }
  ctx.store.replace('payment_method', pm.id, next)
  ctx.events.emit('payment_method.attached', next, { request: origin, account })
  return next
}

function profileFor(ctx: ResourceContext, paymentMethodId: string): CardProfile {
  const magic = Object.hasOwn(MAGIC_PAYMENT_METHODS, paymentMethodId)
    ? MAGIC_PAYMENT_METHODS[paymentMethodId]
    : undefined
  if (magic) return profileOf(undefined, cardFingerprint(magic))
  return profileOf(ctx.store.get('payment_method', paymentMethodId))
}

export function cardBehavior(ctx: ResourceContext, paymentMethodId: string): CardBehavior {
  return profileFor(ctx, paymentMethodId).behavior
}

export interface Decline {
  code: string
  decline_code: string
  message: string
}

/** The decline a payment with this method would get, or null if it would succeed. */
export function declineFor(
  ctx: ResourceContext,
  paymentMethodId: string,
  offSession: boolean
): Decline | null {
  const profile = profileFor(ctx, paymentMethodId)
  switch (profile.behavior) {
    case 'decline':
      return (
        profile.decline ?? {
          code: 'card_declined',
          decline_code: 'generic_decline',
          message: 'Your card was declined.',
        }
      )
    case 'insufficient_funds':
      return {
        code: 'card_declined',
        decline_code: 'insufficient_funds',
        message: 'Your card has insufficient funds.',
      }
    case 'fail_off_session':
      return offSession
        ? {
            code: 'card_declined',
            decline_code: 'generic_decline',
            message: 'Your card was declined.',
          }
        : null
    default:
      return null
  }
}

export interface CollectPaymentInput {
  amount: number
  currency: string
  customer: string | null
  paymentMethod: string
  /** true for renewals / invoice retries: a ...0341 card fails */
  offSession: boolean
  description?: string | null
  metadata?: Record<string, string>
  applicationFeeAmount?: number | null
  transferData?: { destination: string; amount?: number | null } | null
  onBehalfOf?: string | null
  transferGroup?: string | null
  receiptEmail?: string | null
  setupFutureUsage?: 'off_session' | 'on_session' | null
  /** Retry on an existing PaymentIntent instead of creating one. */
  paymentIntent?: string | null
  origin: EventOrigin | null
}

export interface CollectPaymentResult {
  /** 'succeeded', or 'requires_payment_method' with last_payment_error */
  paymentIntent: Stripe.PaymentIntent
  /** 'succeeded' | 'failed' */
  charge: Stripe.Charge
  succeeded: boolean
  /** the 402 card_error to throw from synchronous API endpoints */
  error: ApiError | null
}

/** Stripe's minimum charge amounts (smallest unit) for the common currencies. */
export const MINIMUM_CHARGE_AMOUNTS: Readonly<Record<string, number>> = {
  usd: 50,
  eur: 50,
  gbp: 30,
  cad: 50,
  aud: 50,
  chf: 50,
  nzd: 50,
  sgd: 50,
  dkk: 250,
  nok: 300,
  sek: 300,
  jpy: 50,
  mxn: 1000,
  brl: 50,
  inr: 50,
}

/** The smallest amount Stripe charges in `currency` (50 units when not in the table). */
export function minimumChargeAmount(currency: string): number {
  return MINIMUM_CHARGE_AMOUNTS[currency.toLowerCase()] ?? 50
}

export function validateAmount(amount: number, currency: string, param = 'amount') {
  const minimum = minimumChargeAmount(currency)
  if (amount < minimum) {
    throw invalidRequest(`Amount must be at least ${formatAmount(minimum, currency)} ${currency}`, {
      code: 'amount_too_small',
      param,
      validation: true,
    })
  }
  if (amount > 99_999_999) {
    throw invalidRequest('Amount must be no more than $999,999.99', {
      code: 'amount_too_large',
      param,
      validation: true,
    })
  }
}

/** Connect params of a PaymentIntent (destination charges), checked before any write. */
export function validateConnectParams(
  ctx: ResourceContext,
  input: {
    amount: number
    applicationFeeAmount?: number | null
    transferData?: { destination: string; amount?: number | null } | null
    onBehalfOf?: string | null
    /** Connect: a direct charge on this connected account (`Stripe-Account`). */
    account?: string
  }
) {
  if (input.account && (input.transferData || input.onBehalfOf)) {
    throw invalidRequest(
      'transfer_data and on_behalf_of cannot be used on a direct charge created with the Stripe-Account header.',
      { param: input.transferData ? 'transfer_data' : 'on_behalf_of' }
    )
  }
  if (input.transferData) {
    requireTransferDestination(ctx, input.transferData.destination, 'transfer_data[destination]')
    const amount = input.transferData.amount
    if (amount !== undefined && amount !== null) {
      if (amount > input.amount) {
        throw invalidRequest(
          'The amount in transfer_data must be less than or equal to the PaymentIntent amount.',
          { param: 'transfer_data[amount]' }
        )
      }
      if (input.applicationFeeAmount) {
        throw invalidRequest(
          'You cannot specify both application_fee_amount and transfer_data[amount].',
          { param: 'application_fee_amount' }
        )
      }
    }
  }
  if (input.applicationFeeAmount !== undefined && input.applicationFeeAmount !== null) {
    if (!input.transferData && !input.account) {
      throw invalidRequest(
        'Can only apply an application_fee_amount when the PaymentIntent is attempting a direct payment (using an OAuth key or Stripe-Account header) or destination payment (using `transfer_data[destination]`).',
        { param: 'application_fee_amount' }
      )
    }
    if (input.applicationFeeAmount > input.amount) {
      throw invalidRequest(
        'The application fee amount cannot be greater than the amount of the PaymentIntent.',
        { param: 'application_fee_amount' }
      )
    }
  }
  if (input.onBehalfOf && !ctx.store.get('account', input.onBehalfOf)) {
    throw resourceMissing('account', input.onBehalfOf, 'on_behalf_of')
  }
}

export interface NewPaymentIntent {
  amount: number
  currency: string
  customer: string | null
  paymentMethod: string | null
  description?: string | null
  metadata?: Record<string, string>
  applicationFeeAmount?: number | null
  transferData?: { destination: string; amount?: number | null } | null
  onBehalfOf?: string | null
  transferGroup?: string | null
  receiptEmail?: string | null
  setupFutureUsage?: 'off_session' | 'on_session' | null
  captureMethod?: 'automatic' | 'automatic_async' | null
  paymentMethodTypes?: string[] | null
  statementDescriptor?: string | null
  statementDescriptorSuffix?: string | null
  /** Connect: a direct charge on this connected account. */
  account?: string
}

/** Stores a new PaymentIntent (no event: callers emit payment_intent.created). */
export function insertPaymentIntent(
  ctx: ResourceContext,
  input: NewPaymentIntent
): Stripe.PaymentIntent {
  const id = newId('payment_intent')
  const explicitTypes = input.paymentMethodTypes && input.paymentMethodTypes.length > 0
  const transferData: Stripe.PaymentIntent.TransferData | null = input.transferData
    ? { destination: input.transferData.destination }
    : null
  if (
    transferData &&
    input.transferData?.amount !== undefined &&
    input.transferData.amount !== null
  )
    transferData.amount = input.transferData.amount
  const pi: Stripe.PaymentIntent = {
    id,
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: input.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: input.applicationFeeAmount ?? null,
    automatic_payment_methods: explicitTypes ? null : { allow_redirects: 'always', enabled: true },
    canceled_at: null,
    cancellation_reason: null,
    capture_method: input.captureMethod ?? 'automatic_async',
    client_secret: `${id}_secret_${randomBase62(25)}`,
    confirmation_method: 'automatic',
    created: ctx.clock.now(),
    currency: input.currency,
    customer: input.customer,
    customer_account: null,
    description: input.description ?? null,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: input.metadata ?? {},
    next_action: null,
    on_behalf_of: input.onBehalfOf ?? null,
    payment_method: input.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: {
        installments: null,
        mandate_options: null,
        network: null,
        request_three_d_secure: 'automatic',
      },
    },
    payment_method_types: explicitTypes ? [...(input.paymentMethodTypes ?? [])] : ['card'],
    payment_record: null,
    processing: null,
    receipt_email: input.receiptEmail ?? null,
    review: null,
    setup_future_usage: input.setupFutureUsage ?? null,
    shipping: null,
    source: null,
    statement_descriptor: input.statementDescriptor ?? null,
    statement_descriptor_suffix: input.statementDescriptorSuffix ?? null,
    status: input.paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
    transfer_data: transferData,
    transfer_group: input.transferGroup ?? null,
  }
  ctx.store.insert('payment_intent', id, pi, { account: input.account })
  return pi
}

export function findPaymentIntent(
  ctx: ResourceContext,
  id: string,
  param = 'id',
  account?: string
): Stripe.PaymentIntent {
  const pi = ctx.store.getFor('payment_intent', id, account)
  if (!pi) throw resourceMissing('payment_intent', id, param)
  return pi
}

export function findCharge(
  ctx: ResourceContext,
  id: string,
  param = 'id',
  account?: string
): Stripe.Charge {
  const charge = ctx.store.getFor('charge', id, account)
  if (!charge) throw resourceMissing('charge', id, param)
  return charge
}

const CONFIRMABLE: ReadonlyArray<Stripe.PaymentIntent.Status> = [
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
]

/** 400 payment_intent_unexpected_state unless the PaymentIntent can be confirmed. */
export function requireConfirmable(pi: Stripe.PaymentIntent) {
  if (CONFIRMABLE.includes(pi.status)) return
  const message =
    pi.status === 'succeeded'
      ? 'You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.'
      : `You cannot confirm this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, requires_payment_method, requires_action.`
  throw invalidRequest(message, { code: 'payment_intent_unexpected_state' })
}

function chargeCardDetails(
  pm: Stripe.PaymentMethod,
  amount: number,
  succeeded: boolean
): Stripe.Charge.PaymentMethodDetails {
  const card = pm.card
  return {
    type: 'card',
    card: {
      amount_authorized: succeeded ? amount : null,
      authorization_code: succeeded ? String(100000 + (amount % 900000)) : null,
      brand: card?.brand ?? null,
      checks: card?.checks
        ? { ...card.checks }
        : { address_line1_check: null, address_postal_code_check: null, cvc_check: null },
      country: card?.country ?? null,
      electronic_commerce_indicator: null,
      exp_month: card?.exp_month ?? 12,
      exp_year: card?.exp_year ?? 2030,
      extended_authorization: { status: 'disabled' },
      fingerprint: card?.fingerprint ?? null,
      funding: card?.funding ?? null,
      incremental_authorization: { status: 'unavailable' },
      installments: null,
      last4: card?.last4 ?? null,
      mandate: null,
      multicapture: { status: 'unavailable' },
      network: card?.brand ?? null,
      network_token: { used: false },
      network_transaction_id: succeeded ? randomBase62(15).toUpperCase() : null,
      overcapture: { maximum_amount_capturable: amount, status: 'unavailable' },
      regulated_status: card?.regulated_status ?? 'unregulated',
      three_d_secure: null,
      transaction_link_id: null,
      wallet: null,
    },
  }
}

function outcomeFor(decline: Decline | null): Stripe.Charge.Outcome {
  if (!decline) {
    return {
      advice_code: null,
      network_advice_code: null,
      network_decline_code: null,
      network_status: 'approved_by_network',
      reason: null,
      risk_level: 'normal',
      risk_score: 34,
      seller_message: 'Payment complete.',
      type: 'authorized',
    }
  }
  const insufficient = decline.decline_code === 'insufficient_funds'
  return {
    advice_code: insufficient ? 'try_again_later' : null,
    network_advice_code: null,
    network_decline_code: insufficient ? '51' : '05',
    network_status: 'declined_by_network',
    reason: decline.decline_code,
    risk_level: 'normal',
    risk_score: 34,
    seller_message: insufficient
      ? 'The bank returned the decline code `insufficient_funds`.'
      : 'The bank did not return any further details with this decline.',
    type: 'issuer_declined',
  }
}

/**
 * Runs one payment attempt on a stored PaymentIntent with a resolved PaymentMethod:
 * the Charge, the ledger, destination transfer and application fee; emits
 * charge.succeeded|failed, payment_intent.succeeded|payment_failed, then
 * transfer.created and application_fee.created (and payment_method.attached for
 * setup_future_usage). Validation must have happened before.
 */
export function attemptPayment(
  ctx: ResourceContext,
  intent: Stripe.PaymentIntent,
  pm: Stripe.PaymentMethod,
  options: {
    offSession: boolean
    origin: EventOrigin | null
    /** Decides the outcome instead of the card (settling a `processing` payment). */
    decline?: Decline | null
  }
): CollectPaymentResult {
  const now = ctx.clock.now()
  // Connect: a direct charge lives, with its ledger and events, on the connected account.
  const account = ctx.store.accountOf('payment_intent', intent.id)
  const decline =
    options.decline !== undefined ? options.decline : declineFor(ctx, pm.id, options.offSession)
  const succeeded = decline === null
  const chargeId = newId('charge')
  const customer =
    typeof intent.customer === 'string' ? intent.customer : (intent.customer?.id ?? null)
  const destination = intent.transfer_data
    ? typeof intent.transfer_data.destination === 'string'
      ? intent.transfer_data.destination
      : intent.transfer_data.destination.id
    : null
  const transferGroup = intent.transfer_group ?? (destination ? `group_${intent.id}` : null)
  const receiptEmail = intent.receipt_email

  let charge: Stripe.Charge = {
    id: chargeId,
    object: 'charge',
    amount: intent.amount,
    amount_captured: succeeded ? intent.amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: intent.application_fee_amount,
    balance_transaction: null,
    billing_details: clone(pm.billing_details),
    calculated_statement_descriptor: succeeded ? 'SANDBOX' : null,
    captured: succeeded,
    created: now,
    currency: intent.currency,
    customer,
    description: intent.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: decline?.code ?? null,
    failure_message: decline?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: { ...intent.metadata },
    on_behalf_of: intent.on_behalf_of,
    outcome: outcomeFor(decline),
    paid: succeeded,
    payment_intent: intent.id,
    payment_method: pm.id,
    payment_method_details: chargeCardDetails(pm, intent.amount, succeeded),
    receipt_email: receiptEmail,
    receipt_number: null,
    receipt_url: succeeded ? `${ctx.publicUrl()}/receipts/payment/${chargeId}` : null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: intent.statement_descriptor,
    statement_descriptor_suffix: intent.statement_descriptor_suffix,
    status: succeeded ? 'succeeded' : 'failed',
    transfer_data:
      intent.transfer_data && destination
        ? { amount: intent.transfer_data.amount ?? null, destination }
        : null,
    transfer_group: transferGroup,
  }

  const deferred: Array<() => void> = []
  if (succeeded) {
    const availableOn = profileOf(pm).bypassPending ? now : now + PENDING_DAYS * DAY
    const fee = stripeFee(intent.amount)
    const directFee = account ? (intent.application_fee_amount ?? 0) : 0
    const fees = [feeDetail(fee, intent.currency, 'stripe_fee', 'Stripe processing fees')]
    if (directFee > 0) {
      fees.push(
        feeDetail(
          directFee,
          intent.currency,
          'application_fee',
          'Application fee',
          PLATFORM_APPLICATION
        )
      )
    }
    const txn = addBalanceTransaction(ctx, {
      amount: intent.amount,
      currency: intent.currency,
      type: 'charge',
      reportingCategory: 'charge',
      source: chargeId,
      description: intent.description,
      fees,
      availableOn,
      account,
    })
    charge.balance_transaction = txn.id
    if (account && directFee > 0) {
      const created = createApplicationFee(ctx, {
        amount: directFee,
        currency: intent.currency,
        account,
        charge: chargeId,
        originatingTransaction: null,
        availableOn,
        origin: options.origin,
      })
      charge.application_fee = created.fee.id
      deferred.push(created.emit)
    }
    if (destination && intent.transfer_data) {
      const applicationFee = intent.application_fee_amount ?? 0
      const { transfer, payment, emit } = createTransfer(ctx, {
        amount: intent.transfer_data.amount ?? intent.amount,
        currency: intent.currency,
        destination,
        sourceTransaction: chargeId,
        transferGroup,
        applicationFeeAmount: applicationFee > 0 ? applicationFee : null,
        availableOn,
        origin: options.origin,
      })
      charge.transfer = transfer.id
      deferred.push(emit)
      if (applicationFee > 0) {
        const created = createApplicationFee(ctx, {
          amount: applicationFee,
          currency: intent.currency,
          account: destination,
          charge: payment.id,
          originatingTransaction: chargeId,
          availableOn,
          origin: options.origin,
        })
        charge.application_fee = created.fee.id
        ctx.store.replace('charge', payment.id, { ...payment, application_fee: created.fee.id })
        deferred.push(created.emit)
      }
    }
  }
  ctx.store.insert('charge', chargeId, charge, { account })
  charge = ctx.store.get('charge', chargeId) ?? charge

  const next: Stripe.PaymentIntent = {
    ...intent,
    latest_charge: chargeId,
    last_payment_error: null,
    next_action: null,
  }
  let error: ApiError | null = null
  if (succeeded) {
    next.status = 'succeeded'
    next.amount_received = intent.amount
    next.payment_method = pm.id
  } else {
    next.status = 'requires_payment_method'
    next.payment_method = null
    const lastError: Stripe.PaymentIntent.LastPaymentError = {
      charge: chargeId,
      code: decline.code,
      decline_code: decline.decline_code,
      doc_url: `https://stripe.com/docs/error-codes/${decline.code.replaceAll('_', '-')}`,
      message: decline.message,
      payment_method: clone(pm),
      type: 'card_error',
    }
    if (charge.outcome?.advice_code) lastError.advice_code = charge.outcome.advice_code
    if (charge.outcome?.network_decline_code)
      lastError.network_decline_code = charge.outcome.network_decline_code
    next.last_payment_error = lastError
  }
  ctx.store.replace('payment_intent', intent.id, next)

  const on = { request: options.origin, account }
  if (succeeded) {
    ctx.events.emit('charge.succeeded', charge, on)
    ctx.events.emit('payment_intent.succeeded', next, on)
    if (next.setup_future_usage && customer && !pm.customer) {
      attachPaymentMethod(ctx, pm.id, customer, options.origin, account)
    }
    for (const emit of deferred) emit()
    if (profileOf(pm).disputes) createDispute(ctx, chargeId, { reason: 'fraudulent' })
  } else {
    ctx.events.emit('charge.failed', charge, on)
    ctx.events.emit('payment_intent.payment_failed', next, on)
    const extra: Record<string, unknown> = {
      charge: chargeId,
      decline_code: decline.decline_code,
      payment_intent: clone(next),
      payment_method: clone(pm),
    }
    if (charge.outcome?.advice_code) extra.advice_code = charge.outcome.advice_code
    if (charge.outcome?.network_decline_code)
      extra.network_decline_code = charge.outcome.network_decline_code
    error = new ApiError(402, 'card_error', decline.message, { code: decline.code, extra })
  }
  return { paymentIntent: next, charge, succeeded, error }
}

/**
 * Creates/confirms the PaymentIntent, the Charge, its balance transaction and, for
 * destination charges, the Transfer (+ py_ on the connected account) and the
 * application fee; emits payment_intent.created, charge.succeeded|charge.failed,
 * payment_intent.succeeded|payment_intent.payment_failed (+ transfer.created,
 * application_fee.created) in that order.
 */
export function collectPayment(
  ctx: ResourceContext,
  input: CollectPaymentInput
): CollectPaymentResult {
  const { intent, pm } = openPaymentIntent(ctx, input)
  return attemptPayment(ctx, intent, pm, { offSession: input.offSession, origin: input.origin })
}

/**
 * The PaymentIntent a payment attempt runs on, with its resolved PaymentMethod:
 * `input.paymentIntent` (a retry, which takes the retry's customer when given) or a
 * new one (payment_intent.created). Validation first: nothing is written when it throws.
 */
function openPaymentIntent(
  ctx: ResourceContext,
  input: CollectPaymentInput
): { intent: Stripe.PaymentIntent; pm: Stripe.PaymentMethod } {
  const currency = input.currency.toLowerCase()
  let existing: Stripe.PaymentIntent | null = null
  if (input.paymentIntent) {
    existing = findPaymentIntent(ctx, input.paymentIntent, 'payment_intent')
    requireConfirmable(existing)
  } else {
    validateAmount(input.amount, currency)
    validateConnectParams(ctx, {
      amount: input.amount,
      applicationFeeAmount: input.applicationFeeAmount,
      transferData: input.transferData,
      onBehalfOf: input.onBehalfOf,
    })
  }
  const customer = input.customer ?? (existing ? customerIdOf(existing) : null)
  if (customer) findCustomerRef(ctx, customer, 'customer')
  requirePaymentMethod(ctx, input.paymentMethod, 'payment_method')

  const pm = resolvePaymentMethod(ctx, input.paymentMethod, 'payment_method')
  if (existing) {
    // A retry may bring the Customer the first attempt did not have (customer_creation).
    const intent = { ...existing, payment_method: pm.id, customer: customer ?? existing.customer }
    ctx.store.replace('payment_intent', existing.id, intent)
    return { intent, pm }
  }
  const intent = insertPaymentIntent(ctx, {
    amount: input.amount,
    currency,
    customer,
    paymentMethod: pm.id,
    description: input.description,
    metadata: input.metadata,
    applicationFeeAmount: input.applicationFeeAmount,
    transferData: input.transferData,
    onBehalfOf: input.onBehalfOf,
    transferGroup: input.transferGroup,
    receiptEmail: input.receiptEmail,
    setupFutureUsage: input.setupFutureUsage,
  })
  ctx.events.emit('payment_intent.created', intent, { request: input.origin })
  return { intent, pm }
}

export function customerIdOf(intent: { customer: string | { id: string } | null }): string | null {
  return typeof intent.customer === 'string' ? intent.customer : (intent.customer?.id ?? null)
}

/**
 * Starts a payment that settles later (an asynchronous payment method): the
 * PaymentIntent, created (or the pending one reused, as `collectPayment` does), is
 * left `processing` with its PaymentMethod; emits payment_intent.created (when new)
 * then payment_intent.processing. No Charge until `settleProcessingPayment`.
 */
export function beginProcessingPayment(
  ctx: ResourceContext,
  input: CollectPaymentInput
): Stripe.PaymentIntent {
  const { intent, pm } = openPaymentIntent(ctx, input)
  const processing: Stripe.PaymentIntent = {
    ...intent,
    status: 'processing',
    payment_method: pm.id,
    last_payment_error: null,
    next_action: null,
  }
  ctx.store.replace('payment_intent', intent.id, processing)
  ctx.events.emit('payment_intent.processing', processing, { request: input.origin })
  return processing
}

/**
 * Settles a `processing` PaymentIntent (see `beginProcessingPayment`): `succeeded`
 * runs the payment as `collectPayment` would (Charge, ledger, transfer, fee, events);
 * `failed` records a declined Charge and payment_intent.payment_failed (the intent
 * goes back to requires_payment_method). 400 when the intent is not processing.
 */
export function settleProcessingPayment(
  ctx: ResourceContext,
  paymentIntentId: string,
  outcome: 'succeeded' | 'failed',
  origin: EventOrigin | null
): CollectPaymentResult {
  const intent = findPaymentIntent(ctx, paymentIntentId, 'payment_intent')
  if (intent.status !== 'processing') {
    throw invalidRequest(
      `This PaymentIntent is not processing: it has a status of ${intent.status}.`,
      { code: 'payment_intent_unexpected_state' }
    )
  }
  const pmId =
    typeof intent.payment_method === 'string'
      ? intent.payment_method
      : (intent.payment_method?.id ?? null)
  if (!pmId) throw new Error(`Processing PaymentIntent ${intent.id} has no PaymentMethod`)
  const pm = findPaymentMethod(ctx, pmId, 'payment_method')
  const decline: Decline | null =
    outcome === 'succeeded'
      ? null
      : {
          code: 'payment_intent_payment_attempt_failed',
          decline_code: 'generic_decline',
          message: 'The payment failed.',
        }
  return attemptPayment(ctx, intent, pm, { offSession: false, origin, decline })
}
