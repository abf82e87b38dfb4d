/*
|--------------------------------------------------------------------------
| Benchmark: usage sync (`npm run bench:usage-sync`)
|--------------------------------------------------------------------------
|
| 1,000,000 spend rows served by the LiteLLM sandbox (its own process, as a
| proxy would be) synced into an empty usage_logs by the real UsageSyncService:
| end-to-end rows/s and the peak RSS of the syncing process; then a second
| sync of the same window (adds nothing); then, in the same run, a raw COPY of
| the same rows into the same (emptied) table, and the ratio.
|
| Database: DATABASE_URL (or DB_*), else an embedded PostgreSQL under
| tmp/postgres/bench. usage_logs must be empty: pass --truncate to empty it
| (it deletes usage data: never point this at a database you care about).
|
| Options: --rows N (default 1000000), --truncate (or --reset), --keep (leave rows).
| Env: BENCH_LITELLM_PORT (default: a free port).
|
| V8 flags (package.json): `--max-semi-space-size=8 --heap-growing-percent=60`.
| The sync's live data is small (a page being parsed, two batches of COPY
| text), but it churns ~3 GB of short-lived objects per million rows; V8's
| defaults on this machine let the young generation grow to ~130 MB and the
| old one to ~120 MB of garbage between full collections. With these flags the
| peak RSS stays under 300 MB for about 1 s more CPU per million rows. A
| `usage:sync` cron can use the same through NODE_OPTIONS. Without them:
| `node --import=@poppinss/ts-exec bench/usage_sync.ts`.
|
*/

process.env.NODE_ENV = process.env.NODE_ENV ?? 'development'

import { createReadStream, createWriteStream, readFileSync, rmSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { from as copyFrom, to as copyTo } from 'pg-copy-streams'
import { useBenchDatabase } from './support/database.js'
import { describeMachine, loadAverage } from './support/machine.js'
import { count, flag } from './support/options.js'
import { ROOT, startProcess } from './support/processes.js'
import { writeResult } from './support/results.js'

const SINCE = '2026-10-01T00:00:00.000Z'
const UNTIL = '2026-10-08T00:00:00.000Z'
const MASTER_KEY = 'sk-litellm-bench'

const ROWS = count('rows', 1_000_000)

/** Peak resident memory of this process so far (VmHWM), in MB. */
function peakRssMb() {
  const status = readFileSync('/proc/self/status', 'utf8')
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return kb / 1024
}

/** Samples the current RSS, for a peak per phase (VmHWM only ever grows). */
function rssSampler() {
  let peak = process.memoryUsage().rss
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 20)
  return {
    stop() {
      clearInterval(timer)
      return Math.max(peak, process.memoryUsage().rss) / 1024 / 1024
    },
  }
}

/** The LiteLLM sandbox in its own process, as a proxy would be. */
function startSandbox(users: string[]) {
  const port = Number(process.env.BENCH_LITELLM_PORT ?? 0)
  return startProcess({
    name: 'LiteLLM sandbox',
    args: ['--import=@poppinss/ts-exec', 'sandbox/litellm/main.ts'],
    env: {
      ...process.env,
      LITELLM_SANDBOX_PORT: String(port),
      LITELLM_API_KEY: MASTER_KEY,
      LITELLM_SANDBOX_SEED: '42',
      LITELLM_SANDBOX_ROWS: String(ROWS),
      LITELLM_SANDBOX_SINCE: SINCE,
      LITELLM_SANDBOX_UNTIL: UNTIL,
      LITELLM_SANDBOX_USERS: users.join(','),
    },
    ready: /listening on (http:\/\/\S+)/,
    timeoutMs: 600_000,
  })
}

function sandboxRssMb(pid: number) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}

async function main() {
  const embedded = await useBenchDatabase()
  // The sync reads the whole window in one run: no settle line in the way, and hour-long sub-windows.
  process.env.USAGE_SYNC_CHUNK_MINUTES = process.env.USAGE_SYNC_CHUNK_MINUTES ?? '60'

  const { bootApp } = await import('../cli/app.js')
  const booted = await bootApp()
  const sandboxes: { stop: () => Promise<void> }[] = []
  try {
    const { default: db } = await import('@adonisjs/lucid/services/db')
    const { MigrationRunner } = await import('@adonisjs/lucid/migration')
    const migrator = new MigrationRunner(db, booted.app, { direction: 'up', dryRun: false })
    await migrator.run()
    if (migrator.error) throw migrator.error

    const existing = await db.rawQuery<{ rows: { n: string }[] }>(
      'SELECT count(*) AS n FROM usage_logs'
    )
    if (Number(existing.rows[0].n) > 0) {
      if (!flag('truncate') && !flag('reset')) {
        throw new Error(
          `usage_logs has ${existing.rows[0].n} rows: run on an empty database, or pass --truncate to delete them`
        )
      }
    }
    if (flag('truncate') || flag('reset')) {
      await db.rawQuery(
        'TRUNCATE usage_logs, usage_spend_mismatches, usage_sync_states RESTART IDENTITY CASCADE'
      )
      await db.rawQuery(`DELETE FROM locks WHERE key LIKE 'usage:sync%'`).catch(() => {})
    }

    // Five users of ours, named by id in the sandbox's `user` / `end_user` fields.
    const users: string[] = []
    for (let i = 1; i <= 5; i++) {
      const email = `bench-usage-${i}@example.com`
      const found = await db.rawQuery<{ rows: { id: string }[] }>(
        `INSERT INTO users (full_name, email, password, plan, created_at, updated_at)
         VALUES (?, ?, 'x', 'free', now(), now())
         ON CONFLICT (email) DO UPDATE SET updated_at = now() RETURNING id`,
        [`Bench ${i}`, email]
      )
      users.push(String(found.rows[0].id))
    }

    const sandbox = await startSandbox(users)
    sandboxes.push(sandbox)
    const version = await db.rawQuery<{ rows: { server_version: string }[] }>('SHOW server_version')

    const { default: LiteLLMClient } = await import('#services/usage/litellm_client')
    const { default: UsageSyncService } = await import('#services/usage/usage_sync_service')
    const client = new LiteLLMClient({ baseUrl: sandbox.url, apiKey: MASTER_KEY })
    const service = new UsageSyncService(client)
    const window = { since: new Date(SINCE), until: new Date(UNTIL) }

    const machine = describeMachine(version.rows[0].server_version)
    console.log(`Machine: ${machine}`)
    console.log(
      `Syncing ${ROWS.toLocaleString('en-US')} rows (${SINCE} .. ${UNTIL}) from ${sandbox.url}`
    )

    // 1. First sync into an empty table.
    let sampler = rssSampler()
    const first = await service.sync({ ...window, now: new Date(UNTIL) })
    const firstPeak = sampler.stop()
    if (first.status !== 'succeeded') throw new Error(`first sync ${first.status}: ${first.error}`)
    const stored = await db.rawQuery<{ rows: { n: string }[] }>(
      'SELECT count(*) AS n FROM usage_logs'
    )
    const firstRate = first.counts.inserted / (first.durationMs / 1000)

    // 2. The same window again: nothing new.
    sampler = rssSampler()
    const second = await service.sync({ ...window, now: new Date(UNTIL) })
    const secondPeak = sampler.stop()
    if (second.status !== 'succeeded')
      throw new Error(`second sync ${second.status}: ${second.error}`)

    // 3. Raw COPY of the same rows into the same table, emptied: the database's own ceiling.
    const dir = join(ROOT, 'tmp', 'bench')
    await mkdir(dir, { recursive: true })
    const file = join(dir, 'usage_logs.copy')
    const columns =
      'request_id, user_id, agent_id, project_id, litellm_user, model, model_group, prompt_tokens, completion_tokens, total_tokens, cache_hit, spend_micros, cost_micros, attribution, spend_mismatch, started_at, ended_at, metadata, created_at'
    const knex = db.connection().getWriteClient()
    const connection = (await knex.client.acquireConnection()) as {
      query: (stream: unknown) => NodeJS.ReadableStream & NodeJS.WritableStream
    }
    let copyMs = 0
    let copied = 0
    try {
      await pipeline(
        connection.query(copyTo(`COPY usage_logs (${columns}) TO STDOUT`)),
        createWriteStream(file)
      )
      await db.rawQuery('TRUNCATE usage_logs RESTART IDENTITY CASCADE')
      const startCopy = performance.now()
      const sink = connection.query(
        copyFrom(`COPY usage_logs (${columns}) FROM STDIN`)
      ) as NodeJS.WritableStream & { rowCount?: number }
      await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), sink)
      copyMs = performance.now() - startCopy
      copied = sink.rowCount ?? 0
    } finally {
      await knex.client.releaseConnection(connection)
      rmSync(file, { force: true })
    }
    const copyRate = copied / (copyMs / 1000)

    const row = (label: string, value: string) => console.log(`  ${label.padEnd(34)} ${value}`)
    const n = (value: number) => Math.round(value).toLocaleString('en-US')
    console.log('\nResults')
    row('rows in the window', n(first.counts.seen))
    row(
      'first sync: inserted',
      `${n(first.counts.inserted)} (table: ${n(Number(stored.rows[0].n))})`
    )
    row('first sync: time', `${(first.durationMs / 1000).toFixed(2)} s`)
    row('first sync: rate (end to end)', `${n(firstRate)} rows/s`)
    row('first sync: LiteLLM requests', n(first.requests))
    row('first sync: peak RSS (sync process)', `${firstPeak.toFixed(0)} MB`)
    row('second sync: inserted', n(second.counts.inserted))
    row('second sync: time', `${(second.durationMs / 1000).toFixed(2)} s`)
    row('second sync: peak RSS', `${secondPeak.toFixed(0)} MB`)
    row('raw COPY of the same rows', `${n(copied)} rows in ${(copyMs / 1000).toFixed(2)} s`)
    row('raw COPY rate', `${n(copyRate)} rows/s`)
    row('sync rate / COPY rate', `${((firstRate / copyRate) * 100).toFixed(0)} %`)
    row('process peak RSS (VmHWM, whole run)', `${peakRssMb().toFixed(0)} MB`)
    row('sandbox process peak RSS', `${sandboxRssMb(sandbox.pid).toFixed(0)} MB`)
    const targets = [
      [`>= 50,000 rows/s`, firstRate >= 50_000],
      [`peak RSS < 300 MB`, firstPeak < 300],
      [`second sync adds nothing`, second.counts.inserted === 0],
      [`second sync no slower`, second.durationMs <= first.durationMs],
    ] as const
    console.log(
      `\nTargets: ${targets.map(([label, ok]) => `${label} ${ok ? 'met' : 'MISSED'}`).join('; ')}`
    )
    writeResult({
      name: 'usage_sync',
      machine,
      load: loadAverage(),
      rows: [
        {
          benchmark: `usage sync, ${n(ROWS)} rows`,
          figure: `${n(firstRate)} rows/s`,
          target: '>= 50,000 rows/s',
          met: targets[0][1],
        },
        {
          benchmark: 'usage sync: peak RSS',
          figure: `${firstPeak.toFixed(0)} MB`,
          target: '< 300 MB',
          met: targets[1][1],
        },
        {
          benchmark: 'usage sync: second sync',
          figure: `${n(second.counts.inserted)} rows, ${(second.durationMs / 1000).toFixed(2)} s`,
          target: 'adds nothing, no slower',
          met: targets[2][1] && targets[3][1],
        },
      ],
    })
    if (!flag('keep')) {
      await db.rawQuery('TRUNCATE usage_logs, usage_spend_mismatches RESTART IDENTITY CASCADE')
    }
  } finally {
    for (const sandbox of sandboxes) await sandbox.stop()
    await booted.close()
    await embedded.stop()
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : error)
  process.exitCode = 1
})
