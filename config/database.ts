import env from '#start/env'
import { defineConfig } from '@adonisjs/lucid'

/**
 * DATABASE_URL wins; otherwise the DB_* parts. In development and tests
 * without either, bin/local_environment.ts has already started the embedded
 * PostgreSQL and exported its DATABASE_URL before this file is read.
 */
const url = env.get('DATABASE_URL')
const server = url
  ? { connectionString: url }
  : {
      host: env.get('DB_HOST'),
      port: env.get('DB_PORT', 5432),
      user: env.get('DB_USER'),
      password: env.get('DB_PASSWORD')?.release(),
      database: env.get('DB_DATABASE'),
    }

const dbConfig = defineConfig({
  connection: 'postgres',
  prettyPrintDebugQueries: true,
  connections: {
    postgres: {
      client: 'pg',
      connection: server,
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
    /**
     * The rate limiter's own small pool on the same database. Sharing the app's
     * pool, the limiter (rate-limiter-flexible over knex) was once handed a
     * client the pool had already closed and failed the login with a 500;
     * apart, its pool never sees the app's bursts.
     */
    limiter: {
      client: 'pg',
      connection: server,
      pool: { min: 0, max: 2 },
    },
  },
})

export default dbConfig
