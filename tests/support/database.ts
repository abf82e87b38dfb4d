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

/** Empties the given tables (and what references them), restarting ids. */
export async function truncate(...tables: string[]) {
  await db.rawQuery(`TRUNCATE ${tables.map((t) => `"${t}"`).join(', ')} RESTART IDENTITY CASCADE`)
}
