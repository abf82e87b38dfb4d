import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import StripeGateway from '#services/stripe_gateway'
import { truncate } from '#tests/support/database'
import { stripeSandbox } from '#tests/support/stripe'

/**
 * For suites that commit real transactions against the run-long Stripe
 * sandbox: lets in-flight webhooks land, clears the sandbox's faults and
 * webhook rules, puts the real Stripe gateway back, empties `tables`, and
 * restarts the ids of `sequences` at `start`. Our Stripe idempotency keys
 * derive from ids, so each caller passes a start no other test has used.
 */
export async function resetCommitted(options: {
  tables: string[]
  sequences: string[]
  start: number
}) {
  await stripeSandbox().waitForIdle(20_000)
  stripeSandbox().holdWebhooks(false)
  stripeSandbox().clearFaults()
  stripeSandbox().clearWebhookRules()
  app.container.restore(StripeGateway)
  await truncate(...options.tables)
  for (const table of options.sequences) {
    await db.rawQuery(`SELECT setval(pg_get_serial_sequence(?, 'id'), ?, false)`, [
      table,
      options.start,
    ])
  }
}
