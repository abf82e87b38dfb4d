import app from '@adonisjs/core/services/app'
import type Stripe from 'stripe'
import SubscriptionService, { type FetchedSubscription } from '#services/subscription_service'
import { fromStripeTime } from '#support/stripe_time'
import { defineHandler, type HandlerTable } from './types.js'

/** The subscription an invoice belongs to, if it is a subscription invoice. */
function invoiceSubscription(invoice: Stripe.Invoice): string | null {
  const reference = invoice.parent?.subscription_details?.subscription
  if (!reference) return null
  return typeof reference === 'string' ? reference : reference.id
}

/**
 * Applies a subscription as Stripe holds it (read before the transaction),
 * not the event's possibly stale copy, guarded by the event's `created` and
 * the read time: duplicates and late or out-of-order deliveries converge on
 * Stripe's current state.
 */
function subscriptionHandler(
  reference: (event: Stripe.Event) => Stripe.Subscription | string | null
) {
  return defineHandler<FetchedSubscription | null>({
    fetch: async (event) => {
      const target = reference(event)
      if (!target) return null
      const subscriptions = await app.container.make(SubscriptionService)
      return subscriptions.fetchState(target)
    },
    apply: async ({ event, trx }, state) => {
      if (!state) return
      const subscriptions = await app.container.make(SubscriptionService)
      await subscriptions.applyState(state, { trx, eventCreated: fromStripeTime(event.created) })
    },
  })
}

const onSubscriptionEvent = subscriptionHandler((event) => event.data.object as Stripe.Subscription)

/**
 * invoice.paid (a past_due subscription recovering, a renewal) and
 * invoice.payment_failed (past_due): the subscription's state is what
 * matters; nothing else is recorded for Premium invoices. Invoices without a
 * subscription, or of subscriptions that are not Premium, are left alone.
 */
const onSubscriptionInvoice = subscriptionHandler((event) =>
  invoiceSubscription(event.data.object as Stripe.Invoice)
)

/** Premium subscriptions and their invoices. */
export const subscriptionHandlers: HandlerTable = {
  'customer.subscription.created': onSubscriptionEvent,
  'customer.subscription.updated': onSubscriptionEvent,
  'customer.subscription.deleted': onSubscriptionEvent,
  'invoice.paid': onSubscriptionInvoice,
  'invoice.payment_failed': onSubscriptionInvoice,
}
