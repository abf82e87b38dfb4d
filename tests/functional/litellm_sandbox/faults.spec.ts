import { test } from '@japa/runner'
import { LiteLLMSandbox } from '../../../sandbox/litellm/sandbox.js'
import { DAY, MASTER_KEY, simGet, simPost, spendLogs, useLiteLLM, statusOf } from './helpers.js'

const WINDOW = { start_date: '2026-11-01', end_date: '2026-11-01 23:59:59', page_size: 1 }

test.group('LiteLLM sandbox: faults', (group) => {
  let sandbox: LiteLLMSandbox
  useLiteLLM(group, { ...DAY, hangMs: 300 }, (started) => (sandbox = started))

  test('failNext answers the next calls with a ProxyException, then recovers', async ({
    assert,
  }) => {
    sandbox.failNext({ count: 2 })
    const first = await spendLogs(sandbox, WINDOW)
    assert.equal(first.status, 500)
    assert.equal(first.body.error.type, 'internal_server_error')
    assert.equal(first.body.error.code, '500')
    assert.equal(await statusOf(sandbox, WINDOW), 500)
    assert.equal(await statusOf(sandbox, WINDOW), 200)
  })

  test('a 429 and the no-database 401', async ({ assert }) => {
    sandbox.failNext({ status: 429, message: 'slow down' })
    const limited = await spendLogs(sandbox, WINDOW)
    assert.equal(limited.status, 429)
    assert.deepEqual(limited.body.error, {
      message: 'slow down',
      type: 'throttling_error',
      param: 'None',
      code: '429',
    })
    sandbox.failNext({ mode: 'no_db' })
    const noDb = await spendLogs(sandbox, WINDOW)
    assert.equal(noDb.status, 401)
    assert.equal(noDb.body.error.message, 'Prisma Client is not initialized')
  })

  test('a connection reset and a hang reject the client call', async ({ assert }) => {
    sandbox.failNext({ mode: 'reset' })
    await assert.rejects(() => spendLogs(sandbox, WINDOW))
    sandbox.failNext({ mode: 'timeout' })
    const started = Date.now()
    await assert.rejects(() => spendLogs(sandbox, WINDOW))
    assert.isAtLeast(Date.now() - started, 250)
    assert.equal(await statusOf(sandbox, WINDOW), 200)
  })

  test('delayNext answers late', async ({ assert }) => {
    sandbox.delayNext({ ms: 200 })
    const started = Date.now()
    assert.equal(await statusOf(sandbox, WINDOW), 200)
    assert.isAtLeast(Date.now() - started, 190)
  })

  test('failRate fails a seeded share of calls, the same ones for the same seed', async ({
    assert,
  }) => {
    const pattern = async (target: LiteLLMSandbox) => {
      target.failRate({ rate: 0.3, seed: 1234 })
      const statuses: number[] = []
      for (let n = 0; n < 40; n++) statuses.push(await statusOf(target, WINDOW))
      target.clearFaults()
      return statuses
    }
    const first = await pattern(sandbox)
    const failed = first.filter((status) => status === 500).length
    assert.isAbove(failed, 3)
    assert.isBelow(failed, 25)
    const other = await LiteLLMSandbox.start({ ...DAY, masterKey: MASTER_KEY })
    try {
      assert.deepEqual(await pattern(other), first)
    } finally {
      await other.stop()
    }
  })

  test('faults can be armed and cleared over /_sim', async ({ assert }) => {
    const armed = await simPost(sandbox, '/_sim/faults', { count: 1, status: 503 })
    assert.equal(armed.status, 200)
    const faults = await simGet(sandbox, '/_sim/faults')
    assert.equal(faults.body.next[0].status, 503)
    assert.equal(await statusOf(sandbox, WINDOW), 503)
    await simPost(sandbox, '/_sim/faults', { rate: 1 })
    assert.equal(await statusOf(sandbox, WINDOW), 500)
    const cleared = await fetch(`${sandbox.url}/_sim/faults`, { method: 'DELETE' })
    assert.equal(cleared.status, 200)
    assert.equal(await statusOf(sandbox, WINDOW), 200)
  })
})
