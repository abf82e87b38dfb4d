import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  protected tableName = 'usage_invoices'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('user_id')
        .notNullable()
        .references('id')
        .inTable('users')
        .onDelete('RESTRICT')
      // Calendar month in UTC, e.g. '2026-11'.
      table.specificType('period', 'char(7)').notNullable()
      table.bigInteger('cost_micros').notNullable()
      table.bigInteger('amount_cents').notNullable()
      table.bigInteger('credits_applied_cents').notNullable().defaultTo(0)
      table.bigInteger('charged_cents').notNullable().defaultTo(0)
      table.string('currency', 3).notNullable().defaultTo('usd')
      table.string('status', 16).notNullable().defaultTo('draft')
      table.string('stripe_invoice_id', 255).nullable().unique()
      table.string('idempotency_key', 255).notNullable().unique()
      table.integer('line_count').notNullable().defaultTo(0)
      table.timestamp('finalized_at', { useTz: true }).nullable()
      table.timestamp('paid_at', { useTz: true }).nullable()
      table.text('failure_reason').nullable()

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()

      table.unique(['user_id', 'period'])
    })
    this.schema.raw(`
      ALTER TABLE usage_invoices
        ADD CONSTRAINT usage_invoices_period_check CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
        ADD CONSTRAINT usage_invoices_cost_check CHECK (cost_micros >= 0),
        ADD CONSTRAINT usage_invoices_amount_check CHECK (amount_cents >= 0),
        ADD CONSTRAINT usage_invoices_credits_applied_check CHECK (credits_applied_cents >= 0),
        ADD CONSTRAINT usage_invoices_charged_check CHECK (charged_cents >= 0),
        ADD CONSTRAINT usage_invoices_split_check
          CHECK (credits_applied_cents + charged_cents = amount_cents),
        ADD CONSTRAINT usage_invoices_line_count_check CHECK (line_count >= 0),
        ADD CONSTRAINT usage_invoices_currency_check CHECK (currency ~ '^[a-z]{3}$'),
        ADD CONSTRAINT usage_invoices_status_check
          CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible', 'failed'))
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
