import app from '@adonisjs/core/services/app'
import type Stripe from 'stripe'
import SubscriptionService, { type FetchedSubscription } from '#services/subscription_service'
import AgentEntitlementService, {
  type FetchedAgentInvoice,
  type FetchedAgentSubscription,
} from '#services/marketplace/entitlement_service'
import { fromStripeTime } from '#support/stripe_time'
import { defineHandler, type HandlerTable } from './types.js'
import {
  isUsageInvoiceEvent,
  onUsageInvoicePaid,
  onUsageInvoicePaymentFailed,
} from './usage_handlers.js'

/** The subscription an invoice belongs to, if it is a subscription invoice. */
function invoiceSubscription(invoice: Stripe.Invoice): string | null {
  const reference = invoice.parent?.subscription_details?.subscription
  if (!reference) return null
  return typeof reference === 'string' ? reference : reference.id
}

/** What a subscription handler read before its transaction: Premium's state or an agent's. */
type Fetched =
  | { for: 'premium'; state: FetchedSubscription }
  | { for: 'agent'; state: FetchedAgentSubscription }
  | null

/**
 * Applies a subscription as Stripe holds it (read before the transaction),
 * not the event's possibly stale copy, guarded by the event's `created` and
 * the read time: duplicates and late or out-of-order deliveries converge on
 * Stripe's current state. Premium subscriptions are mirrored by
 * SubscriptionService, agent subscriptions by AgentEntitlementService.
 */
function subscriptionHandler(
  reference: (event: Stripe.Event) => { id: Stripe.Subscription | string; kind?: string } | null
) {
  return defineHandler<Fetched>({
    fetch: async (event) => {
      const target = reference(event)
      if (!target) return null
      if (target.kind === 'agent') {
        const entitlements = await app.container.make(AgentEntitlementService)
        return { for: 'agent', state: await entitlements.fetchSubscription(target.id) }
      }
      const subscriptions = await app.container.make(SubscriptionService)
      return { for: 'premium', state: await subscriptions.fetchState(target.id) }
    },
    apply: async ({ event, trx }, fetched) => {
      if (!fetched) return
      const options = { trx, eventCreated: fromStripeTime(event.created) }
      if (fetched.for === 'agent') {
        const entitlements = await app.container.make(AgentEntitlementService)
        await entitlements.applySubscription(fetched.state, options)
        return
      }
      const subscriptions = await app.container.make(SubscriptionService)
      await subscriptions.applyState(fetched.state, options)
    },
  })
}

const onSubscriptionEvent = subscriptionHandler((event) => {
  const subscription = event.data.object as Stripe.Subscription
  return { id: subscription, kind: subscription.metadata?.kind }
})

/** An invoice's subscription, with the subscription's kind (its metadata rides on the invoice). */
function invoiceTarget(event: Stripe.Event) {
  const invoice = event.data.object as Stripe.Invoice
  const id = invoiceSubscription(invoice)
  if (!id) return null
  return { id, kind: invoice.parent?.subscription_details?.metadata?.kind }
}

/**
 * invoice.payment_failed (past_due), and invoice.paid of Premium (a
 * past_due subscription recovering, a renewal): the subscription's state is
 * what matters. Invoices without a subscription are left alone.
 */
const onSubscriptionInvoice = subscriptionHandler(invoiceTarget)

/**
 * invoice.paid: an agent subscription's paid invoice also writes the
 * creator's earning (first invoice: the sale, later ones: renewals), keyed
 * on the invoice; its charge is read first, so a refund finds it.
 */
const onInvoicePaid = defineHandler<
  | { for: 'agent_invoice'; invoice: FetchedAgentInvoice }
  | { for: 'usage'; fetched: unknown }
  | { for: 'other'; fetched: unknown }
>({
  fetch: async (event) => {
    const invoice = event.data.object as Stripe.Invoice
    if (isUsageInvoiceEvent(event)) {
      return { for: 'usage', fetched: await onUsageInvoicePaid.fetch!(event) }
    }
    if (AgentEntitlementService.isAgentInvoice(invoice)) {
      const entitlements = await app.container.make(AgentEntitlementService)
      return { for: 'agent_invoice', invoice: await entitlements.fetchInvoice(invoice) }
    }
    return { for: 'other', fetched: await onSubscriptionInvoice.fetch!(event) }
  },
  apply: async (context, fetched) => {
    if (fetched.for === 'usage') return onUsageInvoicePaid.apply(context, fetched.fetched)
    if (fetched.for === 'other') return onSubscriptionInvoice.apply(context, fetched.fetched)
    const entitlements = await app.container.make(AgentEntitlementService)
    await entitlements.applyPaidInvoice(fetched.invoice, {
      trx: context.trx,
      eventCreated: fromStripeTime(context.event.created),
    })
  },
})

/** invoice.payment_failed: monthly usage invoices to their handler, the rest as above. */
const onInvoicePaymentFailed = defineHandler<{ usage: boolean; fetched: unknown }>({
  fetch: async (event) =>
    isUsageInvoiceEvent(event)
      ? { usage: true, fetched: await onUsageInvoicePaymentFailed.fetch!(event) }
      : { usage: false, fetched: await onSubscriptionInvoice.fetch!(event) },
  apply: (context, { usage, fetched }) =>
    usage
      ? onUsageInvoicePaymentFailed.apply(context, fetched)
      : onSubscriptionInvoice.apply(context, fetched),
})

/** Premium and agent subscriptions, their invoices, and monthly usage invoices (routed). */
export const subscriptionHandlers: HandlerTable = {
  'customer.subscription.created': onSubscriptionEvent,
  'customer.subscription.updated': onSubscriptionEvent,
  'customer.subscription.deleted': onSubscriptionEvent,
  'invoice.paid': onInvoicePaid,
  'invoice.payment_failed': onInvoicePaymentFailed,
}
