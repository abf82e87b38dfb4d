/**
 * `/v1/payment_methods` (cards only): create (raw test card numbers, or the magic
 * `pm_card_*` ids anywhere an id is accepted), retrieve, update, attach, detach,
 * list, and `/v1/customers/:id/payment_methods`.
 */
import type Stripe from 'stripe'
import type { ResourceContext, ResourceModule } from '../context.js'
import { invalidRequest, resourceMissing } from '../errors.js'
import { saveUpdate } from '../events.js'
import { previousAttributes } from '../json.js'
import { paginate } from '../list.js'
import {
  attachPaymentMethod,
  findCustomerRef,
  findPaymentMethod,
  insertCardPaymentMethod,
  resolvePaymentMethod,
} from '../payments.js'
import {
  applyMetadata,
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

const addressShape = object({
  city: string(),
  country: string(),
  line1: string(),
  line2: string(),
  postal_code: string(),
  state: string(),
})

const billingDetailsShape = object({
  address: addressShape,
  email: string(),
  name: string(),
  phone: string(),
  tax_id: string(),
})

const allowRedisplay = enumOf(['always', 'limited', 'unspecified'])

const createShape = {
  type: enumOf(['card']),
  card: object({
    number: string(),
    exp_month: integer(),
    exp_year: integer(),
    cvc: string(),
    token: string(),
    networks: object({ preferred: string() }),
  }),
  billing_details: billingDetailsShape,
  metadata: metadata(),
  allow_redisplay: allowRedisplay,
  customer: string(),
  payment_method: string(),
}

const updateShape = {
  billing_details: billingDetailsShape,
  metadata: metadata(),
  allow_redisplay: allowRedisplay,
  card: object({
    exp_month: integer(),
    exp_year: integer(),
    networks: object({ preferred: string() }),
  }),
}

const listShape = {
  ...paginationShape,
  customer: string(),
  type: string(),
  created: range(),
  allow_redisplay: allowRedisplay,
}

function mergeBilling(
  current: Stripe.PaymentMethod.BillingDetails,
  update: {
    address?: Partial<Record<keyof Stripe.Address, string | null>> | null
    email?: string | null
    name?: string | null
    phone?: string | null
    tax_id?: string | null
  }
): Stripe.PaymentMethod.BillingDetails {
  const next: Stripe.PaymentMethod.BillingDetails = {
    ...current,
    address: current.address ? { ...current.address } : null,
  }
  if (update.address !== undefined) {
    const address: Stripe.Address = next.address ?? {
      city: null,
      country: null,
      line1: null,
      line2: null,
      postal_code: null,
      state: null,
    }
    for (const key of ['city', 'country', 'line1', 'line2', 'postal_code', 'state'] as const) {
      const value = update.address?.[key]
      if (value !== undefined) address[key] = value
      else if (update.address === null) address[key] = null
    }
    next.address = address
  }
  for (const key of ['email', 'name', 'phone', 'tax_id'] as const) {
    const value = update[key]
    if (value !== undefined) next[key] = value
  }
  return next
}

function listFor(
  ctx: ResourceContext,
  account: string | undefined,
  customer: string | null | undefined,
  params: { type?: string | null; created?: unknown; allow_redisplay?: string | null }
) {
  return ctx.store
    .records('payment_method')
    .filter(
      ({ value, deleted, account: owner }) =>
        !deleted &&
        owner === account &&
        (customer ? value.customer === customer : true) &&
        (!params.type || value.type === params.type) &&
        (!params.allow_redisplay || value.allow_redisplay === params.allow_redisplay) &&
        matchesRange(value.created, params.created as Parameters<typeof matchesRange>[1])
    )
}

export const paymentMethods: ResourceModule = {
  name: 'payment_methods',
  register(ctx) {
    ctx.route({
      method: 'POST',
      path: '/v1/payment_methods',
      params: createShape,
      returns: 'payment_method',
      handler({ params, origin, request }) {
        const account = request.stripeAccount
        if (params.payment_method) {
          // Cloning a platform PaymentMethod for a connected account: not modelled.
          return resolvePaymentMethod(ctx, params.payment_method, 'payment_method', account)
        }
        if (!params.type) {
          throw invalidRequest('Missing required param: type.', {
            code: 'parameter_missing',
            param: 'type',
            validation: true,
          })
        }
        const card = params.card
        if (!card) {
          throw invalidRequest('Missing required param: card.', {
            code: 'parameter_missing',
            param: 'card',
            validation: true,
          })
        }
        if (card.token) {
          throw resourceMissing('token', card.token, 'card[token]')
        }
        for (const key of ['number', 'exp_month', 'exp_year'] as const) {
          if (card[key] === undefined || card[key] === null) {
            throw invalidRequest(`Missing required param: card[${key}].`, {
              code: 'parameter_missing',
              param: `card[${key}]`,
              validation: true,
            })
          }
        }
        if (params.customer) findCustomerRef(ctx, params.customer, 'customer')
        const billing = params.billing_details
        const pm = insertCardPaymentMethod(ctx, {
          card: {
            number: card.number ?? '',
            exp_month: card.exp_month ?? 0,
            exp_year: card.exp_year ?? 0,
            cvc: card.cvc ?? null,
          },
          billingDetails: billing
            ? mergeBilling(
                {
                  address: null,
                  email: null,
                  name: null,
                  phone: null,
                  tax_id: null,
                },
                billing
              )
            : null,
          metadata: applyMetadata({}, params.metadata),
          allowRedisplay: params.allow_redisplay,
          account,
        })
        if (params.customer)
          return attachPaymentMethod(ctx, pm.id, params.customer, origin, account)
        return pm
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/payment_methods/:id',
      params: {},
      returns: 'payment_method',
      handler({ path, request }) {
        const account = request.stripeAccount
        return findPaymentMethod(ctx, path.id, 'id', account)
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/payment_methods/:id',
      params: updateShape,
      returns: 'payment_method',
      handler({ params, path, origin, request }) {
        const account = request.stripeAccount
        const current = findPaymentMethod(ctx, path.id, 'id', account)
        if (!current.customer) {
          throw invalidRequest(
            'You must save this PaymentMethod to a customer before you can update it.',
            { code: 'payment_method_unexpected_state' }
          )
        }
        const next: Stripe.PaymentMethod = {
          ...current,
          metadata: applyMetadata(current.metadata ?? {}, params.metadata),
        }
        if (params.billing_details !== undefined && params.billing_details !== null)
          next.billing_details = mergeBilling(current.billing_details, params.billing_details)
        if (params.allow_redisplay) next.allow_redisplay = params.allow_redisplay
        if (params.card && current.card) {
          next.card = { ...current.card }
          if (params.card.exp_month) next.card.exp_month = params.card.exp_month
          if (params.card.exp_year) next.card.exp_year = params.card.exp_year
        }
        return saveUpdate(
          ctx,
          'payment_method',
          current.id,
          current,
          next,
          'payment_method.updated',
          { request: origin, account }
        )
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/payment_methods/:id/attach',
      params: { customer: required(string()) },
      returns: 'payment_method',
      handler({ params, path, origin, request }) {
        const account = request.stripeAccount
        findCustomerRef(ctx, params.customer, 'customer')
        // Magic test ids resolve to a fresh PaymentMethod; unknown ids are a 404.
        if (!path.id.startsWith('pm_card_')) findPaymentMethod(ctx, path.id, 'id', account)
        return attachPaymentMethod(ctx, path.id, params.customer, origin, account)
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/payment_methods/:id/detach',
      params: {},
      returns: 'payment_method',
      handler({ path, origin, request }) {
        const account = request.stripeAccount
        const current = findPaymentMethod(ctx, path.id, 'id', account)
        const customerId = typeof current.customer === 'string' ? current.customer : null
        if (!customerId) {
          throw invalidRequest(
            'The payment method you provided is not attached to a customer so detachment is impossible.',
            { code: 'payment_method_unexpected_state' }
          )
        }
        const next: Stripe.PaymentMethod = { ...current, customer: null }
        ctx.store.replace('payment_method', current.id, next)
        ctx.events.emit('payment_method.detached', next, {
          request: origin,
          previousAttributes: { customer: customerId },
          account,
        })
        // Stripe also clears it as the customer's default.
        const customer = ctx.store.get('customer', customerId)
        if (customer && customer.invoice_settings.default_payment_method === current.id) {
          const updated: Stripe.Customer = {
            ...customer,
            invoice_settings: { ...customer.invoice_settings, default_payment_method: null },
          }
          ctx.store.replace('customer', customerId, updated)
          ctx.events.emit('customer.updated', updated, {
            request: origin,
            previousAttributes: previousAttributes(customer, updated),
          })
        }
        return next
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/payment_methods',
      params: listShape,
      returns: 'list:payment_method',
      handler({ params, request }) {
        const account = request.stripeAccount
        if (params.customer) findCustomerRef(ctx, params.customer, 'customer')
        return paginate(listFor(ctx, account, params.customer, params), params, {
          url: '/v1/payment_methods',
          label: 'PaymentMethod',
          seqOf: (id) => ctx.store.seqOf('payment_method', id),
        })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/customers/:id/payment_methods',
      params: { ...paginationShape, type: string(), allow_redisplay: allowRedisplay },
      returns: 'list:payment_method',
      handler({ params, path, request }) {
        const account = request.stripeAccount
        findCustomerRef(ctx, path.id, 'id')
        return paginate(listFor(ctx, account, path.id, params), params, {
          url: `/v1/customers/${path.id}/payment_methods`,
          label: 'PaymentMethod',
          seqOf: (id) => ctx.store.seqOf('payment_method', id),
        })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/customers/:customer/payment_methods/:id',
      params: {},
      returns: 'payment_method',
      handler({ path, request }) {
        const account = request.stripeAccount
        findCustomerRef(ctx, path.customer, 'id')
        const pm = findPaymentMethod(ctx, path.id, 'id', account)
        if (pm.customer !== path.customer) throw resourceMissing('PaymentMethod', path.id)
        return pm
      },
    })

    ctx.references('payment_method', { customer: 'customer' }, { target: false })
  },
}
