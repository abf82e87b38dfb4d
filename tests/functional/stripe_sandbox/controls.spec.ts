import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from '@japa/runner'
import Stripe from 'stripe'
import { StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import { TEST_KEY, WebhookReceiver, sdk, signatureOf, simPost } from './helpers.js'

const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

test.group('Stripe sandbox: /_sim control routes', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  group.setup(async () => {
    sandbox = await StripeSandbox.start({ port: 0, webhookRetrySchedule: [20] })
    stripe = sdk(sandbox)
    return () => sandbox.stop()
  })

  test('health and clock need no API key', async ({ assert }) => {
    const health = await fetch(`${sandbox.url}/_sim/health`)
    assert.equal(health.status, 200)
    assert.include((await health.json()) as object, { ok: true, api_version: '2026-10-28.endive' })

    const before = sandbox.now()
    const advanced = await simPost(sandbox, '/_sim/clock/advance', { seconds: 3600 })
    assert.isAtLeast(Number(advanced.body.now), before + 3600)
    const customer = await stripe.customers.create({ email: 'clock@example.com' })
    assert.isAtLeast(customer.created, before + 3600)

    const unknown = await fetch(`${sandbox.url}/_sim/nope`)
    assert.equal(unknown.status, 404)
  })

  test('GET /_sim lists the fault, delivery and fidelity controls', async ({ assert }) => {
    const response = await fetch(`${sandbox.url}/_sim`)
    const { routes } = (await response.json()) as { routes: string[] }
    for (const prefix of [
      'POST /_sim/faults {count? | rate?',
      'GET /_sim/faults',
      'POST /_sim/webhooks/delay',
      'POST /_sim/webhooks/duplicate_next',
      'DELETE /_sim/webhooks/rules',
      'POST /_sim/webhooks/endpoints/:id/(disable|enable)',
      'GET /_sim/fidelity',
    ]) {
      assert.isTrue(
        routes.some((route) => route.startsWith(prefix)),
        `${prefix} is listed`
      )
    }
  })

  test('injects faults over HTTP', async ({ assert }) => {
    const armed = await simPost(sandbox, '/_sim/faults', {
      count: 1,
      status: 503,
      path: '/v1/customers',
    })
    assert.equal(armed.body.pending, 1)
    try {
      await stripe.customers.list()
      assert.fail('expected a 503')
    } catch (error) {
      assert.instanceOf(error, Stripe.errors.StripeAPIError)
      assert.equal((error as Stripe.errors.StripeError).statusCode, 503)
    }
    await simPost(sandbox, '/_sim/faults', { count: 5, status: 500 })
    const cleared = await fetch(`${sandbox.url}/_sim/faults`, { method: 'DELETE' })
    assert.equal(cleared.status, 200)
    const afterClear = await stripe.customers.list()
    assert.equal(afterClear.object, 'list')
  })

  test('registers endpoints, holds, flushes and lists deliveries over HTTP', async ({ assert }) => {
    const receiver = await WebhookReceiver.start()
    try {
      const added = await simPost(sandbox, '/_sim/webhooks/endpoints', {
        url: receiver.url,
        secret: 'whsec_fixed_for_the_demo',
        enabled_events: ['customer.created'],
      })
      assert.equal(added.body.secret, 'whsec_fixed_for_the_demo')
      await simPost(sandbox, '/_sim/webhooks/hold')
      await stripe.customers.create({ email: 'sim-hold@example.com' })
      assert.lengthOf(receiver.received, 0)
      const flushed = await simPost(sandbox, '/_sim/webhooks/flush')
      assert.equal(flushed.body.flushed, 1)
      assert.lengthOf(receiver.received, 1)
      const event = Stripe.webhooks.constructEvent(
        receiver.received[0].raw,
        signatureOf(receiver.received[0]),
        'whsec_fixed_for_the_demo'
      )

      const stale = await simPost(sandbox, `/_sim/events/${event.id}/stale`, { age_seconds: 900 })
      assert.lengthOf(stale.body.data as unknown[], 1)
      assert.throws(
        () =>
          Stripe.webhooks.constructEvent(
            receiver.received[1].raw,
            signatureOf(receiver.received[1]),
            'whsec_fixed_for_the_demo'
          ),
        /tolerance/
      )
      await simPost(sandbox, '/_sim/webhooks/release')
      await simPost(sandbox, '/_sim/webhooks/wait')
      const deliveries = await fetch(`${sandbox.url}/_sim/webhooks/deliveries?event=${event.id}`)
      const listed = (await deliveries.json()) as { data: Array<{ kind: string }> }
      assert.deepEqual(
        listed.data.map((delivery) => delivery.kind),
        ['normal', 'stale']
      )
    } finally {
      await receiver.stop()
    }
  })
})

test.group('Stripe sandbox: persistence', (group) => {
  let dir: string

  group.setup(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stripe-sandbox-'))
    return () => rm(dir, { recursive: true, force: true })
  })

  test('restores objects, events, idempotency keys and the clock from the data file', async ({
    assert,
  }) => {
    const dataFile = join(dir, 'state', 'stripe.json')
    const first = await StripeSandbox.start({ port: 0, dataFile })
    const customer = await sdk(first).customers.create(
      { email: 'persist@example.com' },
      { idempotencyKey: 'persist-key' }
    )
    await first.advanceClock(7200)
    const clockBefore = first.now()
    await first.stop()
    assert.isTrue(existsSync(dataFile))
    const leftovers = await readdir(join(dir, 'state'))
    assert.deepEqual(
      leftovers.filter((name) => name.endsWith('.tmp')),
      []
    )

    const second = await StripeSandbox.start({ port: 0, dataFile })
    try {
      const stripe = sdk(second)
      const fetched = await stripe.customers.retrieve(customer.id)
      assert.deepEqual({ ...fetched }, { ...customer })
      const replay = await stripe.customers.create(
        { email: 'persist@example.com' },
        { idempotencyKey: 'persist-key' }
      )
      assert.equal(replay.id, customer.id)
      assert.equal(replay.lastResponse.headers['idempotent-replayed'], 'true')
      const events = await stripe.events.list()
      assert.deepEqual(
        events.data.map((event) => event.type),
        ['customer.created']
      )
      assert.isAtLeast(second.now(), clockBefore)

      // New objects keep sorting after restored ones.
      const newer = await stripe.customers.create({ email: 'persist-2@example.com' })
      const listed = await stripe.customers.list()
      assert.deepEqual(
        listed.data.map((c) => c.id),
        [newer.id, customer.id]
      )
    } finally {
      await second.stop()
    }
  })
})

test.group('Stripe sandbox: long runs', (group) => {
  let dir: string

  group.setup(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stripe-sandbox-long-'))
    return () => rm(dir, { recursive: true, force: true })
  })

  test('billing settings changed at run time survive a restart', async ({ assert }) => {
    const dataFile = join(dir, 'settings.json')
    const first = await StripeSandbox.start({ port: 0, dataFile })
    const changed = await simPost(first, '/_sim/billing/settings', {
      retry_schedule_days: [1, 2],
      after_final_failure: 'mark_unpaid',
    })
    assert.equal(changed.status, 200)
    await first.stop()

    const second = await StripeSandbox.start({ port: 0, dataFile })
    try {
      assert.deepEqual(second.settings.billing, {
        retryScheduleDays: [1, 2],
        afterFinalFailure: 'mark_unpaid',
      })
    } finally {
      await second.stop()
    }
  })

  test('events older than 30 days are dropped, as Stripe keeps them for 30 days', async ({
    assert,
  }) => {
    const sandbox = await StripeSandbox.start({ port: 0 })
    try {
      const stripe = sdk(sandbox)
      await stripe.customers.create({ email: 'old@example.com' })
      const [old] = sandbox.eventLog('customer.created')
      await sandbox.advanceClock(29 * 86_400)
      const kept = await stripe.events.retrieve(old.id)
      assert.equal(kept.id, old.id)
      await sandbox.advanceClock(2 * 86_400)
      await assert.rejects(() => stripe.events.retrieve(old.id), /No such event/)
      assert.lengthOf(sandbox.eventLog('customer.created'), 0)
    } finally {
      await sandbox.stop()
    }
  })

  test('only the newest finished webhook deliveries are kept', async ({ assert }) => {
    const receiver = await WebhookReceiver.start()
    const sandbox = await StripeSandbox.start({ port: 0, webhookHistoryLimit: 3 })
    try {
      sandbox.addWebhookEndpoint({ url: receiver.url })
      const stripe = sdk(sandbox)
      for (let n = 0; n < 5; n++) {
        await stripe.customers.create({ email: `keep-${n}@example.com` })
        await sandbox.waitForIdle()
      }
      assert.lengthOf(receiver.received, 5)
      const kept = sandbox.deliveries()
      assert.lengthOf(kept, 3)
      const newest = sandbox.eventLog('customer.created').slice(0, 3)
      assert.sameMembers(
        kept.map((delivery) => delivery.eventId),
        newest.map((event) => event.id)
      )
    } finally {
      await sandbox.stop()
      await receiver.stop()
    }
  })

  test('with tickMs, wall time runs the time-driven work on its own', async ({ assert }) => {
    const sandbox = await StripeSandbox.start({ port: 0, tickMs: 20 })
    try {
      let ticks = 0
      sandbox.clock.onAdvance(() => {
        ticks += 1
      })
      await new Promise((resolve) => setTimeout(resolve, 200))
      assert.isAtLeast(ticks, 3)
    } finally {
      await sandbox.stop()
    }
    const quiet = await StripeSandbox.start({ port: 0 })
    try {
      let ticks = 0
      quiet.clock.onAdvance(() => {
        ticks += 1
      })
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.equal(ticks, 0)
    } finally {
      await quiet.stop()
    }
  })
})

test.group('Stripe sandbox: standalone runner', () => {
  test('prints its URL, serves the SDK and stops on SIGTERM', async ({ assert }) => {
    const child = spawn(
      process.execPath,
      ['--import=@poppinss/ts-exec', 'sandbox/stripe/main.ts'],
      {
        cwd: PROJECT_ROOT,
        env: {
          ...process.env,
          STRIPE_SANDBOX_PORT: '0',
          STRIPE_SANDBOX_DATA: '',
          STRIPE_SANDBOX_WEBHOOK_URL: '',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }
    )
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let output = ''
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString('utf8')
          if (output.includes('\n')) resolve(output)
        })
        child.once('exit', (code) => reject(new Error(`runner exited early with ${code}`)))
      })
      const match = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(line)
      assert.isNotNull(match)
      const stripe = new Stripe(TEST_KEY, {
        host: '127.0.0.1',
        port: Number(match?.[2]),
        protocol: 'http',
        telemetry: false,
      })
      const customer = await stripe.customers.create({ email: 'runner@example.com' })
      assert.match(customer.id, /^cus_/)

      const exited = new Promise<number | null>((resolve) =>
        child.once('exit', (code) => resolve(code))
      )
      child.kill('SIGTERM')
      assert.equal(await exited, 0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }).timeout(15_000)
})
