import { test } from '@japa/runner'
import { createHash } from 'node:crypto'
import type { LiteLLMSandbox } from '../../../sandbox/litellm/sandbox.js'
import { litellmSandbox } from '../../support/litellm.js'
import { DAY, MASTER_KEY, spendLogs, useLiteLLM, statusOf } from './helpers.js'

const WINDOW = { start_date: '2026-11-01 00:00:00', end_date: '2026-11-01 23:59:59' }

test.group('LiteLLM sandbox: auth', (group) => {
  let sandbox: LiteLLMSandbox
  useLiteLLM(
    group,
    { ...DAY, adminKeys: ['sk-admin-2'], userKeys: { 'sk-user-three': '3' } },
    (started) => (sandbox = started)
  )

  test('a call without a key is a 401 ProxyException', async ({ assert }) => {
    const answer = await spendLogs(sandbox, WINDOW, null)
    assert.equal(answer.status, 401)
    assert.deepEqual(answer.body, {
      error: {
        message: 'Authentication Error, No api key passed in.',
        type: 'auth_error',
        param: 'None',
        code: '401',
      },
    })
  })

  test('an unknown key is a 401 naming its hash', async ({ assert }) => {
    const answer = await spendLogs(sandbox, WINDOW, 'sk-not-a-real-key')
    assert.equal(answer.status, 401)
    assert.equal(answer.body.error.type, 'auth_error')
    assert.equal(answer.body.error.code, '401')
    assert.match(
      answer.body.error.message,
      /^Authentication Error, Invalid proxy server token passed/
    )
    assert.include(
      answer.body.error.message,
      createHash('sha256').update('sk-not-a-real-key').digest('hex')
    )
  })

  test('a key not starting with sk- is refused', async ({ assert }) => {
    const answer = await spendLogs(sandbox, WINDOW, 'Bearer-ish-token')
    assert.equal(answer.status, 401)
    assert.include(answer.body.error.message, "expected to start with 'sk-'")
  })

  test('the master key, an admin key and the x-litellm-api-key header are accepted', async ({
    assert,
  }) => {
    assert.equal(await statusOf(sandbox, WINDOW), 200)
    assert.equal(await statusOf(sandbox, WINDOW, 'sk-admin-2'), 200)
    const response = await fetch(`${sandbox.url}/spend/logs/v2?${new URLSearchParams(WINDOW)}`, {
      headers: { 'x-litellm-api-key': MASTER_KEY },
    })
    assert.equal(response.status, 200)
  })

  test("an internal user's key only sees its own rows, and no team", async ({ assert }) => {
    const own = await spendLogs(
      sandbox,
      { ...WINDOW, page_size: 1000, user_id: '1' },
      'sk-user-three'
    )
    assert.equal(own.status, 200)
    assert.isAbove(own.body.data.length, 0)
    assert.isTrue(own.body.data.every((row: any) => row.user === '3'))
    const team = await spendLogs(sandbox, { ...WINDOW, team_id: 'team-a' }, 'sk-user-three')
    assert.equal(team.status, 403)
    assert.equal(team.body.error.code, '403')
  })
})

test.group('LiteLLM sandbox: parameters', (group) => {
  let sandbox: LiteLLMSandbox
  let small: LiteLLMSandbox
  useLiteLLM(group, DAY, (started) => (sandbox = started))
  group.setup(async () => {
    const { LiteLLMSandbox: Sandbox } = await import('../../../sandbox/litellm/sandbox.js')
    small = await Sandbox.start({
      ...DAY,
      masterKey: MASTER_KEY,
      pageSizeMax: 100,
      totalIsCapped: false,
    })
    return () => small.stop()
  })

  test('missing dates are a 400 with LiteLLM error shape', async ({ assert }) => {
    const cases: Array<Record<string, string>> = [
      {},
      { start_date: '2026-11-01' },
      { end_date: '2026-11-01' },
      { start_date: '', end_date: '2026-11-01' },
    ]
    for (const params of cases) {
      const answer = await spendLogs(sandbox, params)
      assert.equal(answer.status, 400)
      assert.deepEqual(answer.body, {
        error: {
          message: 'Start date and end date are required',
          type: 'bad_request',
          param: 'None',
          code: '400',
        },
      })
    }
  })

  test('dates must be YYYY-MM-DD or YYYY-MM-DD HH:MM:SS', async ({ assert }) => {
    for (const bad of [
      '2026-11-01T00:00:00',
      '2026-11-01 00:00:00Z',
      '2026-11-01 00:00:00.000',
      '01/11/2026',
      '2026-02-30',
      '2026-11-01 24:00:00',
    ]) {
      const answer = await spendLogs(sandbox, { start_date: bad, end_date: '2026-11-02' })
      assert.equal(answer.status, 400, bad)
      assert.equal(
        answer.body.error.message,
        `Invalid date format: ${bad}. Expected: 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'`
      )
      assert.equal(answer.body.error.type, 'bad_request')
      assert.equal(answer.body.error.code, '400')
    }
  })

  test('a bare end_date means midnight, so it leaves out that day', async ({ assert }) => {
    const bare = await spendLogs(sandbox, { start_date: '2026-11-01', end_date: '2026-11-01' })
    assert.equal(bare.status, 200)
    assert.equal(bare.body.total, 0)
    const full = await spendLogs(sandbox, {
      start_date: '2026-11-01',
      end_date: '2026-11-01 23:59:59',
    })
    assert.equal(full.body.total, DAY.rows)
  })

  test('sort_by and sort_order are validated', async ({ assert }) => {
    const sortBy = await spendLogs(sandbox, { ...WINDOW, sort_by: 'request_id' })
    assert.equal(sortBy.status, 400)
    assert.equal(sortBy.body.error.param, 'sort_by')
    assert.equal(sortBy.body.error.code, '400')
    const sortOrder = await spendLogs(sandbox, { ...WINDOW, sort_order: 'up' })
    assert.equal(sortOrder.status, 400)
    assert.equal(sortOrder.body.error.param, 'sort_order')
  })

  test('page_size over the maximum and page < 1 are FastAPI 422s', async ({ assert }) => {
    const big = await spendLogs(small, { ...WINDOW, page_size: 1000 })
    assert.equal(big.status, 422)
    assert.deepEqual(big.body, {
      detail: [
        {
          type: 'less_than_equal',
          loc: ['query', 'page_size'],
          msg: 'Input should be less than or equal to 100',
          input: '1000',
          ctx: { le: 100 },
        },
      ],
    })
    assert.equal(await statusOf(sandbox, { ...WINDOW, page_size: 1000 }), 200)
    assert.equal(await statusOf(sandbox, { ...WINDOW, page_size: 1001 }), 422)

    const zero = await spendLogs(sandbox, { ...WINDOW, page: 0, page_size: 'ten' })
    assert.equal(zero.status, 422)
    assert.deepEqual(
      zero.body.detail.map((issue: any) => [issue.type, issue.loc[1]]),
      [
        ['greater_than_equal', 'page'],
        ['int_parsing', 'page_size'],
      ]
    )
  })

  test('422 comes before the missing-date 400, and 401 before both', async ({ assert }) => {
    assert.equal(await statusOf(sandbox, { page: 0 }), 422)
    assert.equal(await statusOf(sandbox, { page: 0 }, 'sk-wrong'), 401)
  })

  test('the envelope has data, total, page, page_size, total_pages, total_is_capped', async ({
    assert,
  }) => {
    const answer = await spendLogs(sandbox, { ...WINDOW, page: 2, page_size: 7 })
    assert.equal(answer.status, 200)
    assert.deepEqual(Object.keys(answer.body), [
      'data',
      'total',
      'page',
      'page_size',
      'total_pages',
      'total_is_capped',
    ])
    assert.equal(answer.body.total, DAY.rows)
    assert.equal(answer.body.page, 2)
    assert.equal(answer.body.page_size, 7)
    assert.equal(answer.body.total_pages, Math.ceil(DAY.rows / 7))
    assert.isFalse(answer.body.total_is_capped)
    assert.lengthOf(answer.body.data, 7)
    const defaults = await spendLogs(sandbox, WINDOW)
    assert.equal(defaults.body.page_size, 50)
    const old = await spendLogs(small, WINDOW)
    assert.notProperty(old.body, 'total_is_capped')
  })

  test('an out-of-range page is empty and keeps the total', async ({ assert }) => {
    const answer = await spendLogs(sandbox, { ...WINDOW, page: 1000, page_size: 100 })
    assert.deepEqual(answer.body.data, [])
    assert.equal(answer.body.total, DAY.rows)
  })

  test('rows carry the v2 list columns only, as LiteLLM serialises them', async ({ assert }) => {
    const answer = await spendLogs(sandbox, { ...WINDOW, page_size: 200, sort_order: 'asc' })
    const row = answer.body.data[0]
    assert.sameMembers(Object.keys(row), [
      'request_id',
      'call_type',
      'api_key',
      'spend',
      'total_tokens',
      'prompt_tokens',
      'completion_tokens',
      'startTime',
      'endTime',
      'completionStartTime',
      'model',
      'model_id',
      'model_group',
      'custom_llm_provider',
      'api_base',
      'user',
      'metadata',
      'cache_hit',
      'cache_key',
      'request_tags',
      'team_id',
      'organization_id',
      'end_user',
      'requester_ip_address',
      'session_id',
      'status',
      'mcp_namespaced_tool_name',
      'agent_id',
      'request_duration_ms',
    ])
    for (const data of answer.body.data) {
      assert.notProperty(data, 'messages')
      assert.notProperty(data, 'response')
      assert.notProperty(data, 'proxy_server_request')
      assert.match(data.startTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/)
      assert.match(data.endTime, /\+00:00$/)
      assert.isObject(data.metadata)
      assert.isArray(data.request_tags)
      assert.include(['True', 'False', 'None'], data.cache_hit)
      assert.isNumber(data.spend)
    }
    // Python's float spelling: 0.0 for zero spend, exponents like 1.23e-05 below 1e-4.
    assert.notMatch(answer.text, /"spend":0[,}]/)
    assert.match(answer.text, /"spend":0\.0[,}]/)
    assert.match(answer.text, /"spend":\d\.\d+e-0\d/)
  })

  test('unknown paths answer FastAPI 404', async ({ assert }) => {
    const answer = await spendLogs(sandbox, WINDOW, MASTER_KEY, '/spend/nothing')
    assert.equal(answer.status, 404)
    assert.deepEqual(answer.body, { detail: 'Not Found' })
  })
})

test.group('LiteLLM sandbox: the suite instance', () => {
  test('bin/test.ts exports LITELLM_BASE_URL and LITELLM_API_KEY for it', async ({ assert }) => {
    const sandbox = litellmSandbox()
    assert.equal(process.env.LITELLM_BASE_URL, sandbox.url)
    const response = await fetch(
      `${process.env.LITELLM_BASE_URL}/spend/logs/v2?start_date=2026-11-01&end_date=2026-11-02&page_size=1`,
      { headers: { Authorization: `Bearer ${process.env.LITELLM_API_KEY}` } }
    )
    assert.equal(response.status, 200)
    const body = (await response.json()) as { total: number }
    assert.equal(body.total, 2_000)
  })
})
