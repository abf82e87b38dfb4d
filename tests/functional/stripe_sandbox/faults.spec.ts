/**
 * Fault injection through the real SDK: every mode (500, 429, client timeout,
 * connection reset) as "the next N calls" and "a seeded fraction of calls until
 * cleared", and that stripe-node's retries with the same idempotency key recover
 * without duplicates when the fault hits after execution.
 */
import { test } from '@japa/runner'
import Stripe from 'stripe'
import { type FaultOptions, seededRandom } from '../../../sandbox/stripe/faults.js'
import { type StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import { countByEmail, sdk, stripeError, useSandbox } from './helpers.js'

function createdEvents(sandbox: StripeSandbox, email: string): number {
  return sandbox
    .eventLog('customer.created')
    .filter((event) => event.type === 'customer.created' && event.data.object.email === email)
    .length
}

async function simJson(sandbox: StripeSandbox, method: string, path: string, body?: object) {
  const response = await fetch(`${sandbox.url}${path}`, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

const CREATE = { path: '/v1/customers', method: 'POST' } as const

test.group('Stripe sandbox: faults on the next N calls', (group) => {
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

  test('500 before execution: retried with the same key until the faults run out', async ({
    assert,
  }) => {
    const client = sdk(sandbox, { maxNetworkRetries: 2 })
    const keys: string[] = []
    client.on('request', (request: Stripe.RequestEvent) => {
      if (request.idempotency_key) keys.push(request.idempotency_key)
    })
    sandbox.failNext({ ...CREATE, status: 500, count: 2 })
    const customer = await client.customers.create({ email: 'n500@example.com' })
    assert.isUndefined(customer.lastResponse.headers['idempotent-replayed'])
    assert.equal(sandbox.faults.injected, 2)
    assert.equal(sandbox.faults.pending, 0)
    assert.lengthOf(keys, 3)
    assert.lengthOf(new Set(keys), 1)
    assert.equal(await countByEmail(stripe, 'n500@example.com'), 1)

    sandbox.failNext({ ...CREATE, status: 500, count: 3 })
    const error = await stripeError(client.customers.create({ email: 'n500-out@example.com' }))
    assert.instanceOf(error, Stripe.errors.StripeAPIError)
    assert.equal(error.statusCode, 500)
    assert.equal(error.rawType, 'api_error')
    assert.equal(await countByEmail(stripe, 'n500-out@example.com'), 0)
  }).timeout(10_000)

  test('500 after execution: the retry gets the saved response, not a duplicate', async ({
    assert,
  }) => {
    const client = sdk(sandbox, { maxNetworkRetries: 2 })
    sandbox.failNext({ ...CREATE, status: 500, count: 2, phase: 'after' })
    const customer = await client.customers.create({ email: 'n500-after@example.com' })
    assert.equal(customer.lastResponse.headers['idempotent-replayed'], 'true')
    assert.equal(await countByEmail(stripe, 'n500-after@example.com'), 1)
    assert.equal(createdEvents(sandbox, 'n500-after@example.com'), 1)
  }).timeout(10_000)

  test('429 is a StripeRateLimitError and is not retried', async ({ assert }) => {
    const client = sdk(sandbox, { maxNetworkRetries: 2 })
    sandbox.failNext({ ...CREATE, status: 429, count: 2 })
    const error = await stripeError(client.customers.create({ email: 'n429@example.com' }))
    assert.instanceOf(error, Stripe.errors.StripeRateLimitError)
    assert.equal(error.statusCode, 429)
    assert.equal(error.code, 'rate_limit')
    assert.match(error.message, /^Request rate limit exceeded/)
    assert.isUndefined(error.headers?.['stripe-should-retry'])
    // One attempt only: the second armed fault is still there.
    assert.equal(sandbox.faults.pending, 1)
    assert.equal(await countByEmail(stripe, 'n429@example.com'), 0)
  })

  test('Stripe-Should-Retry: true makes the SDK retry a 429; false stops it retrying a 503', async ({
    assert,
  }) => {
    const client = sdk(sandbox, { maxNetworkRetries: 2 })
    sandbox.failNext({ ...CREATE, status: 429, shouldRetry: true })
    const customer = await client.customers.create({ email: 'n429-retry@example.com' })
    assert.match(customer.id, /^cus_/)
    assert.equal(sandbox.faults.injected, 1)

    // After execution: the retried 429 is answered from the idempotency store.
    sandbox.failNext({ ...CREATE, status: 429, shouldRetry: true, phase: 'after', count: 2 })
    const replayed = await client.customers.create({ email: 'n429-after@example.com' })
    assert.equal(replayed.lastResponse.headers['idempotent-replayed'], 'true')
    assert.equal(await countByEmail(stripe, 'n429-after@example.com'), 1)

    sandbox.failNext({ ...CREATE, status: 503, shouldRetry: false, count: 2 })
    const error = await stripeError(client.customers.create({ email: 'n503-stop@example.com' }))
    assert.instanceOf(error, Stripe.errors.StripeAPIError)
    assert.equal(error.statusCode, 503)
    assert.equal(error.headers?.['stripe-should-retry'], 'false')
    assert.equal(sandbox.faults.pending, 1)
  }).timeout(10_000)

  test('timeout after execution: the client gives up, its retries replay', async ({ assert }) => {
    const client = sdk(sandbox, { maxNetworkRetries: 2, timeout: 250 })
    sandbox.failNext({ ...CREATE, mode: 'timeout', count: 2 })
    const customer = await client.customers.create({ email: 'n-timeout@example.com' })
    assert.equal(customer.lastResponse.headers['idempotent-replayed'], 'true')
    assert.equal(await countByEmail(stripe, 'n-timeout@example.com'), 1)
    assert.equal(createdEvents(sandbox, 'n-timeout@example.com'), 1)

    sandbox.failNext({ ...CREATE, mode: 'timeout', count: 1, phase: 'before' })
    const noRetry = sdk(sandbox, { maxNetworkRetries: 0, timeout: 250 })
    const error = await stripeError(noRetry.customers.create({ email: 'n-timeout-2@example.com' }))
    assert.instanceOf(error, Stripe.errors.StripeConnectionError)
    assert.equal(await countByEmail(stripe, 'n-timeout-2@example.com'), 0)
  }).timeout(10_000)

  test('connection reset: retried with the same key, before or after execution', async ({
    assert,
  }) => {
    const client = sdk(sandbox, { maxNetworkRetries: 2 })
    sandbox.failNext({ ...CREATE, mode: 'reset', count: 2 })
    const customer = await client.customers.create({ email: 'n-reset@example.com' })
    assert.equal(customer.lastResponse.headers['idempotent-replayed'], 'true')
    assert.equal(await countByEmail(stripe, 'n-reset@example.com'), 1)

    sandbox.failNext({ ...CREATE, mode: 'reset', count: 3, phase: 'before' })
    const error = await stripeError(client.customers.create({ email: 'n-reset-out@example.com' }))
    assert.instanceOf(error, Stripe.errors.StripeConnectionError)
    assert.equal(await countByEmail(stripe, 'n-reset-out@example.com'), 0)
    assert.equal(sandbox.faults.pending, 0)
  }).timeout(10_000)
})

test.group('Stripe sandbox: faults at a rate', (group) => {
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

  test('rate 1 fails every matching call until cleared; rate 0 none', async ({ assert }) => {
    sandbox.failRate({ rate: 1, path: '/v1/customers', method: 'GET', status: 503 })
    for (let i = 0; i < 3; i++) {
      const error = await stripeError(stripe.customers.list())
      assert.equal(error.statusCode, 503)
    }
    // Other paths and methods are untouched.
    const events = await stripe.events.list()
    assert.equal(events.object, 'list')
    const created = await stripe.customers.create({ email: 'rate1@example.com' })
    assert.match(created.id, /^cus_/)
    assert.deepInclude(sandbox.faults.rateRules[0], { rate: 1, seen: 3, injected: 3 })
    sandbox.clearFaults()
    const listed = await stripe.customers.list()
    assert.equal(listed.object, 'list')

    sandbox.failRate({ rate: 0, path: '/v1/customers' })
    for (let i = 0; i < 5; i++) await stripe.customers.list()
    assert.deepInclude(sandbox.faults.rateRules[0], { seen: 5, injected: 0 })
  })

  test('seeded: the same seed gives the same failures, exactly the PRNG draws', async ({
    assert,
  }) => {
    const pattern = async (seed: number) => {
      sandbox.clearFaults()
      const rule = sandbox.failRate({ rate: 0.5, seed, path: '/v1/events' })
      assert.equal(rule.seed, seed)
      const failed: boolean[] = []
      for (let i = 0; i < 30; i++) {
        try {
          await stripe.events.list({ limit: 1 })
          failed.push(false)
        } catch (error) {
          assert.instanceOf(error, Stripe.errors.StripeAPIError)
          failed.push(true)
        }
      }
      return failed
    }
    const random = seededRandom(42)
    const expected = Array.from({ length: 30 }, () => random() < 0.5)
    const first = await pattern(42)
    assert.deepEqual(first, expected)
    assert.deepEqual(await pattern(42), first)
    assert.include(first, true)
    assert.include(first, false)
    assert.notDeepEqual(await pattern(7), first)
    // Without a seed one is chosen and reported, so a run can be repeated.
    sandbox.clearFaults()
    assert.isNumber(sandbox.failRate({ rate: 0.1 }).seed)
  }).timeout(10_000)

  const modes: Array<{ label: string; fault: Omit<FaultOptions, 'count'>; timeout?: number }> = [
    { label: '500', fault: { status: 500 } },
    { label: '429 with Stripe-Should-Retry', fault: { status: 429, shouldRetry: true } },
    { label: 'timeout', fault: { mode: 'timeout' }, timeout: 250 },
    { label: 'connection reset', fault: { mode: 'reset' } },
  ]
  for (const { label, fault, timeout } of modes) {
    test(`${label} at a rate, after execution: SDK retries recover without duplicates`, async ({
      assert,
    }) => {
      const client = sdk(sandbox, { maxNetworkRetries: 4, ...(timeout ? { timeout } : {}) })
      sandbox.failRate({ ...fault, ...CREATE, rate: 0.3, seed: 6, phase: 'after' })
      const slug = label.replace(/\W+/g, '-')
      const created: string[] = []
      for (let i = 0; i < 6; i++) {
        const customer = await client.customers.create({ email: `rate-${slug}-${i}@example.com` })
        created.push(customer.id)
      }
      const [rule] = sandbox.faults.rateRules
      assert.isAbove(rule.injected, 0)
      assert.equal(rule.seen, 6 + rule.injected)
      sandbox.clearFaults()
      assert.lengthOf(new Set(created), 6)
      for (let i = 0; i < 6; i++) {
        const email = `rate-${slug}-${i}@example.com`
        assert.equal(await countByEmail(stripe, email), 1, email)
        assert.equal(createdEvents(sandbox, email), 1, email)
      }
    }).timeout(30_000)
  }

  test('before execution at a rate: nothing is created by a failed attempt', async ({ assert }) => {
    const client = sdk(sandbox, { maxNetworkRetries: 5 })
    sandbox.failRate({ ...CREATE, rate: 0.4, seed: 3, status: 502 })
    for (let i = 0; i < 5; i++) {
      const customer = await client.customers.create({ email: `rate-before-${i}@example.com` })
      assert.isUndefined(customer.lastResponse.headers['idempotent-replayed'])
    }
    assert.isAbove(sandbox.faults.injected, 0)
    sandbox.clearFaults()
    for (let i = 0; i < 5; i++)
      assert.equal(await countByEmail(stripe, `rate-before-${i}@example.com`), 1)
  }).timeout(30_000)

  test('over HTTP: POST /_sim/faults {rate, seed}, GET /_sim/faults, DELETE', async ({
    assert,
  }) => {
    const armed = await simJson(sandbox, 'POST', '/_sim/faults', {
      rate: 1,
      seed: 5,
      status: 503,
      path: '/v1/customers',
      method: 'GET',
    })
    assert.equal(armed.status, 200)
    assert.deepEqual(armed.body, { pending: 0, rate: 1, seed: 5 })
    const failed = await stripeError(stripe.customers.list())
    assert.equal(failed.statusCode, 503)
    const status = await simJson(sandbox, 'GET', '/_sim/faults')
    assert.deepEqual(status.body, {
      pending: 0,
      injected: 1,
      rate_rules: [
        {
          rate: 1,
          seed: 5,
          path: '/v1/customers',
          method: 'GET',
          mode: 'status',
          status: 503,
          phase: 'before',
          seen: 1,
          injected: 1,
        },
      ],
    })

    const invalid = await simJson(sandbox, 'POST', '/_sim/faults', { rate: 2 })
    assert.equal(invalid.status, 400)
    assert.match(String((invalid.body.error as { message: string }).message), /between 0 and 1/)
    const both = await simJson(sandbox, 'POST', '/_sim/faults', { rate: 0.5, count: 2 })
    assert.equal(both.status, 400)

    await simJson(sandbox, 'DELETE', '/_sim/faults')
    const listed = await stripe.customers.list()
    assert.equal(listed.object, 'list')
    const cleared = await simJson(sandbox, 'GET', '/_sim/faults')
    assert.deepEqual(cleared.body, { pending: 0, injected: 0, rate_rules: [] })
  })
})
