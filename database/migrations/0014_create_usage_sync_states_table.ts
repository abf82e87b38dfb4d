import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  protected tableName = 'usage_sync_states'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table.string('source', 64).notNullable().unique()
      // Newest started_at fully ingested; the next pull starts a look-back window before it.
      table.timestamp('watermark_at', { useTz: true }).nullable()
      table.timestamp('last_started_at', { useTz: true }).nullable()
      table.timestamp('last_finished_at', { useTz: true }).nullable()
      table.string('last_status', 16).nullable()
      table.text('last_error').nullable()
      // Counts of the last run.
      table.bigInteger('rows_seen').notNullable().defaultTo(0)
      table.bigInteger('rows_inserted').notNullable().defaultTo(0)

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()
    })
    this.schema.raw(`
      ALTER TABLE usage_sync_states
        ADD CONSTRAINT usage_sync_states_last_status_check
          CHECK (last_status IN ('running', 'succeeded', 'failed', 'partial')),
        ADD CONSTRAINT usage_sync_states_rows_check CHECK (rows_seen >= 0 AND rows_inserted >= 0)
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
