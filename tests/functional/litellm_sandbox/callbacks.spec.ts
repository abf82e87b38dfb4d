import { test } from '@japa/runner'
import type { LiteLLMSandbox } from '../../../sandbox/litellm/sandbox.js'
import { CallbackReceiver, DAY, simPost, useLiteLLM } from './helpers.js'

test.group('LiteLLM sandbox: generic_api callbacks', (group) => {
  let sandbox: LiteLLMSandbox
  let receiver: CallbackReceiver
  useLiteLLM(group, DAY, (started) => (sandbox = started))
  group.setup(async () => {
    receiver = await CallbackReceiver.start()
    return () => receiver.stop()
  })
  group.each.setup(() => receiver.reset())

  const window = { since: '2026-11-01T00:00:00Z', until: '2026-11-01T23:59:59Z' }

  test('rows go out as JSON-array batches of StandardLoggingPayload', async ({ assert }) => {
    const rows = sandbox.rowsBetween(window.since, window.until).slice(0, 250)
    const report = await sandbox.sendCallbacks(receiver.url, rows, {
      batchSize: 100,
      headers: { Authorization: 'Bearer shared-secret' },
    })
    assert.equal(report.delivered, 250)
    assert.equal(report.dropped, 0)
    assert.lengthOf(receiver.received, 3)
    const batches = receiver.received.map((batch) => JSON.parse(batch.raw) as any[])
    assert.deepEqual(
      batches.map((batch) => batch.length),
      [100, 100, 50]
    )
    assert.equal(receiver.received[0].headers.authorization, 'Bearer shared-secret')
    assert.equal(receiver.received[0].headers['content-type'], 'application/json')

    const payloads = batches.flat()
    for (const [index, payload] of payloads.entries()) {
      const row = rows[index]
      assert.equal(payload.id, row.request_id.split('_cache_hit')[0])
      assert.equal(payload.response_cost, row.spend)
      assert.equal(payload.startTime, row.startTime / 1000)
      assert.isNumber(payload.endTime)
      assert.equal(payload.model_group, row.model_group)
      assert.equal(payload.metadata.user_api_key_hash, row.api_key)
      assert.equal(payload.metadata.user_api_key_user_id, row.user || null)
      assert.equal(payload.metadata.user_api_key_end_user_id, row.end_user || null)
      assert.deepEqual(payload.request_tags, row.request_tags)
      assert.equal(
        payload.cache_hit,
        row.cache_hit === 'True' ? true : row.cache_hit === 'False' ? false : null
      )
      assert.equal(payload.trace_id, row.session_id)
    }
    const hit = payloads.find((payload) => payload.cache_hit === true)
    assert.exists(hit)
    assert.equal(hit.response_cost, 0)
    assert.isAbove(hit.saved_cache_cost, 0)
    assert.notInclude(hit.id, '_cache_hit')
    // Python float spelling in the body too.
    assert.match(receiver.received[0].raw, /"saved_cache_cost":0\.0[,}]/)
  })

  test('ndjson and single formats', async ({ assert }) => {
    const rows = sandbox.rowsBetween(window.since, window.until).slice(0, 5)
    await sandbox.sendCallbacks(receiver.url, rows, { logFormat: 'ndjson', batchSize: 512 })
    assert.lengthOf(receiver.received, 1)
    const lines = receiver.received[0].raw.split('\n').map((line) => JSON.parse(line))
    assert.deepEqual(
      lines.map((line) => line.id),
      rows.map((row) => row.request_id.split('_cache_hit')[0])
    )
    receiver.reset()
    const report = await sandbox.sendCallbacks(receiver.url, rows, { logFormat: 'single' })
    assert.lengthOf(receiver.received, 5)
    assert.equal(report.delivered, 5)
    assert.isTrue(receiver.received.every((batch) => !Array.isArray(JSON.parse(batch.raw))))
  })

  test('a failed batch is dropped, never retried', async ({ assert }) => {
    const rows = sandbox.rowsBetween(window.since, window.until).slice(0, 30)
    receiver.responder = (index) => (index === 1 ? 500 : 200)
    const report = await sandbox.sendCallbacks(receiver.url, rows, { batchSize: 10 })
    assert.lengthOf(receiver.received, 3)
    assert.deepEqual(
      report.batches.map((batch) => batch.status),
      [200, 500, 200]
    )
    assert.deepEqual(
      report.batches.map((batch) => batch.delivered),
      [true, false, true]
    )
    assert.equal(report.delivered, 20)
    assert.equal(report.dropped, 10)

    const unreachable = await sandbox.sendCallbacks('http://127.0.0.1:9/closed', rows.slice(0, 3))
    assert.equal(unreachable.dropped, 3)
    assert.isNull(unreachable.batches[0].status)
    assert.isString(unreachable.batches[0].error)
  })

  test('a window can be pushed over /_sim/callbacks', async ({ assert }) => {
    const answer = await simPost(sandbox, '/_sim/callbacks', {
      url: receiver.url,
      start_date: '2026-11-01 00:00:00',
      end_date: '2026-11-01 23:59:59',
      limit: 700,
      batch_size: 512,
    })
    assert.equal(answer.status, 200)
    assert.equal(answer.body.delivered, 700)
    assert.deepEqual(
      receiver.received.map((batch) => (JSON.parse(batch.raw) as unknown[]).length),
      [512, 188]
    )
  })
})
