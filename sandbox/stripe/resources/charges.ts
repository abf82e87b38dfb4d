/**
 * `/v1/charges`: retrieve, update, list. Charges are created by payments
 * (PaymentIntents, Checkout, invoices) and, on connected accounts, by transfers
 * (`py_…`, visible with `Stripe-Account`). `refunds` is includable.
 */
import type Stripe from 'stripe'
import type { ResourceModule } from '../context.js'
import { saveUpdate } from '../events.js'
import { formatAmount, formatDate, html, page } from '../hosted/html.js'
import { paginate } from '../list.js'
import { customerIdOf, findCharge } from '../payments.js'
import {
  applyMetadata,
  enumOf,
  matchesRange,
  metadata,
  object,
  paginationShape,
  range,
  required,
  string,
} from '../params.js'

const updateShape = {
  customer: string(),
  description: string({ maxLength: 40000 }),
  fraud_details: object({ user_report: enumOf(['fraudulent', 'safe']) }),
  metadata: metadata(),
  receipt_email: string(),
  shipping: object({
    address: required(
      object({
        city: string(),
        country: string(),
        line1: string(),
        line2: string(),
        postal_code: string(),
        state: string(),
      })
    ),
    name: required(string()),
    phone: string(),
    carrier: string(),
    tracking_number: string(),
  }),
  transfer_group: string(),
}

const listShape = {
  ...paginationShape,
  created: range(),
  customer: string(),
  payment_intent: string(),
  transfer_group: string(),
}

export const charges: ResourceModule = {
  name: 'charges',
  register(ctx) {
    ctx.route({
      method: 'GET',
      path: '/v1/charges/:id',
      params: {},
      returns: 'charge',
      handler({ path, request }) {
        return findCharge(ctx, path.id, 'id', request.stripeAccount)
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/charges/:id',
      params: updateShape,
      returns: 'charge',
      handler({ params, path, request, origin }) {
        const current = findCharge(ctx, path.id, 'id', request.stripeAccount)
        const next: Stripe.Charge = {
          ...current,
          metadata: applyMetadata(current.metadata, params.metadata),
        }
        for (const key of ['description', 'receipt_email', 'transfer_group'] as const) {
          const value = params[key]
          if (value !== undefined) next[key] = value
        }
        if (params.customer) next.customer = params.customer
        if (params.fraud_details?.user_report)
          next.fraud_details = { user_report: params.fraud_details.user_report }
        if (params.shipping !== undefined) {
          next.shipping = params.shipping
            ? {
                address: {
                  city: params.shipping.address.city ?? null,
                  country: params.shipping.address.country ?? null,
                  line1: params.shipping.address.line1 ?? null,
                  line2: params.shipping.address.line2 ?? null,
                  postal_code: params.shipping.address.postal_code ?? null,
                  state: params.shipping.address.state ?? null,
                },
                carrier: params.shipping.carrier ?? null,
                name: params.shipping.name,
                phone: params.shipping.phone ?? null,
                tracking_number: params.shipping.tracking_number ?? null,
              }
            : null
        }
        return saveUpdate(ctx, 'charge', current.id, current, next, 'charge.updated', {
          request: origin,
          account: request.stripeAccount,
        })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/charges',
      params: listShape,
      returns: 'list:charge',
      handler({ params, request }) {
        const records = ctx.store
          .records('charge')
          .filter(
            ({ value, deleted, account }) =>
              !deleted &&
              account === request.stripeAccount &&
              (!params.customer || customerIdOf(value) === params.customer) &&
              (!params.payment_intent || value.payment_intent === params.payment_intent) &&
              (!params.transfer_group || value.transfer_group === params.transfer_group) &&
              matchesRange(value.created, params.created)
          )
        return paginate(records, params, {
          url: '/v1/charges',
          label: 'charge',
          seqOf: (id) => ctx.store.seqOf('charge', id),
        })
      },
    })

    // `receipt_url`: the customer's receipt (what pay.stripe.com/receipts shows).
    ctx.page({
      method: 'GET',
      path: '/receipts/payment/:id',
      handler({ path }) {
        const charge = ctx.store.get('charge', path.id)
        if (!charge || charge.status !== 'succeeded') {
          return {
            status: 404,
            html: page(
              'Receipt not found',
              html`<div class="wrap">
                <div class="panel">
                  <h1>Receipt not found</h1>
                  <p class="muted">This receipt link is invalid.</p>
                </div>
              </div>`
            ),
          }
        }
        const card = charge.payment_method_details?.card
        const refunded =
          charge.amount_refunded > 0
            ? html`<li>
                <span class="name">Refunded</span
                ><span>−${formatAmount(charge.amount_refunded, charge.currency)}</span>
              </li>`
            : html``
        const body = html`<div class="wrap">
          <div class="panel">
            <h1>Receipt</h1>
            <div class="label">Amount paid</div>
            <div class="total">${formatAmount(charge.amount, charge.currency)}</div>
            <ul class="items">
              <li><span class="name">Date paid</span><span>${formatDate(charge.created)}</span></li>
              <li>
                <span class="name">Payment method</span
                ><span>${card ? `${card.brand ?? 'card'} •••• ${card.last4 ?? ''}` : 'card'}</span>
              </li>
              ${charge.description ? html`<li><span class="name">Description</span><span>${charge.description}</span></li>` : html``}
              ${refunded}
              <li><span class="name">Receipt for</span><span>${charge.id}</span></li>
            </ul>
            ${charge.receipt_email ? html`<p class="muted">Sent to ${charge.receipt_email}</p>` : html``}
          </div>
        </div>`
        return { html: page(`Receipt for ${formatAmount(charge.amount, charge.currency)}`, body) }
      },
    })

    ctx.references(
      'charge',
      {
        balance_transaction: 'balance_transaction',
        customer: 'customer',
        payment_intent: 'payment_intent',
        application_fee: 'application_fee',
        transfer: 'transfer',
      },
      { target: false }
    )
    ctx.references('charge', {
      source_transfer: 'transfer',
      on_behalf_of: 'account',
      failure_balance_transaction: 'balance_transaction',
    })
    ctx.expandable('charge', 'transfer_data', { kind: 'nested', target: 'charge.transfer_data' })
    ctx.references('charge.transfer_data', { destination: 'account' })
    // Includable since 2022-11-15: the charge's refunds, newest first.
    ctx.expandable('charge', 'refunds', {
      kind: 'include',
      target: 'list:refund',
      build: (parent) => {
        const id = String(parent.id)
        const records = ctx.store
          .records('refund')
          .filter(({ value, deleted }) => !deleted && value.charge === id)
        return {
          object: 'list',
          data: records.slice(0, 10).map(({ value }) => value),
          has_more: records.length > 10,
          total_count: records.length,
          url: `/v1/charges/${id}/refunds`,
        }
      },
    })
  },
}
