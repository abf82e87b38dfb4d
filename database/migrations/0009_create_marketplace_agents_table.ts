import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  protected tableName = 'marketplace_agents'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table.string('slug', 100).notNullable().unique()
      table.string('name', 120).notNullable()
      table.text('description').notNullable().defaultTo('')
      // NULL for platform agents. RESTRICT: deleting a creator must not orphan their earnings.
      table
        .bigInteger('creator_id')
        .nullable()
        .references('id')
        .inTable('users')
        .onDelete('RESTRICT')
      table.string('pricing_type', 16).notNullable()
      table.bigInteger('price_cents').nullable()
      table.bigInteger('input_price_micros_per_million').nullable()
      table.bigInteger('output_price_micros_per_million').nullable()
      table.string('stripe_product_id', 255).nullable().unique()
      table.string('stripe_price_id', 255).nullable().unique()
      table.boolean('is_published').notNullable().defaultTo(true)

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()

      table.index(['creator_id'])
    })
    // Each pricing type carries exactly its own prices. IS NOT NULL is spelled out because a
    // CHECK whose expression is NULL passes.
    this.schema.raw(`
      ALTER TABLE marketplace_agents
        ADD CONSTRAINT marketplace_agents_pricing_type_check
          CHECK (pricing_type IN ('free', 'monthly', 'one_time', 'api')),
        ADD CONSTRAINT marketplace_agents_prices_check CHECK (
          (pricing_type = 'free'
            AND price_cents IS NULL
            AND input_price_micros_per_million IS NULL
            AND output_price_micros_per_million IS NULL)
          OR (pricing_type IN ('monthly', 'one_time')
            AND price_cents IS NOT NULL AND price_cents > 0
            AND input_price_micros_per_million IS NULL
            AND output_price_micros_per_million IS NULL)
          OR (pricing_type = 'api'
            AND price_cents IS NULL
            AND input_price_micros_per_million IS NOT NULL
            AND input_price_micros_per_million >= 0
            AND output_price_micros_per_million IS NOT NULL
            AND output_price_micros_per_million >= 0)
        )
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
