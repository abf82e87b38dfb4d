import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * Webhook inbox: every Stripe event recorded once by its id, its effects
 * applied in the transaction that marks it processed, failures kept for replay.
 */
export default class extends BaseSchema {
  protected tableName = 'stripe_events'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table.string('stripe_event_id', 255).notNullable().unique()
      table.string('type', 100).notNullable()
      table.string('api_version', 32).nullable()
      table.boolean('livemode').notNullable()
      // The connected account, for Connect events.
      table.string('account', 255).nullable()
      table.timestamp('stripe_created_at', { useTz: true }).notNullable()
      table.jsonb('payload').notNullable()
      table.string('status', 16).notNullable().defaultTo('received')
      table.integer('attempts').notNullable().defaultTo(0)
      table.text('last_error').nullable()
      table.timestamp('received_at', { useTz: true }).notNullable()
      table.timestamp('processed_at', { useTz: true }).nullable()

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()

      table.index(['status', 'received_at'])
    })
    this.schema.raw(`
      ALTER TABLE stripe_events
        ADD CONSTRAINT stripe_events_status_check
          CHECK (status IN ('received', 'processing', 'processed', 'failed', 'ignored')),
        ADD CONSTRAINT stripe_events_attempts_check CHECK (attempts >= 0),
        ADD CONSTRAINT stripe_events_processed_at_check
          CHECK (status <> 'processed' OR processed_at IS NOT NULL)
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
