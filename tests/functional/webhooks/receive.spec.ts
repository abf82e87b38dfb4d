import { test } from '@japa/runner'
import type Stripe from 'stripe'
import StripeEvent from '#models/stripe_event'
import { appWebhookEndpoint, stripeClient, stripeSandbox } from '#tests/support/stripe'
import { deleteEvents, postWebhook, signed, waitForEvent } from './helpers.js'

/**
 * Receiving Stripe's webhooks: real signed deliveries from the sandbox to
 * POST /api/webhooks/stripe; events are recorded once by id.
 */
test.group('Webhooks: receiving', (group) => {
  const created: string[] = []
  group.each.teardown(async () => {
    await stripeSandbox().waitForIdle()
    await deleteEvents(created.splice(0))
  })

  test('a signed event without a handler is recorded as ignored and answered 200', async ({
    assert,
  }) => {
    const customer = await stripeClient().customers.create({ email: 'hook-ignored@example.com' })
    const [event] = stripeSandbox()
      .eventLog('customer.created')
      .filter((e) => (e.data.object as Stripe.Customer).id === customer.id)
    assert.exists(event)
    created.push(event.id)
    await stripeSandbox().waitForIdle()

    const row = await waitForEvent(event.id)
    assert.equal(row.type, 'customer.created')
    assert.equal(row.status, 'ignored')
    assert.equal(row.payload.id, event.id)
    assert.equal(row.stripeCreatedAt.toSeconds(), event.created)
    const deliveries = stripeSandbox().deliveries({
      eventId: event.id,
      endpointId: appWebhookEndpoint().id,
    })
    assert.lengthOf(deliveries, 1)
    assert.equal(deliveries[0].state, 'succeeded')
    assert.equal(deliveries[0].attempts.at(-1)?.status, 200)
  })

  test('a forged or stale signature is refused with 400 and nothing is recorded', async ({
    assert,
  }) => {
    const sandbox = stripeSandbox()
    sandbox.holdWebhooks()
    let eventId: string
    try {
      const customer = await stripeClient().customers.create({ email: 'hook-forged@example.com' })
      eventId = sandbox
        .eventLog('customer.created')
        .find((e) => (e.data.object as Stripe.Customer).id === customer.id)!.id
      created.push(eventId)
      const endpointId = appWebhookEndpoint().id
      const [forged] = await sandbox.deliverWithWrongSecret(eventId, { endpointId })
      const [stale] = await sandbox.deliverStale(eventId, { endpointId })
      assert.equal(forged.attempts.at(-1)?.status, 400)
      assert.match(forged.attempts.at(-1)?.responseBody ?? '', /Invalid signature/)
      assert.equal(stale.attempts.at(-1)?.status, 400)
      assert.match(stale.attempts.at(-1)?.responseBody ?? '', /timestamp/i)
      assert.isNull(await StripeEvent.findBy('stripeEventId', eventId))
    } finally {
      // The held genuine delivery is not needed: drop it by delivering it (it records the event).
      await sandbox.releaseWebhooks()
    }
  })

  test('a missing signature, an unparsable or non-event body is refused with 400', async ({
    assert,
  }) => {
    const missing = await postWebhook('{"id":"evt_x"}', null)
    assert.equal(missing.status, 400)
    assert.match(String(missing.json.error), /Missing Stripe-Signature/)

    for (const body of [
      '{"id": "evt_unparsable", ',
      'not json at all',
      '[]',
      '{"id":"evt_x"}',
      '',
    ]) {
      const response = await postWebhook(body, signed(body))
      assert.equal(response.status, 400, body)
      assert.match(String(response.json.error), /^The body is not a Stripe event/)
    }
    assert.isNull(await StripeEvent.findBy('stripeEventId', 'evt_unparsable'))
    assert.isNull(await StripeEvent.findBy('stripeEventId', 'evt_x'))
  })

  test('the body is verified byte for byte: whitespace changed after signing is refused', async ({
    assert,
  }) => {
    const payload = JSON.stringify({
      id: 'evt_bytes',
      object: 'event',
      type: 'customer.created',
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: 'cus_x', object: 'customer' } },
    })
    const response = await postWebhook(payload.replace('{', '{ '), signed(payload))
    assert.equal(response.status, 400)
    assert.match(String(response.json.error), /Invalid signature/)
    assert.isNull(await StripeEvent.findBy('stripeEventId', 'evt_bytes'))
  })
})
