import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import app from '@adonisjs/core/services/app'
import { DateTime } from 'luxon'
import type Stripe from 'stripe'
import User from '#models/user'
import StripeGateway from '#services/stripe_gateway'
import { connectHandlers } from '#services/webhooks/connect_handlers'
import { runCli } from '#tests/support/cli'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { setRequirements } from '../../../sandbox/stripe/resources/accounts.js'
import {
  agent,
  buyer,
  creator,
  loadStripeConfig,
  payoutsOf,
  resetData,
  sale,
  runPayouts,
  balancesOf,
  connectStatus,
  services,
  swapInCrashingGateway,
  transfers,
} from './helpers.js'

test.group('Marketplace payouts: reconcile, CLI, Connect and catalogue', (group) => {
  group.setup(() => loadStripeConfig())
  group.each.setup(() => resetData())
  group.each.timeout(90_000)

  test('reconcile finds and repairs an unrecorded transfer (a crash), then finds nothing', async ({
    assert,
  }) => {
    const jenny = await creator()
    await sale(await agent(jenny), await buyer(), 1000)
    swapInCrashingGateway('transfer')
    await runPayouts()
    app.container.restore(StripeGateway)

    const payouts = await services.payouts()
    const report = await payouts.reconcile()
    assert.deepEqual(
      report.mismatches.map((mismatch) => [mismatch.kind, mismatch.repaired]),
      [['transfer_unrecorded', null]]
    )
    const fresh1 = await payoutsOf(jenny)
    assert.equal(fresh1[0].status, 'processing', 'reporting changes nothing')

    const repaired = await payouts.reconcile({ repair: true })
    assert.match(repaired.mismatches[0].repaired ?? '', /recorded transfer tr_/)
    const [payout] = await payoutsOf(jenny)
    assert.equal(payout.status, 'paid')
    assert.lengthOf(await transfers(jenny.creatorStripeAccountId!), 1)
    const fresh2 = await payouts.reconcile()
    assert.deepEqual(fresh2.mismatches, [])
  })

  test('reconcile creates a missing transfer with the payout key', async ({ assert }) => {
    const jenny = await creator()
    await sale(await agent(jenny), await buyer(), 1000)
    // Every attempt fails before reaching Stripe: the payout stays processing with no transfer.
    stripeSandbox().failNext({ count: 3, status: 503, path: '/v1/transfers', method: 'POST' })
    await runPayouts()
    stripeSandbox().clearFaults()
    const payouts = await services.payouts()
    const result = await payouts.reconcile({ repair: true })
    assert.deepEqual(
      result.mismatches.map((mismatch) => mismatch.kind),
      ['transfer_missing']
    )
    assert.match(result.mismatches[0].repaired ?? '', /transfer tr_\w+ created/)
    const made = await transfers(jenny.creatorStripeAccountId!)
    assert.lengthOf(made, 1)
    const fresh3 = await payoutsOf(jenny)
    assert.equal(fresh3[0].stripe_transfer_id, made[0].id)
  })

  test('reconcile tops up a transfer smaller than the payout, and records a reversal made outside', async ({
    assert,
  }) => {
    const jenny = await creator()
    await sale(await agent(jenny), await buyer(), 1000)
    await runPayouts()
    const [payout] = await payoutsOf(jenny)
    // Our record says 950; Stripe paid 900.
    await db.from('creator_payouts').where('id', payout.id).update({ amount_cents: 950 })
    // Someone reverses 100 in the Dashboard.
    await stripeClient().transfers.createReversal(payout.stripe_transfer_id, { amount: 100 })

    const payouts = await services.payouts()
    const report = await payouts.reconcile()
    assert.deepEqual(report.mismatches.map((mismatch) => mismatch.kind).sort(), [
      'amount_differs',
      'reversal_unrecorded',
    ])
    const repaired = await payouts.reconcile({ repair: true })
    assert.isTrue(repaired.mismatches.every((mismatch) => mismatch.repaired !== null))
    const made = await transfers(jenny.creatorStripeAccountId!)
    assert.deepEqual(made.map((transfer) => transfer.amount).sort(), [50, 900])
    const rows = await payoutsOf(jenny)
    assert.deepEqual(
      rows.map((row) => [Number(row.amount_cents), Number(row.reversed_cents), row.status]),
      [
        [900, 100, 'paid'],
        [50, 0, 'paid'],
      ]
    )
    const fresh4 = await payouts.reconcile()
    assert.deepEqual(fresh4.mismatches, [])
  })

  test('payouts:run, payouts:reconcile and earnings:show through the CLI', async ({ assert }) => {
    const jenny = await creator()
    await sale(await agent(jenny), await buyer(), 999)
    const env = { DATABASE_URL: process.env.DATABASE_URL }
    const run = await runCli(['payouts:run', '--json'], { env })
    assert.equal(run.code, 0, run.stderr)
    const parsed = JSON.parse(run.stdout)
    assert.deepEqual(
      parsed.payouts.map((outcome: { status: string; amountCents: number }) => [
        outcome.status,
        outcome.amountCents,
      ]),
      [['paid', 899]]
    )
    assert.lengthOf(await transfers(jenny.creatorStripeAccountId!), 1)

    const again = await runCli(['payouts:run'], { env })
    assert.equal(again.code, 0, again.stderr)
    assert.include(again.stdout, 'Nothing to pay.')

    const shown = await runCli(['earnings:show', '--creator', jenny.email, '--json'], { env })
    assert.equal(shown.code, 0, shown.stderr)
    assert.equal(JSON.parse(shown.stdout).balances.paidCents, 899)

    const table = await runCli(['earnings:show', '--creator', String(jenny.id)], { env })
    assert.equal(table.code, 0, table.stderr)
    assert.include(table.stdout, '$8.99')

    const reconciled = await runCli(['payouts:reconcile'], { env })
    assert.equal(reconciled.code, 0, reconciled.stderr)
    assert.include(reconciled.stdout, '1 payout(s) checked, 0 mismatch(es).')

    const nobody = await runCli(['earnings:show', '--creator', 'nobody@example.com'], { env })
    assert.equal(nobody.code, 1)
    assert.include(nobody.stderr, 'No user "nobody@example.com"')
    const bad = await runCli(['payouts:reconcile', '--days', 'x'], { env })
    assert.equal(bad.code, 2)
  })

  test('account.updated keeps the payout status, and a late older event never moves it back', async ({
    assert,
  }) => {
    const jenny = await creator()
    const account = await stripeClient().accounts.retrieve(jenny.creatorStripeAccountId!)
    const handler = connectHandlers['account.updated']!
    const event = (object: Stripe.Account, created: number) =>
      ({
        id: `evt_${created}`,
        type: 'account.updated',
        created,
        data: { object },
      }) as unknown as Stripe.Event
    const now = Math.floor(Date.now() / 1000)

    // Requirements come due: payouts stop.
    const restricted = setRequirements(
      stripeSandbox().context,
      account.id,
      ['individual.id_number'],
      'requirements.past_due'
    )
    const newer = event(restricted, now + 100)
    await db.transaction(async (trx) =>
      handler.apply({ event: newer, trx, receivedAt: DateTime.utc() }, await handler.fetch!(newer))
    )
    const fresh5 = await User.findOrFail(jenny.id)
    assert.isFalse(fresh5.creatorPayoutsEnabled)

    // A late delivery of the older "enabled" state changes nothing.
    const older = event(account, now + 50)
    await db.transaction((trx) =>
      handler.apply({ event: older, trx, receivedAt: DateTime.utc() }, account)
    )
    const fresh6 = await User.findOrFail(jenny.id)
    assert.isFalse(fresh6.creatorPayoutsEnabled)
    const status = await connectStatus(jenny)
    assert.equal(status.state, 'restricted')
    assert.include(status.requirementsDue, 'individual.id_number')

    // Earnings accrue meanwhile, and are not lost.
    await sale(await agent(jenny), await buyer(), 1000)
    const run = await runPayouts()
    assert.deepEqual(
      run.payouts.map((outcome) => outcome.status),
      ['skipped']
    )
    const fresh7 = await balancesOf(jenny.id)
    assert.equal(fresh7.payableCents, 900)
  })

  test('the onboarding link creates one Express account per user, with return URLs from APP_URL', async ({
    assert,
  }) => {
    const user = await buyer()
    const connect = await services.connect()
    const first = await connect.onboardingLink(user)
    const second = await connect.onboardingLink(user)
    assert.equal(first.stripeAccountId, second.stripeAccountId)
    assert.notEqual(first.url, second.url)
    const fresh8 = await User.findOrFail(user.id)
    assert.equal(fresh8.creatorStripeAccountId, first.stripeAccountId)
    const account = await stripeClient().accounts.retrieve(first.stripeAccountId)
    assert.equal(account.metadata?.user_id, String(user.id))
    const fresh9 = await connect.status(user)
    assert.equal(fresh9.state, 'incomplete')
    assert.match(connect.constructor.name, /ConnectService/)
    const { default: ConnectService } = await import('#services/marketplace/connect_service')
    assert.isTrue(
      ConnectService.returnUrl().startsWith(process.env.APP_URL ?? 'http://127.0.0.1:3411')
    )
  })

  test('catalogue: a price change is a new Stripe price, the old one deactivated; a Stripe failure leaves it re-syncable', async ({
    assert,
  }) => {
    const jenny = await creator()
    const catalog = await services.catalog()
    const bot = await agent(jenny, { pricingType: 'monthly', priceCents: 900 }, 'price-bot')
    assert.isTrue(bot.isInStripeSync)
    const firstPrice = await stripeClient().prices.retrieve(bot.stripePriceId!)
    assert.equal(firstPrice.unit_amount, 900)
    assert.equal(firstPrice.recurring?.interval, 'month')

    const changed = await catalog.update(bot, {
      pricing: { pricingType: 'monthly', priceCents: 1200 },
    })
    assert.equal(changed.priceVersion, 2)
    assert.notEqual(changed.stripePriceId, bot.stripePriceId)
    const newPrice = await stripeClient().prices.retrieve(changed.stripePriceId!)
    assert.equal(newPrice.unit_amount, 1200)
    const oldPrice = await stripeClient().prices.retrieve(bot.stripePriceId!)
    assert.isFalse(oldPrice.active)

    // Stripe down: our row has the new price, is flagged out of sync, and Checkout must not sell it.
    stripeSandbox().failNext({ count: 3, status: 500, path: '/v1/prices', method: 'POST' })
    const stale = await catalog.update(changed, {
      pricing: { pricingType: 'one_time', priceCents: 5000 },
    })
    assert.equal(stale.priceCents, 5000)
    assert.isFalse(stale.isInStripeSync)
    assert.isFalse(stale.isSellable)
    assert.isNotNull(stale.stripeSyncError)
    stripeSandbox().clearFaults()
    const { synced } = await catalog.syncPending()
    assert.deepEqual(synced, [bot.id])
    const fixed = await catalog.find('price-bot')
    assert.isTrue(fixed.isInStripeSync)
    const price = await stripeClient().prices.retrieve(fixed.stripePriceId!)
    assert.equal(price.unit_amount, 5000)
    assert.isNull(price.recurring)
    const prices = await stripeClient().prices.list({ product: fixed.stripeProductId!, limit: 100 })
    assert.lengthOf(prices.data, 3, 'one price per version, none duplicated by retries')
    assert.lengthOf(
      prices.data.filter((entry) => entry.active),
      1
    )

    await assert.rejects(
      () => catalog.update(fixed, { pricing: { pricingType: 'monthly', priceCents: 10 } }),
      /from 50/
    )
    await assert.rejects(
      () =>
        catalog.create({
          slug: 'Bad Slug',
          name: 'x y',
          creatorId: null,
          pricing: { pricingType: 'free' },
        }),
      /lowercase words/
    )
    const api = await agent(jenny, {
      pricingType: 'api',
      inputPriceMicrosPerMillion: 3_000_000,
      outputPriceMicrosPerMillion: 15_000_000,
    })
    assert.isTrue(api.isInStripeSync)
    assert.isNull(api.stripePriceId)
    assert.isNotNull(api.stripeProductId)
  })
})

test.group('Marketplace seeder', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('seeds creators and every pricing type, and is safe to rerun', async ({ assert }) => {
    const { default: MarketplaceSeeder } = await import('#database/seeders/marketplace_seeder')
    await new MarketplaceSeeder(db.connection()).run()
    await new MarketplaceSeeder(db.connection()).run()
    const agents = await db
      .from('marketplace_agents')
      .orderBy('slug')
      .select('slug', 'pricing_type', 'creator_id')
    assert.lengthOf(agents, 6)
    assert.sameMembers(
      [...new Set(agents.map((row) => row.pricing_type))],
      ['free', 'monthly', 'one_time', 'api']
    )
    assert.lengthOf(
      agents.filter((row) => row.creator_id === null),
      1
    )
    const jenny = await User.findByOrFail('email', 'jenny.creator@studio.test')
    assert.isTrue(jenny.creatorPayoutsEnabled)
    const lee = await User.findByOrFail('email', 'lee.creator@studio.test')
    assert.isFalse(lee.creatorPayoutsEnabled)
    assert.equal(
      await db
        .from('creator_accounts')
        .count('* as total')
        .then((rows) => Number(rows[0].total)),
      2
    )
  })
})
