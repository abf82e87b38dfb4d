import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * A LiteLLM request seen again with a spend other than the one we stored
 * (LiteLLM served two rows for one request_id, or the push and the pull
 * disagreed). What we bill never changes: the first figure stays on
 * usage_logs; each other figure is recorded here once, for an operator.
 */
export default class extends BaseSchema {
  protected tableName = 'usage_spend_mismatches'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('usage_log_id')
        .notNullable()
        .references('id')
        .inTable('usage_logs')
        .onDelete('CASCADE')
      table.string('request_id', 255).notNullable()
      table.bigInteger('stored_spend_micros').notNullable()
      table.bigInteger('seen_spend_micros').notNullable()
      // 'pull' (usage:sync) or 'push' (the generic_api callback).
      table.string('source', 8).notNullable()
      table.timestamp('created_at', { useTz: true }).notNullable()

      table.unique(['request_id', 'seen_spend_micros'])
      table.index(['usage_log_id'])
    })
    this.schema.raw(`
      ALTER TABLE usage_spend_mismatches
        ADD CONSTRAINT usage_spend_mismatches_source_check CHECK (source IN ('pull', 'push')),
        ADD CONSTRAINT usage_spend_mismatches_micros_check
          CHECK (stored_spend_micros >= 0 AND seen_spend_micros >= 0)
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
