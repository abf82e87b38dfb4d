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

export type WebhookHandler = (context: WebhookContext) => Promise<void>

/** Event type -> handler. Types without a handler are recorded as ignored. */
export type HandlerTable = Partial<Record<Stripe.Event.Type, WebhookHandler>>
