import db from '@adonisjs/lucid/services/db'
import testUtils from '@adonisjs/core/services/test_utils'

/** Drops every table (a previous run may have crashed), then runs all migrations. */
export async function resetDatabase() {
  await db.connection().dropAllTables(['public'])
  await testUtils.db().migrate()
}

/** Empties the given tables (and what references them), restarting ids. */
export async function truncate(...tables: string[]) {
  await db.rawQuery(`TRUNCATE ${tables.map((t) => `"${t}"`).join(', ')} RESTART IDENTITY CASCADE`)
}
