import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  protected tableName = 'credit_purchases'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('user_id')
        .notNullable()
        .references('id')
        .inTable('users')
        .onDelete('RESTRICT')
      table.string('package_key', 32).notNullable()
      table.bigInteger('credits_cents').notNullable()
      table.bigInteger('amount_cents').notNullable()
      table.string('currency', 3).notNullable().defaultTo('usd')
      table.string('stripe_checkout_session_id', 255).notNullable().unique()
      table.string('stripe_payment_intent_id', 255).nullable().unique()
      table.string('status', 16).notNullable().defaultTo('pending')
      table.timestamp('paid_at', { useTz: true }).nullable()
      table.timestamp('refunded_at', { useTz: true }).nullable()

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()

      table.index(['user_id'])
    })
    this.schema.raw(`
      ALTER TABLE credit_purchases
        ADD CONSTRAINT credit_purchases_credits_check CHECK (credits_cents > 0),
        ADD CONSTRAINT credit_purchases_amount_check CHECK (amount_cents > 0),
        ADD CONSTRAINT credit_purchases_currency_check CHECK (currency ~ '^[a-z]{3}$'),
        ADD CONSTRAINT credit_purchases_status_check
          CHECK (status IN ('pending', 'paid', 'refunded', 'failed')),
        ADD CONSTRAINT credit_purchases_paid_at_check
          CHECK (status NOT IN ('paid', 'refunded') OR paid_at IS NOT NULL),
        ADD CONSTRAINT credit_purchases_refunded_at_check
          CHECK ((status = 'refunded') = (refunded_at IS NOT NULL))
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
