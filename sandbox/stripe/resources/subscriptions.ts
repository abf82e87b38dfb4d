/**
 * `/v1/subscriptions` (create, retrieve, update, cancel, resume, list) and
 * `/v1/subscription_items` (retrieve, list, update). The state machine and the
 * behaviour over time live in `../billing.ts`.
 *
 * Simplified: no prorations (`proration_behavior` is accepted; quantity and price
 * changes apply from the next period, except an interval change, which starts a new
 * cycle now and invoices it), no discounts/taxes, no pause_collection.
 */
import type Stripe from 'stripe'
import {
  type RenewOptions,
  applyScheduleCancel,
  cancelSubscriptionNow,
  buildSubscriptionItem,
  checkSubscriptionPrices,
  createSubscription,
  periodEnd,
  registerBillingClock,
  renewSubscription,
  saveSubscription,
  connectGuard,
} from '../billing.js'
import type { ResourceContext, ResourceModule } from '../context.js'
import { invalidParameter, invalidRequest, missingParameter, resourceMissing } from '../errors.js'
import type { EventOrigin } from '../events.js'
import { clone, previousAttributes } from '../json.js'
import { paginate } from '../list.js'
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
  attachPaymentMethod,
  findCustomerRef,
  MAGIC_PAYMENT_METHODS,
  requirePaymentMethod,
} from '../payments.js'
import { type Body, SimError, list, str } from '../sim.js'
import { createPriceFromData, findPrice, findProduct } from './prices.js'
import { requireTransferDestination } from './transfers.js'

/** A decimal number param such as `application_fee_percent=12.5`. */
export function decimalNumber(options: { min?: number; max?: number } = {}): Spec<number> {
  return new Spec('number', false, (raw, path) => {
    const text = typeof raw === 'string' ? raw.trim() : ''
    const value = Number(text)
    if (text === '' || !/^-?\d+(\.\d+)?$/.test(text) || !Number.isFinite(value)) {
      throw invalidParameter(
        path,
        `Invalid decimal: ${typeof raw === 'string' ? raw : '[object]'}`,
        'parameter_invalid_string'
      )
    }
    if (options.min !== undefined && value < options.min) {
      throw invalidParameter(path, `This value must be greater than or equal to ${options.min}.`)
    }
    if (options.max !== undefined && value > options.max) {
      throw invalidParameter(path, `This value must be less than or equal to ${options.max}.`)
    }
    return value
  })
}

/** `trial_end=now` or a timestamp. */
function nowOrTimestamp(): Spec<number | 'now'> {
  return new Spec('now_or_timestamp', false, (raw, path) => {
    if (raw === 'now') return 'now'
    return integer().parse(raw, path)
  })
}

const priceDataShape = object({
  currency: required(string()),
  product: required(string()),
  unit_amount: integer({ min: 0 }),
  unit_amount_decimal: string(),
  recurring: required(
    object({
      interval: required(enumOf(['day', 'week', 'month', 'year'])),
      interval_count: integer({ min: 1 }),
    })
  ),
  tax_behavior: enumOf(['exclusive', 'inclusive', 'unspecified']),
})

const createItemShape = object({
  price: string(),
  price_data: priceDataShape,
  quantity: integer({ min: 0 }),
  metadata: metadata(),
  tax_rates: array(string()),
  discounts: array(object({ coupon: string(), discount: string(), promotion_code: string() })),
})

const updateItemShape = object({
  id: string(),
  price: string(),
  price_data: priceDataShape,
  quantity: integer({ min: 0 }),
  metadata: metadata(),
  deleted: boolean(),
  clear_usage: boolean(),
  tax_rates: array(string()),
  discounts: array(object({ coupon: string(), discount: string(), promotion_code: string() })),
})

const cancellationDetails = object({
  comment: string({ maxLength: 5000 }),
  feedback: enumOf([
    'customer_service',
    'low_quality',
    'missing_features',
    'other',
    'switched_service',
    'too_complex',
    'too_expensive',
    'unused',
  ]),
})

const transferData = object({
  destination: required(string()),
  amount_percent: decimalNumber({ min: 0, max: 100 }),
})

const prorationBehavior = enumOf(['always_invoice', 'create_prorations', 'none'])
const paymentBehavior = enumOf([
  'allow_incomplete',
  'default_incomplete',
  'error_if_incomplete',
  'pending_if_incomplete',
])

const createShape = {
  customer: required(string()),
  items: array(createItemShape, { maxItems: 20 }),
  default_payment_method: string(),
  metadata: metadata(),
  description: string({ maxLength: 500 }),
  trial_period_days: integer({ min: 0, max: 730 }),
  trial_end: nowOrTimestamp(),
  trial_from_plan: boolean(),
  trial_settings: object({
    end_behavior: required(
      object({
        missing_payment_method: required(enumOf(['cancel', 'create_invoice', 'pause'])),
      })
    ),
  }),
  cancel_at_period_end: boolean(),
  cancel_at: integer(),
  application_fee_percent: decimalNumber({ min: 0, max: 100 }),
  transfer_data: transferData,
  on_behalf_of: string(),
  payment_behavior: paymentBehavior,
  off_session: boolean(),
  collection_method: enumOf(['charge_automatically', 'send_invoice']),
  days_until_due: integer({ min: 0 }),
  proration_behavior: prorationBehavior,
  currency: string(),
  billing_cycle_anchor: integer(),
  payment_settings: object({
    save_default_payment_method: enumOf(['off', 'on_subscription']),
    payment_method_types: array(string()),
  }),
}

const updateShape = {
  items: array(updateItemShape, { maxItems: 20 }),
  default_payment_method: string(),
  metadata: metadata(),
  description: string({ maxLength: 500 }),
  cancel_at_period_end: boolean(),
  cancel_at: integer(),
  cancellation_details: cancellationDetails,
  trial_end: nowOrTimestamp(),
  proration_behavior: prorationBehavior,
  proration_date: integer(),
  payment_behavior: paymentBehavior,
  off_session: boolean(),
  collection_method: enumOf(['charge_automatically', 'send_invoice']),
  days_until_due: integer({ min: 0 }),
  application_fee_percent: decimalNumber({ min: 0, max: 100 }),
  transfer_data: transferData,
  billing_cycle_anchor: enumOf(['now', 'unchanged']),
}

const listShape = {
  ...paginationShape,
  customer: string(),
  price: string(),
  status: enumOf([
    'active',
    'all',
    'canceled',
    'ended',
    'incomplete',
    'incomplete_expired',
    'past_due',
    'paused',
    'trialing',
    'unpaid',
  ]),
  collection_method: enumOf(['charge_automatically', 'send_invoice']),
  created: range(),
  current_period_end: range(),
  current_period_start: range(),
  test_clock: string(),
}

type ItemParams = NonNullable<ObjectOut<typeof updateShape>['items']>[number]

function findSubscription(ctx: ResourceContext, id: string, param = 'id'): Stripe.Subscription {
  const sub = ctx.store.get('subscription', id)
  if (!sub) throw resourceMissing('subscription', id, param)
  return sub
}

/** Validates an item's price/price_data without writing anything. */
function checkItemPrice(
  ctx: ResourceContext,
  item: { price?: string | null; price_data?: ObjectOut<typeof priceDataShape.shape> | null },
  param: string,
  requirePrice: boolean
): Stripe.Price | 'price_data' | null {
  if (item.price && item.price_data) {
    throw invalidRequest(
      `You may only specify one of these parameters: ${param}[price], ${param}[price_data].`,
      { validation: true }
    )
  }
  if (item.price) {
    const price = findPrice(ctx, item.price, `${param}[price]`)
    if (!price.active) {
      throw invalidRequest(
        `The price specified is inactive. This field only accepts active prices.`,
        { param: `${param}[price]`, validation: true }
      )
    }
    checkSubscriptionPrices([{ price, param: `${param}[price]` }])
    return price
  }
  if (item.price_data) {
    findProduct(ctx, item.price_data.product, `${param}[price_data][product]`)
    return 'price_data'
  }
  if (requirePrice) throw missingParameter(`${param}[price]`)
  return null
}

function priceFromData(
  ctx: ResourceContext,
  data: ObjectOut<typeof priceDataShape.shape>,
  origin: EventOrigin,
  param: string
): Stripe.Price {
  return createPriceFromData(
    ctx,
    {
      currency: data.currency,
      product: data.product,
      unit_amount: data.unit_amount ?? null,
      unit_amount_decimal: data.unit_amount_decimal ?? null,
      recurring: {
        interval: data.recurring.interval,
        interval_count: data.recurring.interval_count ?? 1,
      },
      tax_behavior: data.tax_behavior ?? null,
    },
    origin,
    `${param}[price_data]`
  )
}

function resolveDefaultPaymentMethod(
  ctx: ResourceContext,
  id: string,
  customer: string,
  origin: EventOrigin
): string {
  return Object.hasOwn(MAGIC_PAYMENT_METHODS, id)
    ? attachPaymentMethod(ctx, id, customer, origin).id
    : id
}

function matchesStatus(sub: Stripe.Subscription, status: string | null | undefined): boolean {
  if (!status) return sub.status !== 'canceled' && sub.status !== 'incomplete_expired'
  if (status === 'all') return true
  if (status === 'ended') return sub.status === 'canceled' || sub.status === 'incomplete_expired'
  return sub.status === status
}

const CANCELED_UPDATABLE = new Set(['cancellation_details', 'metadata', 'expand'])

/** Applies item changes (quantity, price, metadata, add, delete) to a copy. */
function applyItemChanges(
  ctx: ResourceContext,
  next: Stripe.Subscription,
  items: ItemParams[],
  origin: EventOrigin
): { intervalChanged: boolean } {
  const before = next.items.data.map((item) => item.price.recurring?.interval ?? '')
  for (const [index, change] of items.entries()) {
    const param = `items[${index}]`
    const priceRef = change.price_data
      ? priceFromData(ctx, change.price_data, origin, param)
      : change.price
        ? findPrice(ctx, change.price, `${param}[price]`)
        : null
    if (change.id) {
      const position = next.items.data.findIndex((item) => item.id === change.id)
      const item = next.items.data[position]
      if (change.deleted) {
        next.items.data.splice(position, 1)
        continue
      }
      if (priceRef) {
        item.price = clone(priceRef)
        const plan = buildSubscriptionItem(ctx, next.id, priceRef, 1, {}, 0, 0).plan
        item.plan = plan
      }
      if (change.quantity !== undefined && change.quantity !== null) item.quantity = change.quantity
      if (change.metadata !== undefined)
        item.metadata = applyMetadata(item.metadata, change.metadata)
    } else if (priceRef) {
      const template = next.items.data[0]
      next.items.data.push(
        buildSubscriptionItem(
          ctx,
          next.id,
          priceRef,
          change.quantity ?? 1,
          applyMetadata({}, change.metadata),
          template?.current_period_start ?? ctx.clock.now(),
          template?.current_period_end ?? ctx.clock.now()
        )
      )
    }
  }
  const after = next.items.data.map((item) => item.price.recurring?.interval ?? '')
  return {
    intervalChanged: after.length > 0 && before.length > 0 && after[0] !== before[0],
  }
}

/** Validates the whole update before anything is written. */
function validateItemChanges(ctx: ResourceContext, sub: Stripe.Subscription, items: ItemParams[]) {
  const remaining = new Set(sub.items.data.map((item) => item.id))
  /** Currency and cadence of every item the subscription will have. */
  const plans: Array<{ currency: string; cadence: string; param: string }> = []
  const planOf = (price: Stripe.Price, param: string) => ({
    currency: price.currency,
    cadence: `${price.recurring?.interval}/${price.recurring?.interval_count ?? 1}`,
    param,
  })
  for (const [index, change] of items.entries()) {
    const param = `items[${index}]`
    if (change.id) {
      if (!sub.items.data.some((item) => item.id === change.id)) {
        throw invalidRequest(
          `Cannot update the subscription item ${change.id}: it does not belong to subscription ${sub.id}.`,
          { param: `${param}[id]`, validation: true }
        )
      }
      if (change.deleted) {
        remaining.delete(change.id)
        continue
      }
    }
    const price = checkItemPrice(ctx, change, param, !change.id)
    if (price === 'price_data' && change.price_data) {
      plans.push({
        currency: change.price_data.currency.toLowerCase(),
        cadence: `${change.price_data.recurring.interval}/${change.price_data.recurring.interval_count ?? 1}`,
        param,
      })
    } else if (price && price !== 'price_data') {
      plans.push(planOf(price, `${param}[price]`))
    } else if (change.id) {
      const existing = sub.items.data.find((item) => item.id === change.id)
      if (existing) plans.push(planOf(existing.price, param))
    }
  }
  for (const item of sub.items.data) {
    if (remaining.has(item.id) && !items.some((change) => change.id === item.id)) {
      plans.push(planOf(item.price, 'items'))
    }
  }
  if (remaining.size === 0 && !items.some((change) => !change.id)) {
    throw invalidRequest('A subscription must have at least one active plan.', {
      param: 'items',
      validation: true,
    })
  }
  for (const plan of plans) {
    if (plan.currency !== plans[0].currency || plan.cadence !== plans[0].cadence) {
      throw invalidRequest(
        'Currency and interval fields must match across all plans on this subscription. Found mismatch in ' +
          (plan.currency !== plans[0].currency ? 'currency' : 'interval') +
          ' field.',
        { param: plan.param, validation: true }
      )
    }
  }
}

export const subscriptions: ResourceModule = {
  name: 'subscriptions',
  register(ctx) {
    registerBillingClock(ctx)

    ctx.route({
      method: 'POST',
      path: '/v1/subscriptions',
      params: createShape,
      returns: 'subscription',
      handler({ params, origin, request }) {
        connectGuard(request, 'subscription', null)
        const customer = findCustomerRef(ctx, params.customer, 'customer')
        const items = params.items ?? []
        if (items.length === 0) throw missingParameter('items')
        items.forEach((item, index) => checkItemPrice(ctx, item, `items[${index}]`, true))
        const referenced = items
          .map((item, index) => ({ item, index }))
          .filter(({ item }) => item.price)
          .map(({ item, index }) => ({
            price: findPrice(ctx, String(item.price), `items[${index}][price]`),
            param: `items[${index}][price]`,
          }))
        checkSubscriptionPrices(referenced)
        if (params.default_payment_method) {
          requirePaymentMethod(ctx, params.default_payment_method, 'default_payment_method')
        }
        if (params.cancel_at_period_end && params.cancel_at) {
          throw invalidRequest(
            'You may only specify one of these parameters: cancel_at, cancel_at_period_end.',
            { validation: true }
          )
        }
        if (
          params.trial_end !== undefined &&
          params.trial_end !== null &&
          params.trial_period_days
        ) {
          throw invalidRequest(
            'You may only specify one of these parameters: trial_end, trial_period_days.',
            { validation: true }
          )
        }
        const now = ctx.clock.now()
        if (typeof params.trial_end === 'number' && params.trial_end <= now) {
          throw invalidParameter(
            'trial_end',
            'Invalid timestamp: must be an integer Unix timestamp in the future.',
            'parameter_invalid_integer'
          )
        }
        if (
          params.cancel_at !== undefined &&
          params.cancel_at !== null &&
          params.cancel_at <= now
        ) {
          throw invalidParameter(
            'cancel_at',
            'Invalid timestamp: must be an integer Unix timestamp in the future.',
            'parameter_invalid_integer'
          )
        }
        if (params.transfer_data) {
          requireTransferDestination(
            ctx,
            params.transfer_data.destination,
            'transfer_data[destination]'
          )
        }
        if (
          params.application_fee_percent !== undefined &&
          params.application_fee_percent !== null &&
          params.transfer_data?.amount_percent !== undefined &&
          params.transfer_data.amount_percent !== null
        ) {
          throw invalidRequest(
            'You may only specify one of these parameters: application_fee_percent, transfer_data[amount_percent].',
            { validation: true }
          )
        }
        if (params.payment_behavior === 'pending_if_incomplete') {
          throw invalidRequest(
            'The `pending_if_incomplete` payment_behavior is only supported when updating a subscription.',
            { param: 'payment_behavior', validation: true }
          )
        }
        // Prices from price_data (product exists: checked above).
        const prices = items.map((item, index) =>
          item.price_data
            ? priceFromData(ctx, item.price_data, origin, `items[${index}]`)
            : findPrice(ctx, String(item.price), `items[${index}][price]`)
        )
        checkSubscriptionPrices(prices.map((price, index) => ({ price, param: `items[${index}]` })))
        const trialEnd =
          params.trial_end === 'now'
            ? null
            : typeof params.trial_end === 'number'
              ? params.trial_end
              : params.trial_period_days
                ? now + params.trial_period_days * 86_400
                : null
        const { subscription, payment } = createSubscription(ctx, {
          customer: customer.id,
          items: items.map((item, index) => ({
            price: prices[index].id,
            quantity: item.quantity ?? 1,
            metadata: applyMetadata({}, item.metadata),
          })),
          metadata: applyMetadata({}, params.metadata),
          defaultPaymentMethod: params.default_payment_method ?? null,
          description: params.description ?? null,
          applicationFeePercent: params.application_fee_percent ?? null,
          transferData: params.transfer_data
            ? {
                destination: params.transfer_data.destination,
                amount_percent: params.transfer_data.amount_percent ?? null,
              }
            : null,
          onBehalfOf: params.on_behalf_of ?? null,
          trialEnd,
          trialEndBehavior: params.trial_settings?.end_behavior.missing_payment_method,
          cancelAtPeriodEnd: params.cancel_at_period_end ?? false,
          cancelAt: params.cancel_at ?? null,
          collectionMethod: params.collection_method ?? 'charge_automatically',
          daysUntilDue: params.days_until_due ?? null,
          offSession: params.off_session ?? false,
          paymentBehavior: params.payment_behavior ?? 'allow_incomplete',
          origin,
        })
        // allow_incomplete: a declined first payment leaves the subscription incomplete (200).
        void payment
        return subscription
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/subscriptions/:id',
      params: {},
      returns: 'subscription',
      handler({ path, request }) {
        connectGuard(request, 'subscription', path.id)
        return findSubscription(ctx, path.id)
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/subscriptions/:id',
      params: updateShape,
      returns: 'subscription',
      handler({ params, path, origin, request }) {
        connectGuard(request, 'subscription', path.id)
        const current = findSubscription(ctx, path.id)
        const given = Object.entries(params)
          .filter(([, value]) => value !== undefined)
          .map(([key]) => key)
        if (current.status === 'canceled' || current.status === 'incomplete_expired') {
          if (given.some((key) => !CANCELED_UPDATABLE.has(key))) {
            throw invalidRequest(
              'A canceled subscription can only update its cancellation_details and metadata.',
              { validation: true }
            )
          }
        }
        if (params.cancel_at_period_end && params.cancel_at) {
          throw invalidRequest(
            'You may only specify one of these parameters: cancel_at, cancel_at_period_end.',
            { validation: true }
          )
        }
        const now = ctx.clock.now()
        if (
          params.cancel_at !== undefined &&
          params.cancel_at !== null &&
          params.cancel_at <= now
        ) {
          throw invalidParameter(
            'cancel_at',
            'Invalid timestamp: must be an integer Unix timestamp in the future.',
            'parameter_invalid_integer'
          )
        }
        if (typeof params.trial_end === 'number' && params.trial_end <= now) {
          throw invalidParameter(
            'trial_end',
            'Invalid timestamp: must be an integer Unix timestamp in the future.',
            'parameter_invalid_integer'
          )
        }
        if (params.default_payment_method) {
          requirePaymentMethod(ctx, params.default_payment_method, 'default_payment_method')
        }
        if (params.items) validateItemChanges(ctx, current, params.items)
        if (params.transfer_data) {
          requireTransferDestination(
            ctx,
            params.transfer_data.destination,
            'transfer_data[destination]'
          )
        }

        const customerId = String(current.customer)
        const next = clone(current)
        let intervalChanged = false
        if (params.items)
          intervalChanged = applyItemChanges(ctx, next, params.items, origin).intervalChanged
        if (params.metadata !== undefined)
          next.metadata = applyMetadata(next.metadata, params.metadata)
        if (params.description !== undefined) next.description = params.description
        if (params.default_payment_method !== undefined) {
          next.default_payment_method = params.default_payment_method
            ? resolveDefaultPaymentMethod(ctx, params.default_payment_method, customerId, origin)
            : null
        }
        if (params.collection_method) next.collection_method = params.collection_method
        if (params.days_until_due !== undefined) next.days_until_due = params.days_until_due
        if (params.application_fee_percent !== undefined) {
          next.application_fee_percent = params.application_fee_percent
        }
        if (params.transfer_data !== undefined) {
          next.transfer_data = params.transfer_data
            ? {
                amount_percent: params.transfer_data.amount_percent ?? null,
                destination: params.transfer_data.destination,
              }
            : null
        }
        if (params.cancel_at_period_end !== undefined && params.cancel_at_period_end !== null) {
          applyScheduleCancel(next, params.cancel_at_period_end, now)
        }
        const details = next.cancellation_details ?? {
          comment: null,
          feedback: null,
          feedback_option: null,
          reason: null,
        }
        if (params.cancel_at !== undefined) {
          next.cancel_at_period_end = false
          next.cancel_at = params.cancel_at
          next.canceled_at = params.cancel_at === null ? null : now
          details.reason = params.cancel_at === null ? null : 'cancellation_requested'
        }
        if (params.cancellation_details !== undefined) {
          const requested = params.cancellation_details
          if (requested === null) {
            details.comment = null
            details.feedback = null
          } else {
            if (requested.comment !== undefined) details.comment = requested.comment
            if (requested.feedback !== undefined) details.feedback = requested.feedback
          }
        }
        next.cancellation_details = details
        let renew: RenewOptions | null = null
        if (typeof params.trial_end === 'number' && next.status === 'trialing') {
          next.trial_end = params.trial_end
          for (const item of next.items.data) item.current_period_end = params.trial_end
          next.billing_cycle_anchor = params.trial_end
          if (next.cancel_at_period_end) next.cancel_at = params.trial_end
        } else if (params.trial_end === 'now' && next.status === 'trialing') {
          renew = { origin, billingReason: 'subscription_update', resetAnchor: true }
        }
        if (intervalChanged || params.billing_cycle_anchor === 'now') {
          renew = { origin, billingReason: 'subscription_update', resetAnchor: true }
        }

        const previous = previousAttributes(current, next)
        if (Object.keys(previous).length > 0) {
          saveSubscription(ctx, next)
          ctx.events.emit('customer.subscription.updated', next, {
            request: origin,
            previousAttributes: previous,
          })
        }
        if (renew) renewSubscription(ctx, next, now, renew)
        return findSubscription(ctx, path.id)
      },
    })

    ctx.route({
      method: 'DELETE',
      path: '/v1/subscriptions/:id',
      params: {
        invoice_now: boolean(),
        prorate: boolean(),
        cancellation_details: cancellationDetails,
      },
      returns: 'subscription',
      handler({ params, path, origin, request }) {
        connectGuard(request, 'subscription', path.id)
        const current = findSubscription(ctx, path.id)
        if (current.status === 'canceled' || current.status === 'incomplete_expired') {
          throw invalidRequest(
            `A canceled subscription can only update its cancellation_details and metadata.`,
            { validation: true }
          )
        }
        return cancelSubscriptionNow(ctx, path.id, {
          reason: 'cancellation_requested',
          comment: params.cancellation_details?.comment,
          feedback: params.cancellation_details?.feedback,
          origin,
          invoiceNow: params.invoice_now ?? false,
        })
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/subscriptions/:id/resume',
      params: {
        billing_cycle_anchor: enumOf(['now', 'unchanged']),
        proration_behavior: prorationBehavior,
        proration_date: integer(),
      },
      returns: 'subscription',
      handler({ params, path, origin, request }) {
        connectGuard(request, 'subscription', path.id)
        const current = findSubscription(ctx, path.id)
        if (current.status !== 'paused') {
          throw invalidRequest(
            `Subscription ${current.id} cannot be resumed because its status is ${current.status}. Only a paused subscription can be resumed.`,
            { validation: true }
          )
        }
        const now = ctx.clock.now()
        if (params.billing_cycle_anchor === 'unchanged' && periodEnd(current) > now) {
          const resumed = clone(current)
          resumed.status = 'active'
          saveSubscription(ctx, resumed)
          ctx.events.emit('customer.subscription.updated', resumed, {
            request: origin,
            previousAttributes: previousAttributes(current, resumed),
          })
        } else {
          renewSubscription(ctx, current, now, {
            origin,
            billingReason: 'subscription_update',
            resetAnchor: true,
          })
        }
        const after = findSubscription(ctx, path.id)
        ctx.events.emit('customer.subscription.resumed', after, { request: origin })
        return after
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/subscriptions',
      params: listShape,
      returns: 'list:subscription',
      handler({ params, request }) {
        const records = ctx.store.records('subscription').filter(({ value, deleted, account }) => {
          if (deleted || account !== request.stripeAccount) return false
          if (params.customer && value.customer !== params.customer) return false
          if (params.price && !value.items.data.some((item) => item.price.id === params.price)) {
            return false
          }
          if (params.collection_method && value.collection_method !== params.collection_method) {
            return false
          }
          if (!matchesStatus(value, params.status)) return false
          if (!matchesRange(value.created, params.created)) return false
          if (params.current_period_end !== undefined && params.current_period_end !== null) {
            if (!matchesRange(periodEnd(value), params.current_period_end)) return false
          }
          if (params.current_period_start !== undefined && params.current_period_start !== null) {
            const start = Math.min(...value.items.data.map((item) => item.current_period_start))
            if (!matchesRange(start, params.current_period_start)) return false
          }
          return true
        })
        return paginate(records, params, {
          url: '/v1/subscriptions',
          label: 'subscription',
          seqOf: (id) => ctx.store.seqOf('subscription', id),
        })
      },
    })

    // ---- subscription items ---------------------------------------------------------

    ctx.route({
      method: 'GET',
      path: '/v1/subscription_items',
      params: { ...paginationShape, subscription: required(string()) },
      returns: 'list:subscription_item',
      handler({ params, request }) {
        if (request.stripeAccount) {
          throw resourceMissing('subscription', params.subscription, 'subscription')
        }
        findSubscription(ctx, params.subscription, 'subscription')
        const records = ctx.store
          .records('subscription_item')
          .filter(({ value, deleted }) => !deleted && value.subscription === params.subscription)
        return paginate(records, params, {
          url: `/v1/subscription_items`,
          label: 'subscription_item',
          seqOf: (id) => ctx.store.seqOf('subscription_item', id),
        })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/subscription_items/:id',
      params: {},
      returns: 'subscription_item',
      handler({ path, request }) {
        connectGuard(request, 'subscription_item', path.id)
        const item = ctx.store.get('subscription_item', path.id)
        if (!item) throw resourceMissing('subscription_item', path.id)
        return item
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/subscription_items/:id',
      params: {
        quantity: integer({ min: 0 }),
        metadata: metadata(),
        price: string(),
        proration_behavior: prorationBehavior,
        proration_date: integer(),
        payment_behavior: paymentBehavior,
        off_session: boolean(),
      },
      returns: 'subscription_item',
      handler({ params, path, origin, request }) {
        connectGuard(request, 'subscription_item', path.id)
        const item = ctx.store.get('subscription_item', path.id)
        if (!item) throw resourceMissing('subscription_item', path.id)
        const sub = findSubscription(ctx, item.subscription, 'subscription')
        if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
          throw invalidRequest(
            'A canceled subscription can only update its cancellation_details and metadata.',
            { validation: true }
          )
        }
        const change: ItemParams = {
          id: item.id,
          quantity: params.quantity,
          metadata: params.metadata,
          price: params.price,
        }
        validateItemChanges(ctx, sub, [change])
        const next = clone(sub)
        const { intervalChanged } = applyItemChanges(ctx, next, [change], origin)
        const previous = previousAttributes(sub, next)
        if (Object.keys(previous).length > 0) {
          saveSubscription(ctx, next)
          ctx.events.emit('customer.subscription.updated', next, {
            request: origin,
            previousAttributes: previous,
          })
        }
        if (intervalChanged) {
          renewSubscription(ctx, next, ctx.clock.now(), {
            origin,
            billingReason: 'subscription_update',
            resetAnchor: true,
          })
        }
        const saved = ctx.store.get('subscription_item', path.id)
        if (!saved) throw resourceMissing('subscription_item', path.id)
        return saved
      },
    })

    // ---- sim controls ------------------------------------------------------------------
    ctx.sim({
      method: 'POST',
      path: '/_sim/subscriptions/:id/advance_period',
      describe:
        'POST /_sim/subscriptions/:id/advance_period — move the clock just past the current period end (renewal, retries, scheduled cancellation all run)',
      async run(_body: Body, params) {
        const sub = ctx.store.get('subscription', params.id)
        if (!sub) throw new SimError(404, `No such subscription: '${params.id}'`)
        const target = Math.min(periodEnd(sub), sub.cancel_at ?? Number.POSITIVE_INFINITY)
        const now = await ctx.clock.advance(Math.max(0, target - ctx.clock.now() + 1))
        return { now, subscription: ctx.store.get('subscription', params.id) }
      },
    })
    ctx.sim({
      method: 'GET',
      path: '/_sim/billing/settings',
      describe:
        'GET /_sim/billing/settings — the renewal retry schedule and final-failure behaviour',
      run() {
        return ctx.settings.billing
      },
    })
    ctx.sim({
      method: 'POST',
      path: '/_sim/billing/settings',
      describe:
        'POST /_sim/billing/settings {retry_schedule_days?: "3,5,7", after_final_failure?: cancel|mark_unpaid|leave_past_due}',
      run(body: Body) {
        const days = list(body, 'retry_schedule_days')
        const after = str(body, 'after_final_failure')
        if (days !== undefined) {
          const parsed = days.filter((day) => day !== '').map(Number)
          if (parsed.some((day) => !Number.isFinite(day) || day < 0)) {
            throw new SimError(400, 'retry_schedule_days must be non-negative numbers')
          }
          ctx.settings.billing.retryScheduleDays = parsed
        }
        if (after !== undefined) {
          if (after !== 'cancel' && after !== 'mark_unpaid' && after !== 'leave_past_due') {
            throw new SimError(
              400,
              'after_final_failure must be cancel, mark_unpaid or leave_past_due'
            )
          }
          ctx.settings.billing.afterFinalFailure = after
        }
        return ctx.settings.billing
      },
    })

    // ---- expansion -------------------------------------------------------------------
    ctx.references('subscription', {
      customer: 'customer',
      latest_invoice: 'invoice',
      default_payment_method: 'payment_method',
      on_behalf_of: 'account',
    })
    ctx.expandable('subscription', 'items', { kind: 'nested', target: 'list:subscription_item' })
    ctx.expandable('subscription', 'transfer_data', {
      kind: 'nested',
      target: 'subscription.transfer_data',
    })
    ctx.references('subscription.transfer_data', { destination: 'account' })
    ctx.expandable('subscription_item', 'price', { kind: 'nested', target: 'price' })
    ctx.references(
      'subscription',
      { schedule: 'subscription_schedule', pending_setup_intent: 'setup_intent' },
      { target: false }
    )

    // customer.subscriptions (includable), filled from this collection.
    ctx.expandable('customer', 'subscriptions', {
      kind: 'include',
      target: 'list:subscription',
      build: (parent) => {
        const data = ctx.store
          .list('subscription')
          .filter(
            (sub) =>
              sub.customer === parent.id &&
              sub.status !== 'canceled' &&
              sub.status !== 'incomplete_expired'
          )
        return {
          object: 'list',
          data: data.slice(0, 10),
          has_more: data.length > 10,
          total_count: data.length,
          url: `/v1/customers/${String(parent.id)}/subscriptions`,
        }
      },
    })
  },
}
