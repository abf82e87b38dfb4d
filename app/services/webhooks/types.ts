import type { DateTime } from 'luxon'
import type Stripe from 'stripe'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'

/** What a webhook handler gets: the verified event and the transaction that marks it processed. */
export interface WebhookContext {
  event: Stripe.Event
  /** Every write of the handler goes through it: it commits with the "processed" mark, or not at all. */
  trx: TransactionClientContract
  /** When we received the event (not Stripe's `created`). */
  receivedAt: DateTime
}

/**
 * One event type's handler, in two phases so no network call ever runs while
 * a database lock is held:
 * - `fetch` (optional) reads what it needs from Stripe before any transaction
 *   is opened (the current subscription, a charge's session...). It may run
 *   again on a redelivery or replay, so it must not write anything.
 * - `apply` writes the effects inside the transaction that marks the event
 *   processed, under the locks it takes, and must not call Stripe. It guards
 *   on freshness itself: what `fetch` read may be older than the rows by then.
 */
export interface WebhookHandler<Fetched = undefined> {
  fetch?: (event: Stripe.Event) => Promise<Fetched>
  apply: (context: WebhookContext, fetched: Fetched) => Promise<void>
}

/** A handler with its fetched type erased, as the table holds it. */
export interface AnyWebhookHandler {
  fetch?: (event: Stripe.Event) => Promise<unknown>
  apply: (context: WebhookContext, fetched: unknown) => Promise<void>
}

/** Keeps `fetch` and `apply` agreeing on what is fetched, then erases it for the table. */
export function defineHandler<Fetched = undefined>(
  handler: WebhookHandler<Fetched>
): AnyWebhookHandler {
  return handler as AnyWebhookHandler
}

/** Event type -> handler. Types without a handler are recorded as ignored. */
export type HandlerTable = Partial<Record<Stripe.Event.Type, AnyWebhookHandler>>
