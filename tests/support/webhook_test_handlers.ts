import type Stripe from 'stripe'
import {
  defineHandler,
  type AnyWebhookHandler,
  type WebhookContext,
} from '#services/webhooks/types'

/**
 * Test-only webhook handlers. The handler table is a plain object: tests add
 * a type for the duration of a test (withTestHandler) and put back what was
 * there. CLI child processes get `renameUserFromCustomer` through
 * tests/support/cli_test_handlers.ts (node --import).
 */

/** customer.updated -> the user with that Stripe customer takes the customer's name (through ctx.trx). */
export const renameUserFromCustomer = defineHandler({
  apply: async ({ event, trx }) => {
    const customer = event.data.object as Stripe.Customer
    await trx
      .from('users')
      .where('stripe_customer_id', customer.id)
      .update({ full_name: customer.name ?? '', updated_at: new Date() })
  },
})

/** A handler with no fetch phase. */
export function applyOnly(apply: (context: WebhookContext) => Promise<void>) {
  return defineHandler({ apply })
}

export const TEST_EVENT_TYPE = 'customer.updated' satisfies Stripe.Event.Type

/** Runs `fn` with `handler` registered for `type`, then restores the table. */
export async function withTestHandler<T>(
  type: Stripe.Event.Type,
  handler: AnyWebhookHandler,
  fn: () => Promise<T>
): Promise<T> {
  const { handlers } = await import('#services/webhooks/handlers')
  const had = Object.hasOwn(handlers, type)
  const previous = handlers[type]
  handlers[type] = handler
  try {
    return await fn()
  } finally {
    if (had) handlers[type] = previous
    else delete handlers[type]
  }
}
