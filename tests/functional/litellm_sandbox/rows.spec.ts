import { test } from '@japa/runner'
import type { LiteLLMSandbox } from '../../../sandbox/litellm/sandbox.js'
import { DAY, pageAll, simGet, simPost, spendLogs, useLiteLLM, totalOf } from './helpers.js'

test.group('LiteLLM sandbox: late rows, write delay, duplicates, cache hits', (group) => {
  let sandbox: LiteLLMSandbox
  useLiteLLM(group, DAY, (started) => (sandbox = started))

  test('a late row appears in a window that was already synced', async ({ assert }) => {
    const now = sandbox.now()
    const window = {
      start_date: new Date(now - 30 * 60_000).toISOString().slice(0, 19).replace('T', ' '),
      end_date: new Date(now - 60_000).toISOString().slice(0, 19).replace('T', ' '),
      sort_order: 'asc',
    }
    const before = await pageAll(sandbox, window, 100)
    assert.lengthOf(before.ids, 0)
    const late = sandbox.addLateRow({ ageMs: 20 * 60_000, user: '2', spend: 0.000123456 })
    const after = await pageAll(sandbox, window, 100)
    assert.deepEqual(after.ids, [late.request_id])
    assert.equal(after.rows[0].spend, 0.000123456)
    assert.isAbove(
      Date.parse(after.rows[0].endTime) - Date.parse(after.rows[0].startTime),
      19 * 60_000
    )
  })

  test('a row is invisible until its write delay has passed', async ({ assert }) => {
    const now = sandbox.now()
    const row = sandbox.addRows(
      [{ request_id: 'slow-write', startTime: now - 5_000, endTime: now - 1_000 }],
      {
        delayMs: 10_000,
      }
    ).inserted[0]
    const window = { start_date: '2026-01-01', end_date: '2027-01-01', request_id: row.request_id }
    assert.equal(await totalOf(sandbox, window), 0)
    sandbox.advanceClock(10_001)
    assert.equal(await totalOf(sandbox, window), 1)
  })

  test('generated rows wait for endTime + writeDelayMs too', async ({ assert }) => {
    const { LiteLLMSandbox: Sandbox } = await import('../../../sandbox/litellm/sandbox.js')
    const now = Date.now()
    const live = await Sandbox.start({
      masterKey: 'sk-live',
      rows: 600,
      since: now - 10 * 60_000,
      until: now,
      writeDelayMs: 60_000,
      cacheHitRate: 0,
      failureRate: 0,
    })
    try {
      const params = { start_date: '2026-01-01', end_date: '2027-12-31', page_size: 1 }
      const visible = await totalOf(live, params, 'sk-live')
      assert.isBelow(visible, 600)
      live.advanceClock(60_000 + 120_000 + 1_000)
      assert.equal(await totalOf(live, params, 'sk-live'), 600)
    } finally {
      await live.stop()
    }
  })

  test('an insert with a request_id already stored is dropped silently: first write wins', async ({
    assert,
  }) => {
    const existing = sandbox.generatedRow(10)
    const result = sandbox.addRows([
      { request_id: existing.request_id, spend: 99, startTime: existing.startTime },
      { request_id: 'fresh-1', startTime: '2026-11-01T12:00:00Z' },
      { request_id: 'fresh-1', startTime: '2026-11-01T12:00:01Z', spend: 5 },
    ])
    assert.deepEqual(result.skipped, [existing.request_id, 'fresh-1'])
    assert.deepEqual(
      result.inserted.map((row) => row.request_id),
      ['fresh-1']
    )
    const served = await spendLogs(sandbox, {
      start_date: '2026-11-01',
      end_date: '2026-11-02',
      request_id: existing.request_id,
    })
    assert.lengthOf(served.body.data, 1)
    assert.equal(served.body.data[0].spend, existing.spend)
  })

  test('duplicate() serves a second row with the same request_id', async ({ assert }) => {
    const original = sandbox.generatedRow(42)
    const copy = sandbox.duplicate(original.request_id, { spend: original.spend + 0.01 })
    assert.equal(copy.request_id, original.request_id)
    const { rows } = await pageAll(
      sandbox,
      {
        start_date: '2026-11-01',
        end_date: '2026-11-02 23:59:59',
        request_id: original.request_id,
      },
      10
    )
    assert.lengthOf(rows, 2)
    assert.sameMembers(
      rows.map((row) => row.spend),
      [original.spend, original.spend + 0.01]
    )
  })

  test('cache hits have spend 0, cache_hit "True" and a <id>_cache_hit<epoch> id', async ({
    assert,
  }) => {
    const { rows } = await pageAll(
      sandbox,
      { start_date: '2026-11-01', end_date: '2026-11-01 23:59:59' },
      1000
    )
    const hits = rows.filter((row) => row.cache_hit === 'True')
    assert.isAbove(hits.length, 20)
    for (const hit of hits) {
      assert.equal(hit.spend, 0)
      assert.isAbove(hit.total_tokens, 0)
      assert.match(hit.request_id, /^(chatcmpl-|msg_01|[0-9a-f]{8}-).+_cache_hit\d{10}(\.\d+)?$/)
      const epoch = Number(hit.request_id.split('_cache_hit')[1])
      assert.closeTo(epoch * 1000, Date.parse(hit.startTime), 10_000)
    }
    const original = sandbox.generatedRow(7)
    const added = sandbox.addCacheHit(original.request_id)
    assert.isTrue(added.request_id.startsWith(`${original.request_id}_cache_hit`))
    assert.equal(added.spend, 0)
    assert.equal(added.cache_hit, 'True')
    assert.equal(added.total_tokens, original.total_tokens)
  })

  test('unpriced models bill 0 with tokens; failures are status failure with error_information', async ({
    assert,
  }) => {
    const { rows } = await pageAll(
      sandbox,
      { start_date: '2026-11-01', end_date: '2026-11-01 23:59:59' },
      1000
    )
    const unpriced = rows.filter(
      (row) => row.model_group === 'local-llama' && row.cache_hit === 'False'
    )
    assert.isAbove(unpriced.length, 0)
    assert.isTrue(unpriced.every((row) => row.spend === 0 && row.total_tokens > 0))
    const failures = rows.filter((row) => row.status === 'failure')
    assert.isAbove(failures.length, 0)
    assert.isTrue(failures.every((row) => row.metadata.error_information?.error_code))
    // Some mid-stream failures bill what was streamed.
    assert.isTrue(failures.some((row) => row.spend > 0) || failures.length < 20)
  })

  test('the same controls work over /_sim', async ({ assert }) => {
    const added = await simPost(sandbox, '/_sim/rows', {
      rows: [{ request_id: 'sim-1', startTime: '2026-11-09T10:00:00Z', user: '1', spend: 0.5 }],
    })
    assert.deepEqual(added.body, { inserted: ['sim-1'], skipped: [] })
    const again = await simPost(sandbox, '/_sim/rows', { rows: [{ request_id: 'sim-1' }] })
    assert.deepEqual(again.body.skipped, ['sim-1'])
    const late = await simPost(sandbox, '/_sim/rows/late', { age_ms: 3_600_000, user: '5' })
    assert.equal(late.status, 200)
    assert.equal(late.body.row.user, '5')
    const dup = await simPost(sandbox, '/_sim/rows/duplicate', { request_id: 'sim-1' })
    assert.equal(dup.body.row.request_id, 'sim-1')
    const hit = await simPost(sandbox, '/_sim/rows/cache_hit', { of_request_id: 'sim-1' })
    assert.match(hit.body.row.request_id, /^sim-1_cache_hit/)
    assert.equal(hit.body.row.spend, 0)
    const found = await simGet(sandbox, '/_sim/rows/sim-1')
    assert.lengthOf(found.body.rows, 2)
    const clock = await simPost(sandbox, '/_sim/clock/advance', { seconds: 5 })
    assert.isAtLeast(clock.body.now, Date.now() + 4_000)
    const health = await simGet(sandbox, '/_sim/health')
    assert.isTrue(health.body.ok)
    assert.equal(health.body.generated.rows, DAY.rows)
    assert.equal(health.body.imitates, 'LiteLLM 1.100.x')
    const listing = await simGet(sandbox, '/_sim')
    assert.isAbove(listing.body.routes.length, 10)
    const reset = await simPost(sandbox, '/_sim/reset')
    assert.equal(reset.status, 200)
    const gone = await simGet(sandbox, '/_sim/rows/sim-1')
    assert.lengthOf(gone.body.rows, 0)
  })
})
