import env from '#start/env'
import { defineConfig } from '@adonisjs/lucid'

/**
 * DATABASE_URL wins; otherwise the DB_* parts. In development and tests
 * without either, bin/local_environment.ts has already started the embedded
 * PostgreSQL and exported its DATABASE_URL before this file is read.
 */
const url = env.get('DATABASE_URL')

const dbConfig = defineConfig({
  connection: 'postgres',
  prettyPrintDebugQueries: true,
  connections: {
    postgres: {
      client: 'pg',
      connection: url
        ? { connectionString: url }
        : {
            host: env.get('DB_HOST'),
            port: env.get('DB_PORT', 5432),
            user: env.get('DB_USER'),
            password: env.get('DB_PASSWORD')?.release(),
            database: env.get('DB_DATABASE'),
          },
      pool: { min: 0, max: env.get('DB_POOL_MAX', 10) },
      migrations: {
        naturalSort: true,
        paths: ['database/migrations'],
      },
      seeders: {
        paths: ['database/seeders'],
      },
      // Lucid's generated schema types bigint money columns wrongly; models declare columns themselves.
      schemaGeneration: { enabled: false },
    },
  },
})

export default dbConfig
