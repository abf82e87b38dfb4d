import { test } from '@japa/runner'
import Stripe from 'stripe'
import { StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import { type ReceivedWebhook, WebhookReceiver, sdk, signatureOf, sleep } from './helpers.js'

const SIGNATURE_FORMAT = /^t=\d+,v1=[0-9a-f]{64}$/

test.group('Stripe sandbox: webhook delivery', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe
  let receiver: WebhookReceiver
  let endpoint: { id: string; secret: string }

  group.setup(async () => {
    sandbox = await StripeSandbox.start({
      port: 0,
      webhookRetrySchedule: [50, 100, 150],
      webhookTimeoutMs: 300,
    })
    stripe = sdk(sandbox)
    receiver = await WebhookReceiver.start()
    return async () => {
      await sandbox.stop()
      await receiver.stop()
    }
  })
  group.each.setup(() => {
    sandbox.reset()
    sandbox.holdWebhooks(false)
    receiver.reset()
    endpoint = sandbox.addWebhookEndpoint({ url: receiver.url })
  })

  const verify = (hook: ReceivedWebhook) =>
    Stripe.webhooks.constructEvent(hook.raw, signatureOf(hook), endpoint.secret)

  test('delivers signed events that Stripe.webhooks.constructEvent accepts', async ({ assert }) => {
    assert.match(endpoint.secret, /^whsec_/)
    const customer = await stripe.customers.create({ email: 'hook@example.com' })
    await sandbox.waitForIdle()

    assert.lengthOf(receiver.received, 1)
    const [hook] = receiver.received
    assert.equal(hook.headers['content-type'], 'application/json; charset=utf-8')
    assert.match(signatureOf(hook), SIGNATURE_FORMAT)
    const event = verify(hook)
    assert.equal(event.type, 'customer.created')
    if (event.type !== 'customer.created') return
    assert.equal(event.data.object.id, customer.id)
    assert.equal(event.request?.id, customer.lastResponse.requestId)
    assert.equal(event.pending_webhooks, 1)

    // Acknowledged: the stored event no longer counts the endpoint as pending.
    const stored = await stripe.events.retrieve(event.id)
    assert.equal(stored.pending_webhooks, 0)
    const [delivery] = sandbox.deliveries({ eventId: event.id })
    assert.equal(delivery.state, 'succeeded')
    assert.deepEqual(
      delivery.attempts.map((attempt) => attempt.status),
      [200]
    )
    assert.equal(delivery.payload, hook.raw)
  })

  test('a re-serialised body fails verification (the signature covers the exact bytes)', async ({
    assert,
  }) => {
    await stripe.customers.create({ email: 'bytes@example.com' })
    await sandbox.waitForIdle()
    const [hook] = receiver.received
    assert.throws(
      () =>
        Stripe.webhooks.constructEvent(
          JSON.stringify(JSON.parse(hook.raw)),
          signatureOf(hook),
          endpoint.secret
        ),
      /No signatures found matching the expected signature/
    )
  })

  test('retries after a 500 with a new signature timestamp', async ({ assert }) => {
    // Its own sandbox: the first answer below can take up to a second, beyond this group's 300 ms timeout.
    const own = await StripeSandbox.start({ port: 0, webhookRetrySchedule: [50] })
    const ownReceiver = await WebhookReceiver.start()
    try {
      const { secret } = own.addWebhookEndpoint({ url: ownReceiver.url })
      ownReceiver.responder = async (_hook, index) => {
        if (index > 0) return 200
        // Fail just after a second boundary, so the retry 50 ms later must carry a later `t=`.
        await sleep(1000 - (Date.now() % 1000) + 5)
        return 500
      }
      await sdk(own).customers.create({ email: 'retry@example.com' })
      await own.waitForIdle()

      assert.lengthOf(ownReceiver.received, 2)
      const [first, second] = ownReceiver.received
      assert.equal(first.raw, second.raw)
      assert.notEqual(signatureOf(first), signatureOf(second))
      const t = (hook: ReceivedWebhook) => Number(/t=(\d+)/.exec(signatureOf(hook))?.[1])
      assert.isAbove(t(second), t(first))
      assert.closeTo(t(second), Math.floor(Date.now() / 1000), 2)
      assert.equal(
        Stripe.webhooks.constructEvent(second.raw, signatureOf(second), secret).type,
        'customer.created'
      )

      const [delivery] = own.deliveries({ type: 'customer.created' })
      assert.equal(delivery.state, 'succeeded')
      assert.deepEqual(
        delivery.attempts.map((attempt) => attempt.status),
        [500, 200]
      )
      assert.deepEqual(
        delivery.attempts.map((attempt) => attempt.timestamp),
        [t(first), t(second)]
      )
    } finally {
      await own.stop()
      await ownReceiver.stop()
    }
  }).timeout(5_000)

  test('gives up after the retry schedule and keeps pending_webhooks', async ({ assert }) => {
    receiver.responder = () => 503
    await stripe.customers.create({ email: 'down@example.com' })
    await sandbox.waitForIdle()
    assert.lengthOf(receiver.received, 4)
    const [delivery] = sandbox.deliveries()
    assert.equal(delivery.state, 'failed')
    assert.lengthOf(delivery.attempts, 4)
    const event = await stripe.events.retrieve(delivery.eventId)
    assert.equal(event.pending_webhooks, 1)
    const undelivered = await stripe.events.list({ delivery_success: false })
    assert.deepEqual(
      undelivered.data.map((e) => e.id),
      [event.id]
    )
  })

  test('treats a receiver timeout as a failure and retries', async ({ assert }) => {
    receiver.responder = (_hook, index) => (index === 0 ? 'hang' : 200)
    await stripe.customers.create({ email: 'slow@example.com' })
    await sandbox.waitForIdle()
    const [delivery] = sandbox.deliveries()
    assert.equal(delivery.state, 'succeeded')
    assert.isNull(delivery.attempts[0].status)
    assert.match(delivery.attempts[0].error ?? '', /Timed out/)
    assert.equal(delivery.attempts[1].status, 200)
  })

  test('holds deliveries until flush()', async ({ assert }) => {
    sandbox.holdWebhooks()
    const a = await stripe.customers.create({ email: 'held-a@example.com' })
    const b = await stripe.customers.create({ email: 'held-b@example.com' })
    await sleep(100)
    assert.lengthOf(receiver.received, 0)
    assert.lengthOf(sandbox.deliveries({ state: 'held' }), 2)
    await sandbox.waitForIdle(500) // held deliveries do not keep it busy

    await sandbox.flush()
    assert.lengthOf(receiver.received, 2)
    const ids = receiver.received.map((hook) => {
      const event = verify(hook)
      return event.type === 'customer.created' ? event.data.object.id : ''
    })
    assert.deepEqual(ids, [a.id, b.id])

    // Still holding after a flush; reverse order on demand; release stops holding.
    await stripe.customers.create({ email: 'held-c@example.com' })
    await stripe.customers.create({ email: 'held-d@example.com' })
    await sandbox.releaseWebhooks('reverse')
    const emails = receiver.received.slice(2).map((hook) => {
      const event = verify(hook)
      return event.type === 'customer.created' ? event.data.object.email : ''
    })
    assert.deepEqual(emails, ['held-d@example.com', 'held-c@example.com'])
    await stripe.customers.create({ email: 'live@example.com' })
    await sandbox.waitForIdle()
    assert.lengthOf(receiver.received, 5)
  })

  test('a stale-timestamp delivery is rejected by constructEvent', async ({ assert }) => {
    receiver.responder = (hook) => {
      try {
        verify(hook)
        return 200
      } catch {
        return 400
      }
    }
    await stripe.customers.create({ email: 'stale@example.com' })
    await sandbox.waitForIdle()
    const eventId = sandbox.deliveries()[0].eventId

    const [stale] = await sandbox.deliverStale(eventId, { ageSeconds: 600 })
    assert.equal(stale.kind, 'stale')
    assert.deepEqual(
      stale.attempts.map((attempt) => attempt.status),
      [400]
    )
    const hook = receiver.received[1]
    assert.throws(() => verify(hook), /Timestamp outside the tolerance zone/)
    assert.instanceOf(
      (() => {
        try {
          verify(hook)
        } catch (error) {
          return error
        }
      })(),
      Stripe.errors.StripeSignatureVerificationError
    )
    // Within tolerance it is fine.
    const [recent] = await sandbox.deliverStale(eventId, { ageSeconds: 200 })
    assert.equal(recent.attempts[0].status, 200)
  })

  test('a wrong-secret delivery is rejected by constructEvent', async ({ assert }) => {
    await stripe.customers.create({ email: 'wrong@example.com' })
    await sandbox.waitForIdle()
    const [delivery] = await sandbox.deliverWithWrongSecret(sandbox.deliveries()[0].eventId)
    assert.equal(delivery.kind, 'wrong_secret')
    assert.throws(
      () => verify(receiver.received[1]),
      /No signatures found matching the expected signature/
    )
  })

  test('duplicate and resend deliver the same event id and bytes again', async ({ assert }) => {
    await stripe.customers.create({ email: 'dup@example.com' })
    await sandbox.waitForIdle()
    const eventId = sandbox.deliveries()[0].eventId
    await sandbox.duplicateEvent(eventId)
    await sandbox.resendEvent(eventId, { endpointId: endpoint.id })
    assert.lengthOf(receiver.received, 3)
    assert.deepEqual(
      receiver.received.map((hook) => verify(hook).id),
      [eventId, eventId, eventId]
    )
    assert.equal(receiver.received[1].raw, receiver.received[0].raw)
    assert.deepEqual(
      sandbox.deliveries({ eventId }).map((delivery) => delivery.kind),
      ['normal', 'duplicate', 'resend']
    )
  })

  test('only subscribed endpoints receive an event', async ({ assert }) => {
    const other = await WebhookReceiver.start()
    try {
      const onlyDeleted = sandbox.addWebhookEndpoint({
        url: other.url,
        enabledEvents: ['customer.deleted'],
      })
      const customer = await stripe.customers.create({ email: 'sub@example.com' })
      await stripe.customers.update(customer.id, { name: 'S' })
      await stripe.customers.del(customer.id)
      await sandbox.waitForIdle()
      assert.deepEqual(receiver.types(), [
        'customer.created',
        'customer.updated',
        'customer.deleted',
      ])
      assert.deepEqual(other.types(), ['customer.deleted'])
      assert.equal(
        Stripe.webhooks.constructEvent(
          other.received[0].raw,
          signatureOf(other.received[0]),
          onlyDeleted.secret
        ).type,
        'customer.deleted'
      )
    } finally {
      await other.stop()
    }
  })
})

test.group('Stripe sandbox: webhook endpoints API', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe
  let receiver: WebhookReceiver

  group.setup(async () => {
    sandbox = await StripeSandbox.start({ port: 0 })
    stripe = sdk(sandbox)
    receiver = await WebhookReceiver.start()
    return async () => {
      await sandbox.stop()
      await receiver.stop()
    }
  })

  test('creates, lists, retrieves, updates and deletes endpoints; the secret is shown once', async ({
    assert,
  }) => {
    const created = await stripe.webhookEndpoints.create({
      url: receiver.url,
      enabled_events: ['customer.created'],
      description: 'app',
      metadata: { env: 'test' },
    })
    assert.match(created.id, /^we_/)
    assert.match(created.secret ?? '', /^whsec_[0-9A-Za-z]{32}$/)
    assert.equal(created.status, 'enabled')
    assert.deepEqual(created.enabled_events, ['customer.created'])

    const fetched = await stripe.webhookEndpoints.retrieve(created.id)
    assert.notProperty(fetched, 'secret')
    assert.equal(fetched.url, receiver.url)

    const list = await stripe.webhookEndpoints.list()
    assert.deepEqual(
      list.data.map((endpoint) => endpoint.id),
      [created.id]
    )

    await stripe.customers.create({ email: 'api-endpoint@example.com' })
    await sandbox.waitForIdle()
    assert.lengthOf(receiver.received, 1)
    const event = Stripe.webhooks.constructEvent(
      receiver.received[0].raw,
      signatureOf(receiver.received[0]),
      created.secret ?? ''
    )
    assert.equal(event.type, 'customer.created')

    const disabled = await stripe.webhookEndpoints.update(created.id, { disabled: true })
    assert.equal(disabled.status, 'disabled')
    await stripe.customers.create({ email: 'api-endpoint-2@example.com' })
    await sandbox.waitForIdle()
    assert.lengthOf(receiver.received, 1)

    const deleted = await stripe.webhookEndpoints.del(created.id)
    assert.deepEqual({ ...deleted }, { id: created.id, object: 'webhook_endpoint', deleted: true })
    await assert.rejects(
      () => stripe.webhookEndpoints.retrieve(created.id),
      /No such webhook endpoint/
    )
    const remaining = await stripe.webhookEndpoints.list()
    assert.lengthOf(remaining.data, 0)
  })

  test('validates endpoint params', async ({ assert }) => {
    await assert.rejects(
      () => stripe.webhookEndpoints.create({ url: 'not a url', enabled_events: ['*'] }),
      /Invalid URL/
    )
    await assert.rejects(
      () =>
        stripe.webhookEndpoints.create({ url: receiver.url } as Stripe.WebhookEndpointCreateParams),
      /Missing required param: enabled_events/
    )
  })
})
