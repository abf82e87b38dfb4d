import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  protected tableName = 'creator_payouts'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('creator_id')
        .notNullable()
        .references('id')
        .inTable('users')
        .onDelete('RESTRICT')
      table.bigInteger('amount_cents').notNullable()
      table.string('currency', 3).notNullable().defaultTo('usd')
      table.string('status', 16).notNullable().defaultTo('pending')
      table.string('idempotency_key', 255).notNullable().unique()
      table.string('stripe_transfer_id', 255).nullable().unique()
      table.text('failure_reason').nullable()
      table.timestamp('paid_at', { useTz: true }).nullable()

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()

      table.index(['creator_id', 'status'])
    })
    this.schema.raw(`
      ALTER TABLE creator_payouts
        ADD CONSTRAINT creator_payouts_amount_check CHECK (amount_cents > 0),
        ADD CONSTRAINT creator_payouts_currency_check CHECK (currency ~ '^[a-z]{3}$'),
        ADD CONSTRAINT creator_payouts_status_check
          CHECK (status IN ('pending', 'processing', 'paid', 'failed', 'reversed'))
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
