import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  protected tableName = 'subscriptions'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('user_id')
        .notNullable()
        .references('id')
        .inTable('users')
        .onDelete('RESTRICT')
      table.string('type', 32).notNullable().defaultTo('premium')
      table.string('stripe_subscription_id', 255).notNullable().unique()
      table.string('stripe_customer_id', 255).notNullable()
      table.string('stripe_price_id', 255).notNullable()
      table.string('status', 32).notNullable()
      table.boolean('cancel_at_period_end').notNullable().defaultTo(false)
      table.timestamp('current_period_start', { useTz: true }).nullable()
      table.timestamp('current_period_end', { useTz: true }).nullable()
      table.timestamp('trial_ends_at', { useTz: true }).nullable()
      table.timestamp('canceled_at', { useTz: true }).nullable()
      table.timestamp('ended_at', { useTz: true }).nullable()
      table.timestamp('past_due_since', { useTz: true }).nullable()
      // `created` of the Stripe event whose state this row holds: older events are refused.
      table.timestamp('stripe_updated_at', { useTz: true }).notNullable()

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()

      table.index(['user_id'])
    })
    this.schema.raw(`
      ALTER TABLE subscriptions
        ADD CONSTRAINT subscriptions_type_check CHECK (type IN ('premium')),
        ADD CONSTRAINT subscriptions_status_check CHECK (status IN (
          'incomplete', 'incomplete_expired', 'trialing', 'active',
          'past_due', 'unpaid', 'canceled', 'paused'
        ))
    `)
    // A user holds at most one live subscription of each type; ended ones are kept as history.
    this.schema.raw(`
      CREATE UNIQUE INDEX subscriptions_one_live_per_user_type
        ON subscriptions (user_id, type)
        WHERE status NOT IN ('canceled', 'incomplete_expired')
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
