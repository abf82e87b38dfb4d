import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  protected tableName = 'deploy_slot_purchases'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('user_id')
        .notNullable()
        .references('id')
        .inTable('users')
        .onDelete('RESTRICT')
      table.string('stripe_checkout_session_id', 255).notNullable().unique()
      table.string('stripe_payment_intent_id', 255).nullable().unique()
      table.bigInteger('amount_cents').notNullable()
      table.string('currency', 3).notNullable().defaultTo('usd')
      table.string('status', 16).notNullable().defaultTo('active')
      table.timestamp('purchased_at', { useTz: true }).notNullable()
      table.timestamp('refunded_at', { useTz: true }).nullable()

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()

      table.index(['user_id', 'status'])
    })
    this.schema.raw(`
      ALTER TABLE deploy_slot_purchases
        ADD CONSTRAINT deploy_slot_purchases_amount_check CHECK (amount_cents > 0),
        ADD CONSTRAINT deploy_slot_purchases_currency_check CHECK (currency ~ '^[a-z]{3}$'),
        ADD CONSTRAINT deploy_slot_purchases_status_check CHECK (status IN ('active', 'refunded')),
        ADD CONSTRAINT deploy_slot_purchases_refunded_at_check
          CHECK ((status = 'refunded') = (refunded_at IS NOT NULL))
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
