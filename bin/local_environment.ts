/*
|--------------------------------------------------------------------------
| Local environment for development and test entry points
|--------------------------------------------------------------------------
|
| A fresh clone has no .env and no database server. Outside production this
| creates .env from .env.example (with a new APP_KEY) and, when no database
| server is configured, starts the embedded PostgreSQL under tmp/.
| bin/server.ts (production) never calls this.
|
*/

import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { EnvParser } from '@adonisjs/core/env'
import { startEmbeddedPostgres } from '../sandbox/postgres/embedded.js'
import { APP_ROOT } from './app_root.js'

const rootPath = fileURLToPath(APP_ROOT)

/** Reads one .env-style file into a plain object (missing file: empty). */
async function readEnvFile(name: string): Promise<Record<string, string>> {
  const path = new URL(name, APP_ROOT)
  if (!existsSync(path)) return {}
  const parsed = await new EnvParser(readFileSync(path, 'utf8'), APP_ROOT).parse()
  return Object.fromEntries(
    Object.entries(parsed).filter((e): e is [string, string] => e[1] !== undefined)
  )
}

/** Creates .env from .env.example with a fresh APP_KEY when it is missing. */
export function ensureDotEnv() {
  const target = new URL('.env', APP_ROOT)
  if (existsSync(target)) return
  const example = readFileSync(new URL('.env.example', APP_ROOT), 'utf8')
  const key = randomBytes(24).toString('base64url')
  writeFileSync(target, example.replace(/^APP_KEY=.*$/m, `APP_KEY=${key}`))
}

/**
 * Reads settings the way the app will see them before it boots: the process
 * environment first, then the given env files (later files win).
 */
export async function localSettings(files: string[] = ['.env']) {
  const fromFiles: Record<string, string> = Object.assign(
    {},
    ...(await Promise.all(files.map(readEnvFile)))
  )
  return (key: string): string | undefined => process.env[key] || fromFiles[key]
}

/**
 * Makes sure a database is reachable: keeps DATABASE_URL / DB_HOST when set
 * (in the process or the env files), else starts the embedded cluster
 * `name` and exports its URL as DATABASE_URL for this process and children.
 */
export async function ensureDatabase(name: 'dev' | 'test') {
  const configured = await localSettings(name === 'test' ? ['.env', '.env.test'] : ['.env'])
  if (configured('DATABASE_URL') || configured('DB_HOST')) {
    return { stop: async () => {} }
  }
  const database = await startEmbeddedPostgres(rootPath, name)
  process.env.DATABASE_URL = database.url
  return database
}

/**
 * What the ace and CLI entry points need outside production: a .env, and
 * (when asked) a database for the current NODE_ENV. Production gets nothing.
 */
export async function prepareLocalEnvironment(options: { database: boolean }) {
  if (process.env.NODE_ENV === 'production') return { stop: async () => {} }
  ensureDotEnv()
  if (!options.database) return { stop: async () => {} }
  return ensureDatabase(process.env.NODE_ENV === 'test' ? 'test' : 'dev')
}
