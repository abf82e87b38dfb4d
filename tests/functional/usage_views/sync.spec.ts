import { test } from '@japa/runner'
import locks from '@adonisjs/lock/services/main'
import usageConfig from '#config/usage'
import { UserFactory } from '#database/factories/user_factory'
import { truncate } from '#tests/support/database'
import { litellmSandbox } from '#tests/support/litellm'

/*
| The dashboard's sync button, through the API, against the LiteLLM sandbox
| this test run started (LITELLM_BASE_URL). Real tables: the sync takes a named
| lock and writes in its own transactions.
*/
test.group('Usage: the sync button', (group) => {
  group.each.setup(async () => {
    await truncate('users', 'usage_logs', 'usage_sync_states', 'job_runs', 'locks')
    litellmSandbox().reset()
  })
  group.each.teardown(() => litellmSandbox().reset())
  group.each.timeout(60_000)

  test('pulls the user’s new requests once; a second press adds nothing', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    litellmSandbox().addLateRow({
      request_id: 'chatcmpl-web-sync-1',
      // By email: the suite's generated rows use small numeric user ids.
      user: user.email,
      end_user: user.email,
      spend: 0.0123,
      ageMs: 15 * 60_000,
    })

    const first = await client
      .post('/api/billing/usage/sync')
      .json({})
      .loginAs(user)
      .withCsrfToken()
    first.assertStatus(200)
    assert.equal(first.body().data.status, 'succeeded')
    assert.isAtLeast(first.body().data.inserted, 1)
    assert.match(first.body().data.message, /Usage is up to date/)

    const usage = await client.get('/api/billing/usage?range=7d').loginAs(user)
    assert.equal(usage.body().data.totals.requests, 1)
    // Priced by our model table (not LiteLLM's spend), in micro-dollars.
    assert.isAbove(usage.body().data.totals.costMicros, 0)
    const logs = await client.get('/api/billing/usage/logs?range=7d').loginAs(user)
    assert.equal(logs.body().data[0].requestId, 'chatcmpl-web-sync-1')

    const second = await client
      .post('/api/billing/usage/sync')
      .json({})
      .loginAs(user)
      .withCsrfToken()
    second.assertStatus(200)
    assert.equal(second.body().data.inserted, 0)
  })

  test('while another sync runs it is not started twice; LiteLLM down is a 503 with a message', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const held = locks.createLock(usageConfig.sync.lockName, usageConfig.sync.lockTtl)
    assert.isTrue(await held.acquireImmediately())
    try {
      const busy = await client
        .post('/api/billing/usage/sync')
        .json({})
        .loginAs(user)
        .withCsrfToken()
      busy.assertStatus(200)
      assert.equal(busy.body().data.status, 'skipped')
      assert.match(busy.body().data.message, /already running/)
    } finally {
      await held.release()
    }

    litellmSandbox().failNext({ count: 50, status: 503 })
    const down = await client.post('/api/billing/usage/sync').json({}).loginAs(user).withCsrfToken()
    down.assertStatus(503)
    assert.match(down.body().error, /LiteLLM could not be reached/)

    // The page's button: the same run, answered with a flash message.
    litellmSandbox().clearFaults()
    const page = await client
      .post('/usage/sync')
      .form({})
      .header('referer', '/usage')
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    page.assertStatus(302)
  })
})
