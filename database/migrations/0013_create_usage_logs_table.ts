import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * One row per LiteLLM request, keyed on LiteLLM's request_id so overlapping
 * syncs and pushes insert each request once.
 */
export default class extends BaseSchema {
  protected tableName = 'usage_logs'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table.string('request_id', 255).notNullable().unique()
      // RESTRICT on user and agent: invoiced usage must stay attributable.
      table.bigInteger('user_id').nullable().references('id').inTable('users').onDelete('RESTRICT')
      table
        .bigInteger('agent_id')
        .nullable()
        .references('id')
        .inTable('marketplace_agents')
        .onDelete('RESTRICT')
      table
        .bigInteger('project_id')
        .nullable()
        .references('id')
        .inTable('projects')
        .onDelete('SET NULL')
      table.text('litellm_user').nullable()
      table.text('model').notNullable()
      table.text('model_group').nullable()
      table.integer('prompt_tokens').notNullable().defaultTo(0)
      table.integer('completion_tokens').notNullable().defaultTo(0)
      table.integer('total_tokens').notNullable().defaultTo(0)
      table.boolean('cache_hit').notNullable().defaultTo(false)
      // LiteLLM's float USD converted to micro-dollars once, at ingestion.
      table.bigInteger('spend_micros').notNullable().defaultTo(0)
      // What we bill, from our model price table or the agent's API pricing.
      table.bigInteger('cost_micros').notNullable().defaultTo(0)
      table.string('attribution', 16).notNullable()
      table.boolean('spend_mismatch').notNullable().defaultTo(false)
      table.timestamp('started_at', { useTz: true }).notNullable()
      table.timestamp('ended_at', { useTz: true }).nullable()
      table
        .bigInteger('usage_invoice_id')
        .nullable()
        .references('id')
        .inTable('usage_invoices')
        .onDelete('RESTRICT')
      table.jsonb('metadata').nullable()

      table.timestamp('created_at', { useTz: true }).notNullable()

      table.index(['user_id', 'started_at'])
      table.index(['usage_invoice_id'])
      table.index(['agent_id', 'started_at'])
      table.index(['project_id'])
    })
    this.schema.raw(`
      ALTER TABLE usage_logs
        ADD CONSTRAINT usage_logs_attribution_check
          CHECK (attribution IN ('attributed', 'unattributed')),
        ADD CONSTRAINT usage_logs_attributed_user_check
          CHECK ((attribution = 'attributed') = (user_id IS NOT NULL)),
        ADD CONSTRAINT usage_logs_tokens_check
          CHECK (prompt_tokens >= 0 AND completion_tokens >= 0 AND total_tokens >= 0),
        ADD CONSTRAINT usage_logs_micros_check CHECK (spend_micros >= 0 AND cost_micros >= 0)
    `)
    this.schema.raw(`
      CREATE INDEX usage_logs_unattributed_index
        ON usage_logs (started_at)
        WHERE attribution = 'unattributed'
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
