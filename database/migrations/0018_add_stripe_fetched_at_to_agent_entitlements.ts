import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * As for subscriptions (0017): when we read from Stripe the state an agent
 * subscription's entitlement holds, so that of two states stamped with the
 * same second the one read later wins.
 */
export default class extends BaseSchema {
  protected tableName = 'agent_entitlements'

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
