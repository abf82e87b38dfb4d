import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import User from '#models/user'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { flashed } from '#tests/support/http'
import { buyer, resetData } from '../marketplace/helpers.js'
import { completeOnboarding } from '../../../sandbox/stripe/resources/accounts.js'

/** Every Connect account the sandbox holds for this user (by the metadata our service sets). */
async function sandboxAccountsOf(user: User) {
  const listed = await stripeClient().accounts.list({ limit: 100 })
  return listed.data.filter((account) => account.metadata?.user_id === String(user.id))
}

test.group('Creator onboarding: Connect account links', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('POST /api/billing/connect creates one Express account and answers a fresh link each time', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const first = await client.post('/api/billing/connect').loginAs(user).withCsrfToken()
    first.assertStatus(201)
    const { url, stripeAccountId, expiresAt } = first.body().data
    assert.match(stripeAccountId, /^acct_/)
    assert.isTrue(url.startsWith(`${stripeSandbox().url}/setup/e/${stripeAccountId}/`))
    assert.isAbove(Date.parse(expiresAt), Date.now())

    const account = await stripeClient().accounts.retrieve(stripeAccountId)
    assert.equal(account.type, 'express')
    assert.equal(account.email, user.email)
    const fresh = await User.findOrFail(user.id)
    assert.equal(fresh.creatorStripeAccountId, stripeAccountId)
    assert.isFalse(fresh.creatorPayoutsEnabled)
    const row = await db.from('creator_accounts').where('user_id', user.id).firstOrFail()
    assert.equal(row.stripe_account_id, stripeAccountId)

    const second = await client.post('/api/billing/connect').loginAs(user).withCsrfToken()
    second.assertStatus(201)
    assert.equal(second.body().data.stripeAccountId, stripeAccountId, 'the same account')
    assert.notEqual(second.body().data.url, url, 'a new single-use link')
    assert.lengthOf(await sandboxAccountsOf(user), 1)

    const anonymous = await client.post('/api/billing/connect').withCsrfToken()
    anonymous.assertStatus(401)
  })

  test('the page button leaves for Stripe: an Inertia location, or a redirect for a plain form', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const inertia = await client
      .post('/creator/connect')
      .loginAs(user)
      .withCsrfToken()
      .withInertia()
      .redirects(0)
    inertia.assertStatus(409)
    const location = inertia.header('x-inertia-location') ?? ''
    const fresh = await User.findOrFail(user.id)
    assert.isTrue(
      location.startsWith(`${stripeSandbox().url}/setup/e/${fresh.creatorStripeAccountId}/`)
    )

    const plain = await client.post('/creator/connect').loginAs(user).withCsrfToken().redirects(0)
    plain.assertStatus(302)
    assert.isTrue((plain.header('location') ?? '').startsWith(`${stripeSandbox().url}/setup/e/`))
    assert.notEqual(plain.header('location'), location)
    assert.lengthOf(await sandboxAccountsOf(user), 1)
  })

  test('coming back from onboarding refreshes the status at once and says so', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const started = await client.post('/api/billing/connect').loginAs(user).withCsrfToken()
    const { stripeAccountId } = started.body().data
    // Onboarding finished in Stripe; its account.updated webhook has not been handled yet.
    stripeSandbox().holdWebhooks(true)
    completeOnboarding(stripeSandbox().context, stripeAccountId, 'complete')

    const back = await client
      .get('/creator/payouts')
      .qs({ onboarding: 'done' })
      .loginAs(user)
      .redirects(0)
    back.assertStatus(302)
    assert.equal(back.header('location'), '/creator')
    assert.match(flashed(back, 'success') ?? '', /Payouts are set up/)
    const fresh = await User.findOrFail(user.id)
    assert.isTrue(fresh.creatorPayoutsEnabled)

    const page = await client.get('/creator').loginAs(user).withInertia()
    page.assertInertiaComponent('creator/show')
    const connect = (page.inertiaProps as { connect: { state: string; stripeAccountId: string } })
      .connect
    assert.deepEqual(
      { state: connect.state, stripeAccountId: connect.stripeAccountId },
      { state: 'enabled', stripeAccountId }
    )
  })

  test('coming back with requirements still due keeps payouts off and says what to do', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const started = await client.post('/api/billing/connect').loginAs(user).withCsrfToken()
    completeOnboarding(
      stripeSandbox().context,
      started.body().data.stripeAccountId,
      'requirements_due'
    )

    const back = await client.get('/creator/payouts?onboarding=done').loginAs(user).redirects(0)
    back.assertStatus(302)
    assert.match(flashed(back, 'error') ?? '', /Stripe still needs some details/)
    const fresh = await User.findOrFail(user.id)
    assert.isFalse(fresh.creatorPayoutsEnabled)

    const api = await client.get('/api/billing/earnings').loginAs(user)
    api.assertStatus(200)
    assert.equal(api.body().data.connect.state, 'restricted')
    assert.include(api.body().data.connect.requirementsDue, 'external_account')

    // Without ?onboarding=done nothing is fetched: straight to the page.
    const plain = await client.get('/creator/payouts').loginAs(user).redirects(0)
    plain.assertStatus(302)
    assert.equal(plain.header('location'), '/creator')
    assert.isUndefined(flashed(plain, 'error'))
  })

  test('the refresh URL (an expired or used link) sends the creator to a new link for the same account', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const started = await client.post('/api/billing/connect').loginAs(user).withCsrfToken()
    const { url, stripeAccountId } = started.body().data

    const refreshed = await client.get('/creator/payouts/onboarding').loginAs(user).redirects(0)
    refreshed.assertStatus(302)
    const next = refreshed.header('location') ?? ''
    assert.isTrue(next.startsWith(`${stripeSandbox().url}/setup/e/${stripeAccountId}/`))
    assert.notEqual(next, url)
    assert.lengthOf(await sandboxAccountsOf(user), 1)
  })

  test('Stripe down: 503 with a clear message and no account recorded; a retry creates exactly one', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    // Every attempt (the SDK retries twice) fails before Stripe executes anything.
    stripeSandbox().failNext({ count: 3, status: 500, path: '/v1/accounts', method: 'POST' })
    const down = await client.post('/api/billing/connect').loginAs(user).withCsrfToken()
    down.assertStatus(503)
    assert.equal(down.body().code, 'E_STRIPE_UNAVAILABLE')
    assert.match(down.body().error, /temporarily unavailable/)
    const untouched = await User.findOrFail(user.id)
    assert.isNull(untouched.creatorStripeAccountId)
    assert.lengthOf(await db.from('creator_accounts').where('user_id', user.id), 0)
    assert.lengthOf(await sandboxAccountsOf(user), 0)

    // The page: a flash on the page the button was on, nothing half-done.
    stripeSandbox().failNext({ count: 3, status: 500, path: '/v1/accounts', method: 'POST' })
    const page = await client
      .post('/creator/connect')
      .loginAs(user)
      .withCsrfToken()
      .header('referer', '/creator')
      .redirects(0)
    page.assertStatus(302)
    assert.match(flashed(page, 'error') ?? '', /temporarily unavailable/)

    stripeSandbox().clearFaults()
    const retried = await client.post('/api/billing/connect').loginAs(user).withCsrfToken()
    retried.assertStatus(201)
    assert.lengthOf(await sandboxAccountsOf(user), 1)
    const fresh = await User.findOrFail(user.id)
    assert.equal(fresh.creatorStripeAccountId, retried.body().data.stripeAccountId)
  })

  test('the account link failing after the account exists: 503, the account kept for the retry', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    stripeSandbox().failNext({ count: 3, status: 500, path: '/v1/account_links', method: 'POST' })
    const down = await client.post('/api/billing/connect').loginAs(user).withCsrfToken()
    down.assertStatus(503)
    const kept = await User.findOrFail(user.id)
    assert.match(kept.creatorStripeAccountId ?? '', /^acct_/)

    const retried = await client.post('/api/billing/connect').loginAs(user).withCsrfToken()
    retried.assertStatus(201)
    assert.equal(retried.body().data.stripeAccountId, kept.creatorStripeAccountId)
    assert.lengthOf(await sandboxAccountsOf(user), 1)
  })
})
