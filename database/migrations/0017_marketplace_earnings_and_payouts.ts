import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * Marketplace money movement (issue 6):
 * - agents: a price version, and the version Stripe holds (unequal = needs a re-sync);
 * - earnings: the sale a refund or dispute reverses, and a closed list of source types;
 * - payouts: the destination account, attempts, what was reversed since;
 * - creator_transfer_reversals: one row per transfer reversal, with its own key;
 * - creator_accounts: the Connect account's state and the time of that state.
 */
export default class extends BaseSchema {
  async up() {
    this.schema.alterTable('marketplace_agents', (table) => {
      // Bumped on every price change; Stripe is in step when stripe_price_version equals it.
      table.integer('price_version').notNullable().defaultTo(1)
      table.integer('stripe_price_version').nullable()
      table.text('stripe_sync_error').nullable()
    })
    this.schema.raw(`
      ALTER TABLE marketplace_agents
        ADD CONSTRAINT marketplace_agents_price_version_check CHECK (price_version >= 1),
        ADD CONSTRAINT marketplace_agents_stripe_price_version_check
          CHECK (stripe_price_version IS NULL
            OR (stripe_price_version >= 1 AND stripe_price_version <= price_version)),
        ADD CONSTRAINT marketplace_agents_slug_check CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$')
    `)

    this.schema.alterTable('marketplace_transactions', (table) => {
      table
        .bigInteger('reverses_transaction_id')
        .nullable()
        .references('id')
        .inTable('marketplace_transactions')
        .onDelete('RESTRICT')
      table.index(['reverses_transaction_id'])
    })
    this.schema.raw(`
      ALTER TABLE marketplace_transactions
        ADD CONSTRAINT marketplace_transactions_source_type_check CHECK (source_type IN (
          'checkout_session', 'payment_intent', 'invoice', 'usage_invoice',
          'refund', 'dispute', 'reversal_shortfall'
        )),
        -- A refund or dispute always names the earning it takes back; a sale never does.
        ADD CONSTRAINT marketplace_transactions_reverses_check CHECK (
          (kind IN ('refund', 'dispute')) = (reverses_transaction_id IS NOT NULL)
        ),
        -- Only creators' earnings move through payouts: platform rows stay pending forever.
        ADD CONSTRAINT marketplace_transactions_platform_status_check
          CHECK (creator_id IS NOT NULL OR (status = 'pending' AND payable_at IS NULL)),
        -- 'reversed' settles a negative entry through a transfer reversal, never a sale.
        ADD CONSTRAINT marketplace_transactions_reversed_status_check
          CHECK (status <> 'reversed' OR kind IN ('refund', 'dispute'))
    `)

    this.schema.alterTable('creator_payouts', (table) => {
      table.string('stripe_account_id', 255).nullable()
      table.integer('attempts').notNullable().defaultTo(0)
      table.timestamp('last_attempt_at', { useTz: true }).nullable()
      table.bigInteger('reversed_cents').notNullable().defaultTo(0)
    })
    this.schema.raw(`
      ALTER TABLE creator_payouts
        ADD CONSTRAINT creator_payouts_account_check
          CHECK (status IN ('pending', 'failed') OR stripe_account_id IS NOT NULL),
        ADD CONSTRAINT creator_payouts_paid_check CHECK (
          status NOT IN ('paid', 'reversed')
          OR (stripe_transfer_id IS NOT NULL AND paid_at IS NOT NULL)
        ),
        ADD CONSTRAINT creator_payouts_reversed_check
          CHECK (reversed_cents >= 0 AND reversed_cents <= amount_cents),
        ADD CONSTRAINT creator_payouts_attempts_check CHECK (attempts >= 0),
        ADD CONSTRAINT creator_payouts_key_check CHECK (idempotency_key = 'studio:payout:' || id)
    `)
    // One payout in flight per creator: a second run can never start another transfer beside it.
    this.schema.raw(`
      CREATE UNIQUE INDEX creator_payouts_one_open_per_creator
        ON creator_payouts (creator_id) WHERE status IN ('pending', 'processing')
    `)

    this.schema.createTable('creator_transfer_reversals', (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('creator_id')
        .notNullable()
        .references('id')
        .inTable('users')
        .onDelete('RESTRICT')
      table
        .bigInteger('creator_payout_id')
        .notNullable()
        .references('id')
        .inTable('creator_payouts')
        .onDelete('RESTRICT')
      // The refund or dispute entry this reversal settles: one reversal each.
      table
        .bigInteger('marketplace_transaction_id')
        .notNullable()
        .unique()
        .references('id')
        .inTable('marketplace_transactions')
        .onDelete('RESTRICT')
      table.bigInteger('amount_cents').notNullable()
      table.string('currency', 3).notNullable().defaultTo('usd')
      table.string('status', 16).notNullable().defaultTo('pending')
      table.string('idempotency_key', 255).notNullable().unique()
      table.string('stripe_transfer_reversal_id', 255).nullable().unique()
      table.integer('attempts').notNullable().defaultTo(0)
      table.text('failure_reason').nullable()
      table.timestamp('reversed_at', { useTz: true }).nullable()

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()

      table.index(['status'])
      table.index(['creator_payout_id'])
    })
    this.schema.raw(`
      ALTER TABLE creator_transfer_reversals
        ADD CONSTRAINT creator_transfer_reversals_amount_check CHECK (amount_cents > 0),
        ADD CONSTRAINT creator_transfer_reversals_status_check
          CHECK (status IN ('pending', 'succeeded', 'failed')),
        ADD CONSTRAINT creator_transfer_reversals_succeeded_check CHECK (
          status <> 'succeeded'
          OR (stripe_transfer_reversal_id IS NOT NULL AND reversed_at IS NOT NULL)
        ),
        ADD CONSTRAINT creator_transfer_reversals_key_check
          CHECK (idempotency_key = 'studio:transfer-reversal:' || id)
    `)

    this.schema.createTable('creator_accounts', (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('user_id')
        .notNullable()
        .unique()
        .references('id')
        .inTable('users')
        .onDelete('RESTRICT')
      table.string('stripe_account_id', 255).notNullable().unique()
      table.boolean('details_submitted').notNullable().defaultTo(false)
      table.boolean('charges_enabled').notNullable().defaultTo(false)
      table.boolean('payouts_enabled').notNullable().defaultTo(false)
      table.boolean('transfers_active').notNullable().defaultTo(false)
      table.jsonb('requirements_due').notNullable().defaultTo('[]')
      table.string('disabled_reason', 255).nullable()
      // When the state held here was true at Stripe (an event's `created`, or a retrieve's time).
      table.timestamp('stripe_updated_at', { useTz: true }).nullable()

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()
    })
  }

  async down() {
    this.schema.dropTable('creator_accounts')
    this.schema.dropTable('creator_transfer_reversals')
    this.schema.raw('DROP INDEX IF EXISTS creator_payouts_one_open_per_creator')
    this.schema.raw(`
      ALTER TABLE creator_payouts
        DROP CONSTRAINT creator_payouts_account_check,
        DROP CONSTRAINT creator_payouts_paid_check,
        DROP CONSTRAINT creator_payouts_reversed_check,
        DROP CONSTRAINT creator_payouts_attempts_check,
        DROP CONSTRAINT creator_payouts_key_check
    `)
    this.schema.alterTable('creator_payouts', (table) => {
      table.dropColumn('stripe_account_id')
      table.dropColumn('attempts')
      table.dropColumn('last_attempt_at')
      table.dropColumn('reversed_cents')
    })
    this.schema.raw(`
      ALTER TABLE marketplace_transactions
        DROP CONSTRAINT marketplace_transactions_source_type_check,
        DROP CONSTRAINT marketplace_transactions_reverses_check,
        DROP CONSTRAINT marketplace_transactions_platform_status_check,
        DROP CONSTRAINT marketplace_transactions_reversed_status_check
    `)
    this.schema.alterTable('marketplace_transactions', (table) => {
      table.dropColumn('reverses_transaction_id')
    })
    this.schema.raw(`
      ALTER TABLE marketplace_agents
        DROP CONSTRAINT marketplace_agents_price_version_check,
        DROP CONSTRAINT marketplace_agents_stripe_price_version_check,
        DROP CONSTRAINT marketplace_agents_slug_check
    `)
    this.schema.alterTable('marketplace_agents', (table) => {
      table.dropColumn('price_version')
      table.dropColumn('stripe_price_version')
      table.dropColumn('stripe_sync_error')
    })
  }
}
