/**
 * `/v1/payment_intents`: create (optionally `confirm`), retrieve, update, confirm,
 * cancel, list. Card payments only, `capture_method` automatic / automatic_async.
 * Declines answer 402 card_error with `payment_intent` and `charge` in the error.
 */
import type Stripe from 'stripe'
import type { ResourceModule } from '../context.js'
import { invalidRequest } from '../errors.js'
import { paginate } from '../list.js'
import {
  attemptPayment,
  customerIdOf,
  findCustomerRef,
  findPaymentIntent,
  insertPaymentIntent,
  requireConfirmable,
  requirePaymentMethod,
  resolvePaymentMethod,
  validateAmount,
  validateConnectParams,
} from '../payments.js'
import {
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

/** `off_session` is a boolean or one of Stripe's two keywords. */
const offSession = enumOf(['true', 'false', 'one_off', 'recurring'])

const confirmShared = {
  payment_method: string(),
  off_session: offSession,
  receipt_email: string(),
  setup_future_usage: enumOf(['off_session', 'on_session']),
  return_url: string(),
  error_on_requires_action: boolean(),
  use_stripe_sdk: boolean(),
  mandate: string(),
  mandate_data: object({ customer_acceptance: object({ type: string() }) }),
  payment_method_options: object({ card: object({ request_three_d_secure: string() }) }),
  shipping: object({ name: string(), phone: string() }),
}

const createShape = {
  ...confirmShared,
  amount: required(integer({ min: 1 })),
  currency: required(string()),
  customer: string(),
  confirm: boolean(),
  description: string({ maxLength: 1000 }),
  metadata: metadata(),
  application_fee_amount: integer({ min: 0 }),
  transfer_data: object({ destination: required(string()), amount: integer({ min: 0 }) }),
  on_behalf_of: string(),
  transfer_group: string(),
  capture_method: enumOf(['automatic', 'automatic_async', 'manual']),
  confirmation_method: enumOf(['automatic', 'manual']),
  payment_method_types: array(string()),
  automatic_payment_methods: object({
    enabled: required(boolean()),
    allow_redirects: enumOf(['always', 'never']),
  }),
  statement_descriptor: string({ maxLength: 22 }),
  statement_descriptor_suffix: string({ maxLength: 22 }),
}

const updateShape = {
  amount: integer({ min: 1 }),
  currency: string(),
  customer: string(),
  description: string({ maxLength: 1000 }),
  metadata: metadata(),
  payment_method: string(),
  receipt_email: string(),
  setup_future_usage: enumOf(['off_session', 'on_session']),
  transfer_group: string(),
  application_fee_amount: integer({ min: 0 }),
  transfer_data: object({ amount: integer({ min: 0 }) }),
  statement_descriptor: string({ maxLength: 22 }),
  statement_descriptor_suffix: string({ maxLength: 22 }),
  payment_method_types: array(string()),
}

const listShape = { ...paginationShape, customer: string(), created: range() }

const UPDATABLE: ReadonlyArray<Stripe.PaymentIntent.Status> = [
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
]

const CANCELABLE: ReadonlyArray<Stripe.PaymentIntent.Status> = [
  'requires_payment_method',
  'requires_capture',
  'requires_confirmation',
  'requires_action',
  'processing',
]

function isOffSession(value: string | null | undefined): boolean {
  return value === 'true' || value === 'one_off' || value === 'recurring'
}

export const paymentIntents: ResourceModule = {
  name: 'payment_intents',
  register(ctx) {
    ctx.route({
      method: 'POST',
      path: '/v1/payment_intents',
      params: createShape,
      returns: 'payment_intent',
      handler({ params, origin, request }) {
        const account = request.stripeAccount
        const currency = params.currency.toLowerCase()
        validateAmount(params.amount, currency)
        if (params.capture_method === 'manual') {
          throw invalidRequest(
            'The sandbox only supports capture_method automatic or automatic_async.',
            { param: 'capture_method', validation: true }
          )
        }
        if (params.off_session !== undefined && params.off_session !== null && !params.confirm) {
          throw invalidRequest('off_session can only be used when confirm=true.', {
            param: 'off_session',
            validation: true,
          })
        }
        if (params.customer) findCustomerRef(ctx, params.customer, 'customer')
        if (params.payment_method)
          requirePaymentMethod(ctx, params.payment_method, 'payment_method', account)
        const transferData = params.transfer_data
          ? { destination: params.transfer_data.destination, amount: params.transfer_data.amount }
          : null
        validateConnectParams(ctx, {
          amount: params.amount,
          applicationFeeAmount: params.application_fee_amount,
          transferData,
          onBehalfOf: params.on_behalf_of,
          account,
        })
        if (params.confirm && !params.payment_method) {
          throw invalidRequest(
            'You cannot confirm this PaymentIntent because it’s missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.',
            { code: 'payment_intent_unexpected_state' }
          )
        }
        const pm = params.payment_method
          ? resolvePaymentMethod(ctx, params.payment_method, 'payment_method', account)
          : null
        const intent = insertPaymentIntent(ctx, {
          account,
          amount: params.amount,
          currency,
          customer: params.customer ?? null,
          paymentMethod: pm?.id ?? null,
          description: params.description,
          metadata: applyMetadata({}, params.metadata),
          applicationFeeAmount: params.application_fee_amount,
          transferData,
          onBehalfOf: params.on_behalf_of,
          transferGroup: params.transfer_group,
          receiptEmail: params.receipt_email,
          setupFutureUsage: params.setup_future_usage,
          captureMethod: params.capture_method === 'automatic' ? 'automatic' : null,
          paymentMethodTypes: params.payment_method_types,
          statementDescriptor: params.statement_descriptor,
          statementDescriptorSuffix: params.statement_descriptor_suffix,
        })
        ctx.events.emit('payment_intent.created', intent, { request: origin, account })
        if (!params.confirm || !pm) return intent
        const result = attemptPayment(ctx, intent, pm, {
          offSession: isOffSession(params.off_session),
          origin,
        })
        if (result.error) throw result.error
        return result.paymentIntent
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/payment_intents/:id',
      params: { client_secret: string() },
      returns: 'payment_intent',
      handler({ params, path, request }) {
        const account = request.stripeAccount
        const intent = findPaymentIntent(ctx, path.id, 'id', account)
        if (params.client_secret && params.client_secret !== intent.client_secret) {
          throw invalidRequest(
            'The client_secret provided does not match the client_secret associated with the PaymentIntent.',
            { param: 'client_secret', validation: true }
          )
        }
        return intent
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/payment_intents/:id',
      params: updateShape,
      returns: 'payment_intent',
      handler({ params, path, request }) {
        const account = request.stripeAccount
        const current = findPaymentIntent(ctx, path.id, 'id', account)
        const onlyMetadata = Object.entries(params).every(
          ([key, value]) => key === 'metadata' || key === 'expand' || value === undefined
        )
        if (!onlyMetadata && !UPDATABLE.includes(current.status)) {
          throw invalidRequest(
            `You cannot update this PaymentIntent because it has a status of ${current.status}. Updates are only allowed when the PaymentIntent has one of the following statuses: requires_payment_method, requires_confirmation, requires_action.`,
            { code: 'payment_intent_unexpected_state' }
          )
        }
        if (params.customer) findCustomerRef(ctx, params.customer, 'customer')
        if (params.payment_method)
          requirePaymentMethod(ctx, params.payment_method, 'payment_method', account)
        const amount = params.amount ?? current.amount
        const currency = (params.currency ?? current.currency).toLowerCase()
        if (params.amount || params.currency) validateAmount(amount, currency)
        const next: Stripe.PaymentIntent = {
          ...current,
          amount,
          currency,
          metadata: applyMetadata(current.metadata, params.metadata),
        }
        if (params.customer !== undefined) next.customer = params.customer
        for (const key of [
          'description',
          'receipt_email',
          'transfer_group',
          'statement_descriptor',
          'statement_descriptor_suffix',
        ] as const) {
          const value = params[key]
          if (value !== undefined) next[key] = value
        }
        if (params.setup_future_usage !== undefined)
          next.setup_future_usage = params.setup_future_usage
        if (params.application_fee_amount !== undefined)
          next.application_fee_amount = params.application_fee_amount
        if (params.transfer_data?.amount !== undefined && next.transfer_data) {
          next.transfer_data = { ...next.transfer_data }
          if (params.transfer_data.amount === null) delete next.transfer_data.amount
          else next.transfer_data.amount = params.transfer_data.amount
        }
        if (params.payment_method_types?.length) {
          next.payment_method_types = params.payment_method_types
          next.automatic_payment_methods = null
        }
        if (params.payment_method !== undefined) {
          const pm = params.payment_method
            ? resolvePaymentMethod(ctx, params.payment_method, 'payment_method', account)
            : null
          next.payment_method = pm?.id ?? null
          if (next.status === 'requires_payment_method' || next.status === 'requires_confirmation')
            next.status = pm ? 'requires_confirmation' : 'requires_payment_method'
        }
        // Stripe sends no event for PaymentIntent updates.
        ctx.store.replace('payment_intent', current.id, next)
        return next
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/payment_intents/:id/confirm',
      params: { ...confirmShared, client_secret: string() },
      returns: 'payment_intent',
      handler({ params, path, origin, request }) {
        const account = request.stripeAccount
        const current = findPaymentIntent(ctx, path.id, 'id', account)
        requireConfirmable(current)
        const pmId =
          params.payment_method ??
          (typeof current.payment_method === 'string'
            ? current.payment_method
            : (current.payment_method?.id ?? null))
        if (!pmId) {
          throw invalidRequest(
            'You cannot confirm this PaymentIntent because it’s missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.',
            { code: 'payment_intent_unexpected_state' }
          )
        }
        requirePaymentMethod(ctx, pmId, 'payment_method', account)
        const pm = resolvePaymentMethod(ctx, pmId, 'payment_method', account)
        const intent: Stripe.PaymentIntent = { ...current, payment_method: pm.id }
        if (params.receipt_email !== undefined) intent.receipt_email = params.receipt_email
        if (params.setup_future_usage !== undefined)
          intent.setup_future_usage = params.setup_future_usage
        ctx.store.replace('payment_intent', current.id, intent)
        const result = attemptPayment(ctx, intent, pm, {
          offSession: isOffSession(params.off_session),
          origin,
        })
        if (result.error) throw result.error
        return result.paymentIntent
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/payment_intents/:id/cancel',
      params: {
        cancellation_reason: enumOf([
          'abandoned',
          'duplicate',
          'fraudulent',
          'requested_by_customer',
        ]),
      },
      returns: 'payment_intent',
      handler({ params, path, origin, request }) {
        const account = request.stripeAccount
        const current = findPaymentIntent(ctx, path.id, 'id', account)
        if (!CANCELABLE.includes(current.status)) {
          throw invalidRequest(
            `You cannot cancel this PaymentIntent because it has a status of ${current.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.`,
            { code: 'payment_intent_unexpected_state' }
          )
        }
        const next: Stripe.PaymentIntent = {
          ...current,
          status: 'canceled',
          canceled_at: ctx.clock.now(),
          cancellation_reason: params.cancellation_reason ?? null,
        }
        ctx.store.replace('payment_intent', current.id, next)
        ctx.events.emit('payment_intent.canceled', next, { request: origin, account })
        return next
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/payment_intents',
      params: listShape,
      returns: 'list:payment_intent',
      handler({ params, request }) {
        const account = request.stripeAccount
        const records = ctx.store
          .records('payment_intent')
          .filter(
            ({ value, deleted, account: owner }) =>
              !deleted &&
              owner === account &&
              (!params.customer || customerIdOf(value) === params.customer) &&
              matchesRange(value.created, params.created)
          )
        return paginate(records, params, {
          url: '/v1/payment_intents',
          label: 'payment_intent',
          seqOf: (id) => ctx.store.seqOf('payment_intent', id),
        })
      },
    })

    ctx.references(
      'payment_intent',
      { customer: 'customer', payment_method: 'payment_method' },
      { target: false }
    )
    ctx.references('payment_intent', { latest_charge: 'charge', on_behalf_of: 'account' })
    ctx.expandable('payment_intent', 'transfer_data', {
      kind: 'nested',
      target: 'payment_intent.transfer_data',
    })
    ctx.references('payment_intent.transfer_data', { destination: 'account' })
  },
}
