/**
 * `/v1/invoices` (create, retrieve, update, delete, list, finalize, pay, void,
 * mark_uncollectible, send, lines), `/v1/invoiceitems` and `/v1/invoice_payments`,
 * plus a read-only hosted invoice page (`/i/:id`, the `hosted_invoice_url`).
 * Payment, numbering and the retry schedule live in `../billing.ts`.
 *
 * Simplified: no taxes, discounts, credit notes or PDFs; `invoice_pdf` points at
 * the hosted page.
 */
import type Stripe from 'stripe'
import {
  attachInvoiceItem,
  attemptInvoicePayment,
  blankInvoice,
  finalizeInvoice,
  invoiceState,
  markInvoicePaid,
  pendingInvoiceItems,
  recomputeTotals,
  updateInvoice,
  voidInvoice,
  connectGuard,
  invoiceItemLine,
  nextBoundary,
  periodEnd,
  periodStart,
  subscriptionLine,
  checkSubscriptionPrices,
  addIntervals,
  planFromPrice,
} from '../billing.js'
import type { ResourceModule, ResourceContext } from '../context.js'
import { invalidParameter, invalidRequest, missingParameter, resourceMissing } from '../errors.js'
import { saveUpdate } from '../events.js'
import { formatAmount, formatDate, html, page } from '../hosted/html.js'
import { newId } from '../ids.js'
import { clone } from '../json.js'
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
import { findCustomerRef, requirePaymentMethod } from '../payments.js'
import { asDecimal, createPriceFromData, findPrice, findProduct, lineAmount } from './prices.js'
import { requireTransferDestination } from './transfers.js'

const DAY = 86_400

const transferData = object({ destination: required(string()), amount: integer({ min: 0 }) })

const createShape = {
  customer: string(),
  subscription: string(),
  collection_method: enumOf(['charge_automatically', 'send_invoice']),
  days_until_due: integer({ min: 0 }),
  due_date: integer(),
  auto_advance: boolean(),
  pending_invoice_items_behavior: enumOf(['exclude', 'include']),
  description: string({ maxLength: 1500 }),
  metadata: metadata(),
  default_payment_method: string(),
  application_fee_amount: integer({ min: 0 }),
  transfer_data: transferData,
  on_behalf_of: string(),
  currency: string(),
  footer: string({ maxLength: 5000 }),
  statement_descriptor: string({ maxLength: 22 }),
}

const updateShape = {
  collection_method: enumOf(['charge_automatically', 'send_invoice']),
  days_until_due: integer({ min: 0 }),
  due_date: integer(),
  auto_advance: boolean(),
  description: string({ maxLength: 1500 }),
  metadata: metadata(),
  default_payment_method: string(),
  application_fee_amount: integer({ min: 0 }),
  transfer_data: transferData,
  on_behalf_of: string(),
  footer: string({ maxLength: 5000 }),
  statement_descriptor: string({ maxLength: 22 }),
}

/** What a finalized invoice still accepts (Stripe locks the rest). */
const FINALIZED_UPDATABLE = new Set(['auto_advance', 'description', 'footer', 'metadata', 'expand'])

const listShape = {
  ...paginationShape,
  customer: string(),
  subscription: string(),
  status: enumOf(['draft', 'open', 'paid', 'uncollectible', 'void']),
  collection_method: enumOf(['charge_automatically', 'send_invoice']),
  created: range(),
  due_date: range(),
}

const invoiceItemPriceData = object({
  currency: required(string()),
  product: required(string()),
  unit_amount: integer(),
  unit_amount_decimal: string(),
  tax_behavior: enumOf(['exclusive', 'inclusive', 'unspecified']),
})

const period = object({ start: required(integer()), end: required(integer()) })

const invoiceItemCreateShape = {
  customer: required(string()),
  amount: integer(),
  currency: string(),
  pricing: object({ price: string() }),
  price_data: invoiceItemPriceData,
  quantity: integer({ min: 0 }),
  description: string({ maxLength: 500 }),
  invoice: string(),
  subscription: string(),
  metadata: metadata(),
  period,
  discountable: boolean(),
  tax_rates: array(string()),
  tax_behavior: enumOf(['exclusive', 'inclusive', 'unspecified']),
  unit_amount_decimal: string(),
}

const invoiceItemUpdateShape = {
  amount: integer(),
  pricing: object({ price: string() }),
  price_data: invoiceItemPriceData,
  quantity: integer({ min: 0 }),
  description: string({ maxLength: 500 }),
  metadata: metadata(),
  period,
  discountable: boolean(),
  tax_rates: array(string()),
  unit_amount_decimal: string(),
}

const previewShape = {
  customer: string(),
  subscription: string(),
  subscription_details: object({
    items: array(
      object({
        id: string(),
        price: string(),
        quantity: integer({ min: 0 }),
        deleted: boolean(),
        metadata: metadata(),
      })
    ),
    cancel_at_period_end: boolean(),
    proration_behavior: enumOf(['always_invoice', 'create_prorations', 'none']),
    proration_date: integer(),
    billing_cycle_anchor: enumOf(['now', 'unchanged']),
  }),
  invoice_items: array(
    object({
      amount: integer(),
      currency: string(),
      description: string({ maxLength: 500 }),
      pricing: object({ price: string() }),
      quantity: integer({ min: 0 }),
      metadata: metadata(),
    })
  ),
  currency: string(),
  automatic_tax: object({ enabled: required(boolean()) }),
  preview_mode: enumOf(['next', 'recurring']),
}

type PreviewParams = ObjectOut<typeof previewShape>

/**
 * `POST /v1/invoices/create_preview`: the next invoice of a subscription (its next
 * period, with item changes from `subscription_details.items` applied), or of a new
 * subscription (`subscription_details.items` without `subscription`), plus pending
 * invoice items and `invoice_items`. Nothing is stored; the id is `upcoming_in_…`.
 */
export function previewInvoice(ctx: ResourceContext, params: PreviewParams): Stripe.Invoice {
  const changes = params.subscription_details?.items ?? null
  if (!params.subscription && !changes && !params.invoice_items) {
    throw invalidRequest(
      'You must specify at least one of `subscription`, `subscription_details.items`, `schedule`, `schedule_details.phases` or `invoice_items`.',
      { validation: true }
    )
  }
  let sub: Stripe.Subscription | null = null
  if (params.subscription) {
    sub = ctx.store.get('subscription', params.subscription) ?? null
    if (!sub) throw resourceMissing('subscription', params.subscription, 'subscription')
  }
  const customerId = params.customer ?? (sub ? String(sub.customer) : null)
  if (!customerId) throw missingParameter('customer')
  const customer = findCustomerRef(ctx, customerId, 'customer')
  if (sub && sub.customer !== customer.id) {
    throw invalidRequest(`The subscription ${sub.id} does not belong to customer ${customer.id}.`, {
      param: 'subscription',
      validation: true,
    })
  }
  if (
    sub &&
    (sub.status === 'canceled' ||
      sub.status === 'incomplete_expired' ||
      (sub.cancel_at !== null && sub.cancel_at <= periodEnd(sub)) ||
      params.subscription_details?.cancel_at_period_end === true)
  ) {
    throw invalidRequest(`No upcoming invoices for customer: ${customer.id}`, {
      code: 'invoice_upcoming_none',
    })
  }
  // The items the invoice bills: the subscription's, with the requested changes.
  const now = ctx.clock.now()
  const items: Stripe.SubscriptionItem[] = sub ? clone(sub.items.data) : []
  for (const [index, change] of (changes ?? []).entries()) {
    const param = `subscription_details[items][${index}]`
    const price = change.price ? findPrice(ctx, change.price, `${param}[price]`) : null
    if (change.id) {
      const position = items.findIndex((item) => item.id === change.id)
      if (position < 0) {
        throw invalidRequest(`No such subscription item: '${change.id}'`, {
          param: `${param}[id]`,
          code: 'resource_missing',
          validation: true,
        })
      }
      if (change.deleted) {
        items.splice(position, 1)
        continue
      }
      if (price) items[position].price = clone(price)
      if (change.quantity !== undefined && change.quantity !== null) {
        items[position].quantity = change.quantity
      }
    } else {
      if (!price) throw missingParameter(`${param}[price]`)
      items.push({
        id: newId('subscription_item'),
        current_period_start: now,
        current_period_end: now,
        object: 'subscription_item',
        billing_thresholds: null,
        created: now,
        current_trial: null,
        discounts: [],
        metadata: applyMetadata({}, change.metadata),
        plan: planFromPrice(price),
        price: clone(price),
        quantity: change.quantity ?? 1,
        subscription: sub?.id ?? '',
        tax_rates: [],
      })
    }
  }
  checkSubscriptionPrices(
    items.map((item, index) => ({
      price: item.price,
      param: `subscription_details[items][${index}]`,
    }))
  )
  const currency = (
    items[0]?.price.currency ??
    params.currency ??
    params.invoice_items?.[0]?.currency ??
    customer.currency ??
    'usd'
  ).toLowerCase()
  // The period being billed: the subscription's next one, or a new one from now.
  const recurring = items[0]?.price.recurring
  const interval = recurring?.interval ?? 'month'
  const count = recurring?.interval_count ?? 1
  let start = now
  let end = now
  if (sub && params.subscription_details?.billing_cycle_anchor !== 'now') {
    start = periodEnd(sub)
    end = nextBoundary(sub.billing_cycle_anchor, interval, count, start)
  } else if (items.length > 0) {
    end = addIntervals(now, interval, count, 1)
  }
  for (const item of items) {
    item.current_period_start = start
    item.current_period_end = end
  }
  const invoice = blankInvoice({
    customer,
    subscription: sub,
    billingReason: 'upcoming',
    collectionMethod:
      sub?.collection_method === 'send_invoice' ? 'send_invoice' : 'charge_automatically',
    daysUntilDue: sub?.days_until_due ?? null,
    autoAdvance: true,
    currency,
    description: null,
    metadata: {},
    defaultPaymentMethod: null,
    periodStart: sub ? periodStart(sub) : now,
    periodEnd: sub ? periodEnd(sub) : now,
    created: start,
  })
  invoice.id = `upcoming_${invoice.id}`
  invoice.lines.url = `/v1/invoices/${invoice.id}/lines`
  const owner = sub ? { id: sub.id, metadata: sub.metadata } : { id: null, metadata: {} }
  for (const item of items) invoice.lines.data.push(subscriptionLine(ctx, invoice, owner, item))
  for (const ii of pendingInvoiceItems(ctx, customer.id, sub?.id ?? null, currency)) {
    invoice.lines.data.push(invoiceItemLine(invoice, ii))
  }
  for (const [index, extra] of (params.invoice_items ?? []).entries()) {
    const param = `invoice_items[${index}]`
    const price = extra.pricing?.price
      ? findPrice(ctx, extra.pricing.price, `${param}[pricing][price]`)
      : null
    if (!price && (extra.amount === undefined || extra.amount === null)) {
      throw missingParameter(`${param}[amount]`)
    }
    const quantity = extra.quantity ?? 1
    const amount = price ? (price.unit_amount ?? 0) * quantity : (extra.amount ?? 0)
    const pseudo: Stripe.InvoiceItem = {
      id: newId('invoice_item'),
      object: 'invoiceitem',
      amount,
      currency: price?.currency ?? (extra.currency ?? currency).toLowerCase(),
      customer: customer.id,
      customer_account: null,
      date: now,
      description: extra.description ?? null,
      discountable: true,
      discounts: [],
      invoice: invoice.id,
      livemode: false,
      metadata: applyMetadata({}, extra.metadata),
      parent: null,
      period: { start: now, end: now },
      pricing: {
        type: 'price_details',
        unit_amount_decimal: asDecimal(String(quantity > 0 ? amount / quantity : amount)),
      },
      proration: false,
      quantity,
      quantity_decimal: asDecimal(String(quantity)),
      tax_rates: [],
      test_clock: null,
    }
    invoice.lines.data.push(invoiceItemLine(invoice, pseudo))
  }
  recomputeTotals(invoice)
  const balance = customer.balance
  const applied = balance < 0 ? Math.max(balance, -invoice.total) : balance
  invoice.starting_balance = applied
  invoice.amount_due = Math.max(0, invoice.total + applied)
  invoice.amount_remaining = invoice.amount_due
  invoice.next_payment_attempt =
    invoice.collection_method === 'charge_automatically' && invoice.amount_due > 0 ? start : null
  return invoice
}

export function findInvoice(ctx: ResourceContext, id: string, param = 'id'): Stripe.Invoice {
  const invoice = ctx.store.get('invoice', id)
  if (!invoice) throw resourceMissing('invoice', id, param)
  return invoice
}

function findInvoiceItem(ctx: ResourceContext, id: string): Stripe.InvoiceItem {
  const item = ctx.store.get('invoiceitem', id)
  if (!item) throw resourceMissing('invoiceitem', id)
  return item
}

/** Rebuilds a draft's line for an invoice item after the item changed. */
function refreshDraftLine(ctx: ResourceContext, ii: Stripe.InvoiceItem) {
  if (typeof ii.invoice !== 'string') return
  const invoice = ctx.store.get('invoice', ii.invoice)
  if (!invoice || invoice.status !== 'draft') return
  updateInvoice(ctx, invoice.id, (next) => {
    next.lines.data = next.lines.data.filter(
      (line) => line.parent?.invoice_item_details?.invoice_item !== ii.id
    )
    attachInvoiceItem(ctx, next, ii)
    recomputeTotals(next)
  })
}

/** The invoice's lines as a paginated list (in invoice order). */
function linesPage(
  invoice: Stripe.Invoice,
  params: { limit?: number | null; starting_after?: string | null; ending_before?: string | null }
) {
  const lines = invoice.lines.data
  const records = lines.map((line, index) => ({ seq: lines.length - index, value: line }))
  return paginate(records, params, {
    url: `/v1/invoices/${invoice.id}/lines`,
    label: 'invoice line item',
    seqOf: (id) => {
      const index = lines.findIndex((line) => line.id === id)
      return index < 0 ? undefined : lines.length - index
    },
  })
}

export function invoicePaymentsOf(ctx: ResourceContext, invoiceId: string) {
  return ctx.store
    .records('invoice_payment')
    .filter(({ value, deleted }) => !deleted && value.invoice === invoiceId)
}

function deletedInvoice(id: string): Stripe.DeletedInvoice {
  return { id, object: 'invoice', deleted: true }
}

export const invoices: ResourceModule = {
  name: 'invoices',
  register(ctx) {
    // ---- preview (registered before `/v1/invoices/:id`, which would match it) -------
    ctx.route({
      method: 'POST',
      path: '/v1/invoices/create_preview',
      params: previewShape,
      returns: 'invoice',
      handler({ params, request }) {
        connectGuard(request, 'invoice', null)
        return previewInvoice(ctx, params)
      },
    })

    // ---- invoices ---------------------------------------------------------------------
    ctx.route({
      method: 'POST',
      path: '/v1/invoices',
      params: createShape,
      returns: 'invoice',
      handler({ params, origin, request }) {
        connectGuard(request, 'invoice', null)
        if (!params.customer && !params.subscription) throw missingParameter('customer')
        let sub: Stripe.Subscription | null = null
        if (params.subscription) {
          sub = ctx.store.get('subscription', params.subscription) ?? null
          if (!sub) throw resourceMissing('subscription', params.subscription, 'subscription')
        }
        const customer = findCustomerRef(ctx, params.customer ?? String(sub?.customer), 'customer')
        if (sub && sub.customer !== customer.id) {
          throw invalidRequest(
            `The subscription ${sub.id} does not belong to customer ${customer.id}.`,
            { param: 'subscription', validation: true }
          )
        }
        const collection = params.collection_method ?? 'charge_automatically'
        if (collection === 'send_invoice') {
          if (
            (params.days_until_due === undefined || params.days_until_due === null) &&
            (params.due_date === undefined || params.due_date === null)
          ) {
            throw invalidRequest(
              'Invoices with `collection_method=send_invoice` must have a `due_date` or `days_until_due`.',
              { param: 'days_until_due', validation: true }
            )
          }
        } else if (params.days_until_due !== undefined && params.days_until_due !== null) {
          throw invalidRequest(
            'You can only set `days_until_due` if `collection_method` is `send_invoice`.',
            { param: 'days_until_due', validation: true }
          )
        }
        if (params.default_payment_method) {
          requirePaymentMethod(ctx, params.default_payment_method, 'default_payment_method')
        }
        if (params.transfer_data) {
          requireTransferDestination(
            ctx,
            params.transfer_data.destination,
            'transfer_data[destination]'
          )
        }
        const now = ctx.clock.now()
        const currency = (
          params.currency ??
          sub?.currency ??
          customer.currency ??
          'usd'
        ).toLowerCase()
        const invoice = blankInvoice({
          customer,
          subscription: sub,
          billingReason: 'manual',
          collectionMethod: collection,
          daysUntilDue: params.days_until_due ?? null,
          autoAdvance: params.auto_advance ?? false,
          currency,
          description: params.description ?? null,
          metadata: applyMetadata({}, params.metadata),
          defaultPaymentMethod: params.default_payment_method ?? null,
          periodStart: now,
          periodEnd: now,
          created: now,
          footer: params.footer ?? null,
        })
        if (collection === 'send_invoice') {
          invoice.due_date = params.due_date ?? now + (params.days_until_due ?? 30) * DAY
        }
        invoice.on_behalf_of = params.on_behalf_of ?? null
        invoice.statement_descriptor = params.statement_descriptor ?? null
        ctx.store.insert('invoice', invoice.id, invoice)
        if (params.pending_invoice_items_behavior === 'include') {
          for (const ii of pendingInvoiceItems(ctx, customer.id, sub?.id ?? null, currency)) {
            if (sub && ii.parent?.subscription_details?.subscription !== sub.id) continue
            attachInvoiceItem(ctx, invoice, ii)
          }
          recomputeTotals(invoice)
          ctx.store.replace('invoice', invoice.id, invoice)
        }
        const state = invoiceState(ctx, invoice.id)
        ctx.store.replace('billing.invoice_state', invoice.id, {
          ...state,
          applicationFeeAmount: params.application_fee_amount ?? null,
          transferData: params.transfer_data
            ? {
                destination: params.transfer_data.destination,
                amount: params.transfer_data.amount ?? null,
              }
            : null,
          onBehalfOf: params.on_behalf_of ?? null,
        })
        ctx.events.emit('invoice.created', invoice, { request: origin })
        return invoice
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/invoices/:id',
      params: {},
      returns: 'invoice',
      handler({ path, request }) {
        connectGuard(request, 'invoice', path.id)
        const record = ctx.store.getRecord('invoice', path.id)
        if (!record) throw resourceMissing('invoice', path.id)
        return record.deleted ? deletedInvoice(path.id) : record.value
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/invoices/:id',
      params: updateShape,
      returns: 'invoice',
      handler({ params, path, origin, request }) {
        connectGuard(request, 'invoice', path.id)
        const current = findInvoice(ctx, path.id)
        const given = Object.entries(params)
          .filter(([, value]) => value !== undefined)
          .map(([key]) => key)
        if (current.status !== 'draft') {
          const locked = given.filter((key) => !FINALIZED_UPDATABLE.has(key))
          if (locked.length > 0) {
            throw invalidRequest(
              `Finalized invoices can't be updated in this way: ${locked.join(', ')} can only be changed on draft invoices.`,
              { param: locked[0], validation: true }
            )
          }
          if (params.auto_advance !== undefined && current.status !== 'open') {
            throw invalidRequest(
              `You can only update auto_advance on draft or open invoices; this invoice is ${current.status}.`,
              { param: 'auto_advance', validation: true }
            )
          }
        }
        if (params.default_payment_method) {
          requirePaymentMethod(ctx, params.default_payment_method, 'default_payment_method')
        }
        if (params.transfer_data) {
          requireTransferDestination(
            ctx,
            params.transfer_data.destination,
            'transfer_data[destination]'
          )
        }
        const next = clone(current)
        if (params.metadata !== undefined)
          next.metadata = applyMetadata(next.metadata ?? {}, params.metadata)
        if (params.description !== undefined) next.description = params.description
        if (params.footer !== undefined) next.footer = params.footer
        if (params.auto_advance !== undefined) {
          next.auto_advance = params.auto_advance ?? false
          if (next.status === 'open' && next.collection_method === 'charge_automatically') {
            if (!next.auto_advance) next.next_payment_attempt = null
            else if (next.next_payment_attempt === null && next.attempt_count === 0) {
              next.next_payment_attempt = ctx.clock.now() + 3600
            }
          }
        }
        if (params.collection_method) next.collection_method = params.collection_method
        if (params.default_payment_method !== undefined) {
          next.default_payment_method = params.default_payment_method
        }
        if (params.on_behalf_of !== undefined) next.on_behalf_of = params.on_behalf_of
        if (params.statement_descriptor !== undefined) {
          next.statement_descriptor = params.statement_descriptor
        }
        if (params.due_date !== undefined) next.due_date = params.due_date
        else if (params.days_until_due !== undefined && params.days_until_due !== null) {
          next.due_date = next.created + params.days_until_due * DAY
        }
        if (next.collection_method === 'charge_automatically') next.due_date = null
        else if (next.due_date === null) {
          throw invalidRequest(
            'Invoices with `collection_method=send_invoice` must have a `due_date` or `days_until_due`.',
            { param: 'days_until_due', validation: true }
          )
        }
        if (params.application_fee_amount !== undefined || params.transfer_data !== undefined) {
          const state = invoiceState(ctx, path.id)
          ctx.store.replace('billing.invoice_state', path.id, {
            ...state,
            applicationFeeAmount:
              params.application_fee_amount !== undefined
                ? params.application_fee_amount
                : state.applicationFeeAmount,
            transferData:
              params.transfer_data !== undefined
                ? params.transfer_data
                  ? {
                      destination: params.transfer_data.destination,
                      amount: params.transfer_data.amount ?? null,
                    }
                  : null
                : state.transferData,
          })
        }
        return saveUpdate(ctx, 'invoice', path.id, current, next, 'invoice.updated', {
          request: origin,
        })
      },
    })

    ctx.route({
      method: 'DELETE',
      path: '/v1/invoices/:id',
      params: {},
      handler({ path, origin, request }) {
        connectGuard(request, 'invoice', path.id)
        const invoice = findInvoice(ctx, path.id)
        if (invoice.status !== 'draft') {
          throw invalidRequest(
            `You can only delete draft invoices. This invoice is ${invoice.status}; void it instead.`,
            { validation: true }
          )
        }
        // Its invoice items go back to pending.
        for (const ii of ctx.store.list('invoiceitem')) {
          if (ii.invoice === invoice.id)
            ctx.store.replace('invoiceitem', ii.id, { ...ii, invoice: null })
        }
        ctx.store.markDeleted('invoice', path.id)
        ctx.events.emit('invoice.deleted', invoice, { request: origin })
        return deletedInvoice(path.id)
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/invoices',
      params: listShape,
      returns: 'list:invoice',
      handler({ params, request }) {
        const records = ctx.store.records('invoice').filter(({ value, deleted, account }) => {
          if (deleted || account !== request.stripeAccount) return false
          if (params.customer && value.customer !== params.customer) return false
          if (
            params.subscription &&
            value.parent?.subscription_details?.subscription !== params.subscription
          ) {
            return false
          }
          if (params.status && value.status !== params.status) return false
          if (params.collection_method && value.collection_method !== params.collection_method) {
            return false
          }
          if (!matchesRange(value.created, params.created)) return false
          if (params.due_date !== undefined && params.due_date !== null) {
            if (value.due_date === null || !matchesRange(value.due_date, params.due_date))
              return false
          }
          return true
        })
        return paginate(records, params, {
          url: '/v1/invoices',
          label: 'invoice',
          seqOf: (id) => ctx.store.seqOf('invoice', id),
        })
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/invoices/:id/finalize',
      params: { auto_advance: boolean() },
      returns: 'invoice',
      handler({ params, path, origin, request }) {
        connectGuard(request, 'invoice', path.id)
        const invoice = findInvoice(ctx, path.id)
        if (invoice.status !== 'draft') {
          throw invalidRequest(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice."
          )
        }
        if (params.auto_advance !== undefined && params.auto_advance !== null) {
          updateInvoice(
            ctx,
            path.id,
            (next) => void (next.auto_advance = params.auto_advance ?? false)
          )
        }
        return finalizeInvoice(ctx, path.id, origin)
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/invoices/:id/pay',
      params: {
        payment_method: string(),
        paid_out_of_band: boolean(),
        off_session: boolean(),
        forgive: boolean(),
        source: string(),
        mandate: string(),
      },
      returns: 'invoice',
      handler({ params, path, origin, request }) {
        connectGuard(request, 'invoice', path.id)
        const invoice = findInvoice(ctx, path.id)
        if (invoice.status === 'paid') throw invalidRequest('Invoice is already paid')
        if (invoice.status === 'void') {
          throw invalidRequest('This invoice has been voided and can no longer be paid.')
        }
        if (params.source) throw resourceMissing('source', params.source, 'source')
        if (params.payment_method) {
          requirePaymentMethod(ctx, params.payment_method, 'payment_method')
        }
        if (invoice.status === 'draft') finalizeInvoice(ctx, path.id, origin)
        const open = findInvoice(ctx, path.id)
        if (open.status === 'paid') return open
        if (params.paid_out_of_band) {
          return markInvoicePaid(ctx, path.id, {
            origin,
            at: ctx.clock.now(),
            paidOutOfBand: true,
          })
        }
        const result = attemptInvoicePayment(ctx, path.id, {
          paymentMethod: params.payment_method ?? null,
          offSession: params.off_session ?? true,
          origin,
          automatic: false,
        })
        if (result.error) throw result.error
        return result.invoice
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/invoices/:id/void',
      params: {},
      returns: 'invoice',
      handler({ path, origin, request }) {
        connectGuard(request, 'invoice', path.id)
        const invoice = findInvoice(ctx, path.id)
        if (invoice.status !== 'open' && invoice.status !== 'uncollectible') {
          throw invalidRequest(
            `You can only void open or uncollectible invoices. This invoice is ${invoice.status}.`
          )
        }
        return voidInvoice(ctx, path.id, origin)
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/invoices/:id/mark_uncollectible',
      params: {},
      returns: 'invoice',
      handler({ path, origin, request }) {
        connectGuard(request, 'invoice', path.id)
        const invoice = findInvoice(ctx, path.id)
        if (invoice.status !== 'open') {
          throw invalidRequest(
            `You can only mark open invoices as uncollectible. This invoice is ${invoice.status}.`
          )
        }
        const next = updateInvoice(ctx, path.id, (inv) => {
          inv.status = 'uncollectible'
          inv.status_transitions.marked_uncollectible_at = ctx.clock.now()
          inv.next_payment_attempt = null
        })
        ctx.events.emit('invoice.marked_uncollectible', next, { request: origin })
        return next
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/invoices/:id/send',
      params: {},
      returns: 'invoice',
      handler({ path, origin, request }) {
        connectGuard(request, 'invoice', path.id)
        const invoice = findInvoice(ctx, path.id)
        if (invoice.collection_method !== 'send_invoice') {
          throw invalidRequest(
            'You can only manually send an invoice if its collection method is `send_invoice`.'
          )
        }
        if (invoice.status !== 'open') {
          throw invalidRequest(
            `You can only send open invoices. This invoice is ${invoice.status}.`
          )
        }
        ctx.events.emit('invoice.sent', invoice, { request: origin })
        return invoice
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/invoices/:id/lines',
      params: paginationShape,
      returns: 'list:line_item',
      handler({ params, path, request }) {
        connectGuard(request, 'invoice', path.id)
        return linesPage(findInvoice(ctx, path.id), params)
      },
    })

    // ---- invoice items ----------------------------------------------------------------
    ctx.route({
      method: 'POST',
      path: '/v1/invoiceitems',
      params: invoiceItemCreateShape,
      returns: 'invoiceitem',
      handler({ params, origin, request }) {
        connectGuard(request, 'invoiceitem', null)
        const customer = findCustomerRef(ctx, params.customer, 'customer')
        const sources = [
          params.amount !== undefined && params.amount !== null ? 'amount' : null,
          params.pricing?.price ? 'pricing[price]' : null,
          params.price_data ? 'price_data' : null,
          params.unit_amount_decimal ? 'unit_amount_decimal' : null,
        ].filter((value): value is string => value !== null)
        if (sources.length > 1) {
          throw invalidRequest(
            `You may only specify one of these parameters: ${sources.join(', ')}.`,
            { validation: true }
          )
        }
        if (sources.length === 0) throw missingParameter('amount')
        let price: Stripe.Price | null = null
        if (params.pricing?.price) {
          price = findPrice(ctx, params.pricing.price, 'pricing[price]')
          if (price.recurring) {
            throw invalidRequest(
              'The price specified is set to `type=recurring` but this field only accepts prices with `type=one_time`.',
              { param: 'pricing[price]', validation: true }
            )
          }
        }
        if (params.price_data) {
          findProduct(ctx, params.price_data.product, 'price_data[product]')
        }
        if ((params.amount !== undefined && params.amount !== null) || params.unit_amount_decimal) {
          if (!params.currency) throw missingParameter('currency')
        }
        let invoice: Stripe.Invoice | null = null
        if (params.invoice) {
          invoice = findInvoice(ctx, params.invoice, 'invoice')
          if (invoice.status !== 'draft') {
            throw invalidRequest(
              `Invoice ${invoice.id} is no longer a draft; invoice items can only be added to draft invoices.`,
              { param: 'invoice', validation: true }
            )
          }
          if (invoice.customer !== customer.id) {
            throw invalidRequest(
              `The invoice ${invoice.id} does not belong to customer ${customer.id}.`,
              { param: 'invoice', validation: true }
            )
          }
        }
        let sub: Stripe.Subscription | null = null
        if (params.subscription) {
          sub = ctx.store.get('subscription', params.subscription) ?? null
          if (!sub) throw resourceMissing('subscription', params.subscription, 'subscription')
        }
        // The currency check is validation: nothing (not even a price_data Price) is
        // created when it fails.
        const itemCurrency = (
          params.price_data?.currency ??
          price?.currency ??
          params.currency ??
          ''
        ).toLowerCase()
        if (invoice && itemCurrency !== '' && invoice.currency !== itemCurrency) {
          throw invalidRequest(
            `The currency of this invoice item (${itemCurrency}) does not match the invoice's currency (${invoice.currency}).`,
            { param: 'currency', validation: true }
          )
        }
        if (params.price_data) {
          price = createPriceFromData(
            ctx,
            {
              currency: params.price_data.currency,
              product: params.price_data.product,
              unit_amount: params.price_data.unit_amount ?? null,
              unit_amount_decimal: params.price_data.unit_amount_decimal ?? null,
              tax_behavior: params.price_data.tax_behavior ?? null,
            },
            origin,
            'price_data'
          )
        }
        const quantity = params.quantity ?? 1
        let amount: number
        let currency: string
        let unitDecimal: string | null
        if (price) {
          amount = lineAmount(price, quantity)
          currency = price.currency
          unitDecimal = String(price.unit_amount_decimal ?? price.unit_amount ?? 0)
        } else if (params.unit_amount_decimal) {
          const unit = Number(params.unit_amount_decimal)
          if (!Number.isFinite(unit)) {
            throw invalidParameter(
              'unit_amount_decimal',
              'Invalid decimal: ' + params.unit_amount_decimal
            )
          }
          amount = Math.round(unit * quantity)
          currency = String(params.currency).toLowerCase()
          unitDecimal = params.unit_amount_decimal
        } else {
          amount = params.amount ?? 0
          currency = String(params.currency).toLowerCase()
          unitDecimal = quantity > 0 ? String(amount / quantity) : String(amount)
        }
        const now = ctx.clock.now()
        const ii: Stripe.InvoiceItem = {
          id: newId('invoice_item'),
          object: 'invoiceitem',
          amount,
          currency,
          customer: customer.id,
          customer_account: null,
          date: now,
          description: params.description ?? null,
          discountable: params.discountable ?? true,
          discounts: [],
          invoice: null,
          livemode: false,
          metadata: applyMetadata({}, params.metadata),
          net_amount: amount,
          parent: sub
            ? {
                subscription_details: { subscription: sub.id },
                type: 'subscription_details',
              }
            : null,
          period: params.period
            ? { start: params.period.start, end: params.period.end }
            : { start: now, end: now },
          pricing: {
            price_details: price
              ? {
                  price: price.id,
                  product: typeof price.product === 'string' ? price.product : price.product.id,
                }
              : undefined,
            type: 'price_details',
            unit_amount_decimal: asDecimal(unitDecimal),
          },
          proration: false,
          quantity,
          quantity_decimal: asDecimal(String(quantity)),
          tax_rates: [],
          test_clock: null,
        }
        if (!price && ii.pricing) delete ii.pricing.price_details
        ctx.store.insert('invoiceitem', ii.id, ii)
        if (invoice) {
          updateInvoice(ctx, invoice.id, (next) => {
            attachInvoiceItem(ctx, next, ii)
            recomputeTotals(next)
          })
        }
        const saved = findInvoiceItem(ctx, ii.id)
        ctx.events.emit('invoiceitem.created', saved, { request: origin })
        return saved
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/invoiceitems/:id',
      params: {},
      returns: 'invoiceitem',
      handler({ path, request }) {
        connectGuard(request, 'invoiceitem', path.id)
        const record = ctx.store.getRecord('invoiceitem', path.id)
        if (!record) throw resourceMissing('invoiceitem', path.id)
        if (record.deleted) {
          const deleted: Stripe.DeletedInvoiceItem = {
            id: path.id,
            object: 'invoiceitem',
            deleted: true,
          }
          return deleted
        }
        return record.value
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/invoiceitems/:id',
      params: invoiceItemUpdateShape,
      returns: 'invoiceitem',
      handler({ params, path, request }) {
        connectGuard(request, 'invoiceitem', path.id)
        const current = findInvoiceItem(ctx, path.id)
        if (typeof current.invoice === 'string') {
          const invoice = ctx.store.get('invoice', current.invoice)
          if (invoice && invoice.status !== 'draft') {
            throw invalidRequest(
              `This invoice item is attached to invoice ${invoice.id}, which is no longer a draft, and can no longer be updated.`
            )
          }
        }
        let price: Stripe.Price | null = null
        if (params.pricing?.price) price = findPrice(ctx, params.pricing.price, 'pricing[price]')
        const next = clone(current)
        if (params.description !== undefined) next.description = params.description
        if (params.metadata !== undefined)
          next.metadata = applyMetadata(next.metadata ?? {}, params.metadata)
        if (params.period) next.period = { start: params.period.start, end: params.period.end }
        if (params.discountable !== undefined) next.discountable = params.discountable ?? true
        if (params.quantity !== undefined && params.quantity !== null) {
          next.quantity = params.quantity
          next.quantity_decimal = asDecimal(String(params.quantity))
        }
        if (price) {
          next.pricing = {
            price_details: {
              price: price.id,
              product: typeof price.product === 'string' ? price.product : price.product.id,
            },
            type: 'price_details',
            unit_amount_decimal: price.unit_amount_decimal,
          }
          next.currency = price.currency
        }
        if (params.amount !== undefined && params.amount !== null) {
          next.amount = params.amount
          next.pricing = {
            type: 'price_details',
            unit_amount_decimal: asDecimal(
              String(next.quantity > 0 ? params.amount / next.quantity : params.amount)
            ),
          }
        } else {
          const unit = Number(String(next.pricing?.unit_amount_decimal ?? '0'))
          next.amount = Math.round(unit * next.quantity)
        }
        next.net_amount = next.amount
        ctx.store.replace('invoiceitem', path.id, next)
        refreshDraftLine(ctx, next)
        return findInvoiceItem(ctx, path.id)
      },
    })

    ctx.route({
      method: 'DELETE',
      path: '/v1/invoiceitems/:id',
      params: {},
      handler({ path, origin, request }) {
        connectGuard(request, 'invoiceitem', path.id)
        const current = findInvoiceItem(ctx, path.id)
        if (typeof current.invoice === 'string') {
          const invoice = ctx.store.get('invoice', current.invoice)
          if (invoice && invoice.status !== 'draft') {
            throw invalidRequest(
              `This invoice item is attached to invoice ${invoice.id}, which is no longer a draft, and can no longer be deleted.`
            )
          }
          if (invoice) {
            updateInvoice(ctx, invoice.id, (next) => {
              next.lines.data = next.lines.data.filter(
                (line) => line.parent?.invoice_item_details?.invoice_item !== current.id
              )
              recomputeTotals(next)
            })
          }
        }
        ctx.store.markDeleted('invoiceitem', path.id)
        ctx.events.emit('invoiceitem.deleted', current, { request: origin })
        const deleted: Stripe.DeletedInvoiceItem = {
          id: path.id,
          object: 'invoiceitem',
          deleted: true,
        }
        return deleted
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/invoiceitems',
      params: {
        ...paginationShape,
        customer: string(),
        invoice: string(),
        pending: boolean(),
        created: range(),
      },
      returns: 'list:invoiceitem',
      handler({ params, request }) {
        const records = ctx.store.records('invoiceitem').filter(({ value, deleted, account }) => {
          if (deleted || account !== request.stripeAccount) return false
          if (params.customer && value.customer !== params.customer) return false
          if (params.invoice && value.invoice !== params.invoice) return false
          if (params.pending === true && value.invoice !== null) return false
          if (params.pending === false && value.invoice === null) return false
          return matchesRange(value.date, params.created)
        })
        return paginate(records, params, {
          url: '/v1/invoiceitems',
          label: 'invoiceitem',
          seqOf: (id) => ctx.store.seqOf('invoiceitem', id),
        })
      },
    })

    // ---- invoice payments ---------------------------------------------------------------
    ctx.route({
      method: 'GET',
      path: '/v1/invoice_payments',
      params: {
        ...paginationShape,
        invoice: string(),
        payment: object({
          type: required(enumOf(['payment_intent', 'payment_record'])),
          payment_intent: string(),
          payment_record: string(),
        }),
        status: enumOf(['canceled', 'open', 'paid']),
        created: range(),
      },
      returns: 'list:invoice_payment',
      handler({ params, request }) {
        const records = ctx.store
          .records('invoice_payment')
          .filter(({ value, deleted, account }) => {
            if (deleted || account !== request.stripeAccount) return false
            if (params.invoice && value.invoice !== params.invoice) return false
            if (params.payment) {
              if (value.payment.type !== params.payment.type) return false
              if (
                params.payment.payment_intent &&
                value.payment.payment_intent !== params.payment.payment_intent
              ) {
                return false
              }
            }
            if (params.status && value.status !== params.status) return false
            return matchesRange(value.created, params.created)
          })
        return paginate(records, params, {
          url: '/v1/invoice_payments',
          label: 'invoice_payment',
          seqOf: (id) => ctx.store.seqOf('invoice_payment', id),
        })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/invoice_payments/:id',
      params: {},
      returns: 'invoice_payment',
      handler({ path, request }) {
        connectGuard(request, 'invoice_payment', path.id)
        const inpay = ctx.store.get('invoice_payment', path.id)
        if (!inpay) throw resourceMissing('invoice_payment', path.id)
        return inpay
      },
    })

    // ---- hosted invoice page (read-only) --------------------------------------------
    ctx.page({
      method: 'GET',
      path: '/i/:id',
      handler({ path }) {
        const invoice = ctx.store.get('invoice', path.id)
        if (!invoice || invoice.status === 'draft') {
          return {
            status: 404,
            html: page(
              'Invoice not found',
              html`<div class="wrap">
                <div class="panel"><h1>Invoice not found</h1></div>
              </div>`
            ),
          }
        }
        const lines = invoice.lines.data.map(
          (line) =>
            html`<li>
              <div>
                <div class="name">${line.description ?? ''}</div>
                <div class="desc">
                  ${formatDate(line.period.start)} – ${formatDate(line.period.end)}
                </div>
              </div>
              <div>${formatAmount(line.amount, line.currency)}</div>
            </li>`
        )
        const badge = invoice.status === 'paid' ? 'ok' : invoice.status === 'open' ? 'warn' : 'bad'
        return {
          html: page(
            `Invoice ${invoice.number ?? invoice.id}`,
            html`<div class="wrap">
              <div class="summary">
                <div class="label">Invoice ${invoice.number ?? ''}</div>
                <div class="total">${formatAmount(invoice.amount_due, invoice.currency)}</div>
                <p><span class="badge ${badge}">${invoice.status ?? ''}</span></p>
                <ul class="items">
                  ${lines}
                </ul>
                <p class="muted">
                  Total ${formatAmount(invoice.total, invoice.currency)} · Amount paid
                  ${formatAmount(invoice.amount_paid, invoice.currency)} · Amount remaining
                  ${formatAmount(invoice.amount_remaining, invoice.currency)}
                </p>
              </div>
            </div>`
          ),
        }
      },
    })
    ctx.page({
      method: 'GET',
      path: '/i/:id/pdf',
      handler({ path }) {
        return { redirect: `${ctx.publicUrl()}/i/${encodeURIComponent(path.id)}` }
      },
    })

    // ---- expansion ---------------------------------------------------------------------
    ctx.references('invoice', {
      customer: 'customer',
      default_payment_method: 'payment_method',
      on_behalf_of: 'account',
    })
    ctx.expandable('invoice', 'lines', { kind: 'nested', target: 'list:line_item' })
    ctx.references('line_item', { subscription: 'subscription' })
    ctx.expandable('invoice', 'parent', { kind: 'nested', target: 'invoice.parent' })
    ctx.expandable('invoice.parent', 'subscription_details', {
      kind: 'nested',
      target: 'invoice.parent.subscription_details',
    })
    ctx.references('invoice.parent.subscription_details', { subscription: 'subscription' })
    ctx.expandable('invoice', 'payments', {
      kind: 'include',
      target: 'list:invoice_payment',
      build: (parent) => {
        const records = invoicePaymentsOf(ctx, String(parent.id))
        return {
          object: 'list',
          data: records.slice(0, 10).map((record) => record.value),
          has_more: records.length > 10,
          url: `/v1/invoice_payments?invoice=${String(parent.id)}`,
        }
      },
    })
    ctx.references('invoice_payment', { invoice: 'invoice' })
    ctx.expandable('invoice_payment', 'payment', {
      kind: 'nested',
      target: 'invoice_payment.payment',
    })
    ctx.references('invoice_payment.payment', {
      payment_intent: 'payment_intent',
      charge: 'charge',
    })
    ctx.references('invoiceitem', { customer: 'customer', invoice: 'invoice' })
  },
}
