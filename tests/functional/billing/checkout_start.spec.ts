import { test } from '@japa/runner'
import testUtils from '@adonisjs/core/services/test_utils'
import { UserFactory } from '#database/factories/user_factory'
import billingConfig from '#config/billing'
import { appUrl } from '#config/app'
import rateLimits from '#config/rate_limits'
import { flashed, flashedFieldErrors } from '#tests/support/http'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'

/**
 * Starting a Checkout: the session Stripe (the sandbox) holds must carry our
 * price, our metadata and APP_URL return URLs, whatever the request says.
 */
test.group('Billing: starting a checkout', (group) => {
  group.each.setup(() => testUtils.db().withGlobalTransaction())

  test('Premium opens a subscription Checkout priced from config, with our metadata', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const response = await client
      .post('/billing/checkout')
      .form({ kind: 'premium' })
      .header('X-Forwarded-Host', 'evil.example')
      .header('X-Forwarded-Proto', 'https')
      .loginAs(user)
      .withCsrfToken()
      .withInertia()
      .redirects(0)
    response.assertStatus(409)
    const location = response.header('x-inertia-location') ?? ''
    assert.match(location, new RegExp(`^${stripeSandbox().url}/c/pay/cs_test_`))

    const sessionId = location.split('/').pop()!
    const session = await stripeClient().checkout.sessions.retrieve(sessionId, {
      expand: ['line_items'],
    })
    await user.refresh()
    assert.equal(session.mode, 'subscription')
    assert.equal(session.customer, user.stripeCustomerId)
    assert.equal(session.client_reference_id, String(user.id))
    assert.deepEqual(session.metadata, {
      kind: 'premium',
      user_id: String(user.id),
      price_cents: String(billingConfig.premium.priceCents),
    })
    assert.equal(session.amount_total, billingConfig.premium.priceCents)
    assert.equal(session.line_items?.data[0].price?.recurring?.interval, 'month')
    assert.equal(
      session.success_url,
      `${new URL(String(appUrl)).origin}/billing/checkout/success?session_id={CHECKOUT_SESSION_ID}`
    )
    assert.equal(session.cancel_url, `${new URL(String(appUrl)).origin}/billing?checkout=canceled`)
  })

  test('a credit pack and a deploy slot open payment Checkouts; the API answers with the URL', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const pack = billingConfig.creditPackages[1]
    const credits = await client
      .post('/api/billing/checkout')
      .json({ kind: 'credits', packageKey: pack.key, amountCents: 1 })
      .loginAs(user)
      .withCsrfToken()
    credits.assertStatus(201)
    const slot = await client
      .post('/api/billing/checkout')
      .json({ kind: 'deploy_slot' })
      .loginAs(user)
      .withCsrfToken()
    slot.assertStatus(201)

    const stripe = stripeClient()
    const creditSession = await stripe.checkout.sessions.retrieve(credits.body().data.id)
    assert.equal(creditSession.url, credits.body().data.url)
    assert.equal(creditSession.mode, 'payment')
    assert.equal(creditSession.amount_total, pack.amountCents)
    assert.deepEqual(creditSession.metadata, {
      kind: 'credits',
      user_id: String(user.id),
      package_key: pack.key,
      price_cents: String(pack.amountCents),
    })
    const slotSession = await stripe.checkout.sessions.retrieve(slot.body().data.id)
    assert.equal(slotSession.amount_total, billingConfig.deploySlot.priceCents)
    assert.deepEqual(slotSession.metadata, {
      kind: 'deploy_slot',
      user_id: String(user.id),
      price_cents: String(billingConfig.deploySlot.priceCents),
    })
  })

  test('the same purchase form sent twice reaches one Checkout; once paid, it is refused', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const post = (body: Record<string, string>) =>
      client
        .post('/api/billing/checkout')
        .json({ kind: 'credits', packageKey: 'small', ...body })
        .loginAs(user)
        .withCsrfToken()

    // A double click: two requests with the form's key, at once and again after.
    const [first, second] = await Promise.all([
      post({ requestKey: 'form-key-0001' }),
      post({ requestKey: 'form-key-0001' }),
    ])
    const third = await post({ requestKey: 'form-key-0001' })
    for (const response of [first, second, third]) response.assertStatus(201)
    const id = first.body().data.id
    assert.equal(second.body().data.id, id)
    assert.equal(third.body().data.id, id)
    await user.refresh()
    const listed = await stripeClient().checkout.sessions.list({
      customer: user.stripeCustomerId!,
      limit: 100,
    })
    assert.deepEqual(
      listed.data.map((session) => session.id),
      [id]
    )

    // The same key for another package, or another key: another purchase.
    const large = await post({ requestKey: 'form-key-0001', packageKey: 'large' })
    const other = await post({ requestKey: 'form-key-0002' })
    assert.notEqual(large.body().data.id, id)
    assert.notEqual(other.body().data.id, id)

    // The API's Idempotency-Key header works the same way.
    const viaHeader = () =>
      client
        .post('/api/billing/credits/purchase')
        .json({ package: 'medium' })
        .header('Idempotency-Key', 'api-key-0001')
        .loginAs(user)
        .withCsrfToken()
    const [one, two] = [await viaHeader(), await viaHeader()]
    assert.equal(one.body().data.id, two.body().data.id)

    // Once paid, the same form is refused instead of opening a second payment.
    const { completeCheckoutSession } =
      await import('../../../sandbox/stripe/resources/checkout_sessions.js')
    const { error } = completeCheckoutSession(stripeSandbox().context, id, {
      card: { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' },
    })
    assert.isNull(error ?? null)
    const again = await post({ requestKey: 'form-key-0001' })
    again.assertStatus(409)
    assert.equal(again.body().code, 'E_CHECKOUT_CONFLICT')
    assert.match(again.body().error, /already paid\. Reload the page to buy again/)

    // A malformed key is a 422 naming the field; nothing is created.
    const before = await stripeClient().checkout.sessions.list({
      customer: user.stripeCustomerId!,
      limit: 100,
    })
    const bad = await post({ requestKey: 'not a key!' })
    bad.assertStatus(422)
    assert.equal(bad.body().errors[0].field, 'requestKey')
    const after = await stripeClient().checkout.sessions.list({
      customer: user.stripeCustomerId!,
      limit: 100,
    })
    assert.equal(after.data.length, before.data.length)
  })

  test('the pages give each render a purchase key that their forms send', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const page = () => client.get('/billing').loginAs(user).withInertia()
    const [one, two] = [await page(), await page()]
    const key = one.inertiaProps.purchaseKey as string
    assert.match(key, /^[A-Za-z0-9_-]{8,100}$/)
    assert.notEqual(two.inertiaProps.purchaseKey, key)

    const submit = () =>
      client
        .post('/billing/checkout')
        .form({ kind: 'deploy_slot', requestKey: key })
        .loginAs(user)
        .withCsrfToken()
        .withInertia()
        .redirects(0)
    const [first, second] = [await submit(), await submit()]
    assert.equal(first.header('x-inertia-location'), second.header('x-inertia-location'))
    assert.match(first.header('x-inertia-location') ?? '', /\/c\/pay\/cs_test_/)
  })

  test('refuses an unknown kind or credit package with a clear error', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const api = await client
      .post('/api/billing/checkout')
      .json({ kind: 'credits', packageKey: 'huge' })
      .loginAs(user)
      .withCsrfToken()
    api.assertStatus(422)
    assert.equal(api.body().errors[0].field, 'packageKey')

    const noKind = await client
      .post('/api/billing/checkout')
      .json({ kind: 'gold' })
      .loginAs(user)
      .withCsrfToken()
    noKind.assertStatus(422)

    const page = await client
      .post('/billing/checkout')
      .form({ kind: 'credits' })
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    page.assertStatus(302)
    assert.property(flashedFieldErrors(page), 'packageKey')
  })

  test('the return page shows a paid checkout, and refuses one of another user', async ({
    client,
    assert,
  }) => {
    const [buyer, other] = await UserFactory.createMany(2)
    const started = await client
      .post('/api/billing/checkout')
      .json({ kind: 'deploy_slot' })
      .loginAs(buyer)
      .withCsrfToken()
    const { completeCheckoutSession } =
      await import('../../../sandbox/stripe/resources/checkout_sessions.js')
    const { error } = completeCheckoutSession(stripeSandbox().context, started.body().data.id, {
      card: { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' },
    })
    assert.isNull(error)

    const page = await client
      .get(`/billing/checkout/success?session_id=${started.body().data.id}`)
      .loginAs(buyer)
      .withInertia()
    page.assertStatus(200)
    page.assertInertiaComponent('billing/success')
    assert.deepInclude(page.inertiaProps, {
      checkout: {
        id: started.body().data.id,
        kind: 'deploy_slot',
        status: 'complete',
        paymentStatus: 'paid',
        amountTotalCents: billingConfig.deploySlot.priceCents,
        currency: billingConfig.currency,
      },
    })

    const stranger = await client
      .get(`/billing/checkout/success?session_id=${started.body().data.id}`)
      .loginAs(other)
      .redirects(0)
    stranger.assertHeader('location', '/billing')
    assert.equal(
      flashed(stranger, 'error'),
      'We could not find that checkout. Nothing was charged by this page.'
    )
  })

  test('Stripe being down gives a clear message and creates nothing', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const listed = await stripeClient().checkout.sessions.list({ limit: 100 })
    const before = listed.data.length
    stripeSandbox().failNext({
      path: '/v1/checkout/sessions',
      method: 'POST',
      status: 500,
      count: 10,
    })
    try {
      const response = await client
        .post('/api/billing/checkout')
        .json({ kind: 'premium' })
        .loginAs(user)
        .withCsrfToken()
      response.assertStatus(503)
      assert.match(response.body().error, /Payments are temporarily unavailable/)
    } finally {
      stripeSandbox().clearFaults()
    }
    const relisted = await stripeClient().checkout.sessions.list({ limit: 100 })
    assert.equal(relisted.data.length, before)
  })

  test('starting checkouts is rate-limited per user, on the page and the API routes alike', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const statuses: number[] = []
    for (let n = 0; n < rateLimits.purchase.requests + 1; n++) {
      const response = await client
        .post(n % 2 === 0 ? '/api/billing/checkout' : '/api/billing/credits/purchase')
        .json(n % 2 === 0 ? { kind: 'deploy_slot' } : { package: 'small' })
        .loginAs(user)
        .withCsrfToken()
      statuses.push(response.status())
    }
    assert.deepEqual(
      statuses.slice(0, -1),
      statuses.slice(0, -1).map(() => 201)
    )
    assert.equal(statuses.at(-1), 429)
  })
})
