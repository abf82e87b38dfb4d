import { test } from '@japa/runner'
import type { ApiClient } from '@japa/api-client'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import type User from '#models/user'
import type MarketplaceAgent from '#models/marketplace_agent'
import AgentEntitlement from '#models/agent_entitlement'
import CreditService from '#services/credit_service'
import CheckoutService from '#services/checkout_service'
import { agent, buyer, creator, resetData } from '../marketplace/helpers.js'
import {
  CARD,
  advancePeriod,
  pay,
  settle,
  stripeClient,
  stripeSandbox,
} from '../subscriptions/helpers.js'

/*
| Buying marketplace agents end to end: the API, the sandbox's Checkout, its
| signed webhooks, and the rows they leave (entitlements and the creator's
| earnings). Real transactions (webhooks run in the app's own requests).
*/

function purchase(client: ApiClient, user: User, target: MarketplaceAgent, key?: string) {
  const request = client
    .post(`/api/marketplace/agents/${target.slug}/purchase`)
    .json({})
    .loginAs(user)
    .withCsrfToken()
  return key ? request.header('Idempotency-Key', key) : request
}

async function entitlementsOf(user: User, target: MarketplaceAgent) {
  return AgentEntitlement.query()
    .where('user_id', user.id)
    .where('agent_id', target.id)
    .orderBy('id')
}

async function earningsOf(target: MarketplaceAgent) {
  return db
    .from('marketplace_transactions')
    .where('agent_id', target.id)
    .orderBy('id')
    .select(
      'kind',
      'source_type',
      'source_id',
      'gross_cents',
      'creator_cents',
      'platform_cents',
      'stripe_charge_id'
    )
}

/** Starts and pays an agent Checkout; returns the paid session. */
async function buyThroughCheckout(client: ApiClient, user: User, target: MarketplaceAgent) {
  const started = await purchase(client, user, target)
  started.assertStatus(201)
  const session = pay(started.body().data.checkout.id)
  await settle()
  return session
}

function subscriptionOf(session: { subscription: unknown }) {
  const reference = session.subscription as string | { id: string }
  return typeof reference === 'string' ? reference : reference.id
}

test.group('Marketplace: getting agents', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(90_000)

  test('a free agent is added at once, once; the API lists it', async ({ client, assert }) => {
    const maker = await creator()
    const free = await agent(maker, { pricingType: 'free' })
    const user = await buyer()

    const added = await purchase(client, user, free)
    added.assertStatus(201)
    assert.equal(added.body().data.entitlement.status, 'active')
    const again = await purchase(client, user, free)
    again.assertStatus(409)
    assert.match(again.body().error, /You already have Test agent/)

    const mine = await client.get('/api/billing/agents').loginAs(user)
    mine.assertStatus(200)
    assert.deepEqual(
      mine
        .body()
        .data.map((row: { agent: { slug: string }; status: string }) => [
          row.agent.slug,
          row.status,
        ]),
      [[free.slug, 'active']]
    )
    assert.lengthOf(await earningsOf(free), 0)
  })

  test('an api agent needs credits or a saved card; then it is added without a charge', async ({
    client,
    assert,
  }) => {
    const perToken = await agent(await creator(), {
      pricingType: 'api',
      inputPriceMicrosPerMillion: 3_000_000,
      outputPriceMicrosPerMillion: 15_000_000,
    })
    const user = await buyer()
    const refused = await purchase(client, user, perToken)
    refused.assertStatus(409)
    assert.match(refused.body().error, /buy credits or save a card/)
    assert.lengthOf(await entitlementsOf(user, perToken), 0)

    await new CreditService().operatorAdjust(user, {
      amountCents: 500,
      reason: 'test credits',
      operator: 'purchase.spec',
    })
    const added = await purchase(client, user, perToken)
    added.assertStatus(201)
    const [row] = await entitlementsOf(user, perToken)
    assert.equal(row.status, 'active')
    assert.equal(row.pricingType, 'api')
  })

  test('a one-time agent: Checkout at its Stripe price, one entitlement and one sale split 90/10, even twice and racing the success page', async ({
    client,
    assert,
  }) => {
    const maker = await creator()
    const once = await agent(maker, { pricingType: 'one_time', priceCents: 999 })
    const user = await buyer()

    const started = await purchase(client, user, once, 'form-0001')
    started.assertStatus(201)
    const id = started.body().data.checkout.id
    const session = await stripeClient().checkout.sessions.retrieve(id, { expand: ['line_items'] })
    assert.equal(session.mode, 'payment')
    assert.equal(session.amount_total, 999)
    assert.equal(session.line_items?.data[0].price?.id, once.stripePriceId)
    assert.include(session.metadata ?? {}, {
      kind: 'agent',
      agent_id: String(once.id),
      pricing_type: 'one_time',
      price_cents: '999',
    })
    // The same form again: the same open session, not a second one.
    const repeat = await purchase(client, user, once, 'form-0001')
    assert.equal(repeat.body().data.checkout.id, id)

    stripeSandbox().holdWebhooks()
    pay(id)
    // The success page and every webhook twice, at once.
    const paid = await stripeClient().checkout.sessions.retrieve(id)
    const checkout = await app.container.make(CheckoutService)
    const [fromPage] = await Promise.all([
      checkout.fulfil(paid, { source: 'success_page' }),
      stripeSandbox().releaseWebhooks(),
    ])
    assert.include(['fulfilled', 'already'], fromPage.status)
    const paidEvents = stripeSandbox()
      .eventLog('checkout.session.completed')
      .filter((event) => (event.data.object as { id?: string }).id === id)
    assert.lengthOf(paidEvents, 1)
    for (const event of paidEvents) await stripeSandbox().duplicateEvent(event.id)
    await settle()

    const rows = await entitlementsOf(user, once)
    assert.deepEqual(
      rows.map((row) => [row.status, row.pricingType, row.stripeCheckoutSessionId]),
      [['active', 'one_time', id]]
    )
    const earnings = await earningsOf(once)
    assert.lengthOf(earnings, 1)
    assert.deepEqual(
      [
        earnings[0].kind,
        earnings[0].source_id,
        Number(earnings[0].gross_cents),
        Number(earnings[0].creator_cents),
        Number(earnings[0].platform_cents),
      ],
      ['sale', id, 999, 899, 100]
    )
    assert.match(earnings[0].stripe_charge_id, /^ch_/)

    // Held: a second purchase is refused.
    const again = await purchase(client, user, once)
    again.assertStatus(409)
  })

  test('a full refund of a one-time agent takes back the creator’s share and the entitlement', async ({
    client,
    assert,
  }) => {
    const once = await agent(await creator(), { pricingType: 'one_time', priceCents: 1000 })
    const user = await buyer()
    const session = await buyThroughCheckout(client, user, once)
    const intent = session.payment_intent as string | { id: string }
    await stripeClient().refunds.create({
      payment_intent: typeof intent === 'string' ? intent : intent.id,
      amount: 400,
    })
    await settle()
    let [row] = await entitlementsOf(user, once)
    assert.equal(row.status, 'active', 'a partial refund leaves the agent')
    await stripeClient().refunds.create({
      payment_intent: typeof intent === 'string' ? intent : intent.id,
    })
    await settle()
    ;[row] = await entitlementsOf(user, once)
    assert.equal(row.status, 'refunded')
    assert.isNotNull(row.refundedAt)

    const earnings = await earningsOf(once)
    assert.deepEqual(
      earnings.map((entry) => [entry.kind, Number(entry.gross_cents), Number(entry.creator_cents)]),
      [
        ['sale', 1000, 900],
        ['refund', -400, -360],
        ['refund', -600, -540],
      ]
    )
  })

  test('a dispute of a one-time agent takes back the whole creator share and the entitlement, once', async ({
    client,
    assert,
  }) => {
    const once = await agent(await creator(), { pricingType: 'one_time', priceCents: 2000 })
    const user = await buyer()
    const started = await purchase(client, user, once)
    // Stripe's test card that is disputed right after it pays.
    pay(started.body().data.checkout.id, { ...CARD, number: '4000000000000259' })
    await settle()
    const disputes = stripeSandbox().eventLog('charge.dispute.created')
    const dispute = disputes.at(-1)!
    await stripeSandbox().duplicateEvent(dispute.id)
    await settle()

    const [row] = await entitlementsOf(user, once)
    assert.equal(row.status, 'refunded')
    const earnings = await earningsOf(once)
    assert.deepEqual(
      earnings.map((entry) => [entry.kind, Number(entry.gross_cents), Number(entry.creator_cents)]),
      [
        ['sale', 2000, 1800],
        ['dispute', -2000, -1800],
      ]
    )
  })

  test('a monthly agent: the first invoice is the sale, each renewal an earning; cancel, lapse, re-subscribe', async ({
    client,
    assert,
  }) => {
    const maker = await creator()
    const monthly = await agent(maker, { pricingType: 'monthly', priceCents: 300 })
    const user = await buyer()

    const session = await buyThroughCheckout(client, user, monthly)
    const subscriptionId = subscriptionOf(session)
    let rows = await entitlementsOf(user, monthly)
    assert.deepEqual(
      rows.map((row) => [row.status, row.pricingType, row.stripeSubscriptionId]),
      [['active', 'monthly', subscriptionId]]
    )

    await advancePeriod(subscriptionId)
    await advancePeriod(subscriptionId)
    const earnings = await earningsOf(monthly)
    assert.deepEqual(
      earnings.map((entry) => [
        entry.kind,
        entry.source_type,
        Number(entry.gross_cents),
        Number(entry.creator_cents),
      ]),
      [
        ['sale', 'invoice', 300, 270],
        ['renewal', 'invoice', 300, 270],
        ['renewal', 'invoice', 300, 270],
      ]
    )
    assert.isTrue(earnings.every((entry) => /^ch_/.test(entry.stripe_charge_id)))

    // A refunded renewal (its charge carries no metadata: the kind is read from its invoice).
    await stripeClient().refunds.create({ charge: earnings[2].stripe_charge_id })
    await settle()
    const reversals = await db
      .from('marketplace_transactions')
      .where('agent_id', monthly.id)
      .where('kind', 'refund')
      .select('gross_cents', 'creator_cents', 'source_type')
    assert.deepEqual(
      reversals.map((entry) => [Number(entry.gross_cents), Number(entry.creator_cents)]),
      [[-300, -270]]
    )
    const [stillActive] = await entitlementsOf(user, monthly)
    assert.equal(stillActive.status, 'active', 'a refunded renewal does not end the subscription')

    // Cancel at period end: still active until the period ends, then canceled.
    const canceled = await client
      .post(`/api/marketplace/agents/${monthly.slug}/cancel`)
      .json({})
      .loginAs(user)
      .withCsrfToken()
    canceled.assertStatus(200)
    assert.isTrue(canceled.body().data.cancelAtPeriodEnd)
    await settle()
    await advancePeriod(subscriptionId)
    rows = await entitlementsOf(user, monthly)
    assert.deepEqual(
      rows.map((row) => row.status),
      ['canceled']
    )
    assert.lengthOf(
      await earningsOf(monthly),
      4,
      'no renewal after the cancel (3 earnings, 1 refund)'
    )

    // Re-subscribing after the cancel gives a new, live entitlement; the old one stays as history.
    const again = await buyThroughCheckout(client, user, monthly)
    rows = await entitlementsOf(user, monthly)
    assert.deepEqual(
      rows.map((row) => [row.status, row.stripeSubscriptionId]),
      [
        ['canceled', subscriptionId],
        ['active', subscriptionOf(again)],
      ]
    )
    const mine = await client.get('/api/billing/agents').loginAs(user)
    assert.equal(mine.body().data[0].status, 'active')
  })

  test('agent subscription events twice, in reverse and late converge on Stripe’s state, with one earning per invoice', async ({
    client,
    assert,
  }) => {
    const monthly = await agent(await creator(), { pricingType: 'monthly', priceCents: 500 })
    const user = await buyer()
    stripeSandbox().holdWebhooks()
    const started = await purchase(client, user, monthly)
    const session = pay(started.body().data.checkout.id)
    const subscriptionId = subscriptionOf(session)
    await stripeClient().subscriptions.update(subscriptionId, { cancel_at_period_end: true })
    // Everything held so far is delivered newest first, then every one of the user's events again.
    await stripeSandbox().releaseWebhooks('reverse')
    await settle()
    await user.refresh()
    const mine = stripeSandbox()
      .eventLog()
      .filter(
        (event) => (event.data.object as { customer?: unknown }).customer === user.stripeCustomerId
      )
    assert.isAbove(mine.length, 4)
    for (const event of mine) await stripeSandbox().duplicateEvent(event.id)
    await settle()

    const rows = await entitlementsOf(user, monthly)
    assert.lengthOf(rows, 1)
    assert.equal(rows[0].status, 'active')
    assert.isTrue(rows[0].cancelAtPeriodEnd)
    const earnings = await earningsOf(monthly)
    assert.deepEqual(
      earnings.map((entry) => [entry.kind, Number(entry.gross_cents)]),
      [['sale', 500]]
    )
    const failed = await db.from('stripe_events').where('status', 'failed').count('* as total')
    assert.equal(Number(failed[0].total), 0)
  })

  test('unknown, unpublished and own agents are refused clearly; nothing is created', async ({
    client,
    assert,
  }) => {
    const maker = await creator()
    const mine = await agent(maker, { pricingType: 'one_time', priceCents: 700 })
    const own = await purchase(client, maker, mine)
    own.assertStatus(409)
    assert.match(own.body().error, /your own agent/)

    const user = await buyer()
    const missing = await client
      .post('/api/marketplace/agents/no-such-agent/purchase')
      .json({})
      .loginAs(user)
      .withCsrfToken()
    missing.assertStatus(404)
    mine.isPublished = false
    await mine.save()
    const hidden = await purchase(client, user, mine)
    hidden.assertStatus(404)
    assert.lengthOf(await entitlementsOf(user, mine), 0)
    const sessions = await stripeClient().checkout.sessions.list({ limit: 100 })
    assert.isFalse(sessions.data.some((session) => session.metadata?.agent_id === String(mine.id)))
  })
})
