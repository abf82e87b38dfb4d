import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * The lines of a usage invoice: one per api-priced agent used (its creator
 * earns a share of it) and one for the rest of the usage. The invoice total is
 * rounded to cents once; the lines split it exactly (largest remainder), so
 * they always add up to the invoice's amount_cents.
 */
export default class extends BaseSchema {
  protected tableName = 'usage_invoice_lines'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('usage_invoice_id')
        .notNullable()
        .references('id')
        .inTable('usage_invoices')
        .onDelete('RESTRICT')
      table.string('kind', 16).notNullable()
      table
        .bigInteger('agent_id')
        .nullable()
        .references('id')
        .inTable('marketplace_agents')
        .onDelete('RESTRICT')
      table.string('description', 255).notNullable()
      table.integer('request_count').notNullable().defaultTo(0)
      table.bigInteger('cost_micros').notNullable()
      table.bigInteger('amount_cents').notNullable()

      table.timestamp('created_at', { useTz: true }).notNullable()

      table.index(['usage_invoice_id'])
      table.index(['agent_id'])
    })
    this.schema.raw(`
      ALTER TABLE usage_invoice_lines
        ADD CONSTRAINT usage_invoice_lines_kind_check CHECK (kind IN ('usage', 'agent')),
        ADD CONSTRAINT usage_invoice_lines_agent_check
          CHECK ((kind = 'agent') = (agent_id IS NOT NULL)),
        ADD CONSTRAINT usage_invoice_lines_amounts_check
          CHECK (cost_micros >= 0 AND amount_cents >= 0 AND request_count >= 0)
    `)
    // One 'usage' line per invoice, one line per agent.
    this.schema.raw(`
      CREATE UNIQUE INDEX usage_invoice_lines_one_per_agent
        ON usage_invoice_lines (usage_invoice_id, COALESCE(agent_id, 0))
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
