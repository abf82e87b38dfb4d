import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * When we read the state a subscription row holds from Stripe (our clock).
 * Stripe's event times have one-second resolution: of two states stamped
 * with the same second, the one read later wins.
 */
export default class extends BaseSchema {
  protected tableName = 'subscriptions'

  async up() {
    this.schema.alterTable(this.tableName, (table) => {
      table.timestamp('stripe_fetched_at', { useTz: true }).nullable()
    })
  }

  async down() {
    this.schema.alterTable(this.tableName, (table) => {
      table.dropColumn('stripe_fetched_at')
    })
  }
}
