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

test.group('Stripe sandbox: webhook delivery controls', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe
  let receiver: WebhookReceiver
  let endpoint: { id: string; secret: string }

  group.setup(async () => {
    sandbox = await StripeSandbox.start({ port: 0, webhookRetrySchedule: [150, 150, 150] })
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

  /** Verifies over the exact bytes and checks the `t=` was signed at send time (fresh). */
  const verifyFresh = (hook: ReceivedWebhook): Stripe.Event => {
    const signature = signatureOf(hook)
    if (!SIGNATURE_FORMAT.test(signature)) throw new Error(`bad signature header ${signature}`)
    const t = Number(/t=(\d+)/.exec(signature)?.[1])
    const received = Math.floor(hook.receivedAt / 1000)
    if (t > received || t < received - 1) throw new Error(`stale t=${t} received at ${received}`)
    return Stripe.webhooks.constructEvent(hook.raw, signature, endpoint.secret)
  }
  const emailOf = (event: Stripe.Event) =>
    event.type === 'customer.created' || event.type === 'customer.updated'
      ? event.data.object.email
      : null

  test('delayWebhooks: the next matching delivery goes ms later, signed when sent', async ({
    assert,
  }) => {
    sandbox.delayWebhooks({ ms: 1100, type: 'customer.created' })
    assert.deepEqual(sandbox.webhooks.rules, { delays: 1, duplicates: 0 })
    const startedAt = Date.now()
    const late = await stripe.customers.create({ email: 'late@example.com' })
    await stripe.customers.update(late.id, { name: 'Late' }) // other type: not delayed
    const early = await stripe.customers.create({ email: 'early@example.com' }) // rule used up
    await sandbox.waitForIdle()

    const events = receiver.received.map((hook) => verifyFresh(hook))
    assert.deepEqual(
      events.map((event) => `${event.type} ${emailOf(event)}`),
      [
        'customer.updated late@example.com',
        'customer.created early@example.com',
        'customer.created late@example.com',
      ]
    )
    const lateHook = receiver.received[2]
    assert.isAtLeast(lateHook.receivedAt - startedAt, 1100)
    const t = Number(/t=(\d+)/.exec(signatureOf(lateHook))?.[1])
    assert.isAtLeast(t, Math.floor((startedAt + 1100) / 1000))
    const event = events[2]
    assert.isBelow(event.created, t + 1)
    assert.equal(event.type === 'customer.created' && event.data.object.id, late.id)
    assert.equal(events[1].type === 'customer.created' && events[1].data.object.id, early.id)
    assert.deepEqual(sandbox.webhooks.rules, { delays: 0, duplicates: 0 })
  }).timeout(5_000)

  test('delayWebhooks with jitter: later events overtake earlier ones (seeded)', async ({
    assert,
  }) => {
    // Seed 34 draws delays of 1212, 1646, 230 and 744 ms for the next four deliveries.
    const { seed } = sandbox.delayWebhooks({ ms: 0, jitterMs: 2000, count: 4, seed: 34 })
    assert.equal(seed, 34)
    const emails = ['j0@example.com', 'j1@example.com', 'j2@example.com', 'j3@example.com']
    for (const email of emails) await stripe.customers.create({ email })
    await sandbox.waitForIdle()
    const arrived = receiver.received.map((hook) => emailOf(verifyFresh(hook)))
    assert.deepEqual(arrived, [emails[2], emails[3], emails[0], emails[1]])
    const created = sandbox.eventLog('customer.created').reverse()
    assert.deepEqual(
      created.map((event) => emailOf(event)),
      emails
    )
  }).timeout(5_000)

  test('duplicateNext: the next N matching events arrive twice, every copy verifies', async ({
    assert,
  }) => {
    sandbox.duplicateNext({ count: 2, type: 'customer.*' })
    const customer = await stripe.customers.create({ email: 'twice@example.com' })
    await stripe.customers.update(customer.id, { name: 'Twice' })
    await stripe.customers.create({ email: 'once@example.com' })
    await sandbox.waitForIdle()

    const events = receiver.received.map((hook) => verifyFresh(hook))
    assert.lengthOf(events, 5)
    const counts = new Map<string, number>()
    for (const event of events) counts.set(event.id, (counts.get(event.id) ?? 0) + 1)
    assert.sameMembers([...counts.values()], [2, 2, 1])
    for (const [eventId, count] of counts) {
      const hooks = receiver.received.filter((hook) => JSON.parse(hook.raw).id === eventId)
      assert.lengthOf(new Set(hooks.map((hook) => hook.raw)), 1) // same bytes
      assert.deepEqual(
        sandbox.deliveries({ eventId }).map((delivery) => delivery.kind),
        count === 2 ? ['normal', 'duplicate'] : ['normal']
      )
      // Acknowledged once: the duplicate does not count as another endpoint.
      const stored = await stripe.events.retrieve(eventId)
      assert.equal(stored.pending_webhooks, 0)
    }
  })

  test('a duplicate copy is retried like any delivery', async ({ assert }) => {
    sandbox.duplicateNext({ afterMs: 50 })
    receiver.responder = (_hook, index) => (index === 1 ? 500 : 200)
    await stripe.customers.create({ email: 'dup-retry@example.com' })
    await sandbox.waitForIdle()
    const [normal, duplicate] = sandbox.deliveries()
    assert.deepEqual(
      normal.attempts.map((attempt) => attempt.status),
      [200]
    )
    assert.equal(duplicate.kind, 'duplicate')
    assert.deepEqual(
      duplicate.attempts.map((attempt) => attempt.status),
      [500, 200]
    )
    assert.lengthOf(receiver.received, 3)
    for (const hook of receiver.received) verifyFresh(hook)
    // Each attempt is signed when sent (same bytes and second give the same signature).
    assert.isAtLeast(duplicate.attempts[1].timestamp, duplicate.attempts[0].timestamp)
    assert.isAtLeast(duplicate.attempts[1].sentAt - duplicate.attempts[0].sentAt, 150)
  })

  test('a disabled endpoint gets no new events and its retries stop; enabling resumes new ones', async ({
    assert,
  }) => {
    receiver.responder = () => 500
    const first = await stripe.customers.create({ email: 'disable-1@example.com' })
    // First attempt failed, its retry is due 150 ms later: disable the endpoint now.
    while (receiver.received.length === 0) await sleep(5)
    const disabled = sandbox.disableWebhookEndpoint(endpoint.id)
    assert.equal(disabled.status, 'disabled')
    const viaApi = await stripe.webhookEndpoints.retrieve(endpoint.id)
    assert.equal(viaApi.status, 'disabled')
    await sandbox.waitForIdle()
    const [stopped] = sandbox.deliveries()
    assert.equal(stopped.state, 'failed')
    assert.lengthOf(stopped.attempts, 1)
    assert.lengthOf(receiver.received, 1)
    const delivered = verifyFresh(receiver.received[0])
    assert.equal(delivered.type === 'customer.created' && delivered.data.object.id, first.id)

    const whileDisabled = await stripe.customers.create({ email: 'disable-2@example.com' })
    await sandbox.waitForIdle()
    assert.lengthOf(receiver.received, 1)
    const missed = sandbox.eventLog('customer.created')[0]
    assert.equal(missed.type === 'customer.created' && missed.data.object.id, whileDisabled.id)
    assert.equal(missed.pending_webhooks, 0)
    assert.lengthOf(sandbox.deliveries({ eventId: missed.id }), 0)

    receiver.responder = () => 200
    const response = await fetch(`${sandbox.url}/_sim/webhooks/endpoints/${endpoint.id}/enable`, {
      method: 'POST',
    })
    assert.equal(response.status, 200)
    assert.equal(((await response.json()) as { status: string }).status, 'enabled')
    await stripe.customers.create({ email: 'disable-3@example.com' })
    await sandbox.waitForIdle()
    assert.deepEqual(
      receiver.received.map((hook) => emailOf(verifyFresh(hook))),
      ['disable-1@example.com', 'disable-3@example.com']
    )
    // Stripe does not resume the retries of a delivery it gave up on.
    assert.equal(sandbox.deliveries({ eventId: stopped.eventId })[0].state, 'failed')
  })

  test('stale and wrong-secret deliveries fail verification; fresh attempts pass', async ({
    assert,
  }) => {
    await stripe.customers.create({ email: 'verify@example.com' })
    await sandbox.waitForIdle()
    const eventId = sandbox.deliveries()[0].eventId
    await sandbox.deliverStale(eventId, { ageSeconds: 301 })
    await sandbox.deliverWithWrongSecret(eventId)
    const [fresh, stale, wrong] = receiver.received
    assert.equal(verifyFresh(fresh).id, eventId)
    assert.equal(stale.raw, fresh.raw)
    assert.throws(
      () => Stripe.webhooks.constructEvent(stale.raw, signatureOf(stale), endpoint.secret),
      /Timestamp outside the tolerance zone/
    )
    assert.throws(
      () => Stripe.webhooks.constructEvent(wrong.raw, signatureOf(wrong), endpoint.secret),
      /No signatures found matching the expected signature/
    )
  })

  test('over HTTP: delay, duplicate_next, rules, disable', async ({ assert }) => {
    const post = async (path: string, body: object = {}) => {
      const response = await fetch(`${sandbox.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      })
      return { status: response.status, body: (await response.json()) as Record<string, unknown> }
    }
    const delayed = await post('/_sim/webhooks/delay', { ms: 200, count: 2, seed: 9 })
    assert.deepEqual(delayed.body, { delays: 2, duplicates: 0, seed: 9 })
    const duplicated = await post('/_sim/webhooks/duplicate_next', {
      count: 1,
      type: 'customer.created',
    })
    assert.deepEqual(duplicated.body, { delays: 2, duplicates: 1 })
    const negative = await post('/_sim/webhooks/delay', { ms: -1 })
    assert.equal(negative.status, 400)
    const zero = await post('/_sim/webhooks/duplicate_next', { count: 0 })
    assert.equal(zero.status, 400)

    await stripe.customers.create({ email: 'http-rules@example.com' })
    await sandbox.waitForIdle()
    assert.lengthOf(receiver.received, 2)
    for (const hook of receiver.received) verifyFresh(hook)
    assert.deepEqual(sandbox.webhooks.rules, { delays: 0, duplicates: 0 })

    await post('/_sim/webhooks/delay', { ms: 100, count: 3 })
    const cleared = await fetch(`${sandbox.url}/_sim/webhooks/rules`, { method: 'DELETE' })
    assert.deepEqual(await cleared.json(), { delays: 0, duplicates: 0 })

    const disabled = await post(`/_sim/webhooks/endpoints/${endpoint.id}/disable`)
    assert.equal(disabled.body.status, 'disabled')
    const missing = await post('/_sim/webhooks/endpoints/we_missing/disable')
    assert.equal(missing.status, 404)
  })
})
