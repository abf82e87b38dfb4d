import app from '@adonisjs/core/services/app'
import type Stripe from 'stripe'
import UsageInvoiceService, {
  type FetchedUsageInvoice,
} from '#services/usage/usage_invoice_service'
import { fromStripeTime } from '#support/stripe_time'
import { defineHandler } from './types.js'

/** Whether an invoice event is about a monthly usage invoice (`metadata.kind === 'usage'`). */
export function isUsageInvoiceEvent(event: Stripe.Event) {
  return UsageInvoiceService.isUsageInvoice(event.data.object as Stripe.Invoice)
}

/**
 * invoice.paid of a usage invoice: our row becomes paid, and each api agent
 * used in it earns its creator's share (source: our usage invoice id, with
 * the charge read first so a refund finds it). Safe to run twice and out of
 * order: paid never moves back, the earnings are unique per invoice and agent.
 */
export const onUsageInvoicePaid = defineHandler<FetchedUsageInvoice>({
  fetch: async (event) => {
    const invoices = await app.container.make(UsageInvoiceService)
    return invoices.fetch(event.data.object as Stripe.Invoice)
  },
  apply: async ({ event, trx }, fetched) => {
    const invoices = await app.container.make(UsageInvoiceService)
    await invoices.applyStripeInvoice(fetched, { trx, eventCreated: fromStripeTime(event.created) })
  },
})

/**
 * invoice.payment_failed of a usage invoice: our row becomes failed with the
 * decline reason and Stripe's next retry; the billing page lists it as past
 * due until a retry (or the user paying) brings invoice.paid. Ignored once
 * paid, and when older than the state already applied.
 */
export const onUsageInvoicePaymentFailed = defineHandler<FetchedUsageInvoice>({
  fetch: async (event) => {
    const invoices = await app.container.make(UsageInvoiceService)
    return invoices.fetch(event.data.object as Stripe.Invoice, { failure: true })
  },
  apply: async ({ event, trx }, fetched) => {
    const invoices = await app.container.make(UsageInvoiceService)
    await invoices.applyStripeInvoice(fetched, {
      trx,
      eventCreated: fromStripeTime(event.created),
      failed: true,
    })
  },
})
