import { test } from '@japa/runner'
import locks from '@adonisjs/lock/services/main'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import JobRun from '#models/job_run'
import JobRunner from '#services/job_runner'
import { UserFactory } from '#database/factories/user_factory'
import { truncate } from '#tests/support/database'
import { runCli } from '#tests/support/cli'
import { stripeSandbox } from '#tests/support/stripe'

/** The real CLI in a child process; `failing` makes agents:sync throw (tests/support/cli_failing_jobs.ts). */
const cli = (args: string[], options: { failing?: boolean } = {}) =>
  runCli(args, { preload: options.failing ? ['./tests/support/cli_failing_jobs.ts'] : [] })

/** What the preloaded fault throws (tests/support/cli_failing_jobs.ts). */
const FAILING_JOB_ERROR = 'catalog unavailable (test fault)'

/** What `jobs:status --json` prints per job. */
type JobStatusRow = {
  job: string
  status: string
  startedAt: string | null
  finishedAt: string | null
  durationMs: number | null
  agoSeconds: number | null
  host: string | null
  pid: number | null
  summary: Record<string, unknown> | null
  error: string | null
  lastSkippedAt: string | null
}

/** Table lines that mention `text` (cli-table3 draws one line per row). */
function linesWith(output: string, text: string) {
  return output.split('\n').filter((line) => line.includes(text))
}

function runsOf(job: string) {
  return JobRun.query().where('job', job).orderBy('id')
}

/** The outcomes of a job's runs, oldest first. */
async function outcomesOf(job: string) {
  const runs = await runsOf(job)
  return runs.map((run) => run.status)
}

/*
| The CLI is another process: rows are committed, and tables truncated between
| tests. User ids start in a range of their own, since the Stripe idempotency
| key of a customer derives from the user id (the sandbox outlives a test).
*/
let idRange = 0
async function reset() {
  await truncate('users', 'job_runs', 'locks')
  idRange += 1
  await db.rawQuery(`SELECT setval(pg_get_serial_sequence('users', 'id'), ?, false)`, [
    90_000 + idRange * 1000,
  ])
}

test.group('Cron jobs', (group) => {
  group.each.setup(async () => {
    await reset()
    return async () => {
      stripeSandbox().clearFaults()
      await truncate('users', 'job_runs', 'locks')
    }
  })

  test('a job another host is running exits 0 and does nothing; the next run does the work', async ({
    assert,
  }) => {
    const user = await UserFactory.create()
    const held = locks.createLock(JobRunner.lockName('customers:sync'), '1m')
    assert.isTrue(await held.acquireImmediately())
    try {
      const busy = await cli(['customers:sync'])
      assert.equal(busy.code, 0, busy.stderr)
      assert.equal(busy.stdout, 'customers:sync is already running elsewhere; nothing done.\n')
      assert.equal(busy.stderr, '')

      const busyJson = await cli(['customers:sync', '--json'])
      assert.equal(busyJson.code, 0, busyJson.stderr)
      assert.deepEqual(JSON.parse(busyJson.stdout), {
        job: 'customers:sync',
        status: 'skipped',
        message: 'customers:sync is already running elsewhere; nothing done.',
      })
    } finally {
      await held.release()
    }
    await user.refresh()
    assert.isNull(user.stripeCustomerId)

    const ran = await cli(['customers:sync'])
    assert.equal(ran.code, 0, ran.stderr)
    assert.include(ran.stdout, '1 customer(s) created, 0 failed.')
    await user.refresh()
    assert.match(user.stripeCustomerId ?? '', /^cus_/)

    const runs = await runsOf('customers:sync')
    assert.deepEqual(
      runs.map((run) => run.status),
      ['skipped', 'skipped', 'succeeded']
    )
    assert.deepEqual(runs[2].summary, { created: 1, failed: 0 })
    assert.isNotNull(runs[2].finishedAt)
    assert.isAtLeast(runs[2].durationMs!, 0)
    // The lock is free again once a run ends.
    const after = locks.createLock(JobRunner.lockName('customers:sync'), '1m')
    assert.isTrue(await after.acquireImmediately())
    await after.release()
  })

  test('every locked job skips while its lock is held elsewhere', async ({ assert }) => {
    for (const [job, args] of [
      ['subscriptions:check-grace', []],
      ['agents:sync', []],
      ['payouts:reconcile', ['--repair']],
      ['webhooks:replay', ['--failed']],
    ] as const) {
      const held = locks.createLock(JobRunner.lockName(job), '1m')
      assert.isTrue(await held.acquireImmediately())
      try {
        const run = await cli([job, ...args])
        assert.equal(run.code, 0, `${job}: ${run.stderr}`)
        assert.equal(run.stdout, `${job} is already running elsewhere; nothing done.\n`)
      } finally {
        await held.release()
      }
      const ran = await cli([job, ...args])
      assert.equal(ran.code, 0, `${job}: ${ran.stderr}`)
      assert.notInclude(ran.stdout, 'already running elsewhere')
      assert.deepEqual(await outcomesOf(job), ['skipped', 'succeeded'], job)
    }
  })

  test('jobs:status shows the last run of each job, its duration, outcome and summary', async ({
    assert,
  }) => {
    await UserFactory.createMany(2)
    for (const job of ['customers:sync', 'subscriptions:check-grace', 'payouts:run']) {
      const run = await cli([job])
      assert.equal(run.code, 0, `${job}: ${run.stderr}`)
    }
    // Another host found customers:sync busy after its last run: shown beside that run.
    const held = locks.createLock(JobRunner.lockName('customers:sync'), '1m')
    await held.acquireImmediately()
    await cli(['customers:sync'])
    await held.release()

    const table = await cli(['jobs:status'])
    assert.equal(table.code, 0, table.stderr)
    assert.equal(table.stderr, '')
    assert.match(
      linesWith(table.stdout, 'Job')[0] ?? '',
      /Job\s+│\s+Last run \(UTC\)\s+│\s+Duration\s+│\s+Outcome\s+│\s+Summary\s+│\s+Ago/
    )
    assert.match(
      linesWith(table.stdout, 'customers:sync')[0] ?? '',
      /customers:sync\s+│\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+│\s+\d+\.\d s\s+│\s+succeeded\s+│\s+created=2, failed=0\s+│\s+\d+s ago \(last skipped /
    )
    assert.match(
      linesWith(table.stdout, 'subscriptions:check-grace')[0] ?? '',
      /│\s+succeeded\s+│\s+expired=0\s+│\s+\d+s ago/
    )
    assert.match(
      linesWith(table.stdout, 'payouts:run')[0] ?? '',
      /│\s+succeeded\s+│\s+madePayable=0\s+│/
    )
    // Cron jobs that never ran are listed too.
    assert.match(linesWith(table.stdout, 'usage:sync')[0] ?? '', /│\s+never\s+│/)

    const json = await cli(['jobs:status', '--json'])
    assert.equal(json.code, 0, json.stderr)
    const body = JSON.parse(json.stdout) as { now: string; jobs: JobStatusRow[] }
    assert.isString(body.now)
    assert.deepEqual(
      body.jobs.map((row) => row.job),
      [
        'agents:sync',
        'customers:sync',
        'invoices:generate',
        'payouts:reconcile',
        'payouts:run',
        'stripe:reconcile',
        'subscriptions:check-grace',
        'usage:sync',
        'webhooks:replay',
      ]
    )
    const customers = body.jobs.find((row) => row.job === 'customers:sync')!
    const runs = await runsOf('customers:sync')
    const last = runs.find((run) => run.status === 'succeeded')!
    assert.deepEqual(Object.keys(customers).sort(), [
      'agoSeconds',
      'durationMs',
      'error',
      'finishedAt',
      'host',
      'job',
      'lastSkippedAt',
      'pid',
      'startedAt',
      'status',
      'summary',
    ])
    assert.containsSubset(customers, {
      status: 'succeeded',
      startedAt: last.startedAt.toUTC().toISO(),
      durationMs: last.durationMs,
      host: last.host,
      pid: last.pid,
      summary: { created: 2, failed: 0 },
      error: null,
    })
    assert.isAtLeast(customers.agoSeconds!, 0)
    assert.isString(customers.lastSkippedAt)
    assert.deepEqual(
      body.jobs.find((row) => row.job === 'usage:sync'),
      {
        job: 'usage:sync',
        status: 'never',
        startedAt: null,
        finishedAt: null,
        durationMs: null,
        agoSeconds: null,
        host: null,
        pid: null,
        summary: null,
        error: null,
        lastSkippedAt: null,
      }
    )
  })

  test('a failed run is recorded as failed with its error, and jobs:status exits 3', async ({
    assert,
  }) => {
    const run = await cli(['agents:sync'], { failing: true })
    assert.equal(run.code, 1)
    assert.include(run.stderr, `Error: ${FAILING_JOB_ERROR}`)

    const [failed] = await runsOf('agents:sync')
    assert.equal(failed.status, 'failed')
    assert.equal(failed.error, FAILING_JOB_ERROR)
    assert.isNotNull(failed.finishedAt)

    const table = await cli(['jobs:status'])
    assert.equal(table.code, 3)
    assert.match(
      linesWith(table.stdout, 'agents:sync')[0] ?? '',
      new RegExp(`│\\s+failed\\s+│\\s+error: ${FAILING_JOB_ERROR.replace(/[()]/g, '\\$&')}`)
    )
    const jsonRun = await cli(['jobs:status', '--json'])
    assert.equal(jsonRun.code, 3)
    const json = JSON.parse(jsonRun.stdout) as {
      jobs: JobStatusRow[]
    }
    assert.containsSubset(
      json.jobs.find((row) => row.job === 'agents:sync'),
      { status: 'failed', error: FAILING_JOB_ERROR }
    )

    // The lock was released: the next run goes ahead and succeeds.
    const again = await cli(['agents:sync'])
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual(await outcomesOf('agents:sync'), ['failed', 'succeeded'])
  })

  test('a run a crashed host left marked running is closed as failed by the next run', async ({
    assert,
  }) => {
    await JobRun.create({
      job: 'subscriptions:check-grace',
      status: 'running',
      host: 'crashed-host',
      pid: 1,
      startedAt: DateTime.utc().minus({ hours: 1 }),
    })
    const run = await cli(['subscriptions:check-grace'])
    assert.equal(run.code, 0, run.stderr)
    const runs = await runsOf('subscriptions:check-grace')
    assert.deepEqual(
      runs.map((row) => [row.host, row.status]),
      [
        ['crashed-host', 'failed'],
        [runs[1].host, 'succeeded'],
      ]
    )
    assert.match(runs[0].error ?? '', /^abandoned/)
  })
})
