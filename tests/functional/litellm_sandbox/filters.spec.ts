import { test } from '@japa/runner'
import { createHash } from 'node:crypto'
import type { LiteLLMSandbox } from '../../../sandbox/litellm/sandbox.js'
import { DAY, spendLogs, useLiteLLM, rowsOf } from './helpers.js'

const WINDOW = { start_date: '2026-11-01 00:00:00', end_date: '2026-11-01 23:59:59' }

test.group('LiteLLM sandbox: filters', (group) => {
  let sandbox: LiteLLMSandbox
  let all: Array<Record<string, any>>
  useLiteLLM(group, DAY, (started) => (sandbox = started))
  group.setup(async () => {
    all = await rowsOf(sandbox, WINDOW, 1000)
  })

  async function filtered(params: Record<string, string | number>) {
    return await rowsOf(sandbox, { ...WINDOW, ...params }, 1000)
  }

  test('user_id matches the user column (key owner), not end_user', async ({ assert }) => {
    const rows = await filtered({ user_id: '2' })
    assert.equal(rows.length, all.filter((row) => row.user === '2').length)
    assert.isTrue(rows.every((row) => row.user === '2'))
    // Rows sent with the master key carry the user only in end_user: user_id misses them.
    assert.isTrue(all.some((row) => row.end_user === '2' && row.user === ''))
  })

  test('end_user matches end_user', async ({ assert }) => {
    const rows = await filtered({ end_user: '2' })
    assert.equal(rows.length, all.filter((row) => row.end_user === '2').length)
    assert.isTrue(rows.every((row) => row.end_user === '2'))
  })

  test('api_key matches the SHA-256 hash, never the raw sk- key', async ({ assert }) => {
    const hash = createHash('sha256').update('sk-litellm-4').digest('hex')
    const rows = await filtered({ api_key: hash })
    assert.isAbove(rows.length, 0)
    assert.isTrue(rows.every((row) => row.api_key === hash && row.user === '4'))
    assert.lengthOf(await filtered({ api_key: 'sk-litellm-4' }), 0)
  })

  test('request_id finds one row, also by its litellm_call_id', async ({ assert }) => {
    const target = all[123]
    const byId = await spendLogs(sandbox, { ...WINDOW, request_id: target.request_id })
    assert.deepEqual(
      byId.body.data.map((row: any) => row.request_id),
      [target.request_id]
    )
    assert.equal(byId.body.total, 1)
    const byCall = await spendLogs(sandbox, {
      ...WINDOW,
      request_id: target.metadata.litellm_call_id,
    })
    assert.deepEqual(
      byCall.body.data.map((row: any) => row.request_id),
      [target.request_id]
    )
    const cacheHit = all.find((row) => row.cache_hit === 'True')
    const byCacheId = await spendLogs(sandbox, {
      ...WINDOW,
      request_id: cacheHit?.request_id ?? '',
    })
    assert.deepEqual(
      byCacheId.body.data.map((row: any) => row.request_id),
      [cacheHit?.request_id]
    )
    const outside = await spendLogs(sandbox, {
      start_date: '2026-11-02',
      end_date: '2026-11-03',
      request_id: target.request_id,
    })
    assert.equal(outside.body.total, 0)
  })

  test('model, model_group and model_id are exact matches', async ({ assert }) => {
    const group4o = await filtered({ model_group: 'gpt-4o' })
    assert.equal(group4o.length, all.filter((row) => row.model_group === 'gpt-4o').length)
    assert.isTrue(group4o.every((row) => row.model_group === 'gpt-4o'))
    assert.lengthOf(await filtered({ model_group: 'gpt-4' }), 0)
    const model = await filtered({ model: 'gpt-4o-mini-2024-07-18' })
    assert.isAbove(model.length, 0)
    assert.isTrue(model.every((row) => row.model_group === 'openai/gpt-4o-mini'))
    const modelId = await filtered({ model_id: group4o[0].model_id })
    assert.equal(modelId.length, group4o.length)
  })

  test('status_filter, min_spend and max_spend', async ({ assert }) => {
    const failures = await filtered({ status_filter: 'failure' })
    assert.isAbove(failures.length, 0)
    assert.isTrue(failures.every((row) => row.status === 'failure'))
    const successes = await filtered({ status_filter: 'success' })
    assert.equal(successes.length + failures.length, all.length)
    const band = await filtered({ min_spend: 0.001, max_spend: 0.002 })
    assert.equal(band.length, all.filter((row) => row.spend >= 0.001 && row.spend <= 0.002).length)
    assert.isTrue(band.every((row) => row.spend >= 0.001 && row.spend <= 0.002))
  })

  test('key_alias is a substring match; error_code an exact one', async ({ assert }) => {
    const alias = await filtered({ key_alias: 'user-3' })
    assert.isTrue(
      alias.length > 0 && alias.every((row) => row.metadata.user_api_key_alias === 'user-3')
    )
    const limited = await filtered({ error_code: '429' })
    assert.isAbove(limited.length, 0)
    assert.isTrue(limited.every((row) => row.metadata.error_information.error_code === '429'))
  })

  test('there is no filter on tags: request_tags is ignored as a parameter', async ({ assert }) => {
    const answer = await spendLogs(sandbox, {
      ...WINDOW,
      request_tags: 'agent:sql-helper',
      page_size: 1,
    })
    assert.equal(answer.body.total, DAY.rows)
  })
})
