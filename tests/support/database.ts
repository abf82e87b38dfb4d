import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import { MigrationRunner } from '@adonisjs/lucid/migration'

/**
 * Drops every table (a previous run may have crashed), then runs all migrations.
 *
 * The migrator runs in-process rather than through `migration:run` (what
 * `testUtils.db().migrate()` does): that command closes every database
 * connection when it completes, and objects that keep a connection, such as
 * the rate limiter's database store, then fail with "Client was closed and is
 * not queryable" (it made logins and registrations answer 500 after the
 * migration round-trip test).
 */
export async function resetDatabase() {
  await db.connection().dropAllTables(['public'])
  const migrator = new MigrationRunner(db, app, { direction: 'up', dryRun: false })
  await migrator.run()
  if (migrator.error) throw migrator.error
}

/** Empties the given tables (and what references them), restarting ids. */
export async function truncate(...tables: string[]) {
  await db.rawQuery(`TRUNCATE ${tables.map((t) => `"${t}"`).join(', ')} RESTART IDENTITY CASCADE`)
}
