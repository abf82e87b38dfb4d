import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import LiteLLMClient from '#services/usage/litellm_client'
import UsageSyncService from '#services/usage/usage_sync_service'
import { runCli } from '#tests/support/cli'
import {
  DAY,
  MASTER_KEY,
  at,
  createUser,
  expectedIds,
  resetUsage,
  spendRow,
  startSandbox,
  storedIds,
  storedById,
  storedRows,
  syncServiceFor,
} from './helpers.js'

const SETTLE_MS = 120_000

/** What `now` must be for the settle line (now − USAGE_SYNC_SETTLE_SECONDS) to fall at `time`. */
const nowFor = (time: string) => new Date(at(time).getTime() + SETTLE_MS)

test.group('Usage sync (pull from LiteLLM)', (group) => {
  group.each.setup(() => resetUsage())

  test('overlapping windows and late rows store each request once', async ({ assert }) => {
    const ada = await createUser('ada@example.com')
    const bob = await createUser('bob@example.com')
    const sandbox = await startSandbox({
      rows: 600,
      seed: 11,
      users: [String(ada), String(bob)],
      unknownUserRate: 0,
      tieRate: 0.3,
    })
    try {
      // Small pages: many page boundaries, and ties across them (the sandbox reshuffles ties per request).
      const service = new UsageSyncService(
        new LiteLLMClient({ baseUrl: sandbox.url, apiKey: MASTER_KEY, pageSize: 25, backoffMs: 5 })
      )
      const first = await service.sync({ since: at('00:00:00'), now: nowFor('03:00:00') })
      assert.equal(first.status, 'succeeded')
      assert.equal(first.watermarkAfter, at('03:00:00').toISOString())
      assert.deepEqual(await storedIds(), expectedIds(sandbox, at('00:00:00'), at('03:00:00')))

      // A request that started in the window already read, written by LiteLLM only now.
      sandbox.addRows([spendRow('late-request-1', '02:30:00.250000', { user: String(ada) })])

      // The next run re-reads from the watermark minus the 2 h look-back: 01:00 .. 06:00.
      const second = await service.sync({ now: nowFor('06:00:00') })
      assert.equal(second.status, 'succeeded')
      assert.equal(second.window?.since, at('01:00:00').toISOString())
      assert.isAbove(second.counts.duplicates, 0, 'the overlap was read again')
      // And a third, overlapping both.
      const third = await service.sync({ since: at('00:00:00'), now: nowFor('06:00:00') })
      assert.equal(third.counts.inserted, 0)

      const ids = await storedIds()
      assert.deepEqual(ids, expectedIds(sandbox, at('00:00:00'), at('06:00:00')))
      assert.equal(ids.filter((id) => id === 'late-request-1').length, 1)
      assert.equal(new Set(ids).size, ids.length)
      const generated = sandbox.rowsBetween(at('00:00:00'), at('06:00:00')).length
      assert.equal(ids.length, generated, 'every generated row and the late one, once')
    } finally {
      await sandbox.stop()
    }
  })

  test('a duplicate request_id with a different spend is flagged, and billed once', async ({
    assert,
  }) => {
    const ada = await createUser('ada@example.com')
    const sandbox = await startSandbox()
    try {
      sandbox.addRows([
        spendRow('req-dup', '01:10:00', { user: String(ada), spend: 0.00021 }),
        spendRow('req-invoiced', '01:05:00', { user: String(ada), spend: 0.001 }),
      ])
      const service = syncServiceFor(sandbox)
      const window = { since: at('00:00:00'), until: at('02:00:00'), now: nowFor('06:00:00') }
      const initial = await service.sync(window)
      assert.equal(initial.counts.inserted, 2)
      const before = await storedRows()

      // req-invoiced is on an invoice already: nothing about it may change.
      const invoice = await db.rawQuery<{ rows: { id: string }[] }>(
        `INSERT INTO usage_invoices (user_id, period, cost_micros, amount_cents, idempotency_key, created_at, updated_at)
         VALUES (?, '2026-11', 1000, 0, 'usage-test-invoice', now(), now()) RETURNING id`,
        [ada]
      )
      await db.rawQuery(`UPDATE usage_logs SET usage_invoice_id = ? WHERE request_id = ?`, [
        invoice.rows[0].id,
        'req-invoiced',
      ])

      // LiteLLM now serves a second row under each id, with another spend.
      sandbox.duplicate('req-dup', { spend: 0.5 })
      sandbox.duplicate('req-invoiced', { spend: 0.75 })
      const report = await service.sync(window)
      assert.equal(report.status, 'succeeded')
      assert.equal(report.counts.inserted, 0)
      assert.equal(report.counts.mismatches, 2)
      assert.isTrue(report.needsAttention)

      const after = await storedRows()
      const dup = after.find((row) => row.request_id === 'req-dup')!
      const invoiced = after.find((row) => row.request_id === 'req-invoiced')!
      assert.isTrue(dup.spend_mismatch)
      assert.equal(dup.spend_micros, '210', 'the first figure stays')
      assert.equal(dup.cost_micros, before.find((r) => r.request_id === 'req-dup')!.cost_micros)
      assert.isFalse(invoiced.spend_mismatch, 'an invoiced row is never changed')
      assert.equal(invoiced.spend_micros, '1000')

      const mismatches = await db.rawQuery<{ rows: Record<string, string>[] }>(
        `SELECT request_id, stored_spend_micros, seen_spend_micros, source
           FROM usage_spend_mismatches ORDER BY request_id`
      )
      assert.deepEqual(mismatches.rows, [
        {
          request_id: 'req-dup',
          stored_spend_micros: '210',
          seen_spend_micros: '500000',
          source: 'pull',
        },
        {
          request_id: 'req-invoiced',
          stored_spend_micros: '1000',
          seen_spend_micros: '750000',
          source: 'pull',
        },
      ])

      // Seen again: counted, but not reported as new.
      const again = await service.sync(window)
      assert.equal(again.counts.mismatches, 0)
      assert.equal(again.counts.mismatchesSeen, 2, JSON.stringify(again.counts))
      assert.isFalse(again.needsAttention)
    } finally {
      await sandbox.stop()
    }
  })

  test('unattributed rows are kept and reported; emails and end users attribute', async ({
    assert,
  }) => {
    const ada = await createUser('ada@example.com')
    const bob = await createUser('bob@example.com')
    const sandbox = await startSandbox()
    try {
      sandbox.addRows([
        spendRow('by-key-owner', '01:00:00', { user: String(ada), end_user: '' }),
        spendRow('by-email', '01:01:00', { user: '', end_user: 'Ada@Example.COM' }),
        spendRow('owner-unknown-end-user-known', '01:02:00', {
          user: 'default_user_id',
          end_user: String(bob),
        }),
        spendRow('stranger-1', '01:03:00', { user: 'ext-7', end_user: '' }),
        spendRow('stranger-2', '01:04:00', { user: '', end_user: 'nobody@example.com' }),
        spendRow('nobody', '01:05:00', { user: '', end_user: '' }),
      ])
      const report = await syncServiceFor(sandbox).sync({
        since: at('00:00:00'),
        until: at('02:00:00'),
        now: nowFor('06:00:00'),
      })
      assert.equal(report.counts.inserted, 6)
      assert.equal(report.counts.unattributed, 3)
      assert.isTrue(report.needsAttention)

      const rows = await storedById()
      assert.equal(rows['by-key-owner'].user_id, String(ada))
      assert.equal(rows['by-email'].user_id, String(ada))
      assert.equal(rows['owner-unknown-end-user-known'].user_id, String(bob))
      for (const id of ['stranger-1', 'stranger-2', 'nobody']) {
        assert.equal(rows[id].attribution, 'unattributed')
        assert.isNull(rows[id].user_id)
        assert.notEqual(rows[id].cost_micros, '0', 'kept with its cost, for an operator')
      }
      const job = await db.rawQuery<{ rows: { status: string }[] }>(
        `SELECT status FROM job_runs WHERE job = 'usage:sync'`
      )
      assert.deepEqual(job.rows, [{ status: 'partial' }])
    } finally {
      await sandbox.stop()
    }
  })

  test('float spends sum to the exact micro-dollar total', async ({ assert }) => {
    const ada = await createUser('ada@example.com')
    const sandbox = await startSandbox()
    try {
      const spends = [0.1, 0.2, 1e-5, 0.0008617499999999999, 0.000123456, 2.5e-7, 1.5e-6, 2.5e-6]
      assert.notEqual(
        spends.reduce((a, b) => a + b, 0),
        0.300999,
        'the float sum is not the decimal sum'
      )
      sandbox.addRows(
        spends.map((spend, i) =>
          spendRow(`float-${i}`, `01:0${i}:00`, {
            user: String(ada),
            spend,
            model_group: 'x-unpriced',
          })
        )
      )
      await syncServiceFor(sandbox).sync({
        since: at('00:00:00'),
        until: at('02:00:00'),
        now: nowFor('06:00:00'),
      })
      const sum = await db.rawQuery<{ rows: { spend: string; cost: string }[] }>(
        'SELECT sum(spend_micros) AS spend, sum(cost_micros) AS cost FROM usage_logs'
      )
      // 100000 + 200000 + 10 + 862 + 123 + 0 (0.25, half to even) + 2 (1.5) + 2 (2.5)
      assert.equal(sum.rows[0].spend, '300999')
      // Unpriced model group: billed at LiteLLM's spend (markup 0 in tests).
      assert.equal(sum.rows[0].cost, '300999')
    } finally {
      await sandbox.stop()
    }
  })

  test('two concurrent usage:sync runs: one skips, no double rows', async ({ assert }) => {
    const ada = await createUser('ada@example.com')
    const sandbox = await startSandbox({
      rows: 300,
      seed: 3,
      users: [String(ada)],
      unknownUserRate: 0,
    })
    try {
      // Slow answers keep the first run inside its lock while the second starts.
      sandbox.delayNext({ ms: 300, count: 4 })
      const window = { since: at('00:00:00'), until: at('06:00:00'), now: nowFor('06:00:00') }
      const [a, b] = await Promise.all([
        syncServiceFor(sandbox).sync(window),
        syncServiceFor(sandbox).sync(window),
      ])
      assert.sameMembers([a.status, b.status], ['succeeded', 'skipped'])
      const ids = await storedIds()
      assert.equal(ids.length, 300)
      assert.equal(new Set(ids).size, 300)

      // Waiting instead of skipping: both run, one after the other, the second adds nothing.
      sandbox.delayNext({ ms: 300, count: 4 })
      const [c, d] = await Promise.all([
        syncServiceFor(sandbox).sync({ ...window, waitMs: 20_000 }),
        syncServiceFor(sandbox).sync({ ...window, waitMs: 20_000 }),
      ])
      assert.deepEqual([c.status, d.status], ['succeeded', 'succeeded'])
      assert.equal(c.counts.inserted + d.counts.inserted, 0)
      const afterWaiting = await storedIds()
      assert.equal(afterWaiting.length, 300)
    } finally {
      await sandbox.stop()
    }
  })

  test('two usage:sync processes at once store every row once', async ({ assert }) => {
    const ada = await createUser('ada@example.com')
    const sandbox = await startSandbox({
      rows: 400,
      seed: 5,
      users: [String(ada)],
      unknownUserRate: 0,
    })
    try {
      sandbox.delayNext({ ms: 1500, count: 3 })
      const args = [
        'usage:sync',
        '--since',
        `${DAY} 00:00:00`,
        '--until',
        `${DAY} 06:00:00`,
        '--json',
      ]
      const env = { LITELLM_BASE_URL: sandbox.url, LITELLM_API_KEY: MASTER_KEY }
      const runs = await Promise.all([runCli(args, { env }), runCli(args, { env })])
      const reports = runs.map((run) => JSON.parse(run.stdout))
      for (const run of runs) assert.equal(run.code, 0, run.stderr)
      const inserted = reports.reduce((total, report) => total + report.counts.inserted, 0)
      assert.equal(inserted, 400)
      assert.includeMembers(
        ['succeeded', 'skipped'],
        reports.map((report) => report.status)
      )
      const ids = await storedIds()
      assert.equal(ids.length, 400)
      assert.equal(new Set(ids).size, 400)
    } finally {
      await sandbox.stop()
    }
  }).timeout(90_000)

  test('LiteLLM failing mid-paging: the watermark stays behind what was stored; a rerun converges', async ({
    assert,
  }) => {
    const ada = await createUser('ada@example.com')
    const sandbox = await startSandbox({
      rows: 600,
      seed: 9,
      users: [String(ada)],
      unknownUserRate: 0,
    })
    try {
      const client = new LiteLLMClient({
        baseUrl: sandbox.url,
        apiKey: MASTER_KEY,
        pageSize: 20,
        maxRetries: 2,
        backoffMs: 5,
      })
      // When the sync starts reading the second hour, LiteLLM breaks (more failures than
      // retries). Keyed on the window, not on progress: pages are read ahead of the writes.
      let failed = false
      const spendLogs = client.spendLogs.bind(client)
      client.spendLogs = ((window, options) => {
        if (!failed && window.since >= at('01:00:00')) {
          failed = true
          sandbox.failNext({ count: 50, status: 500 })
        }
        return spendLogs(window, options)
      }) as typeof client.spendLogs
      const service = new UsageSyncService(client)
      const report = await service.sync({ since: at('00:00:00'), now: nowFor('06:00:00') })
      assert.equal(report.status, 'failed')
      assert.match(report.error!, /answered 500/)
      assert.isNotNull(report.watermarkAfter)
      const watermark = new Date(report.watermarkAfter!)
      assert.isBelow(watermark.getTime(), at('06:00:00').getTime())
      // Everything before the watermark is stored.
      const stored = new Set(await storedIds())
      for (const id of expectedIds(sandbox, at('00:00:00'), watermark)) {
        assert.isTrue(stored.has(id), `${id} before the watermark is stored`)
      }
      const state = await db.rawQuery<{ rows: { last_status: string; last_error: string }[] }>(
        `SELECT last_status, last_error FROM usage_sync_states WHERE source = 'litellm'`
      )
      assert.equal(state.rows[0].last_status, 'failed')

      sandbox.clearFaults()
      const rerun = await service.sync({ now: nowFor('06:00:00') })
      assert.equal(rerun.status, 'succeeded')
      assert.equal(rerun.watermarkAfter, at('06:00:00').toISOString())
      assert.deepEqual(await storedIds(), expectedIds(sandbox, at('00:00:00'), at('06:00:00')))
    } finally {
      await sandbox.stop()
    }
  })

  test('a passing LiteLLM error is retried; a wrong key fails clearly', async ({ assert }) => {
    const ada = await createUser('ada@example.com')
    const sandbox = await startSandbox()
    try {
      sandbox.addRows([spendRow('retried', '01:00:00', { user: String(ada) })])
      sandbox.failNext({ count: 2, status: 503 })
      const window = { since: at('00:00:00'), until: at('02:00:00'), now: nowFor('06:00:00') }
      const ok = await syncServiceFor(sandbox).sync(window)
      assert.equal(ok.status, 'succeeded')
      assert.equal(ok.counts.inserted, 1)

      const wrongKey = new UsageSyncService(
        new LiteLLMClient({ baseUrl: sandbox.url, apiKey: 'sk-wrong', backoffMs: 5 })
      )
      const failed = await wrongKey.sync(window)
      assert.equal(failed.status, 'failed')
      assert.match(failed.error!, /answered 401.*LITELLM_API_KEY/)
    } finally {
      await sandbox.stop()
    }
  })

  test('usage:sync CLI prints the summary and exits 3 on unattributed rows', async ({ assert }) => {
    const ada = await createUser('ada@example.com')
    const sandbox = await startSandbox()
    try {
      sandbox.addRows([
        spendRow('cli-1', '01:10:00', { user: String(ada) }),
        spendRow('cli-2', '01:11:00', { user: 'ext-1', end_user: '' }),
      ])
      const env = { LITELLM_BASE_URL: sandbox.url, LITELLM_API_KEY: MASTER_KEY }
      const args = ['usage:sync', '--since', DAY, '--until', `${DAY} 02:00:00`]
      const run = await runCli(args, { env })
      assert.equal(run.code, 3, run.stderr)
      assert.match(run.stdout, /rows seen\s*│\s*2\s/)
      assert.match(run.stdout, /unattributed \(new\)\s*│\s*1\s/)
      assert.match(run.stdout, /watermark after/)
      assert.match(run.stderr, /1 new unattributed rows/)

      const again = await runCli([...args, '--json'], { env })
      assert.equal(again.code, 0, again.stderr)
      const report = JSON.parse(again.stdout)
      assert.equal(report.counts.seen, 2)
      assert.equal(report.counts.duplicates, 2)

      const bad = await runCli(['usage:sync', '--since', 'yesterday'], { env })
      assert.equal(bad.code, 2)

      const show = await runCli(
        ['usage:show', '--user', 'ada@example.com', '--period', '2026-11'],
        {
          env,
        }
      )
      assert.equal(show.code, 0, show.stderr)
      assert.match(show.stdout, /1 requests/)
      assert.match(show.stdout, /openai\/gpt-4o-mini/)
      assert.match(show.stdout, /2026-11-01/)
    } finally {
      await sandbox.stop()
    }
  }).timeout(90_000)
})
