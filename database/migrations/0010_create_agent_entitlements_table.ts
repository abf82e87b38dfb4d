import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  protected tableName = 'agent_entitlements'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('user_id')
        .notNullable()
        .references('id')
        .inTable('users')
        .onDelete('RESTRICT')
      table
        .bigInteger('agent_id')
        .notNullable()
        .references('id')
        .inTable('marketplace_agents')
        .onDelete('RESTRICT')
      // Snapshot at purchase: a later price change on the agent does not change what was bought.
      table.string('pricing_type', 16).notNullable()
      table.string('status', 16).notNullable().defaultTo('pending')
      table.string('stripe_subscription_id', 255).nullable().unique()
      table.string('stripe_checkout_session_id', 255).nullable().unique()
      table.string('stripe_payment_intent_id', 255).nullable().unique()
      table.boolean('cancel_at_period_end').notNullable().defaultTo(false)
      table.timestamp('current_period_end', { useTz: true }).nullable()
      table.timestamp('canceled_at', { useTz: true }).nullable()
      table.timestamp('refunded_at', { useTz: true }).nullable()
      // `created` of the Stripe event whose state this row holds: older events are refused.
      table.timestamp('stripe_updated_at', { useTz: true }).nullable()

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()

      table.index(['agent_id'])
    })
    this.schema.raw(`
      ALTER TABLE agent_entitlements
        ADD CONSTRAINT agent_entitlements_pricing_type_check
          CHECK (pricing_type IN ('free', 'monthly', 'one_time', 'api')),
        ADD CONSTRAINT agent_entitlements_status_check
          CHECK (status IN ('pending', 'active', 'past_due', 'canceled', 'refunded'))
    `)
    // A user never holds two live entitlements to one agent; ended ones are kept as history.
    this.schema.raw(`
      CREATE UNIQUE INDEX agent_entitlements_one_live_per_user_agent
        ON agent_entitlements (user_id, agent_id)
        WHERE status IN ('pending', 'active', 'past_due')
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
