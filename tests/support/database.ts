import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import { MigrationRunner } from '@adonisjs/lucid/migration'

/**
 * Drops every table (a previous run may have crashed), then runs all migrations,
 * in-process: `migration:run` (what `testUtils.db().migrate()` runs) closes the
 * database connections when it completes, which nothing here needs.
 */
export async function resetDatabase() {
  await db.connection().dropAllTables(['public'])
  const migrator = new MigrationRunner(db, app, { direction: 'up', dryRun: false })
  await migrator.run()
  if (migrator.error) throw migrator.error
}

/**
 * Empties the given tables (and what references them), restarting ids.
 * Emptying `users` empties `rate_limits` too: user ids start again at 1, and
 * the per-user throttles (keyed by user id) must not carry an earlier test's
 * count over to a new user with the same id.
 */
export async function truncate(...tables: string[]) {
  const all = tables.includes('users') ? [...new Set([...tables, 'rate_limits'])] : tables
  await db.rawQuery(`TRUNCATE ${all.map((t) => `"${t}"`).join(', ')} RESTART IDENTITY CASCADE`)
}
