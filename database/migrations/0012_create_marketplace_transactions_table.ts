import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * The creators' earnings ledger: one row per sale, renewal, usage charge,
 * refund or dispute, each split into creator and platform shares.
 */
export default class extends BaseSchema {
  protected tableName = 'marketplace_transactions'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('agent_id')
        .notNullable()
        .references('id')
        .inTable('marketplace_agents')
        .onDelete('RESTRICT')
      table
        .bigInteger('creator_id')
        .nullable()
        .references('id')
        .inTable('users')
        .onDelete('RESTRICT')
      table
        .bigInteger('buyer_id')
        .notNullable()
        .references('id')
        .inTable('users')
        .onDelete('RESTRICT')
      table.string('kind', 16).notNullable()
      table.string('source_type', 32).notNullable()
      table.string('source_id', 255).notNullable()
      table.bigInteger('gross_cents').notNullable()
      table.bigInteger('creator_cents').notNullable()
      table.bigInteger('platform_cents').notNullable()
      table.string('currency', 3).notNullable().defaultTo('usd')
      // The charge that funded this row: a Connect transfer's source_transaction.
      table.string('stripe_charge_id', 255).nullable()
      table.timestamp('payable_at', { useTz: true }).nullable()
      table
        .bigInteger('creator_payout_id')
        .nullable()
        .references('id')
        .inTable('creator_payouts')
        .onDelete('RESTRICT')
      table.string('status', 16).notNullable().defaultTo('pending')

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()

      // agent_id is part of the key because one source (a usage invoice, or a refund of its
      // charge) can carry charges for several agents; one row per agent per source.
      table.unique(['source_type', 'source_id', 'agent_id'])
      table.index(['creator_id', 'status', 'payable_at'])
      table.index(['creator_payout_id'])
      table.index(['agent_id'])
      table.index(['buyer_id'])
    })
    this.schema.raw(`
      ALTER TABLE marketplace_transactions
        ADD CONSTRAINT marketplace_transactions_kind_check
          CHECK (kind IN ('sale', 'renewal', 'usage', 'refund', 'dispute')),
        ADD CONSTRAINT marketplace_transactions_status_check
          CHECK (status IN ('pending', 'payable', 'paid', 'reversed')),
        ADD CONSTRAINT marketplace_transactions_currency_check CHECK (currency ~ '^[a-z]{3}$'),
        ADD CONSTRAINT marketplace_transactions_split_check
          CHECK (creator_cents + platform_cents = gross_cents),
        ADD CONSTRAINT marketplace_transactions_sign_check CHECK (
          (kind IN ('sale', 'renewal', 'usage')
            AND gross_cents > 0 AND creator_cents >= 0 AND platform_cents >= 0)
          OR (kind IN ('refund', 'dispute')
            AND gross_cents < 0 AND creator_cents <= 0 AND platform_cents <= 0)
        ),
        ADD CONSTRAINT marketplace_transactions_platform_agent_check
          CHECK (creator_id IS NOT NULL OR creator_cents = 0),
        ADD CONSTRAINT marketplace_transactions_paid_check
          CHECK (status <> 'paid' OR creator_payout_id IS NOT NULL)
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
