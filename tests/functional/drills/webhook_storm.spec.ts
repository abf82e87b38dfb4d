import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import Stripe from 'stripe'
import billingConfig from '#config/billing'
import CheckoutService from '#services/checkout_service'
import { appWebhookEndpoint, stripeClient, stripeSandbox } from '#tests/support/stripe'
import {
  drillSeed,
  manyUsers,
  pool,
  postingClient,
  prng,
  resetDrillData,
  runAudit,
  scaled,
  shuffle,
} from '#tests/support/drills'
import { completeCheckoutSession } from '../../../sandbox/stripe/resources/checkout_sessions.js'

/*
| Drill 1: a webhook storm. Real credit purchases and Premium renewals are made
| in the Stripe sandbox while the app's endpoint is switched off there; their
| events are then sent by this test, as Stripe would, over 8 keep-alive
| connections: shuffled, 30% of the deliveries duplicates, 5% forged (bad
| signatures of every kind). Everything must take effect once, forgeries
| nothing, and `audit` must pass.
|
| Sizes: DRILL_SCALE x 10,000 deliveries (the size at the default 1).
*/

const CARD = { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' }
const PACKS = billingConfig.creditPackages

type Delivery = { body: string; header: string | null; forged: boolean; eventId: string }

function eventBytes(event: Stripe.Event) {
  return JSON.stringify(event, null, 2)
}

function sign(payload: string, options: { secret?: string; timestamp?: number } = {}) {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? appWebhookEndpoint().secret,
    timestamp: options.timestamp,
  })
}

/** A forged copy of a real checkout.session.completed: new ids, and a signature that must fail. */
function forge(event: Stripe.Event, n: number): Delivery {
  const copy = structuredClone(event) as Stripe.Event
  copy.id = `evt_drill_forged_${n}`
  const session = copy.data.object as Stripe.Checkout.Session
  session.id = `cs_drill_forged_${n}`
  const body = eventBytes(copy)
  const flavour = n % 5
  let header: string | null
  let sent = body
  if (flavour === 0) header = sign(body, { secret: `whsec_wrong_${n}` })
  else if (flavour === 1) {
    // Signed, then tampered: five times the credits.
    header = sign(body)
    sent = body.replace(
      /"amount_total": (\d+)/,
      (_m, amount) => `"amount_total": ${Number(amount) * 5}`
    )
  } else if (flavour === 2) header = sign(body, { timestamp: Math.floor(Date.now() / 1000) - 3600 })
  else if (flavour === 3) header = null
  else header = `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`
  return { body: sent, header, forged: true, eventId: copy.id }
}

test.group('Drills: webhook storm', (group) => {
  group.each.setup(() => resetDrillData())
  group.each.teardown(async () => {
    stripeSandbox().enableWebhookEndpoint(appWebhookEndpoint().id)
    await stripeSandbox().waitForIdle(20_000)
  })

  test('10,000 shuffled deliveries, 30% duplicates, 5% forged, from 8 connections: every effect once', async ({
    assert,
  }) => {
    const total = scaled(10_000, 200)
    const badCount = Math.round(total * 0.05)
    const duplicateCount = Math.round(total * 0.3)
    const uniqueTarget = total - badCount - duplicateCount
    const random = prng(drillSeed(1))
    const sandbox = stripeSandbox()
    const checkout = await app.container.make(CheckoutService)
    const started = Date.now()

    // Premium subscribers, subscribed through Checkout with the endpoint on (as in production).
    const subscribers = await manyUsers(scaled(60, 4), 'premium')
    const premiumSessions = await pool(subscribers, 8, (user) =>
      checkout.start(user, { kind: 'premium' })
    )
    const subscriptionIds = premiumSessions.map((session) => {
      const paid = completeCheckoutSession(sandbox.context, session.id, { card: CARD })
      if (paid.error) throw paid.error
      const subscription = paid.session.subscription
      return typeof subscription === 'string' ? subscription : subscription!.id
    })
    await sandbox.waitForIdle(60_000)
    const mirrored = await db
      .from('subscriptions')
      .whereIn('stripe_subscription_id', subscriptionIds)
    assert.lengthOf(
      mirrored,
      subscribers.length,
      'every Premium subscription mirrored before the storm'
    )
    const periodEndBefore = new Map(
      mirrored.map((row) => [
        row.stripe_subscription_id as string,
        new Date(row.current_period_end).getTime(),
      ])
    )

    // From here on Stripe's own deliveries are off: this test is the sender.
    const seen = new Set(sandbox.eventLog().map((event) => event.id))
    sandbox.disableWebhookEndpoint(appWebhookEndpoint().id)

    // Renewals: the clock moves past every period end.
    await fetch(`${sandbox.url}/_sim/subscriptions/${subscriptionIds[0]}/advance_period`, {
      method: 'POST',
    })

    const buyers = await manyUsers(scaled(150, 5), 'buyer')
    const customers = new Set<string>()
    for (const user of subscribers) {
      await user.refresh()
      customers.add(user.stripeCustomerId!)
    }
    const newEvents = () =>
      sandbox.eventLog().filter((event) => {
        if (seen.has(event.id)) return false
        const object = event.data.object as { id?: string; customer?: unknown }
        return (
          (typeof object.customer === 'string' && customers.has(object.customer)) ||
          (typeof object.id === 'string' && customers.has(object.id))
        )
      })

    // Credit purchases, paid, until the events reach the unique share of the storm.
    const bought = new Map<number, { sessions: string[]; cents: number }>()
    const forgeable: Stripe.Event[] = []
    let round = 0
    while (newEvents().length < uniqueTarget) {
      const batch = buyers.map((user, i) => ({ user, pack: PACKS[(i + round) % PACKS.length] }))
      const sessions = await pool(batch, 8, async ({ user, pack }) => {
        const session = await checkout.start(user, { kind: 'credits', packageKey: pack.key })
        await user.refresh()
        customers.add(user.stripeCustomerId!)
        return { user, pack, session }
      })
      for (const { user, pack, session } of sessions) {
        const { error } = completeCheckoutSession(sandbox.context, session.id, { card: CARD })
        if (error) throw error
        const entry = bought.get(user.id) ?? { sessions: [], cents: 0 }
        entry.sessions.push(session.id)
        entry.cents += pack.amountCents
        bought.set(user.id, entry)
      }
      round += 1
    }
    const unique = newEvents()
    for (const event of unique)
      if (event.type === 'checkout.session.completed') forgeable.push(event)
    const setupMs = Date.now() - started

    // The storm: every event once, duplicates of random ones, forgeries; shuffled.
    const deliveries: Delivery[] = unique.map((event) => {
      const body = eventBytes(event)
      return { body, header: null, forged: false, eventId: event.id }
    })
    const duplicates = Math.max(0, total - badCount - unique.length)
    for (let i = 0; i < duplicates; i++) {
      deliveries.push({ ...deliveries[Math.floor(random() * unique.length)] })
    }
    for (let i = 0; i < badCount; i++) {
      deliveries.push(forge(forgeable[Math.floor(random() * forgeable.length)], i))
    }
    shuffle(deliveries, random)

    const timing: Record<string, { n: number; ms: number }> = {}
    const client = postingClient(8)
    const stormStarted = Date.now()
    const statuses = await pool(deliveries, 8, async (delivery) => {
      const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' }
      // Signed when sent (Stripe signs each attempt), so a slow storm never goes stale.
      const header = delivery.forged ? delivery.header : sign(delivery.body)
      if (header !== null) headers['stripe-signature'] = header
      const t0 = performance.now()
      const response = await client.post(appWebhookEndpoint().url, delivery.body, headers)
      const ms = performance.now() - t0
      if (process.env.DRILL_DEBUG) {
        const type = delivery.forged ? 'forged' : (JSON.parse(delivery.body) as Stripe.Event).type
        const t = (timing[type] ??= { n: 0, ms: 0 })
        t.n += 1
        t.ms += ms
      }
      return { ...response, delivery }
    })
    client.close()
    const stormMs = Date.now() - stormStarted
    console.log(
      `  webhook storm: ${deliveries.length} deliveries (${unique.length} events, ${duplicates} duplicates, ${badCount} forged; ` +
        `${bought.size} buyers, ${[...bought.values()].reduce((n, b) => n + b.sessions.length, 0)} purchases, ` +
        `${subscribers.length} renewals) in ${(stormMs / 1000).toFixed(1)} s ` +
        `(${Math.round(deliveries.length / (stormMs / 1000))}/s); setup ${(setupMs / 1000).toFixed(1)} s`
    )

    if (process.env.DRILL_DEBUG) {
      for (const [type, t] of Object.entries(timing))
        console.log(`   ${type}: ${t.n} x ${(t.ms / t.n).toFixed(1)} ms`)
    }
    // Forgeries: 400, nothing recorded.
    const forgedAnswers = statuses.filter((s) => s.delivery.forged)
    assert.deepEqual(
      [...new Set(forgedAnswers.map((s) => s.status))],
      [400],
      'every bad signature answered 400'
    )
    const forgedIds = forgedAnswers.map((s) => s.delivery.eventId)
    const forgedRows = await db
      .from('stripe_events')
      .whereIn('stripe_event_id', forgedIds)
      .count('* as n')
    assert.equal(Number(forgedRows[0].n), 0, 'no forged event recorded')
    const forgedPurchases = await db
      .from('credit_purchases')
      .where('stripe_checkout_session_id', 'like', 'cs_drill_forged_%')
      .count('* as n')
    assert.equal(Number(forgedPurchases[0].n), 0, 'no forged purchase granted')

    // Genuine deliveries: all accepted.
    const genuine = statuses.filter((s) => !s.delivery.forged)
    const refused = genuine.filter((s) => s.status !== 200)
    assert.deepEqual(
      refused.slice(0, 5).map((s) => `${s.status} ${s.body.slice(0, 200)}`),
      [],
      `${refused.length} genuine deliveries not accepted`
    )

    // Every event recorded once, processed or ignored.
    const recorded = await db
      .from('stripe_events')
      .whereIn(
        'stripe_event_id',
        unique.map((event) => event.id)
      )
      .select('stripe_event_id', 'status')
    assert.equal(recorded.length, unique.length, 'every event recorded exactly once')
    const unsettled = recorded.filter((row) => !['processed', 'ignored'].includes(row.status))
    assert.deepEqual(unsettled.slice(0, 5), [], `${unsettled.length} events not processed`)

    // Credits: one purchase and one ledger entry per session, balances equal to what was bought.
    const purchaseSessions = [...bought.values()].flatMap((b) => b.sessions)
    const purchases = await db
      .from('credit_purchases')
      .select('stripe_checkout_session_id', 'status')
    assert.equal(purchases.length, purchaseSessions.length, 'one purchase row per paid session')
    assert.isTrue(purchases.every((row) => row.status === 'paid'))
    const entries = await db
      .from('credit_ledger_entries')
      .where('kind', 'purchase')
      .groupBy('idempotency_key')
      .select('idempotency_key')
      .count('* as n')
    assert.equal(entries.length, purchaseSessions.length, 'one ledger entry per session')
    assert.isTrue(entries.every((row) => Number(row.n) === 1))
    const balances = await db
      .from('users')
      .whereIn('id', [...bought.keys()])
      .select('id', 'credits_balance_cents')
    for (const row of balances) {
      assert.equal(Number(row.credits_balance_cents), bought.get(Number(row.id))!.cents)
    }

    // Renewals: our mirror moved to Stripe's new period, once, and stays active.
    const stripe = stripeClient()
    const renewed = await db
      .from('subscriptions')
      .whereIn('stripe_subscription_id', subscriptionIds)
    for (const row of renewed) {
      const remote = await stripe.subscriptions.retrieve(row.stripe_subscription_id)
      const remoteEnd = remote.items.data[0].current_period_end * 1000
      assert.equal(new Date(row.current_period_end).getTime(), remoteEnd, 'period mirrored')
      assert.isAbove(remoteEnd, periodEndBefore.get(row.stripe_subscription_id)!, 'renewed')
      assert.equal(row.status, 'active')
    }

    const audit = await runAudit()
    assert.isTrue(audit.passed, `audit: ${JSON.stringify(audit.failed).slice(0, 2000)}`)
  }).timeout(240_000)
})
