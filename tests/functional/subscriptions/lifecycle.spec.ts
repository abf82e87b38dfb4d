import { test } from '@japa/runner'
import { runCli } from '#tests/support/cli'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import User from '#models/user'
import Subscription from '#models/subscription'
import StripeEvent from '#models/stripe_event'
import SubscriptionService from '#services/subscription_service'
import CheckoutService from '#services/checkout_service'
import StripeGateway from '#services/stripe_gateway'
import { type DateTime } from 'luxon'
import { UserFactory } from '#database/factories/user_factory'
import billingConfig from '#config/billing'
import { flashed } from '#tests/support/http'
import {
  FAILS_ON_RENEWAL,
  advancePeriod,
  pay,
  resetData,
  row,
  settle,
  startPremium,
  stripeClient,
  stripeNow,
  stripeSandbox,
  subscribe,
  remote,
  statusOf,
} from './helpers.js'

/** The real CLI in a child process (tests/support/cli.ts). */
const cli = (args: string[]) => runCli(args)

/** Expires the user's open Checkout Sessions in Stripe. */
async function truncateSessionsOf(user: User) {
  await user.refresh()
  const stripe = stripeClient()
  const open = await stripe.checkout.sessions.list({
    customer: user.stripeCustomerId!,
    status: 'open',
  })
  for (const session of open.data) await stripe.checkout.sessions.expire(session.id)
}

test.group('Subscriptions: the Premium lifecycle', (group) => {
  group.each.setup(() => resetData())
  group.each.teardown(() => resetData())

  test('subscribing through Checkout makes the user Premium and raises the limits', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const before = await client.get('/api/projects/deployment/limits').loginAs(user)
    assert.deepInclude(before.body().data, { plan: 'free', projects: { used: 0, limit: 1 } })

    const id = await subscribe(client, user)
    await user.refresh()
    assert.equal(user.plan, 'premium')
    const subscription = await row(id)
    assert.equal(subscription.status, 'active')
    assert.equal(subscription.userId, user.id)
    assert.isFalse(subscription.cancelAtPeriodEnd)
    assert.isNotNull(subscription.currentPeriodEnd)

    const limits = await client.get('/api/projects/deployment/limits').loginAs(user)
    assert.deepEqual(limits.body().data, {
      plan: 'premium',
      projects: { used: 0, limit: billingConfig.limits.premium.projects },
      deploys: {
        used: 0,
        limit: billingConfig.limits.premium.deploys,
        planLimit: billingConfig.limits.premium.deploys,
      },
      slots: { active: 0 },
    })

    const shown = await client.get('/api/billing/subscription').loginAs(user)
    shown.assertStatus(200)
    assert.equal(shown.body().data.plan, 'premium')
    assert.include(shown.body().data.subscription, {
      id,
      status: 'active',
      cancelAtPeriodEnd: false,
    })
  })

  test('the billing config lists prices, packages, limits and the grace period', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const response = await client.get('/api/billing/config').loginAs(user)
    response.assertStatus(200)
    assert.deepEqual(response.body().data, {
      currency: billingConfig.currency,
      premium: {
        amountCents: billingConfig.premium.priceCents,
        interval: 'month',
        pastDueGraceDays: billingConfig.premium.pastDueGraceDays,
      },
      creditPackages: billingConfig.creditPackages.map((pack) => ({
        key: pack.key,
        amountCents: pack.amountCents,
        credits: pack.amountCents,
      })),
      deploySlot: { amountCents: billingConfig.deploySlot.priceCents },
      limits: billingConfig.limits,
    })
    const anonymous = await client.get('/api/billing/config')
    anonymous.assertStatus(401)
  })

  test('a second Premium checkout is refused while one is live; an open one is reused', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const first = await client.post('/api/billing/subscribe').json({}).loginAs(user).withCsrfToken()
    first.assertStatus(201)
    const again = await Promise.all(
      Array.from({ length: 5 }, () =>
        client.post('/api/billing/subscribe').json({}).loginAs(user).withCsrfToken()
      )
    )
    for (const response of again) {
      response.assertStatus(200)
      assert.equal(response.body().data.id, first.body().data.id)
      assert.isTrue(response.body().data.reused)
    }
    await user.refresh()
    const open = await stripeClient().checkout.sessions.list({
      customer: user.stripeCustomerId!,
      status: 'open',
    })
    assert.lengthOf(open.data, 1)

    pay(first.body().data.id)
    await settle()
    const refused = await client
      .post('/api/billing/subscribe')
      .json({})
      .loginAs(user)
      .withCsrfToken()
    refused.assertStatus(409)
    assert.equal(refused.body().code, 'E_SUBSCRIPTION_CONFLICT')
    assert.include(refused.body().error, 'already have Premium')
  })

  test('a paid subscription whose webhooks are late still blocks a second checkout', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    stripeSandbox().holdWebhooks()
    pay(await startPremium(client, user))
    const refused = await client
      .post('/api/billing/subscribe')
      .json({})
      .loginAs(user)
      .withCsrfToken()
    refused.assertStatus(409)
    await stripeSandbox().releaseWebhooks()
    await settle()
    await user.refresh()
    assert.equal(user.plan, 'premium')
  })

  test('cancel at period end keeps Premium until the period ends; resume undoes it', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const id = await subscribe(client, user)

    const canceled = await client
      .post('/api/billing/cancel')
      .json({ mode: 'period_end' })
      .loginAs(user)
      .withCsrfToken()
    canceled.assertStatus(200)
    assert.equal(canceled.body().data.plan, 'premium')
    assert.isTrue(canceled.body().data.subscription.cancelAtPeriodEnd)
    const remote1 = await remote(id)
    assert.isTrue(remote1.cancel_at_period_end)
    await settle()
    const current1 = await row(id)
    assert.isTrue(current1.cancelAtPeriodEnd)

    const resumed = await client.post('/api/billing/resume').json({}).loginAs(user).withCsrfToken()
    resumed.assertStatus(200)
    assert.isFalse(resumed.body().data.subscription.cancelAtPeriodEnd)
    const remote2 = await remote(id)
    assert.isFalse(remote2.cancel_at_period_end)
    await settle()
    const current2 = await row(id)
    assert.isFalse(current2.cancelAtPeriodEnd)

    const resumeAgain = await client
      .post('/api/billing/resume')
      .json({})
      .loginAs(user)
      .withCsrfToken()
    resumeAgain.assertStatus(409)

    // Cancel again (a new request, not a replay of the first), then let the period end.
    const second = await client.post('/api/billing/cancel').json({}).loginAs(user).withCsrfToken()
    second.assertStatus(200)
    assert.isTrue(second.body().data.subscription.cancelAtPeriodEnd)
    await settle()
    await user.refresh()
    assert.equal(user.plan, 'premium')

    await advancePeriod(id)
    await user.refresh()
    assert.equal(user.plan, 'free')
    const ended = await row(id)
    assert.equal(ended.status, 'canceled')
    assert.isNotNull(ended.endedAt)

    const nothing = await client.post('/api/billing/cancel').json({}).loginAs(user).withCsrfToken()
    nothing.assertStatus(409)
    assert.include(nothing.body().error, 'no Premium subscription')
  })

  test('cancel now drops to free at once', async ({ client, assert }) => {
    const user = await UserFactory.create()
    const id = await subscribe(client, user)
    const response = await client
      .post('/api/billing/cancel')
      .json({ mode: 'now' })
      .loginAs(user)
      .withCsrfToken()
    response.assertStatus(200)
    assert.equal(response.body().data.plan, 'free')
    assert.equal(response.body().data.subscription.status, 'canceled')
    await settle()
    await user.refresh()
    assert.equal(user.plan, 'free')
    const remote3 = await remote(id)
    assert.equal(remote3.status, 'canceled')
    const current3 = await row(id)
    assert.equal(current3.status, 'canceled')

    // Subscribing again afterwards works: a new subscription, Premium again.
    const next = await subscribe(client, user)
    assert.notEqual(next, id)
    await user.refresh()
    assert.equal(user.plan, 'premium')
    assert.lengthOf(await Subscription.query().where('user_id', user.id), 2)
  })

  test('a bad cancel mode is a 422; Stripe being down changes nothing', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const id = await subscribe(client, user)
    const bad = await client
      .post('/api/billing/cancel')
      .json({ mode: 'tomorrow' })
      .loginAs(user)
      .withCsrfToken()
    bad.assertStatus(422)
    assert.equal(bad.body().errors[0].field, 'mode')

    stripeSandbox().failNext({ path: `/v1/subscriptions/${id}`, status: 500, count: 10 })
    const down = await client.post('/api/billing/cancel').json({}).loginAs(user).withCsrfToken()
    down.assertStatus(503)
    assert.match(down.body().error, /temporarily unavailable/)
    stripeSandbox().clearFaults()
    const current4 = await row(id)
    assert.isFalse(current4.cancelAtPeriodEnd)
    const remote4 = await remote(id)
    assert.isFalse(remote4.cancel_at_period_end)
    await user.refresh()
    assert.equal(user.plan, 'premium')
  })

  test('the portal URL returns to the billing page', async ({ client, assert }) => {
    const user = await UserFactory.create()
    await subscribe(client, user)
    const response = await client.post('/api/billing/portal').loginAs(user).withCsrfToken()
    response.assertStatus(200)
    assert.match(response.body().data.url, new RegExp(`^${stripeSandbox().url}/p/session/`))
    const { stripeCustomerId: stripeCustomer } = await User.findOrFail(user.id)
    const sessions = await stripeClient().billingPortal.sessions.create({
      customer: stripeCustomer!,
      return_url: 'http://example.test/',
    })
    assert.isString(sessions.url)
  })

  test('a failing renewal: past_due keeps Premium for the grace period, then free; a paid invoice recovers', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const id = await subscribe(client, user, FAILS_ON_RENEWAL)
    const projects = []
    for (const name of ['One', 'Two', 'Three']) {
      const created = await client
        .post('/api/projects')
        .json({ name })
        .loginAs(user)
        .withCsrfToken()
      created.assertStatus(201)
      projects.push(created.body().data)
      const deployed = await client
        .post(`/api/projects/${created.body().data.slug}/deploy`)
        .loginAs(user)
        .withCsrfToken()
      deployed.assertStatus(200)
    }

    await advancePeriod(id)
    const pastDue = await row(id)
    assert.equal(pastDue.status, 'past_due')
    assert.isNotNull(pastDue.pastDueSince)
    await user.refresh()
    assert.equal(user.plan, 'premium')
    const shown = await client.get('/api/billing/subscription').loginAs(user)
    assert.equal(shown.body().data.subscription.status, 'past_due')
    assert.equal(
      shown.body().data.subscription.graceEndsAt,
      pastDue.pastDueSince!.plus({ days: billingConfig.premium.pastDueGraceDays }).toISO()
    )

    const subscriptions = await app.container.make(SubscriptionService)
    const withinGrace = pastDue.pastDueSince!.plus({
      days: billingConfig.premium.pastDueGraceDays - 1,
    })
    assert.deepEqual(await subscriptions.expireGrace(withinGrace), [])
    await user.refresh()
    assert.equal(user.plan, 'premium')

    const afterGrace = pastDue.pastDueSince!.plus({
      days: billingConfig.premium.pastDueGraceDays,
      minutes: 1,
    })
    const expired = await subscriptions.expireGrace(afterGrace)
    assert.lengthOf(expired, 1)
    assert.equal(expired[0].userId, user.id)
    assert.lengthOf(expired[0].stoppedProjectIds, 2)
    assert.deepEqual(await subscriptions.expireGrace(afterGrace), [])
    await user.refresh()
    assert.equal(user.plan, 'free')

    // The oldest deployment keeps running; the two newest were stopped with the reason.
    const limits = await client.get('/api/projects/deployment/limits').loginAs(user)
    assert.deepInclude(limits.body().data, { plan: 'free' })
    assert.equal(limits.body().data.deploys.used, 1)
    const listed = await client.get('/api/projects').loginAs(user)
    const byName = Object.fromEntries(
      listed.body().data.map((project: { name: string }) => [project.name, project])
    )
    assert.isTrue(byName.One.isDeployed)
    assert.isFalse(byName.Two.isDeployed)
    assert.isFalse(byName.Three.isDeployed)
    assert.match(byName.Three.stoppedReason, /overdue by more than \d+ days/)

    // The customer fixes the card: the open invoice is paid, invoice.paid brings Premium back.
    const { stripeCustomerId: customer } = await User.findOrFail(user.id)
    const stripe = stripeClient()
    const method = await stripe.paymentMethods.attach('pm_card_visa', { customer: customer! })
    const open = await stripe.invoices.list({ subscription: id, status: 'open' })
    const [invoice] = open.data
    await stripe.invoices.pay(invoice.id, { payment_method: method.id })
    await settle()
    const recovered = await row(id)
    assert.equal(recovered.status, 'active')
    assert.isNull(recovered.pastDueSince)
    await user.refresh()
    assert.equal(user.plan, 'premium')
  })
})

test.group('Subscriptions: late, reordered and repeated events', (group) => {
  group.each.setup(() => resetData())
  group.each.teardown(() => resetData())

  test('events delivered in reverse end in Stripe’s final state', async ({ client, assert }) => {
    const user = await UserFactory.create()
    const sandbox = stripeSandbox()
    sandbox.holdWebhooks()
    const session = pay(await startPremium(client, user))
    const id = String(session.subscription)
    const stripe = stripeClient()
    await stripe.subscriptions.update(id, { cancel_at_period_end: true })
    await stripe.subscriptions.update(id, { cancel_at_period_end: false })
    await stripe.subscriptions.cancel(id)
    await sandbox.flush('reverse')
    await settle()

    const mirrored = await row(id)
    assert.equal(mirrored.status, 'canceled')
    await user.refresh()
    assert.equal(user.plan, 'free')
    const events = await StripeEvent.query().where('type', 'like', 'customer.subscription.%')
    const types = events.map((event) => event.type)
    assert.isTrue(events.every((event) => event.status === 'processed'))
    assert.includeMembers(types, [
      'customer.subscription.created',
      'customer.subscription.updated',
      'customer.subscription.deleted',
    ])
  })

  test('an updated event arriving before created, and every event twice, converge', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const sandbox = stripeSandbox()
    sandbox.duplicateNext({ count: 50 })
    sandbox.holdWebhooks()
    const session = pay(await startPremium(client, user))
    const id = String(session.subscription)
    await stripeClient().subscriptions.update(id, { cancel_at_period_end: true })
    await sandbox.flush('shuffle')
    await settle()

    const mirrored = await row(id)
    assert.equal(mirrored.status, 'active')
    assert.isTrue(mirrored.cancelAtPeriodEnd)
    await user.refresh()
    assert.equal(user.plan, 'premium')
    assert.lengthOf(await Subscription.query().where('user_id', user.id), 1)
    const duplicates = await db
      .from('stripe_events')
      .select('stripe_event_id')
      .count('* as count')
      .groupBy('stripe_event_id')
      .havingRaw('count(*) > 1')
    assert.lengthOf(duplicates, 0)

    // Replaying every event again, concurrently, changes nothing.
    const events = await StripeEvent.query().where('type', 'like', 'customer.subscription.%')
    await Promise.all(events.map((event) => sandbox.duplicateEvent(event.stripeEventId)))
    await settle()
    const after = await row(id)
    assert.equal(after.status, 'active')
    assert.isTrue(after.cancelAtPeriodEnd)
    assert.equal(after.stripeUpdatedAt.toMillis(), mirrored.stripeUpdatedAt.toMillis())
  })

  test('a new subscription whose events overtake the old one’s end: old canceled, new active, Premium', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const first = await subscribe(client, user)
    const sandbox = stripeSandbox()
    sandbox.holdWebhooks()
    // Cancelled in the portal: its events are held, our mirror still says active.
    await stripeClient().subscriptions.cancel(first)
    assert.equal(await statusOf(first), 'active')

    // Subscribing again refreshes the stale mirror instead of refusing.
    const session = pay(await startPremium(client, user))
    const second = String(session.subscription)
    assert.equal(await statusOf(first), 'canceled')

    // A third subscription started around the API (no refresh), its events first.
    const checkout = await app.container.make(CheckoutService)
    await stripeClient().subscriptions.cancel(second)
    const started = await checkout.start(user, { kind: 'premium' })
    const third = pay(started.id)
    const thirdId = String(third.subscription)
    await sandbox.flush('reverse')
    await settle()

    assert.equal(await statusOf(second), 'canceled')
    assert.equal(await statusOf(thirdId), 'active')
    await user.refresh()
    assert.equal(user.plan, 'premium')
    const live = await Subscription.query()
      .where('user_id', user.id)
      .withScopes((scopes) => scopes.live())
    assert.deepEqual(
      live.map((subscription) => subscription.stripeSubscriptionId),
      [thirdId]
    )
    // Each event was processed on its first delivery: nothing failed on the way.
    const retried = await StripeEvent.query()
      .whereIn('status', ['failed', 'received', 'processing'])
      .orWhere('attempts', '>', 1)
    assert.deepEqual(
      retried.map((event) => `${event.type} ${event.status} ${event.lastError}`),
      []
    )
  })

  test('a change made in Stripe just after our own cancel is kept, not overwritten by our call’s answer', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const id = await subscribe(client, user)
    const gateway = await app.container.make(StripeGateway)
    const resources = gateway.client.subscriptions
    const update = resources.update
    // Stripe answers our cancel; before that answer is applied, the user resumes in the
    // portal and that change's webhooks are processed.
    resources.update = (async (...args: Parameters<typeof update>) => {
      const answer = await update.apply(resources, args)
      await stripeClient().subscriptions.update(id, { cancel_at_period_end: false })
      await settle()
      return answer
    }) as typeof update
    try {
      const response = await client
        .post('/api/billing/cancel')
        .json({ mode: 'period_end' })
        .loginAs(user)
        .withCsrfToken()
      response.assertStatus(200)
      assert.isFalse(response.body().data.subscription.cancelAtPeriodEnd)
    } finally {
      resources.update = update
    }
    await settle()
    const [stripeSide, ours] = [await remote(id), await row(id)]
    assert.isFalse(stripeSide.cancel_at_period_end)
    assert.isFalse(ours.cancelAtPeriodEnd)
  })

  test('of two states stamped with the same second, the one read from Stripe later wins', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const id = await subscribe(client, user)
    const held = await row(id)
    assert.isNotNull(held.stripeFetchedAt)
    const active = await stripeClient().subscriptions.retrieve(id)
    const cancelling = { ...active, cancel_at_period_end: true }
    const subscriptions = await app.container.make(SubscriptionService)
    const applyAt = (fetchedAt: DateTime) =>
      db.transaction((trx) =>
        subscriptions.apply(cancelling, { trx, eventCreated: held.stripeUpdatedAt, fetchedAt })
      )

    await applyAt(held.stripeFetchedAt!.minus({ milliseconds: 1 }))
    const before = await row(id)
    assert.isFalse(before.cancelAtPeriodEnd)
    await applyAt(held.stripeFetchedAt!.plus({ milliseconds: 1 }))
    const after = await row(id)
    assert.isTrue(after.cancelAtPeriodEnd)
    assert.equal(
      after.stripeFetchedAt!.toMillis(),
      held.stripeFetchedAt!.plus({ milliseconds: 1 }).toMillis()
    )
  })

  test('apply refuses an older state and never revives an ended subscription', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const id = await subscribe(client, user)
    const stripe = stripeClient()
    const active = await stripe.subscriptions.retrieve(id)
    const canceled = await stripe.subscriptions.cancel(id)
    await settle()
    const subscriptions = await app.container.make(SubscriptionService)
    const held = await row(id)
    assert.equal(held.status, 'canceled')

    // The active copy, stamped older than what the row holds: ignored.
    await db.transaction((trx) =>
      subscriptions.apply(active, { trx, eventCreated: held.stripeUpdatedAt.minus({ seconds: 5 }) })
    )
    // The active copy, stamped newer: an ended subscription stays ended all the same.
    await db.transaction((trx) =>
      subscriptions.apply(active, { trx, eventCreated: stripeNow().plus({ minutes: 5 }) })
    )
    const current5 = await row(id)
    assert.equal(current5.status, 'canceled')
    await user.refresh()
    assert.equal(user.plan, 'free')

    // Same state again (a duplicate): nothing moves.
    await db.transaction((trx) =>
      subscriptions.apply(canceled, { trx, eventCreated: held.stripeUpdatedAt })
    )
    const current6 = await row(id)
    assert.equal(current6.status, 'canceled')

    // Someone else's subscription id cannot be attached to this user, nor a non-Premium one mirrored.
    const other = await UserFactory.create()
    const result = await db.transaction((trx) =>
      subscriptions.apply(
        { ...active, id: 'sub_forged', metadata: { kind: 'premium', user_id: String(other.id) } },
        { trx, eventCreated: stripeNow() }
      )
    )
    assert.isNull(result)
    const agent = await db.transaction((trx) =>
      subscriptions.apply(
        { ...active, id: 'sub_agent', metadata: { kind: 'agent' } },
        { trx, eventCreated: stripeNow() }
      )
    )
    assert.isNull(agent)
    await other.refresh()
    assert.equal(other.plan, 'free')
  })
})

test.group('Subscriptions: failures and operators', (group) => {
  group.each.setup(() => resetData())
  group.each.teardown(() => resetData())

  test('Stripe down while subscribing: a clear message and no Checkout', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    await client.post('/api/billing/subscribe').json({}).loginAs(user).withCsrfToken()
    await truncateSessionsOf(user)
    stripeSandbox().failNext({ path: '/v1/checkout/sessions', status: 500, count: 10 })
    const response = await client
      .post('/api/billing/subscribe')
      .json({})
      .loginAs(user)
      .withCsrfToken()
    stripeSandbox().clearFaults()
    response.assertStatus(503)
    assert.match(response.body().error, /Payments are temporarily unavailable/)
    await user.refresh()
    const open = await stripeClient().checkout.sessions.list({
      customer: user.stripeCustomerId!,
      status: 'open',
    })
    assert.lengthOf(open.data, 0)
    assert.equal(user.plan, 'free')
  })

  test('a webhook whose Stripe lookup fails is retried by Stripe and converges', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const sandbox = stripeSandbox()
    sandbox.holdWebhooks()
    const session = pay(await startPremium(client, user))
    const id = String(session.subscription)
    // Every retrieval of the subscription fails for a while: the SDK's own retries too.
    sandbox.failNext({ path: `/v1/subscriptions/${id}`, method: 'GET', status: 500, count: 6 })
    await sandbox.releaseWebhooks()
    await settle()
    sandbox.clearFaults()
    await settle()

    await user.refresh()
    assert.equal(user.plan, 'premium')
    const mirrored = await row(id)
    assert.equal(mirrored.status, 'active')
    const events = await StripeEvent.query().whereIn('type', [
      'customer.subscription.created',
      'checkout.session.completed',
      'invoice.paid',
    ])
    assert.isTrue(events.every((event) => event.status === 'processed'))
    assert.isTrue(events.some((event) => event.attempts > 1))
  })

  test('the billing page forms cancel, resume and open the portal', async ({ client, assert }) => {
    const user = await UserFactory.create()
    const id = await subscribe(client, user)
    const cancel = await client
      .post('/billing/cancel')
      .form({ mode: 'period_end' })
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    cancel.assertHeader('location', '/billing')
    assert.include(flashed(cancel, 'success') ?? '', 'end of the paid period')
    const resume = await client.post('/billing/resume').loginAs(user).withCsrfToken().redirects(0)
    assert.equal(flashed(resume, 'success'), 'Premium resumed: it renews as usual.')
    const again = await client.post('/billing/resume').loginAs(user).withCsrfToken().redirects(0)
    assert.include(flashed(again, 'error') ?? '', 'nothing to resume')
    const portal = await client
      .post('/billing/portal')
      .loginAs(user)
      .withCsrfToken()
      .withInertia()
      .redirects(0)
    portal.assertStatus(409)
    assert.match(portal.header('x-inertia-location') ?? '', /\/p\/session\//)
    await settle()
    const mirrored = await row(id)
    assert.isFalse(mirrored.cancelAtPeriodEnd)
  })

  test('subscriptions:check-grace drops past_due users beyond the grace period (cron)', async ({
    assert,
  }) => {
    const [late, recent] = await UserFactory.apply('premium').createMany(2)
    const now = stripeNow()
    for (const [user, since] of [
      [late, now.minus({ days: billingConfig.premium.pastDueGraceDays, hours: 1 })],
      [recent, now.minus({ days: 1 })],
    ] as const) {
      await Subscription.create({
        userId: user.id,
        type: 'premium',
        stripeSubscriptionId: `sub_fixture_${user.id}`,
        stripeCustomerId: `cus_fixture_${user.id}`,
        stripePriceId: 'price_fixture',
        status: 'past_due',
        cancelAtPeriodEnd: false,
        pastDueSince: since,
        stripeUpdatedAt: since,
      })
    }
    const run = await cli(['subscriptions:check-grace', '--json', '--now', now.toISO()!])
    assert.equal(run.code, 0, run.stderr)
    const printed = JSON.parse(run.stdout)
    assert.deepEqual(
      printed.expired.map((expiry: { userId: number }) => expiry.userId),
      [late.id]
    )
    await late.refresh()
    await recent.refresh()
    assert.equal(late.plan, 'free')
    assert.equal(recent.plan, 'premium')

    const rerun = await cli(['subscriptions:check-grace', '--now', now.toISO()!])
    assert.equal(rerun.code, 0, rerun.stderr)
    assert.include(rerun.stdout, 'No past_due subscription is beyond its grace period.')
    const bad = await cli(['subscriptions:check-grace', '--now', 'yesterday'])
    assert.equal(bad.code, 2)
  })
})
