import app from '@adonisjs/core/services/app'
import type Stripe from 'stripe'
import SubscriptionService from '#services/subscription_service'
import { fromStripeTime } from '#support/stripe_time'
import type { HandlerTable, WebhookContext } from './types.js'

/**
 * Applies the subscription as Stripe holds it now (not the event's possibly
 * stale copy), guarded by the event's `created`: duplicates and late or
 * out-of-order deliveries converge on Stripe's current state.
 */
async function applySubscription(context: WebhookContext, reference: Stripe.Subscription | string) {
  const subscriptions = await app.container.make(SubscriptionService)
  await subscriptions.applyCurrent(reference, {
    trx: context.trx,
    eventCreated: fromStripeTime(context.event.created),
  })
}

/** The subscription an invoice belongs to, if it is a subscription invoice. */
function invoiceSubscription(invoice: Stripe.Invoice): string | null {
  const reference = invoice.parent?.subscription_details?.subscription
  if (!reference) return null
  return typeof reference === 'string' ? reference : reference.id
}

async function onSubscriptionEvent(context: WebhookContext) {
  await applySubscription(context, context.event.data.object as Stripe.Subscription)
}

/**
 * invoice.paid (a past_due subscription recovering, a renewal) and
 * invoice.payment_failed (past_due): the subscription's state is what
 * matters; nothing else is recorded for Premium invoices. Invoices without a
 * subscription, or of subscriptions that are not Premium, are left alone.
 */
async function onSubscriptionInvoice(context: WebhookContext) {
  const subscription = invoiceSubscription(context.event.data.object as Stripe.Invoice)
  if (subscription) await applySubscription(context, subscription)
}

/** Premium subscriptions and their invoices. */
export const subscriptionHandlers: HandlerTable = {
  'customer.subscription.created': onSubscriptionEvent,
  'customer.subscription.updated': onSubscriptionEvent,
  'customer.subscription.deleted': onSubscriptionEvent,
  'invoice.paid': onSubscriptionInvoice,
  'invoice.payment_failed': onSubscriptionInvoice,
}
