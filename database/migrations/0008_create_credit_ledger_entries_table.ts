import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * Append-only: rows are inserted, never updated or deleted. The newest row's
 * balance_after_cents equals users.credits_balance_cents and the sum of amount_cents.
 */
export default class extends BaseSchema {
  protected tableName = 'credit_ledger_entries'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('user_id')
        .notNullable()
        .references('id')
        .inTable('users')
        .onDelete('RESTRICT')
      table.bigInteger('amount_cents').notNullable()
      table.bigInteger('balance_after_cents').notNullable()
      table.string('kind', 32).notNullable()
      table.string('idempotency_key', 255).notNullable().unique()
      table
        .bigInteger('credit_purchase_id')
        .nullable()
        .references('id')
        .inTable('credit_purchases')
        .onDelete('RESTRICT')
      table
        .bigInteger('usage_invoice_id')
        .nullable()
        .references('id')
        .inTable('usage_invoices')
        .onDelete('RESTRICT')
      table.string('description', 255).nullable()
      table.text('created_by').notNullable()

      table.timestamp('created_at', { useTz: true }).notNullable()

      table.index(['user_id', 'id'])
      table.index(['credit_purchase_id'])
      table.index(['usage_invoice_id'])
    })
    // The sign and source of each kind are fixed so a bug cannot, say, grant credits as a "debit".
    this.schema.raw(`
      ALTER TABLE credit_ledger_entries
        ADD CONSTRAINT credit_ledger_entries_amount_check CHECK (amount_cents <> 0),
        ADD CONSTRAINT credit_ledger_entries_balance_after_check CHECK (balance_after_cents >= 0),
        ADD CONSTRAINT credit_ledger_entries_kind_check CHECK (kind IN (
          'purchase', 'usage_invoice', 'refund_clawback', 'operator_grant', 'operator_debit'
        )),
        ADD CONSTRAINT credit_ledger_entries_kind_sign_check CHECK (
          (kind IN ('purchase', 'operator_grant') AND amount_cents > 0)
          OR (kind IN ('usage_invoice', 'refund_clawback', 'operator_debit') AND amount_cents < 0)
        ),
        ADD CONSTRAINT credit_ledger_entries_kind_source_check CHECK (
          (kind NOT IN ('purchase', 'refund_clawback') OR credit_purchase_id IS NOT NULL)
          AND (kind <> 'usage_invoice' OR usage_invoice_id IS NOT NULL)
        )
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
