import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * Monthly usage invoices (issue 7, part 5): what a crash-safe charge needs to
 * resume (the Stripe ids as soon as they are known, the pay attempts), amounts
 * carried to the next period (under Stripe's minimum charge: status 'carried',
 * the usage stays unbilled and rolls into the next invoice), and the state of
 * a failed payment that Stripe keeps retrying.
 */
export default class extends BaseSchema {
  protected tableName = 'usage_invoices'

  async up() {
    this.schema.alterTable(this.tableName, (table) => {
      // Cents left unbilled because the part to charge was under Stripe's minimum.
      table.bigInteger('carried_cents').notNullable().defaultTo(0)
      table
        .bigInteger('carried_into_invoice_id')
        .nullable()
        .references('id')
        .inTable('usage_invoices')
        .onDelete('RESTRICT')
      table.integer('request_count').notNullable().defaultTo(0)
      table.string('stripe_customer_id', 255).nullable()
      table.string('stripe_invoice_item_id', 255).nullable().unique()
      table.string('stripe_charge_id', 255).nullable()
      // Runs that started the Stripe steps for this row: > 0 means a rerun looks Stripe up first.
      table.integer('stripe_attempts').notNullable().defaultTo(0)
      table.timestamp('payment_failed_at', { useTz: true }).nullable()
      table.timestamp('next_payment_attempt_at', { useTz: true }).nullable()
      // The event second of the Stripe state applied last (late events never move it back).
      table.timestamp('stripe_updated_at', { useTz: true }).nullable()

      table.index(['status'])
      table.index(['period'])
      table.index(['carried_into_invoice_id'])
    })
    this.schema.raw(`
      ALTER TABLE usage_invoices
        DROP CONSTRAINT usage_invoices_split_check,
        DROP CONSTRAINT usage_invoices_status_check,
        ADD CONSTRAINT usage_invoices_split_check
          CHECK (credits_applied_cents + charged_cents + carried_cents = amount_cents),
        ADD CONSTRAINT usage_invoices_status_check CHECK (status IN (
          'draft', 'open', 'paid', 'void', 'uncollectible', 'failed', 'carried'
        )),
        ADD CONSTRAINT usage_invoices_carried_check
          CHECK (carried_cents >= 0 AND (status = 'carried') = (carried_cents > 0)),
        ADD CONSTRAINT usage_invoices_paid_at_check CHECK (status <> 'paid' OR paid_at IS NOT NULL),
        ADD CONSTRAINT usage_invoices_request_count_check CHECK (request_count >= 0),
        ADD CONSTRAINT usage_invoices_stripe_attempts_check CHECK (stripe_attempts >= 0),
        ADD CONSTRAINT usage_invoices_carried_into_check
          CHECK (carried_into_invoice_id IS NULL OR status = 'carried')
    `)
  }

  async down() {
    this.schema.raw(`
      ALTER TABLE usage_invoices
        DROP CONSTRAINT usage_invoices_split_check,
        DROP CONSTRAINT usage_invoices_status_check,
        DROP CONSTRAINT usage_invoices_carried_check,
        DROP CONSTRAINT usage_invoices_paid_at_check,
        DROP CONSTRAINT usage_invoices_request_count_check,
        DROP CONSTRAINT usage_invoices_stripe_attempts_check,
        DROP CONSTRAINT usage_invoices_carried_into_check
    `)
    this.schema.alterTable(this.tableName, (table) => {
      table.dropIndex(['status'])
      table.dropIndex(['period'])
      table.dropIndex(['carried_into_invoice_id'])
      table.dropColumn('carried_cents')
      table.dropColumn('carried_into_invoice_id')
      table.dropColumn('request_count')
      table.dropColumn('stripe_customer_id')
      table.dropColumn('stripe_invoice_item_id')
      table.dropColumn('stripe_charge_id')
      table.dropColumn('stripe_attempts')
      table.dropColumn('payment_failed_at')
      table.dropColumn('next_payment_attempt_at')
      table.dropColumn('stripe_updated_at')
    })
    this.schema.raw(`
      ALTER TABLE usage_invoices
        ADD CONSTRAINT usage_invoices_split_check
          CHECK (credits_applied_cents + charged_cents = amount_cents),
        ADD CONSTRAINT usage_invoices_status_check
          CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible', 'failed'))
    `)
  }
}
