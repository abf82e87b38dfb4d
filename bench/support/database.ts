/*
| The benchmarks' database: DATABASE_URL (or DB_*) when set, else an
| embedded PostgreSQL under tmp/postgres/bench. Benchmarks that need an
| empty database refuse one holding data unless given --reset.
*/

import { ROOT } from './processes.js'

/** Points DATABASE_URL at the bench database; `stop()` stops an embedded one. */
export async function useBenchDatabase(): Promise<{
  stop: () => Promise<void>
  embedded: boolean
}> {
  if (process.env.DATABASE_URL || process.env.DB_HOST) {
    return { stop: async () => {}, embedded: false }
  }
  const { startEmbeddedPostgres } = await import('../../sandbox/postgres/embedded.js')
  const database = await startEmbeddedPostgres(ROOT, 'bench')
  process.env.DATABASE_URL = database.url
  return { stop: () => database.stop(), embedded: true }
}

/** Runs the app's migrations (booted app). */
export async function migrate(app: import('@adonisjs/core/types').ApplicationService) {
  const { default: db } = await import('@adonisjs/lucid/services/db')
  const { MigrationRunner } = await import('@adonisjs/lucid/migration')
  const migrator = new MigrationRunner(db, app, { direction: 'up', dryRun: false })
  await migrator.run()
  if (migrator.error) throw migrator.error
}

/** Tables whose rows mean "someone's data": a bench will not run over them without --reset. */
const DATA_TABLES = ['users', 'stripe_events', 'usage_logs', 'credit_ledger_entries']

/** Rows in the data tables (0: empty). */
export async function dataRows(): Promise<number> {
  const { default: db } = await import('@adonisjs/lucid/services/db')
  let total = 0
  for (const table of DATA_TABLES) {
    const result = await db.rawQuery<{ rows: { n: string }[] }>(
      `SELECT count(*) AS n FROM (SELECT 1 FROM ${table} LIMIT 1) t`
    )
    total += Number(result.rows[0].n)
  }
  return total
}

/**
 * Empties every application table (not the migration bookkeeping). Only on
 * a database the benchmark may destroy: callers check --reset first.
 */
export async function emptyDatabase() {
  const { default: db } = await import('@adonisjs/lucid/services/db')
  const tables = await db.rawQuery<{ rows: { tablename: string }[] }>(
    `SELECT tablename FROM pg_tables
      WHERE schemaname = current_schema() AND tablename NOT LIKE 'adonis_schema%'`
  )
  const names = tables.rows.map((row) => `"${row.tablename}"`)
  if (names.length > 0) await db.rawQuery(`TRUNCATE ${names.join(', ')} RESTART IDENTITY CASCADE`)
}

/** Refuses a database holding data unless `reset`; empties it when `reset`. */
export async function requireEmptyDatabase(reset: boolean) {
  if (reset) return emptyDatabase()
  const rows = await dataRows()
  if (rows > 0) {
    throw new Error(
      'The database holds data (users, events, usage or ledger rows): run on an empty database, or pass --reset to empty it (it deletes everything: never point a benchmark at a database you care about)'
    )
  }
}
