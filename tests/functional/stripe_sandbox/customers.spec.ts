import { test } from '@japa/runner'
import Stripe from 'stripe'
import { StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import { TEST_KEY, sdk, useSandbox } from './helpers.js'

test.group('Stripe sandbox: customers', (group) => {
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

  test('creates and retrieves a customer through the real SDK', async ({ assert }) => {
    const created = await stripe.customers.create({
      email: 'ada@example.com',
      name: 'Ada Lovelace',
      metadata: { user_id: '42' },
      address: { city: 'London', country: 'GB' },
      preferred_locales: ['en', 'fr'],
    })
    assert.match(created.id, /^cus_[0-9A-Za-z]{14}$/)
    assert.equal(created.object, 'customer')
    assert.isFalse(created.livemode)
    assert.equal(created.email, 'ada@example.com')
    assert.deepEqual(created.metadata, { user_id: '42' })
    assert.deepEqual(created.address, {
      city: 'London',
      country: 'GB',
      line1: null,
      line2: null,
      postal_code: null,
      state: null,
    })
    assert.deepEqual(created.preferred_locales, ['en', 'fr'])
    assert.closeTo(created.created, Math.floor(Date.now() / 1000), 5)
    // Every always-present field of the endive Customer, null where unset.
    for (const field of [
      'balance',
      'default_source',
      'description',
      'invoice_settings',
      'shipping',
      'currency',
      'discount',
      'phone',
      'test_clock',
      'tax_exempt',
      'delinquent',
      'invoice_prefix',
      'next_invoice_sequence',
    ]) {
      assert.property(created, field)
    }
    assert.isNull(created.description)
    assert.isNull(created.shipping)
    assert.equal(created.balance, 0)
    assert.notProperty(created, 'subscriptions')
    assert.match(created.lastResponse.requestId, /^req_/)

    const fetched = await stripe.customers.retrieve(created.id)
    assert.deepEqual({ ...fetched }, { ...created })
  })

  test('updates fields, unsets with empty strings and merges metadata', async ({ assert }) => {
    const customer = await stripe.customers.create({
      email: 'grace@example.com',
      description: 'first',
      metadata: { keep: 'yes', drop: 'me' },
    })
    const updated = await stripe.customers.update(customer.id, {
      name: 'Grace Hopper',
      description: '',
      metadata: { drop: '', added: 'new' },
      balance: -500,
    })
    assert.equal(updated.name, 'Grace Hopper')
    assert.isNull(updated.description)
    assert.equal(updated.balance, -500)
    assert.deepEqual(updated.metadata, { keep: 'yes', added: 'new' })

    const cleared = await stripe.customers.update(customer.id, { metadata: '' })
    assert.deepEqual(cleared.metadata, {})
  })

  test('enforces metadata limits', async ({ assert }) => {
    const tooMany = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']))
    await assert.rejects(
      () => stripe.customers.create({ metadata: tooMany }),
      Stripe.errors.StripeInvalidRequestError
    )
    try {
      await stripe.customers.create({ metadata: { ['x'.repeat(41)]: 'v' } })
      assert.fail('expected a 400')
    } catch (error) {
      assert.instanceOf(error, Stripe.errors.StripeInvalidRequestError)
      assert.equal((error as Stripe.errors.StripeError).statusCode, 400)
      assert.match((error as Error).message, /40 characters/)
    }
    await assert.rejects(
      () => stripe.customers.create({ metadata: { k: 'v'.repeat(501) } }),
      Stripe.errors.StripeInvalidRequestError
    )
  })

  test('deletes a customer and retrieves the tombstone', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'gone@example.com' })
    const deleted = await stripe.customers.del(customer.id)
    assert.deepEqual({ ...deleted }, { id: customer.id, object: 'customer', deleted: true })
    const again = await stripe.customers.retrieve(customer.id)
    assert.isTrue(again.deleted)
    await assert.rejects(
      () => stripe.customers.update(customer.id, { name: 'x' }),
      /No such customer/
    )
    await assert.rejects(() => stripe.customers.del(customer.id), /No such customer/)
  })

  test('lists newest first with cursors and auto-pagination', async ({ assert }) => {
    sandbox.reset()
    const ids: string[] = []
    for (let i = 0; i < 7; i++) {
      const customer = await stripe.customers.create({ email: `page${i}@example.com` })
      ids.push(customer.id)
    }
    const newestFirst = [...ids].reverse()

    const first = await stripe.customers.list({ limit: 3 })
    assert.equal(first.object, 'list')
    assert.equal(first.url, '/v1/customers')
    assert.isTrue(first.has_more)
    assert.deepEqual(
      first.data.map((c) => c.id),
      newestFirst.slice(0, 3)
    )

    const second = await stripe.customers.list({ limit: 3, starting_after: first.data[2].id })
    assert.deepEqual(
      second.data.map((c) => c.id),
      newestFirst.slice(3, 6)
    )
    const last = await stripe.customers.list({ limit: 3, starting_after: second.data[2].id })
    assert.deepEqual(
      last.data.map((c) => c.id),
      newestFirst.slice(6)
    )
    assert.isFalse(last.has_more)

    const before = await stripe.customers.list({ limit: 2, ending_before: ids[0] })
    assert.deepEqual(
      before.data.map((c) => c.id),
      [ids[2], ids[1]]
    )
    assert.isTrue(before.has_more)

    const all: string[] = []
    for await (const customer of stripe.customers.list({ limit: 2 })) all.push(customer.id)
    assert.deepEqual(all, newestFirst)

    const backwards: string[] = []
    for await (const customer of stripe.customers.list({ limit: 2, ending_before: ids[0] }))
      backwards.push(customer.id)
    assert.deepEqual(backwards, ids.slice(1))

    const defaultPage = await stripe.customers.list()
    assert.lengthOf(defaultPage.data, 7)
    await assert.rejects(() => stripe.customers.list({ limit: 101 }), /limit/)
    await assert.rejects(
      () => stripe.customers.list({ starting_after: 'cus_missing' }),
      /No such customer/
    )
  })

  test('filters the list by email and created', async ({ assert }) => {
    const a = await stripe.customers.create({ email: 'filter-a@example.com' })
    await stripe.customers.create({ email: 'filter-b@example.com' })
    const byEmail = await stripe.customers.list({ email: 'filter-a@example.com' })
    assert.deepEqual(
      byEmail.data.map((c) => c.id),
      [a.id]
    )
    const future = await stripe.customers.list({ created: { gt: sandbox.now() + 10 } })
    assert.lengthOf(future.data, 0)
    const recent = await stripe.customers.list({
      created: { gte: a.created },
      email: 'filter-b@example.com',
    })
    assert.lengthOf(recent.data, 1)
  })

  test('expands includable and nested fields, and rejects bad expand paths', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'expand@example.com' })
    const expanded = await stripe.customers.retrieve(customer.id, {
      expand: ['subscriptions', 'tax', 'invoice_settings.default_payment_method'],
    })
    if (expanded.deleted) return assert.fail('customer should not be deleted')
    assert.deepInclude(expanded.subscriptions, { object: 'list', data: [], has_more: false })
    assert.equal(expanded.subscriptions?.url, `/v1/customers/${customer.id}/subscriptions`)
    assert.equal(expanded.tax?.automatic_tax, 'unrecognized_location')
    assert.isNull(expanded.invoice_settings.default_payment_method)

    const list = await stripe.customers.list({ email: 'expand@example.com', expand: ['data.tax'] })
    assert.property(list.data[0], 'tax')

    const created = await stripe.customers.create({
      email: 'expand2@example.com',
      expand: ['tax_ids'],
    })
    assert.equal(created.tax_ids?.object, 'list')

    await assert.rejects(
      () => stripe.customers.retrieve(customer.id, { expand: ['email'] }),
      /cannot be expanded \(email\)/
    )
    await assert.rejects(() => stripe.customers.list({ expand: ['tax'] }), /data\.tax/)

    // A rejected expand is a validation error: nothing was created.
    const countBad = async () => {
      const matching = await stripe.customers.list({ email: 'expand-bad@example.com' })
      return matching.data.length
    }
    const before = await countBad()
    await assert.rejects(
      () => stripe.customers.create({ email: 'expand-bad@example.com', expand: ['name'] }),
      /cannot be expanded/
    )
    assert.equal(await countBad(), before)
  })

  test('answers 404 resource_missing for an unknown id', async ({ assert }) => {
    try {
      await stripe.customers.retrieve('cus_doesnotexist')
      assert.fail('expected a 404')
    } catch (error) {
      assert.instanceOf(error, Stripe.errors.StripeInvalidRequestError)
      const stripeError = error as Stripe.errors.StripeError
      assert.equal(stripeError.statusCode, 404)
      assert.equal(stripeError.code, 'resource_missing')
      assert.equal(stripeError.param, 'id')
      assert.equal(stripeError.message, "No such customer: 'cus_doesnotexist'")
      assert.match(stripeError.requestId ?? '', /^req_/)
    }
  })

  test('rejects unknown params, bad integers and unknown references', async ({ assert }) => {
    try {
      await stripe.customers.create({
        email: 'x@example.com',
        foo: 'bar',
      } as Stripe.CustomerCreateParams)
      assert.fail('expected a 400')
    } catch (error) {
      const stripeError = error as Stripe.errors.StripeError
      assert.instanceOf(error, Stripe.errors.StripeInvalidRequestError)
      assert.equal(stripeError.code, 'parameter_unknown')
      assert.equal(stripeError.param, 'foo')
      assert.equal(stripeError.message, 'Received unknown parameter: foo')
    }
    try {
      await stripe.customers.create({
        address: { city: 'X', planet: 'Mars' } as Stripe.AddressParam,
      })
      assert.fail('expected a 400')
    } catch (error) {
      assert.equal((error as Stripe.errors.StripeError).param, 'address[planet]')
    }
    try {
      await stripe.customers.create({ balance: 'lots' as unknown as number })
      assert.fail('expected a 400')
    } catch (error) {
      assert.equal((error as Stripe.errors.StripeError).code, 'parameter_invalid_integer')
      assert.equal((error as Stripe.errors.StripeError).param, 'balance')
    }
    try {
      await stripe.customers.create({ payment_method: 'pm_nope' })
      assert.fail('expected a 400')
    } catch (error) {
      const stripeError = error as Stripe.errors.StripeError
      assert.equal(stripeError.statusCode, 400)
      assert.equal(stripeError.code, 'resource_missing')
      assert.equal(stripeError.param, 'payment_method')
    }
  })

  test('answers 401 for a missing or invalid API key', async ({ assert }) => {
    const bad = new Stripe('pk_test_1234abcd', {
      host: '127.0.0.1',
      port: sandbox.port,
      protocol: 'http',
      telemetry: false,
      maxNetworkRetries: 0,
    })
    try {
      await bad.customers.list()
      assert.fail('expected a 401')
    } catch (error) {
      assert.instanceOf(error, Stripe.errors.StripeAuthenticationError)
      assert.equal((error as Stripe.errors.StripeError).statusCode, 401)
      assert.equal((error as Error).message, 'Invalid API Key provided: pk_test_****abcd')
    }

    const missing = await fetch(`${sandbox.url}/v1/customers`)
    assert.equal(missing.status, 401)
    const body = (await missing.json()) as { error: { type: string; message: string } }
    assert.equal(body.error.type, 'invalid_request_error')
    assert.match(body.error.message, /^You did not provide an API key/)

    const basic = await fetch(`${sandbox.url}/v1/customers?limit=1`, {
      headers: { Authorization: `Basic ${Buffer.from(`${TEST_KEY}:`).toString('base64')}` },
    })
    assert.equal(basic.status, 200)

    const restricted = await StripeSandbox.start({ port: 0, apiKeys: ['sk_test_only_this_one'] })
    try {
      await assert.rejects(
        () => sdk(restricted).customers.list(),
        Stripe.errors.StripeAuthenticationError
      )
      const ok = await new Stripe(
        'sk_test_only_this_one',
        restricted.stripeConfig({ maxNetworkRetries: 0 })
      ).customers.list()
      assert.lengthOf(ok.data, 0)
    } finally {
      await restricted.stop()
    }
  })
})

test.group('Stripe sandbox: wire protocol', (group) => {
  let sandbox: StripeSandbox
  const auth = { Authorization: `Bearer ${TEST_KEY}` }

  group.setup(async () => {
    sandbox = await StripeSandbox.start({ port: 0 })
    return () => sandbox.stop()
  })

  test('unknown URLs get a Stripe-style 404 JSON object with the standard headers', async ({
    assert,
  }) => {
    const response = await fetch(`${sandbox.url}/v1/foo`, { method: 'POST', headers: auth })
    assert.equal(response.status, 404)
    assert.equal(response.headers.get('content-type'), 'application/json')
    assert.match(response.headers.get('request-id') ?? '', /^req_[0-9A-Za-z]+$/)
    assert.equal(response.headers.get('stripe-version'), '2026-10-28.endive')
    const body = (await response.json()) as { error: { type: string; message: string } }
    assert.deepEqual(body.error, {
      type: 'invalid_request_error',
      message: 'Unrecognized request URL (POST: /v1/foo).',
    })

    const wrongMethod = await fetch(`${sandbox.url}/v1/events/evt_1`, {
      method: 'DELETE',
      headers: auth,
    })
    assert.equal(wrongMethod.status, 404)
  })

  test('echoes Stripe-Version and Idempotency-Key', async ({ assert }) => {
    const response = await fetch(`${sandbox.url}/v1/customers`, {
      method: 'POST',
      headers: {
        ...auth,
        'Content-Type': 'application/x-www-form-urlencoded',
        'Stripe-Version': '2025-03-31.basil',
        'Idempotency-Key': 'echo-me',
      },
      body: 'email=echo%40example.com',
    })
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('stripe-version'), '2025-03-31.basil')
    assert.equal(response.headers.get('idempotency-key'), 'echo-me')
  })

  test('decodes bracketed form bodies, percent-encoded or not, with indexed and [] arrays', async ({
    assert,
  }) => {
    const body = [
      'email=form%40example.com',
      'metadata%5Bplan%5D=pro',
      'metadata[note]=a+b%26c',
      'preferred_locales[]=en',
      'preferred_locales[]=de',
      'invoice_settings[custom_fields][0][name]=VAT',
      'invoice_settings[custom_fields][0][value]=123',
      'balance=250',
    ].join('&')
    const response = await fetch(`${sandbox.url}/v1/customers`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' },
      body,
    })
    const customer = (await response.json()) as Stripe.Customer
    assert.equal(response.status, 200)
    assert.deepEqual(customer.metadata, { plan: 'pro', note: 'a b&c' })
    assert.deepEqual(customer.preferred_locales, ['en', 'de'])
    assert.deepEqual(customer.invoice_settings.custom_fields, [{ name: 'VAT', value: '123' }])
    assert.strictEqual(customer.balance, 250)

    const query = await fetch(`${sandbox.url}/v1/customers?email=form%40example.com&limit=1`, {
      headers: auth,
    })
    const list = (await query.json()) as Stripe.ApiList<Stripe.Customer>
    assert.deepEqual(
      list.data.map((c) => c.id),
      [customer.id]
    )
  })

  test('reports missing required params and bad booleans', async ({ assert }) => {
    const response = await fetch(`${sandbox.url}/v1/webhook_endpoints`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'enabled_events[0]=*',
    })
    assert.equal(response.status, 400)
    const body = (await response.json()) as { error: Record<string, string> }
    assert.equal(body.error.code, 'parameter_missing')
    assert.equal(body.error.param, 'url')
    assert.equal(body.error.message, 'Missing required param: url.')

    const bool = await fetch(`${sandbox.url}/v1/customers`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'validate=maybe',
    })
    assert.equal(bool.status, 400)
  })
})
