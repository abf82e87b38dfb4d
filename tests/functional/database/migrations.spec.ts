import { readdir } from 'node:fs/promises'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import { MigrationRunner } from '@adonisjs/lucid/migration'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { resetDatabase } from '#tests/support/database'

const APP_TABLES = [
  'users',
  'projects',
  'subscriptions',
  'deploy_slot_purchases',
  'credit_purchases',
  'usage_invoices',
  'credit_ledger_entries',
  'marketplace_agents',
  'agent_entitlements',
  'creator_payouts',
  'marketplace_transactions',
  'creator_accounts',
  'creator_transfer_reversals',
  'usage_logs',
  'usage_sync_states',
  'usage_spend_mismatches',
  'usage_invoice_lines',
  'usage_daily_totals',
  'stripe_events',
  'job_runs',
  'rate_limits',
  'locks',
].sort()

/** Lucid's own bookkeeping tables, which a rollback keeps. */
const LUCID_TABLES = ['adonis_schema', 'adonis_schema_versions']

async function publicTables(): Promise<string[]> {
  const result = await db.rawQuery<{ rows: { table_name: string }[] }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
      ORDER BY table_name`
  )
  return result.rows.map((row) => row.table_name)
}

async function appTables(): Promise<string[]> {
  const tables = await publicTables()
  return tables.filter((name) => !LUCID_TABLES.includes(name))
}

async function migrationFiles(): Promise<string[]> {
  const files = await readdir(new URL('database/migrations/', app.appRoot))
  return files
    .filter((file) => file.endsWith('.ts'))
    .map((file) => `database/migrations/${file.replace(/\.ts$/, '')}`)
    .sort()
}

async function migrate(direction: 'up' | 'down') {
  const migrator =
    direction === 'up'
      ? new MigrationRunner(db, app, { direction: 'up', dryRun: false })
      : new MigrationRunner(db, app, { direction: 'down', batch: 0, dryRun: false })
  await migrator.run()
  return migrator
}

/** Leaves the schema fully migrated, whatever state a failed assertion left it in. */
async function ensureMigrated() {
  const migrator = await migrate('up')
  const present = await appTables()
  if (migrator.error || APP_TABLES.some((table) => !present.includes(table))) {
    await resetDatabase()
  }
}

type PgError = { code?: unknown; constraint?: unknown; message: string }

function asPgError(error: unknown): PgError | null {
  if (!(error instanceof Error)) return null
  const { code, constraint } = error as Error & { code?: unknown; constraint?: unknown }
  return { code, constraint, message: error.message }
}

async function insert(trx: TransactionClientContract, table: string, row: Record<string, unknown>) {
  const now = new Date()
  const withTimestamps =
    table === 'credit_ledger_entries'
      ? { created_at: now, ...row }
      : { created_at: now, updated_at: now, ...row }
  const columns = Object.keys(withTimestamps)
  const result = await trx.rawQuery<{ rows: { id: string }[] }>(
    `INSERT INTO "${table}" (${columns.map((column) => `"${column}"`).join(', ')})
     VALUES (${columns.map(() => '?').join(', ')}) RETURNING id`,
    Object.values(withTimestamps)
  )
  return result.rows[0].id
}

async function insertUser(
  trx: TransactionClientContract,
  email: string,
  extra: Record<string, unknown> = {}
) {
  return insert(trx, 'users', { full_name: 'Constraint Test', email, password: 'x', ...extra })
}

test.group('Database migrations', () => {
  test('roll back every migration, then migrate up again, cleanly', async ({ assert }) => {
    const files = await migrationFiles()
    assert.lengthOf(files, 23)
    try {
      assert.deepEqual(await appTables(), APP_TABLES, 'fully migrated before the rollback')

      const down = await migrate('down')
      assert.isNull(down.error, `rollback error: ${down.error?.message}`)
      assert.equal(down.status, 'completed')
      assert.deepEqual(Object.keys(down.migratedFiles).sort(), files)
      assert.isTrue(Object.values(down.migratedFiles).every((file) => file.status === 'completed'))
      assert.deepEqual(await appTables(), [], 'no app table is left after the rollback')
      const left = await db.from('adonis_schema').count('* as total')
      assert.equal(Number(left[0].total), 0)

      const up = await migrate('up')
      assert.isNull(up.error, `migration error: ${up.error?.message}`)
      assert.equal(up.status, 'completed')
      assert.deepEqual(Object.keys(up.migratedFiles).sort(), files)
      assert.isTrue(Object.values(up.migratedFiles).every((file) => file.status === 'completed'))
      assert.deepEqual(await appTables(), APP_TABLES)
      const batches = await db.from('adonis_schema').select('name', 'batch').orderBy('name')
      assert.deepEqual(
        batches.map((row: { name: string; batch: number }) => [row.name, row.batch]),
        files.map((file) => [file, 1])
      )
    } finally {
      await ensureMigrated()
    }
  }).timeout(120_000)

  test('the schema is fully migrated after the round trip', async ({ assert }) => {
    assert.deepEqual(await appTables(), APP_TABLES)
    const list = await new MigrationRunner(db, app, { direction: 'up' }).getList()
    assert.lengthOf(list, 23)
    assert.isTrue(list.every((migration) => migration.status === 'migrated'))
  })
})

test.group('Database constraints', () => {
  /**
   * Runs `valid` (which must succeed: it proves the row shape is right), then
   * `violating`, which must fail; returns its database error. Everything
   * happens in a transaction that is rolled back.
   */
  async function expectViolation<Setup>(
    valid: (trx: TransactionClientContract) => Promise<Setup>,
    violating: (trx: TransactionClientContract, setup: Setup) => Promise<unknown>
  ) {
    const trx = await db.transaction()
    try {
      const setup = await valid(trx)
      let caught: unknown = null
      try {
        await violating(trx, setup)
      } catch (error) {
        caught = error
      }
      const error = asPgError(caught)
      if (!error) throw new Error('Expected the violating insert to fail; it succeeded')
      return error
    } finally {
      await trx.rollback()
    }
  }

  test('a negative credits balance is rejected (23514)', async ({ assert }) => {
    const error = await expectViolation(
      (trx) => insertUser(trx, 'zero@constraints.test', { credits_balance_cents: 0 }),
      (trx) => insertUser(trx, 'negative@constraints.test', { credits_balance_cents: -1 })
    )
    assert.equal(error.code, '23514', error.message)
    assert.equal(error.constraint, 'users_credits_balance_check')
  })

  test('a marketplace transaction whose shares do not add up to the gross is rejected (23514)', async ({
    assert,
  }) => {
    const setup = async (trx: TransactionClientContract) => {
      const creatorId = await insertUser(trx, 'creator@constraints.test')
      const buyerId = await insertUser(trx, 'buyer@constraints.test')
      const agentId = await insert(trx, 'marketplace_agents', {
        slug: 'constraint-agent',
        name: 'Constraint agent',
        creator_id: creatorId,
        pricing_type: 'one_time',
        price_cents: 1000,
      })
      return { creatorId, buyerId, agentId }
    }
    const sale = (
      ids: { creatorId: string; buyerId: string; agentId: string },
      sourceId: string,
      platform: number
    ) => ({
      agent_id: ids.agentId,
      creator_id: ids.creatorId,
      buyer_id: ids.buyerId,
      kind: 'sale',
      source_type: 'checkout_session',
      source_id: sourceId,
      gross_cents: 1000,
      creator_cents: 900,
      platform_cents: platform,
    })
    const error = await expectViolation(
      async (trx) => {
        const ids = await setup(trx)
        await insert(trx, 'marketplace_transactions', sale(ids, 'cs_valid', 100))
        return ids
      },
      (trx, ids) => insert(trx, 'marketplace_transactions', sale(ids, 'cs_broken', 99))
    )
    assert.equal(error.code, '23514', error.message)
    assert.equal(error.constraint, 'marketplace_transactions_split_check')
  })

  test('a duplicate stripe_event_id is rejected (23505)', async ({ assert }) => {
    const event = () => ({
      stripe_event_id: 'evt_constraint_1',
      type: 'customer.created',
      livemode: false,
      stripe_created_at: new Date(),
      payload: JSON.stringify({ id: 'evt_constraint_1' }),
      received_at: new Date(),
    })
    const error = await expectViolation(
      (trx) => insert(trx, 'stripe_events', event()),
      (trx) => insert(trx, 'stripe_events', event())
    )
    assert.equal(error.code, '23505', error.message)
    assert.equal(error.constraint, 'stripe_events_stripe_event_id_unique')
  })

  test('a duplicate credit ledger idempotency_key is rejected (23505)', async ({ assert }) => {
    const grant = (userId: string, amount: number, balance: number) => ({
      user_id: userId,
      amount_cents: amount,
      balance_after_cents: balance,
      kind: 'operator_grant',
      idempotency_key: 'grant:constraint:1',
      created_by: 'migrations.spec',
    })
    const error = await expectViolation(
      async (trx) => {
        const userId = await insertUser(trx, 'ledger@constraints.test')
        await insert(trx, 'credit_ledger_entries', grant(userId, 500, 500))
        return userId
      },
      (trx, userId) => insert(trx, 'credit_ledger_entries', grant(userId, 500, 1000))
    )
    assert.equal(error.code, '23505', error.message)
    assert.equal(error.constraint, 'credit_ledger_entries_idempotency_key_unique')
  })

  test('the rolled-back inserts left nothing behind', async ({ assert }) => {
    const leftovers = await Promise.all([
      db.from('users').where('email', 'like', '%@constraints.test').count('* as total'),
      db.from('marketplace_agents').where('slug', 'constraint-agent').count('* as total'),
      db
        .from('marketplace_transactions')
        .whereIn('source_id', ['cs_valid', 'cs_broken'])
        .count('* as total'),
      db.from('stripe_events').where('stripe_event_id', 'evt_constraint_1').count('* as total'),
      db
        .from('credit_ledger_entries')
        .where('idempotency_key', 'grant:constraint:1')
        .count('* as total'),
    ])
    assert.deepEqual(
      leftovers.map((rows) => Number(rows[0].total)),
      [0, 0, 0, 0, 0]
    )
  })
})
