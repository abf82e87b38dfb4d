import { test } from '@japa/runner'
import Stripe from 'stripe'
import { type StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import { useSandbox } from './helpers.js'

test.group('Stripe sandbox: events', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(group, (started, client) => {
    sandbox = started
    stripe = client
  })

  test('records customer.created with the triggering request', async ({ assert }) => {
    const customer = await stripe.customers.create(
      { email: 'evt@example.com' },
      { idempotencyKey: 'evt-create' }
    )
    const list = await stripe.events.list()
    assert.equal(list.url, '/v1/events')
    assert.lengthOf(list.data, 1)
    const event = list.data[0]
    assert.match(event.id, /^evt_/)
    assert.equal(event.object, 'event')
    assert.equal(event.type, 'customer.created')
    assert.equal(event.api_version, '2026-10-28.endive')
    assert.isFalse(event.livemode)
    assert.equal(event.pending_webhooks, 0)
    assert.deepEqual(event.request, {
      id: customer.lastResponse.requestId,
      idempotency_key: 'evt-create',
    })
    assert.deepEqual(event.data.object, { ...customer })
    assert.notProperty(event.data, 'previous_attributes')

    const fetched = await stripe.events.retrieve(event.id)
    assert.deepEqual({ ...fetched }, { ...event })
  })

  test('customer.updated carries only the old values of changed fields', async ({ assert }) => {
    const customer = await stripe.customers.create({
      email: 'before@example.com',
      metadata: { plan: 'free', keep: '1' },
    })
    const updated = await stripe.customers.update(customer.id, {
      email: 'after@example.com',
      metadata: { plan: 'pro', extra: 'x' },
      description: 'was null before',
    })
    const updates = await stripe.events.list({ type: 'customer.updated' })
    const [event] = updates.data
    if (event?.type !== 'customer.updated') return assert.fail('expected a customer.updated event')
    assert.equal(event.data.object.email, 'after@example.com')
    assert.deepEqual(event.data.previous_attributes, {
      email: 'before@example.com',
      description: null,
      metadata: { plan: 'free', extra: null },
    })
    assert.equal(event.request?.id, updated.lastResponse.requestId)

    // A no-op update changes nothing and emits nothing.
    await stripe.customers.update(customer.id, { email: 'after@example.com' })
    const after = await stripe.events.list({ type: 'customer.updated' })
    assert.lengthOf(after.data, 1)
  })

  test('customer.deleted carries the last snapshot', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'del@example.com' })
    await stripe.customers.del(customer.id)
    const deletions = await stripe.events.list({ type: 'customer.deleted' })
    const [event] = deletions.data
    if (event?.type !== 'customer.deleted') return assert.fail('expected a customer.deleted event')
    assert.equal(event.data.object.id, customer.id)
    assert.equal(event.data.object.email, 'del@example.com')
  })

  test('filters by type, types[], wildcard and created; paginates', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'f@example.com' })
    await stripe.customers.update(customer.id, { name: 'F' })
    await stripe.customers.update(customer.id, { name: 'G' })
    await stripe.customers.del(customer.id)

    const types = (params: Stripe.EventListParams) =>
      stripe.events.list(params).then((list) => list.data.map((e) => e.type))
    assert.deepEqual(await types({}), [
      'customer.deleted',
      'customer.updated',
      'customer.updated',
      'customer.created',
    ])
    assert.deepEqual(await types({ types: ['customer.created', 'customer.deleted'] }), [
      'customer.deleted',
      'customer.created',
    ])
    assert.deepEqual(await types({ type: 'customer.*' }), [
      'customer.deleted',
      'customer.updated',
      'customer.updated',
      'customer.created',
    ])
    assert.deepEqual(await types({ type: 'invoice.paid' }), [])
    assert.lengthOf(await types({ created: { lt: customer.created } }), 0)
    assert.lengthOf(await types({ created: { gte: customer.created } }), 4)

    const seen: string[] = []
    for await (const event of stripe.events.list({ limit: 1 })) seen.push(event.type)
    assert.lengthOf(seen, 4)
  })

  test('only the last 30 days are visible', async ({ assert }) => {
    await stripe.customers.create({ email: 'old@example.com' })
    const before = await stripe.events.list()
    const [old] = before.data
    await sandbox.advanceClock(31 * 24 * 3600)
    await stripe.customers.create({ email: 'new@example.com' })
    const { data: visible } = await stripe.events.list()
    assert.lengthOf(visible, 1)
    assert.notEqual(visible[0].id, old.id)
    try {
      await stripe.events.retrieve(old.id)
      assert.fail('expected a 404')
    } catch (error) {
      assert.instanceOf(error, Stripe.errors.StripeInvalidRequestError)
      assert.equal((error as Stripe.errors.StripeError).code, 'resource_missing')
    }
  })

  test('retrieving an unknown event is a 404', async ({ assert }) => {
    await assert.rejects(
      () => stripe.events.retrieve('evt_missing'),
      /No such event: 'evt_missing'/
    )
  })
})
