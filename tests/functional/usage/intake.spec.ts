import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import env from '#start/env'
import {
  at,
  createUser,
  resetUsage,
  spendRow,
  startSandbox,
  storedIds,
  storedById,
  storedRows,
  syncServiceFor,
} from './helpers.js'

const SECRET = 'litellm-callback-test-secret'
const URL_PATH = '/api/litellm/callback'
const callbackUrl = () => `http://${env.get('HOST')}:${env.get('PORT')}${URL_PATH}`

function payload(id: string, fields: Record<string, unknown> = {}) {
  return {
    id,
    trace_id: 'run-1',
    call_type: 'acompletion',
    response_cost: 0.00021,
    status: 'success',
    total_tokens: 1100,
    prompt_tokens: 1000,
    completion_tokens: 100,
    startTime: at('01:10:00').getTime() / 1000,
    endTime: at('01:10:02').getTime() / 1000,
    model: 'gpt-4o-mini',
    model_group: 'openai/gpt-4o-mini',
    metadata: { user_api_key_user_id: null, spend_logs_metadata: null },
    cache_hit: false,
    request_tags: [],
    end_user: null,
    ...fields,
  }
}

test.group('Usage intake (LiteLLM generic_api callback)', (group) => {
  group.each.setup(() => resetUsage())

  test('refuses a request without the shared secret, or with a wrong one', async ({
    client,
    assert,
  }) => {
    const body = [payload('req-unauth')]
    const none = await client.post(URL_PATH).json(body)
    none.assertStatus(401)
    const wrong = await client
      .post(URL_PATH)
      .header('authorization', 'Bearer not-the-secret')
      .json(body)
    wrong.assertStatus(401)
    assert.deepEqual(await storedIds(), [])
  })

  test('answers 422 to a malformed body and stores nothing', async ({ client, assert }) => {
    const notJson = await fetch(callbackUrl(), {
      method: 'POST',
      headers: { 'authorization': `Bearer ${SECRET}`, 'content-type': 'application/json' },
      body: '{"id": "x", ',
    })
    assert.equal(notJson.status, 422)
    const noId = await client
      .post(URL_PATH)
      .header('authorization', `Bearer ${SECRET}`)
      .json([payload('ok-1'), { ...payload('x'), id: '' }])
    noId.assertStatus(422)
    assert.match(noId.body().problems.join(' '), /\[1\]\.id/)
    const isoTime = await client
      .post(URL_PATH)
      .header('authorization', `Bearer ${SECRET}`)
      .json([payload('ok-2', { startTime: '2026-11-01T01:00:00Z' })])
    isoTime.assertStatus(422)
    const empty = await client.post(URL_PATH).header('authorization', `Bearer ${SECRET}`).json([])
    empty.assertStatus(422)
    assert.deepEqual(await storedIds(), [], 'a refused batch stores nothing')
  })

  test('stores a batch once, attributes it, and pushing it again adds nothing', async ({
    client,
    assert,
  }) => {
    const ada = await createUser('ada@example.com')
    const body = [
      payload('push-1', { metadata: { user_api_key_user_id: String(ada) } }),
      payload('push-2', { end_user: 'ada@example.com', response_cost: 0.1 }),
      payload('push-3', { end_user: 'stranger' }),
      payload('push-hit', { cache_hit: true, response_cost: 0 }),
    ]
    const first = await client.post(URL_PATH).header('authorization', `Bearer ${SECRET}`).json(body)
    first.assertStatus(200)
    assert.containsSubset(first.body(), {
      received: 4,
      inserted: 3,
      duplicates: 0,
      unattributed: 1,
      skippedCacheHits: 1,
    })
    const again = await client.post(URL_PATH).header('authorization', `Bearer ${SECRET}`).json(body)
    again.assertStatus(200)
    assert.containsSubset(again.body(), { inserted: 0, duplicates: 3, unattributed: 0 })

    const rows = await storedById()
    assert.sameMembers(Object.keys(rows), ['push-1', 'push-2', 'push-3'])
    assert.equal(rows['push-1'].user_id, String(ada))
    assert.equal(rows['push-2'].user_id, String(ada))
    assert.equal(rows['push-2'].spend_micros, '100000')
    assert.equal(rows['push-3'].attribution, 'unattributed')
    assert.equal(rows['push-1'].metadata.source, 'push')
  })

  test('pushed and pulled rows share one store: each request once, no false mismatch', async ({
    assert,
  }) => {
    const ada = await createUser('ada@example.com')
    const sandbox = await startSandbox({
      rows: 200,
      seed: 21,
      users: [String(ada)],
      unknownUserRate: 0,
      cacheHitRate: 0.1,
    })
    try {
      // LiteLLM pushes the first hour (the sandbox's generic_api sender, batches of 50)...
      const pushed = await sandbox.sendCallbacks(
        callbackUrl(),
        { since: at('00:00:00'), until: at('01:00:00') },
        { batchSize: 50, headers: { Authorization: `Bearer ${SECRET}` } }
      )
      assert.isAbove(pushed.delivered, 0)
      assert.equal(pushed.dropped, 0)
      const afterPush = await storedIds()
      assert.isAbove(afterPush.length, 0)

      // ...then the pull sync reads the whole window.
      const report = await syncServiceFor(sandbox).sync({
        since: at('00:00:00'),
        until: at('06:00:00'),
        now: new Date(at('06:00:00').getTime() + 120_000),
      })
      assert.equal(report.status, 'succeeded')
      assert.equal(report.counts.mismatches, 0, 'push and pull agree on every spend')
      const all = await storedIds()
      const expected = [
        ...new Set(sandbox.rowsBetween(at('00:00:00'), at('06:00:00')).map((r) => r.request_id)),
      ].sort()
      assert.deepEqual(all, expected)
      assert.equal(report.counts.inserted, expected.length - afterPush.length)
      // Cache hits come from the pull only, under LiteLLM's own id, at cost 0.
      const hits = await db.rawQuery<{ rows: { n: string; cost: string }[] }>(
        `SELECT count(*) AS n, coalesce(sum(cost_micros), 0) AS cost FROM usage_logs
          WHERE cache_hit AND request_id LIKE '%\\_cache\\_hit%'`
      )
      assert.isAbove(Number(hits.rows[0].n), 0)
      assert.equal(hits.rows[0].cost, '0')
    } finally {
      await sandbox.stop()
    }
  })

  test('a pushed row LiteLLM later serves with another spend is flagged by the pull', async ({
    client,
    assert,
  }) => {
    const ada = await createUser('ada@example.com')
    const sandbox = await startSandbox()
    try {
      await client
        .post(URL_PATH)
        .header('authorization', `Bearer ${SECRET}`)
        .json([payload('both-ways', { metadata: { user_api_key_user_id: String(ada) } })])
        .then((response) => response.assertStatus(200))
      sandbox.addRows([spendRow('both-ways', '01:10:00', { user: String(ada), spend: 0.00042 })])
      const report = await syncServiceFor(sandbox).sync({
        since: at('00:00:00'),
        until: at('02:00:00'),
        now: new Date(at('06:00:00').getTime()),
      })
      assert.equal(report.counts.mismatches, 1)
      const [row] = await storedRows()
      assert.equal(row.spend_micros, '210', 'the pushed figure stays')
      assert.isTrue(row.spend_mismatch)
    } finally {
      await sandbox.stop()
    }
  })
})
