import { test } from '@japa/runner'
import Stripe from 'stripe'
import { StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import { TEST_KEY, countByEmail, sdk, sleep, useSandbox } from './helpers.js'

/** Number of live customers with this email (each test uses its own email). */
test.group('Stripe sandbox: idempotency', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(
    group,
    (started, client) => {
      sandbox = started
      stripe = client
    },
    { reset: false }
  )
  group.each.setup(() => sandbox.clearFaults())

  test('replays the saved response for the same key and params', async ({ assert }) => {
    const first = await stripe.customers.create(
      { email: 'idem@example.com' },
      { idempotencyKey: 'key-replay' }
    )
    const second = await stripe.customers.create(
      { email: 'idem@example.com' },
      { idempotencyKey: 'key-replay' }
    )
    assert.equal(second.id, first.id)
    assert.deepEqual({ ...second }, { ...first })
    assert.isUndefined(first.lastResponse.headers['idempotent-replayed'])
    assert.equal(second.lastResponse.headers['idempotent-replayed'], 'true')
    assert.equal(second.lastResponse.headers['original-request'], first.lastResponse.requestId)
    assert.notEqual(second.lastResponse.requestId, first.lastResponse.requestId)
    assert.equal(await countByEmail(stripe, 'idem@example.com'), 1)
    // One event only: the replay changed nothing.
    assert.lengthOf(
      sandbox
        .eventLog('customer.created')
        .filter((event) => event.request?.idempotency_key === 'key-replay'),
      1
    )
  })

  test('replays byte-identical bodies over raw HTTP, including for params in another order', async ({
    assert,
  }) => {
    const send = (body: string) =>
      fetch(`${sandbox.url}/v1/customers`, {
        method: 'POST',
        headers: {
          'Authorization': `Bearer ${TEST_KEY}`,
          'Content-Type': 'application/x-www-form-urlencoded',
          'Idempotency-Key': 'raw-key',
        },
        body,
      })
    const first = await send('email=raw%40example.com&name=Raw')
    const second = await send('name=Raw&email=raw%40example.com')
    assert.equal(second.status, first.status)
    assert.equal(await second.text(), await first.text())
    assert.equal(second.headers.get('idempotent-replayed'), 'true')
  })

  test('rejects a reused key with different params as StripeIdempotencyError', async ({
    assert,
  }) => {
    await stripe.customers.create(
      { email: 'mismatch@example.com' },
      { idempotencyKey: 'key-mismatch' }
    )
    try {
      await stripe.customers.create(
        { email: 'other@example.com' },
        { idempotencyKey: 'key-mismatch' }
      )
      assert.fail('expected an idempotency error')
    } catch (error) {
      assert.instanceOf(error, Stripe.errors.StripeIdempotencyError)
      const stripeError = error as Stripe.errors.StripeError
      assert.equal(stripeError.statusCode, 400)
      assert.equal(stripeError.rawType, 'idempotency_error')
      assert.equal(
        stripeError.message,
        "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than 'key-mismatch' if you meant to execute a different request."
      )
    }
    const {
      data: [customer],
    } = await stripe.customers.list({ email: 'mismatch@example.com' })
    await assert.rejects(
      () =>
        stripe.customers.update(
          customer.id,
          { email: 'mismatch@example.com' },
          { idempotencyKey: 'key-mismatch' }
        ),
      Stripe.errors.StripeIdempotencyError
    )
  })

  test('does not save validation failures, so the key can be reused once fixed', async ({
    assert,
  }) => {
    await assert.rejects(
      () =>
        stripe.customers.create(
          { email: 'fixme@example.com', bogus: 1 } as Stripe.CustomerCreateParams,
          { idempotencyKey: 'key-fix' }
        ),
      /Received unknown parameter: bogus/
    )
    const fixed = await stripe.customers.create(
      { email: 'fixme@example.com' },
      { idempotencyKey: 'key-fix' }
    )
    assert.isUndefined(fixed.lastResponse.headers['idempotent-replayed'])
    assert.equal(fixed.email, 'fixme@example.com')
  })

  test('answers 409 to a concurrent request with the same key', async ({ assert }) => {
    sandbox.delayNext({ ms: 300, path: '/v1/customers', method: 'POST' })
    const params = { email: 'concurrent@example.com' }
    const slow = stripe.customers.create(params, { idempotencyKey: 'key-409' })
    await sleep(50)
    try {
      await stripe.customers.create(params, { idempotencyKey: 'key-409' })
      assert.fail('expected a 409')
    } catch (error) {
      assert.instanceOf(error, Stripe.errors.StripeAPIError)
      assert.equal((error as Stripe.errors.StripeError).statusCode, 409)
    }
    const created = await slow
    // With the SDK's default retries the 409 is retried and gets the replay.
    sandbox.delayNext({ ms: 300, path: '/v1/customers', method: 'POST' })
    const retrying = sdk(sandbox, { maxNetworkRetries: 2 })
    const [a, b] = await Promise.all([
      retrying.customers.create(
        { email: 'concurrent2@example.com' },
        { idempotencyKey: 'key-409-b' }
      ),
      sleep(50).then(() =>
        retrying.customers.create(
          { email: 'concurrent2@example.com' },
          { idempotencyKey: 'key-409-b' }
        )
      ),
    ])
    assert.equal(a.id, b.id)
    assert.equal(await countByEmail(stripe, 'concurrent@example.com'), 1)
    assert.equal(await countByEmail(stripe, 'concurrent2@example.com'), 1)
    assert.match(created.id, /^cus_/)
  }).timeout(10_000)

  test('expires keys after 24 hours of sandbox time', async ({ assert }) => {
    const own = await StripeSandbox.start({ port: 0 })
    try {
      const client = sdk(own)
      const first = await client.customers.create(
        { email: 'ttl@example.com' },
        { idempotencyKey: 'key-ttl' }
      )
      await own.advanceClock(23 * 3600)
      const replay = await client.customers.create(
        { email: 'ttl@example.com' },
        { idempotencyKey: 'key-ttl' }
      )
      assert.equal(replay.id, first.id)
      await own.advanceClock(3600 + 1)
      const fresh = await client.customers.create(
        { email: 'ttl@example.com' },
        { idempotencyKey: 'key-ttl' }
      )
      assert.notEqual(fresh.id, first.id)
      assert.isAbove(fresh.created, first.created + 24 * 3600 - 1)
    } finally {
      await own.stop()
    }
  })

  test('scopes keys by Stripe-Account (Connect): the same key on another account is a new request', async ({
    assert,
  }) => {
    let account = 'acct_1IdemScopeTest0'
    if (sandbox.router.routes.some((r) => r.method === 'POST' && r.pattern === '/v1/accounts')) {
      const created = await stripe.accounts.create({ type: 'express', country: 'US' })
      account = created.id
    }
    const params = { email: 'connect-scope@example.com' }
    const platform = await stripe.customers.create(params, { idempotencyKey: 'key-account' })
    const connected = await stripe.customers.create(params, {
      idempotencyKey: 'key-account',
      stripeAccount: account,
    })
    assert.notEqual(connected.id, platform.id)
    assert.isUndefined(connected.lastResponse.headers['idempotent-replayed'])
    assert.equal(connected.lastResponse.stripeAccount, account)

    const again = await stripe.customers.create(params, {
      idempotencyKey: 'key-account',
      stripeAccount: account,
    })
    assert.equal(again.id, connected.id)
    assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true')
    assert.deepEqual({ ...again }, { ...connected })
    const platformAgain = await stripe.customers.create(params, { idempotencyKey: 'key-account' })
    assert.equal(platformAgain.id, platform.id)
    // Different params under the connected account's key: 400, the platform's key is untouched.
    await assert.rejects(
      () =>
        stripe.customers.create(
          { email: 'other@example.com' },
          { idempotencyKey: 'key-account', stripeAccount: account }
        ),
      Stripe.errors.StripeIdempotencyError
    )
  })

  test('a replay answers the saved response, not the object’s current state', async ({
    assert,
  }) => {
    const first = await stripe.customers.create(
      { email: 'saved@example.com', name: 'Before' },
      { idempotencyKey: 'key-saved' }
    )
    const updated = await stripe.customers.update(first.id, { name: 'After' })
    assert.equal(updated.name, 'After')
    const replay = await stripe.customers.create(
      { email: 'saved@example.com', name: 'Before' },
      { idempotencyKey: 'key-saved' }
    )
    assert.equal(replay.lastResponse.headers['idempotent-replayed'], 'true')
    assert.equal(replay.lastResponse.statusCode, 200)
    assert.equal(replay.name, 'Before')
    assert.deepEqual({ ...replay }, { ...first })
  })

  test('keys are ignored on DELETE and GET', async ({ assert }) => {
    const a = await stripe.customers.create({ email: 'del-a@example.com' })
    const b = await stripe.customers.create({ email: 'del-b@example.com' })
    const deletedA = await stripe.customers.del(a.id, undefined, { idempotencyKey: 'key-del' })
    const deletedB = await stripe.customers.del(b.id, undefined, { idempotencyKey: 'key-del' })
    assert.deepEqual([deletedA.id, deletedB.id], [a.id, b.id])
    assert.isTrue(deletedB.deleted)
    assert.equal(deletedB.lastResponse.idempotencyKey, 'key-del') // the header was sent and echoed
    assert.isUndefined(deletedB.lastResponse.headers['idempotent-replayed'])
    const listed = await stripe.customers.list({ limit: 1 }, { idempotencyKey: 'key-del' })
    assert.isUndefined(listed.lastResponse.headers['idempotent-replayed'])
  })

  test('scopes keys by API key', async ({ assert }) => {
    const other = new Stripe('sk_test_another_key', sandbox.stripeConfig({ maxNetworkRetries: 0 }))
    const a = await stripe.customers.create(
      { email: 'scope@example.com' },
      { idempotencyKey: 'key-scope' }
    )
    const b = await other.customers.create(
      { email: 'scope@example.com' },
      { idempotencyKey: 'key-scope' }
    )
    assert.notEqual(a.id, b.id)
  })
})

test.group('Stripe sandbox: fault injection', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(
    group,
    (started, client) => {
      sandbox = started
      stripe = client
    },
    { reset: false }
  )
  group.each.setup(() => sandbox.clearFaults())

  test('an injected 500 fails a call without retries', async ({ assert }) => {
    sandbox.failNext({ status: 500, path: '/v1/customers' })
    try {
      await stripe.customers.create({ email: 'fail500@example.com' })
      assert.fail('expected a 500')
    } catch (error) {
      assert.instanceOf(error, Stripe.errors.StripeAPIError)
      assert.equal((error as Stripe.errors.StripeError).statusCode, 500)
      assert.equal((error as Stripe.errors.StripeError).rawType, 'api_error')
    }
    assert.equal(await countByEmail(stripe, 'fail500@example.com'), 0)
  })

  test('injected 500 then success: default SDK retries create exactly one customer', async ({
    assert,
  }) => {
    const client = sdk(sandbox, { maxNetworkRetries: 2 })
    sandbox.failNext({ status: 500, count: 1, path: '/v1/customers', method: 'POST' })
    const customer = await client.customers.create({ email: 'retry500@example.com' })
    assert.match(customer.id, /^cus_/)
    assert.equal(await countByEmail(stripe, 'retry500@example.com'), 1)
    assert.equal(sandbox.faults.pending, 0)
  }).timeout(10_000)

  test('a 500 after execution is retried into the idempotent replay, not a duplicate', async ({
    assert,
  }) => {
    const client = sdk(sandbox, { maxNetworkRetries: 2 })
    sandbox.failNext({ status: 503, phase: 'after', path: '/v1/customers', method: 'POST' })
    const customer = await client.customers.create({ email: 'after503@example.com' })
    assert.equal(customer.lastResponse.headers['idempotent-replayed'], 'true')
    assert.equal(await countByEmail(stripe, 'after503@example.com'), 1)
  }).timeout(10_000)

  test('a connection reset after execution is retried (even with retries off) without a duplicate', async ({
    assert,
  }) => {
    sandbox.failNext({ mode: 'reset', path: '/v1/customers', method: 'POST' })
    const customer = await stripe.customers.create({ email: 'reset@example.com' })
    assert.equal(customer.lastResponse.headers['idempotent-replayed'], 'true')
    assert.equal(await countByEmail(stripe, 'reset@example.com'), 1)
    assert.lengthOf(
      sandbox
        .eventLog('customer.created')
        .filter(
          (event) =>
            event.type === 'customer.created' && event.data.object.email === 'reset@example.com'
        ),
      1
    )
  }).timeout(10_000)

  test('two resets in a row surface a StripeConnectionError when retries are off', async ({
    assert,
  }) => {
    sandbox.failNext({
      mode: 'reset',
      count: 2,
      phase: 'before',
      path: '/v1/customers',
      method: 'POST',
    })
    await assert.rejects(
      () => stripe.customers.create({ email: 'reset2@example.com' }),
      Stripe.errors.StripeConnectionError
    )
    assert.equal(await countByEmail(stripe, 'reset2@example.com'), 0)
  }).timeout(10_000)

  test('a hung response times out on the client and the retry replays', async ({ assert }) => {
    const client = sdk(sandbox, { maxNetworkRetries: 1, timeout: 300 })
    sandbox.failNext({ mode: 'timeout', path: '/v1/customers', method: 'POST' })
    const customer = await client.customers.create({ email: 'hang@example.com' })
    assert.equal(customer.lastResponse.headers['idempotent-replayed'], 'true')
    assert.equal(await countByEmail(stripe, 'hang@example.com'), 1)
  }).timeout(10_000)

  test('429 is not retried by the SDK and maps to StripeRateLimitError', async ({ assert }) => {
    const client = sdk(sandbox, { maxNetworkRetries: 2 })
    sandbox.failNext({ status: 429, count: 1, path: /^\/v1\/customers$/ })
    await assert.rejects(() => client.customers.list(), Stripe.errors.StripeRateLimitError)
    const ok = await client.customers.list()
    assert.equal(ok.object, 'list')
  })

  test('faults only hit matching paths and count down', async ({ assert }) => {
    sandbox.failNext({ status: 500, count: 2, path: '/v1/events' })
    const customers = await stripe.customers.list()
    assert.equal(customers.object, 'list')
    await assert.rejects(() => stripe.events.list(), Stripe.errors.StripeAPIError)
    await assert.rejects(() => stripe.events.list(), Stripe.errors.StripeAPIError)
    const events = await stripe.events.list()
    assert.equal(events.object, 'list')
  })
})
