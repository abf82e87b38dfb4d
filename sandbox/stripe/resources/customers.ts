/** `/v1/customers`: create, retrieve, update, list, delete. */
import type Stripe from 'stripe'
import type { ResourceContext, ResourceModule } from '../context.js'
import { invalidParameter, resourceMissing } from '../errors.js'
import { type EventOrigin, saveUpdate } from '../events.js'
import { newId, randomBase62 } from '../ids.js'
import { paginate } from '../list.js'
import {
  type ObjectOut,
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

declare module '../store.js' {
  interface CollectionTypes {
    customer: Stripe.Customer
  }
}

const addressShape = {
  city: string({ maxLength: 200 }),
  country: string({ maxLength: 200 }),
  line1: string({ maxLength: 200 }),
  line2: string({ maxLength: 200 }),
  postal_code: string({ maxLength: 200 }),
  state: string({ maxLength: 200 }),
}
const address = object(addressShape)

const writableShape = {
  address,
  balance: integer(),
  business_name: string({ maxLength: 150 }),
  cash_balance: object({
    settings: object({ reconciliation_mode: enumOf(['automatic', 'manual', 'merchant_default']) }),
  }),
  description: string({ maxLength: 350 }),
  email: string({ maxLength: 512 }),
  individual_name: string({ maxLength: 150 }),
  invoice_prefix: string(),
  invoice_settings: object({
    custom_fields: array(
      object({
        name: required(string({ maxLength: 40 })),
        value: required(string({ maxLength: 140 })),
      }),
      {
        maxItems: 4,
      }
    ),
    default_payment_method: string(),
    footer: string({ maxLength: 5000 }),
    rendering_options: object({
      amount_tax_display: enumOf(['exclude_tax', 'include_inclusive_tax']),
      template: string(),
    }),
  }),
  metadata: metadata(),
  name: string({ maxLength: 256 }),
  next_invoice_sequence: integer({ min: 1 }),
  phone: string({ maxLength: 20 }),
  preferred_locales: array(string()),
  shipping: object({
    address: required(address),
    name: required(string({ maxLength: 5000 })),
    phone: string(),
  }),
  source: string(),
  tax: object({
    ip_address: string(),
    validate_location: enumOf(['auto', 'deferred', 'immediately']),
  }),
  tax_exempt: enumOf(['exempt', 'none', 'reverse']),
  validate: boolean(),
}

const createShape = {
  ...writableShape,
  payment_method: string(),
  tax_id_data: array(object({ type: required(string()), value: required(string()) })),
  test_clock: string(),
}

const updateShape = { ...writableShape, default_source: string() }

const listShape = {
  ...paginationShape,
  created: range(),
  email: string({ maxLength: 512 }),
  test_clock: string(),
}

type WritableParams = ObjectOut<typeof writableShape>
type AddressParams = ObjectOut<typeof addressShape>

function newInvoicePrefix(): string {
  return randomBase62(8)
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, 'X')
}

function mergeAddress(
  current: Stripe.Address | null | undefined,
  update: AddressParams
): Stripe.Address {
  const base: Stripe.Address = current ?? {
    city: null,
    country: null,
    line1: null,
    line2: null,
    postal_code: null,
    state: null,
  }
  const next: Stripe.Address = { ...base }
  for (const key of ['city', 'country', 'line1', 'line2', 'postal_code', 'state'] as const) {
    const value = update[key]
    if (value !== undefined) next[key] = value
  }
  return next
}

function requireReference(
  ctx: ResourceContext,
  collection: string,
  label: string,
  id: string,
  param: string
) {
  if (!ctx.store.find(collection, id)) throw resourceMissing(label, id, param)
}

/** Applies the params shared by create and update onto a copy of the customer. */
function applyWritable(
  ctx: ResourceContext,
  customer: Stripe.Customer,
  params: WritableParams
): Stripe.Customer {
  const next: Stripe.Customer = { ...customer, invoice_settings: { ...customer.invoice_settings } }

  if (params.address !== undefined)
    next.address = params.address === null ? null : mergeAddress(customer.address, params.address)
  if (params.balance !== undefined) next.balance = params.balance ?? 0
  for (const key of ['business_name', 'individual_name'] as const) {
    const value = params[key]
    if (value === null) delete next[key]
    else if (value !== undefined) next[key] = value
  }
  for (const key of ['description', 'email'] as const) {
    const value = params[key]
    if (value !== undefined) next[key] = value
  }
  for (const key of ['name', 'phone'] as const) {
    const value = params[key]
    if (value !== undefined) next[key] = value
  }
  if (params.invoice_prefix !== undefined && params.invoice_prefix !== null) {
    if (!/^[A-Z0-9]{3,12}$/.test(params.invoice_prefix)) {
      throw invalidParameter(
        'invoice_prefix',
        'Invalid invoice_prefix: must be 3-12 uppercase letters or numbers'
      )
    }
    next.invoice_prefix = params.invoice_prefix
  }
  const settings = params.invoice_settings
  if (settings !== undefined) {
    if (settings === null) {
      next.invoice_settings = {
        custom_fields: null,
        default_payment_method: null,
        footer: null,
        rendering_options: null,
      }
    } else {
      if (settings.custom_fields !== undefined) {
        next.invoice_settings.custom_fields =
          settings.custom_fields && settings.custom_fields.length > 0
            ? settings.custom_fields.map(({ name, value }) => ({ name, value }))
            : null
      }
      if (settings.default_payment_method !== undefined) {
        if (settings.default_payment_method !== null) {
          requireReference(
            ctx,
            'payment_method',
            'PaymentMethod',
            settings.default_payment_method,
            'invoice_settings[default_payment_method]'
          )
        }
        next.invoice_settings.default_payment_method = settings.default_payment_method
      }
      if (settings.footer !== undefined) next.invoice_settings.footer = settings.footer
      if (settings.rendering_options !== undefined) {
        next.invoice_settings.rendering_options =
          settings.rendering_options === null
            ? null
            : {
                amount_tax_display: settings.rendering_options.amount_tax_display ?? null,
                template: settings.rendering_options.template ?? null,
              }
      }
    }
  }
  next.metadata = applyMetadata(customer.metadata, params.metadata)
  if (params.next_invoice_sequence !== undefined)
    next.next_invoice_sequence = params.next_invoice_sequence ?? 1
  if (params.preferred_locales !== undefined)
    next.preferred_locales = params.preferred_locales ?? []
  if (params.shipping !== undefined) {
    next.shipping =
      params.shipping === null
        ? null
        : {
            address: mergeAddress(null, params.shipping.address),
            carrier: null,
            name: params.shipping.name,
            phone: params.shipping.phone ?? null,
            tracking_number: null,
          }
  }
  if (params.tax_exempt !== undefined) next.tax_exempt = params.tax_exempt ?? 'none'
  // Card sources/tokens are not modelled in this slice: an unknown one is a 400, as on Stripe.
  if (params.source) requireReference(ctx, 'source', 'token', params.source, 'source')
  return next
}

/** Connect: only the customers of `account` (undefined = the platform) are visible. */
function findCustomer(ctx: ResourceContext, id: string, account?: string): Stripe.Customer {
  const customer = ctx.store.getFor('customer', id, account)
  if (!customer) throw resourceMissing('customer', id)
  return customer
}

export type CustomerCreateParams = ObjectOut<typeof createShape>

/**
 * `POST /v1/customers` (and Checkout's new customers): validates `params`, stores the
 * Customer (on `account` for Connect) and emits customer.created with `origin`.
 */
export function insertCustomer(
  ctx: ResourceContext,
  params: CustomerCreateParams,
  origin: EventOrigin | null,
  account?: string
): Stripe.Customer {
  if (params.payment_method)
    requireReference(
      ctx,
      'payment_method',
      'PaymentMethod',
      params.payment_method,
      'payment_method'
    )
  if (params.test_clock)
    requireReference(ctx, 'test_helpers.test_clock', 'test clock', params.test_clock, 'test_clock')
  const id = newId('customer')
  const blank: Stripe.Customer = {
    id,
    object: 'customer',
    address: null,
    balance: 0,
    created: ctx.clock.now(),
    currency: null,
    customer_account: null,
    default_source: null,
    delinquent: false,
    description: null,
    discount: null,
    email: null,
    invoice_prefix: newInvoicePrefix(),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: {},
    name: null,
    next_invoice_sequence: 1,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: params.test_clock ?? null,
  }
  const customer = applyWritable(ctx, blank, params)
  ctx.store.insert('customer', id, customer, { account })
  ctx.events.emit('customer.created', customer, { request: origin, account })
  return customer
}

export const customers: ResourceModule = {
  name: 'customers',
  register(ctx) {
    ctx.route({
      method: 'POST',
      path: '/v1/customers',
      params: createShape,
      returns: 'customer',
      handler({ params, origin, request }) {
        return insertCustomer(ctx, params, origin, request.stripeAccount)
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/customers/:id',
      params: {},
      returns: 'customer',
      handler({ path, request }) {
        const record = ctx.store.getRecord('customer', path.id)
        if (!record || record.account !== request.stripeAccount) {
          throw resourceMissing('customer', path.id)
        }
        if (record.deleted) {
          const deleted: Stripe.DeletedCustomer = { id: path.id, object: 'customer', deleted: true }
          return deleted
        }
        return record.value
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/customers/:id',
      params: updateShape,
      returns: 'customer',
      handler({ params, path, origin, request }) {
        const account = request.stripeAccount
        const current = findCustomer(ctx, path.id, account)
        if (params.default_source !== undefined && params.default_source !== null) {
          requireReference(ctx, 'source', 'source', params.default_source, 'default_source')
        }
        const next = applyWritable(ctx, current, params)
        if (params.default_source !== undefined) next.default_source = params.default_source
        return saveUpdate(ctx, 'customer', path.id, current, next, 'customer.updated', {
          request: origin,
          account,
        })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/customers',
      params: listShape,
      returns: 'list:customer',
      handler({ params, request }) {
        const records = ctx.store
          .records('customer')
          .filter(
            ({ value, deleted, account }) =>
              !deleted &&
              account === request.stripeAccount &&
              (!params.email || value.email === params.email) &&
              (!params.test_clock || value.test_clock === params.test_clock) &&
              matchesRange(value.created, params.created)
          )
        return paginate(records, params, {
          url: '/v1/customers',
          label: 'customer',
          seqOf: (id) => ctx.store.seqOf('customer', id),
        })
      },
    })

    ctx.route({
      method: 'DELETE',
      path: '/v1/customers/:id',
      params: {},
      handler({ path, origin, request }) {
        const account = request.stripeAccount
        const customer = findCustomer(ctx, path.id, account)
        ctx.store.markDeleted('customer', path.id)
        ctx.events.emit('customer.deleted', customer, { request: origin, account })
        const deleted: Stripe.DeletedCustomer = { id: path.id, object: 'customer', deleted: true }
        return deleted
      },
    })

    // References: ids that `expand` swaps for objects (resolved once their resources exist).
    ctx.references('customer', { default_source: 'source' }, { target: false })
    ctx.references('customer', { test_clock: 'test_helpers.test_clock' })
    ctx.expandable('customer', 'invoice_settings', {
      kind: 'nested',
      target: 'customer.invoice_settings',
    })
    ctx.references('customer.invoice_settings', { default_payment_method: 'payment_method' })

    // Includables: absent unless expanded. Later slices re-register `subscriptions`
    // (and others) to fill them from their own collections.
    const subList = (parent: Record<string, unknown>, name: string) => ({
      object: 'list',
      data: [],
      has_more: false,
      total_count: 0,
      url: `/v1/customers/${String(parent.id)}/${name}`,
    })
    ctx.expandable('customer', 'subscriptions', {
      kind: 'include',
      target: 'list:subscription',
      build: (parent) => subList(parent, 'subscriptions'),
    })
    ctx.expandable('customer', 'sources', {
      kind: 'include',
      target: 'list:source',
      build: (parent) => subList(parent, 'sources'),
    })
    ctx.expandable('customer', 'tax_ids', {
      kind: 'include',
      target: 'list:tax_id',
      build: (parent) => subList(parent, 'tax_ids'),
    })
    ctx.expandable('customer', 'tax', {
      kind: 'include',
      build: (): Stripe.Customer.Tax => ({
        automatic_tax: 'unrecognized_location',
        ip_address: null,
        location: null,
        provider: 'stripe',
      }),
    })
    ctx.expandable('customer', 'cash_balance', {
      kind: 'include',
      build: (parent): Stripe.CashBalance => ({
        object: 'cash_balance',
        available: null,
        customer: String(parent.id),
        customer_account: null,
        livemode: false,
        settings: { reconciliation_mode: 'automatic', using_merchant_default: true },
      }),
    })
    ctx.expandable('customer', 'invoice_credit_balance', { kind: 'include', build: () => ({}) })
  },
}
