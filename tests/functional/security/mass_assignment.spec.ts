import { test } from '@japa/runner'
import User from '#models/user'
import Project from '#models/project'
import MarketplaceAgent from '#models/marketplace_agent'
import billingConfig from '#config/billing'
import { appUrl } from '#config/app'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { UserFactory } from '#database/factories/user_factory'
import { agentOf, isolate, snapshot, world } from './helpers.js'

/*
| Mass assignment: every form and API that takes a body, sent with the fields
| an attacker would add. Only what the validators name is read; the rows and
| the prices at Stripe stay ours.
| Profile and the JSON profile: accounts/profile.spec.ts ("nobody can make
| themselves Premium..."); projects for someone else: projects/projects.spec.ts.
*/

/** Fields nobody may set through a request. */
function extras(victimId: number) {
  return {
    plan: 'premium',
    credits: 100_000,
    creditsBalanceCents: 100_000,
    credits_balance_cents: 100_000,
    slots: 50,
    deploySlots: 50,
    quantity: 50,
    stripeCustomerId: 'cus_attacker',
    stripe_customer_id: 'cus_attacker',
    creatorStripeAccountId: 'acct_attacker',
    creator_stripe_account_id: 'acct_attacker',
    creatorPayoutsEnabled: true,
    stripeAccountId: 'acct_attacker',
    price: '0.01',
    priceCents: 1,
    price_cents: 1,
    amount: 1,
    amountCents: 1,
    amount_total: 1,
    unit_amount: 1,
    currency: 'jpy',
    user_id: victimId,
    userId: victimId,
    creatorId: victimId,
    creator_id: victimId,
    customer: 'cus_attacker',
    success_url: 'https://evil.example/success',
    cancel_url: 'https://evil.example/cancel',
    metadata: { user_id: String(victimId), price_cents: '1' },
    isDeployed: true,
    is_deployed: true,
    isPublished: true,
    stripePriceId: 'price_attacker',
    stripeProductId: 'prod_attacker',
    id: 1,
  }
}

async function sessionOf(id: string) {
  return stripeClient().checkout.sessions.retrieve(id, { expand: ['line_items'] })
}

test.group('Security: mass assignment', (group) => {
  group.each.setup(() => isolate())
  group.each.timeout(60_000)

  test('registration: the new account is free, empty and has our own Stripe customer', async ({
    client,
    assert,
  }) => {
    const email = `mass-${Date.now()}@studio.test`
    const response = await client
      .post('/register')
      .form({
        ...extras(1),
        fullName: 'Mass Assign',
        email,
        password: 'password-1234',
        passwordConfirmation: 'password-1234',
      })
      .withCsrfToken()
      .redirects(0)
    response.assertHeader('location', '/projects')
    const user = await User.findByOrFail('email', email)
    assert.equal(user.plan, 'free')
    assert.equal(user.creditsBalanceCents, 0)
    assert.notEqual(user.stripeCustomerId, 'cus_attacker')
    assert.isNull(user.creatorStripeAccountId)
    assert.isFalse(user.creatorPayoutsEnabled)
  })

  test('profile, password, projects and deploys read only their own fields', async ({
    client,
    assert,
  }) => {
    const { alice, bob, project } = await world()
    const bobBefore = await snapshot(bob)
    const forged = extras(bob.id)
    for (const [method, url, body] of [
      ['PUT', '/profile', { ...forged, fullName: 'Alice Renamed', email: alice.email }],
      ['PATCH', '/api/me', { ...forged, fullName: 'Alice Renamed', email: alice.email }],
      [
        'PUT',
        '/profile/password',
        {
          ...forged,
          currentPassword: 'secret-password',
          password: 'new-password-1',
          passwordConfirmation: 'new-password-1',
        },
      ],
      ['PATCH', `/api/projects/${project.id}`, { ...forged, name: 'renamed' }],
      ['DELETE', `/api/projects/${project.slug}/deploy`, forged],
      ['POST', `/api/projects/${project.slug}/deploy`, forged],
    ] as const) {
      const call = client[method.toLowerCase() as 'put' | 'patch' | 'post' | 'delete'](url)
        .loginAs(alice)
        .withCsrfToken()
        .redirects(0)
      const response = await (url.startsWith('/api') ? call.json(body) : call.form(body))
      assert.include([200, 201, 302], response.status(), `${method} ${url}: ${response.text()}`)
    }
    const fresh = await User.findOrFail(alice.id)
    assert.equal(fresh.fullName, 'Alice Renamed')
    assert.equal(fresh.plan, 'free')
    assert.equal(fresh.creditsBalanceCents, 0)
    assert.isNull(fresh.stripeCustomerId)
    assert.isNull(fresh.creatorStripeAccountId)
    assert.isFalse(fresh.creatorPayoutsEnabled)
    // A new project is its creator's (a free user with none yet), under its own id, not deployed.
    const carol = await UserFactory.create()
    const store = await client
      .post('/api/projects')
      .json({ ...forged, name: 'mass-assigned' })
      .loginAs(carol)
      .withCsrfToken()
    store.assertStatus(201)
    const created = await Project.findByOrFail('name', 'mass-assigned')
    assert.equal(created.userId, carol.id)
    assert.notEqual(created.id, 1)
    assert.isFalse(created.isDeployed)
    const renamed = await Project.findOrFail(project.id)
    assert.equal(renamed.userId, alice.id)
    assert.equal(renamed.name, 'renamed')
    // Bob is untouched.
    assert.deepEqual(await snapshot(bob), bobBefore)
  })

  test('checkouts are priced, quantified and addressed by us, whatever the body says', async ({
    client,
    assert,
  }) => {
    const { alice, bob } = await world()
    const forged = extras(bob.id)
    const origin = new URL(String(appUrl)).origin
    const paid = await agentOf(null, { pricingType: 'one_time', priceCents: 2500 }, 'Paid agent')

    const cases = [
      {
        url: '/api/billing/checkout',
        body: { ...forged, kind: 'deploy_slot' },
        amount: billingConfig.deploySlot.priceCents,
        kind: 'deploy_slot',
      },
      {
        url: '/api/billing/checkout',
        body: { ...forged, kind: 'credits', packageKey: 'large' },
        amount: billingConfig.creditPackages.find((pack) => pack.key === 'large')!.amountCents,
        kind: 'credits',
      },
      {
        url: '/api/billing/credits/purchase',
        body: { ...forged, package: 'small' },
        amount: billingConfig.creditPackages.find((pack) => pack.key === 'small')!.amountCents,
        kind: 'credits',
      },
      {
        url: '/api/projects/deployment/purchase-slot',
        body: forged,
        amount: billingConfig.deploySlot.priceCents,
        kind: 'deploy_slot',
      },
      {
        url: '/api/billing/checkout',
        body: { ...forged, kind: 'premium' },
        amount: billingConfig.premium.priceCents,
        kind: 'premium',
      },
      {
        url: `/api/marketplace/agents/${paid.slug}/purchase`,
        body: forged,
        amount: 2500,
        kind: 'agent',
      },
    ]
    for (const { url, body, amount, kind } of cases) {
      const response = await client.post(url).json(body).loginAs(alice).withCsrfToken()
      assert.include([200, 201], response.status(), `${url}: ${response.text()}`)
      const data = response.body().data
      const id: string = data.id ?? data.checkout?.id
      const session = await sessionOf(id)
      const label = `${url} (${kind})`
      assert.equal(session.amount_total, amount, label)
      assert.equal(session.currency, billingConfig.currency, label)
      assert.deepEqual(
        session.line_items?.data.map((line) => line.quantity),
        [1],
        label
      )
      assert.equal(session.metadata?.kind, kind, label)
      assert.equal(session.metadata?.user_id, String(alice.id), label)
      const fresh = await User.findOrFail(alice.id)
      assert.equal(session.customer, fresh.stripeCustomerId, label)
      assert.notEqual(fresh.stripeCustomerId, 'cus_attacker', label)
      assert.isTrue(session.success_url?.startsWith(`${origin}/`), label)
      assert.isTrue(session.cancel_url?.startsWith(`${origin}/`), label)
    }
    const fresh = await User.findOrFail(alice.id)
    assert.equal(fresh.plan, 'free')
    assert.equal(fresh.creditsBalanceCents, 0)
  })

  test('creator forms: the agent stays the creator’s, priced as typed, with our Stripe ids', async ({
    client,
    assert,
  }) => {
    const { alice, bob } = await world()
    const forged = extras(bob.id)
    const created = await client
      .post('/api/creator/agents')
      .json({ ...forged, name: 'Mass agent', pricingType: 'monthly', price: '12.00' })
      .loginAs(alice)
      .withCsrfToken()
    created.assertStatus(201)
    const agent = await MarketplaceAgent.findOrFail(created.body().data.id)
    assert.equal(agent.creatorId, alice.id)
    assert.equal(agent.priceCents, 1200)
    assert.notEqual(agent.stripePriceId, 'price_attacker')
    assert.notEqual(agent.stripeProductId, 'prod_attacker')
    const price = await stripeClient().prices.retrieve(agent.stripePriceId!)
    assert.equal(price.unit_amount, 1200)

    const repriced = await client
      .put(`/api/creator/agents/${agent.id}/price`)
      .json({ ...forged, pricingType: 'monthly', price: '15.00' })
      .loginAs(alice)
      .withCsrfToken()
    repriced.assertStatus(200)
    await agent.refresh()
    assert.equal(agent.creatorId, alice.id)
    assert.equal(agent.priceCents, 1500)
    const newPrice = await stripeClient().prices.retrieve(agent.stripePriceId!)
    assert.equal(newPrice.unit_amount, 1500)

    // Connect: the account is the one Stripe created, not one named in the body.
    const connect = await client
      .post('/api/billing/connect')
      .json(forged)
      .loginAs(alice)
      .withCsrfToken()
    connect.assertStatus(201)
    const fresh = await User.findOrFail(alice.id)
    assert.match(fresh.creatorStripeAccountId ?? '', /^acct_/)
    assert.notEqual(fresh.creatorStripeAccountId, 'acct_attacker')
    assert.equal(connect.body().data.stripeAccountId, fresh.creatorStripeAccountId)
    assert.isFalse(fresh.creatorPayoutsEnabled)
    assert.isTrue(
      stripeSandbox()
        .store.list('account')
        .some((a) => a.id === fresh.creatorStripeAccountId)
    )
  })

  test('subscription actions and the usage sync ignore plan and credit fields', async ({
    client,
    assert,
  }) => {
    const { alice } = await world()
    const before = await snapshot(alice)
    for (const url of ['/api/billing/cancel', '/api/billing/resume', '/api/billing/usage/sync']) {
      const response = await client
        .post(url)
        .json({ ...extras(alice.id), mode: 'period_end' })
        .loginAs(alice)
        .withCsrfToken()
      // No subscription to cancel or resume (409), or a sync that adds usage only.
      assert.notEqual(response.status(), 500, `${url}: ${response.text()}`)
    }
    const after = await snapshot(alice)
    assert.deepEqual(after.user, before.user)
    assert.deepEqual(after.ledger, before.ledger)
    assert.deepEqual(after.subscriptions, before.subscriptions)
  })
})
