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

export { APP_ROOT }
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
 * Makes sure a database is reachable: keeps DATABASE_URL / DB_HOST when set
 * (in the process or the env files), else starts the embedded cluster
 * `name` and exports its URL as DATABASE_URL for this process and children.
 */
export async function ensureDatabase(name: 'dev' | 'test') {
  const files = name === 'test' ? ['.env', '.env.test'] : ['.env']
  const fromFiles = Object.assign({}, ...(await Promise.all(files.map(readEnvFile))))
  const configured = (key: string) => process.env[key] || fromFiles[key]
  if (configured('DATABASE_URL') || configured('DB_HOST')) {
    return { stop: async () => {} }
  }
  const database = await startEmbeddedPostgres(rootPath, name)
  process.env.DATABASE_URL = database.url
  return database
}
