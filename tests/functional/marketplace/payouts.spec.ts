import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import User from '#models/user'
import { stripeSandbox } from '#tests/support/stripe'
import {
  agent,
  buyer,
  creator,
  fundPlatform,
  ledgerOf,
  loadStripeConfig,
  payoutsOf,
  platformAvailable,
  resetData,
  sale,
  runPayouts,
  balancesOf,
  refreshConnect,
  services,
  swapInCrashingGateway,
  transfers,
} from './helpers.js'

test.group('Marketplace payouts: runs', (group) => {
  group.setup(() => loadStripeConfig())
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('a run pays the payable earnings in one transfer, nets nothing twice, and a rerun pays nothing more', async ({
    assert,
  }) => {
    const jenny = await creator()
    const bot = await agent(jenny, { pricingType: 'one_time', priceCents: 999 })
    const payer = await buyer()
    await sale(bot, payer, 999)
    await sale(bot, payer, 3)
    await sale(bot, payer, 1000, { daysAgo: 1 }) // still in the hold period

    const payouts = await services.payouts()
    const result = await payouts.run()
    assert.lengthOf(result.payouts, 1)
    assert.equal(result.payouts[0].status, 'paid')
    assert.equal(result.payouts[0].amountCents, 899 + 2)

    const made = await transfers(jenny.creatorStripeAccountId!)
    assert.lengthOf(made, 1)
    assert.equal(made[0].amount, 901)
    assert.equal(made[0].metadata.payout_id, String(result.payouts[0].payoutId))
    assert.equal(made[0].transfer_group, `studio_payout_${result.payouts[0].payoutId}`)

    const [payout] = await payoutsOf(jenny)
    assert.equal(payout.status, 'paid')
    assert.equal(payout.stripe_transfer_id, made[0].id)
    assert.equal(payout.idempotency_key, `studio:payout:${payout.id}`)
    const fresh1 = await ledgerOf(jenny)
    assert.deepEqual(
      fresh1.map((row) => [row.creatorCents, row.status, row.payoutId]),
      [
        [899, 'paid', Number(payout.id)],
        [2, 'paid', Number(payout.id)],
        [900, 'pending', null],
      ]
    )

    const again = await payouts.run()
    assert.deepEqual(
      again.payouts.map((outcome) => outcome.status),
      []
    )
    assert.lengthOf(await transfers(jenny.creatorStripeAccountId!), 1)

    // Eight days later the held sale is paid, in a second transfer.
    const later = await payouts.run({ now: DateTime.utc().plus({ days: 8 }) })
    assert.deepEqual(
      later.payouts.map((outcome) => [outcome.status, outcome.amountCents]),
      [['paid', 900]]
    )
    assert.lengthOf(await transfers(jenny.creatorStripeAccountId!), 2)

    const balances = await balancesOf(jenny.id)
    assert.deepEqual(balances, {
      pendingCents: 0,
      payableCents: 0,
      inFlightCents: 0,
      paidCents: 1801,
      reversedCents: 0,
      reversalPendingCents: 0,
      netEarnedCents: 1801,
    })
  })

  test('a run killed after the transfer and before recording it converges on rerun with one transfer', async ({
    assert,
  }) => {
    const jenny = await creator()
    const bot = await agent(jenny)
    await sale(bot, await buyer(), 1000)

    swapInCrashingGateway('transfer')
    const crashed = await runPayouts()
    assert.equal(crashed.payouts[0].status, 'retry')
    assert.match(crashed.payouts[0].reason ?? '', /simulated crash/)
    const [stuck] = await payoutsOf(jenny)
    assert.equal(stuck.status, 'processing')
    assert.isNull(stuck.stripe_transfer_id)
    assert.lengthOf(
      await transfers(jenny.creatorStripeAccountId!),
      1,
      'the transfer exists in Stripe'
    )

    const rerun = await runPayouts()
    assert.deepEqual(
      rerun.payouts.map((outcome) => [outcome.status, outcome.payoutId]),
      [['paid', Number(stuck.id)]]
    )
    const made = await transfers(jenny.creatorStripeAccountId!)
    assert.lengthOf(made, 1, 'one transfer only')
    const [paid] = await payoutsOf(jenny)
    assert.equal(paid.stripe_transfer_id, made[0].id)
    assert.equal(paid.attempts, 2)
    assert.lengthOf(await payoutsOf(jenny), 1)
  })

  test('after Stripe forgot the key (24 h), a rerun finds the transfer by its transfer_group', async ({
    assert,
  }) => {
    const jenny = await creator()
    await sale(await agent(jenny), await buyer(), 1000)
    swapInCrashingGateway('transfer')
    await runPayouts()
    // Two days later: keys are gone in Stripe; the run must look before creating.
    stripeSandbox().advanceClock(2 * 24 * 3600)
    await db
      .from('creator_payouts')
      .update({ created_at: DateTime.utc().minus({ days: 2 }).toJSDate() })
    const rerun = await runPayouts()
    assert.equal(rerun.payouts[0].status, 'paid')
    assert.lengthOf(await transfers(jenny.creatorStripeAccountId!), 1, 'one transfer only')
  })

  test('two runs at once make one transfer per creator', async ({ assert }) => {
    const jenny = await creator()
    const ada = await creator()
    const payer = await buyer()
    await sale(await agent(jenny), payer, 1000)
    await sale(await agent(ada), payer, 2000)

    const [first, second] = await Promise.all([runPayouts(), runPayouts()])
    const paid = [...first.payouts, ...second.payouts].filter(
      (outcome) => outcome.status === 'paid'
    )
    assert.lengthOf(paid, 2)
    assert.lengthOf(await transfers(jenny.creatorStripeAccountId!), 1)
    assert.lengthOf(await transfers(ada.creatorStripeAccountId!), 1)
    assert.lengthOf(await payoutsOf(jenny), 1)
    assert.lengthOf(await payoutsOf(ada), 1)
  })

  test('a Stripe outage halfway leaves the payout processing; the rerun finishes it, once', async ({
    assert,
  }) => {
    const jenny = await creator()
    const ada = await creator()
    const payer = await buyer()
    await sale(await agent(jenny), payer, 1000)
    await sale(await agent(ada), payer, 2000)

    // The first creator's transfer goes through; every attempt of the second one fails (500).
    let calls = 0
    stripeSandbox().failNext({ count: 0 })
    const payouts = await services.payouts()
    const original = payouts.finish.bind(payouts)
    payouts.finish = async (...args) => {
      calls += 1
      if (calls === 2)
        stripeSandbox().failNext({ count: 3, status: 500, path: '/v1/transfers', method: 'POST' })
      return original(...args)
    }
    const first = await payouts.run()
    assert.deepEqual(first.payouts.map((outcome) => outcome.status).sort(), ['paid', 'retry'])
    const retried = first.payouts.find((outcome) => outcome.status === 'retry')!
    const stuck = await db.from('creator_payouts').where('id', retried.payoutId!).first()
    assert.equal(stuck.status, 'processing')

    stripeSandbox().clearFaults()
    const second = await runPayouts()
    assert.deepEqual(
      second.payouts.map((outcome) => [outcome.status, outcome.payoutId]),
      [['paid', retried.payoutId]]
    )
    assert.lengthOf(await transfers(jenny.creatorStripeAccountId!), 1)
    assert.lengthOf(await transfers(ada.creatorStripeAccountId!), 1)
  })

  test('Stripe refusing a transfer fails the payout and puts its earnings back; a later run pays them', async ({
    assert,
  }) => {
    const jenny = await creator()
    await sale(await agent(jenny), await buyer(), 1000)
    // Stripe refuses the transfer outright (a 400: retrying the same request cannot help).
    stripeSandbox().failNext({ count: 1, status: 400, path: '/v1/transfers', method: 'POST' })
    const refused = await runPayouts()
    assert.deepEqual(
      refused.payouts.map((outcome) => outcome.status),
      ['failed']
    )
    const [failed] = await payoutsOf(jenny)
    assert.equal(failed.status, 'failed')
    assert.match(failed.failure_reason, /Injected failure/)
    const fresh2 = await ledgerOf(jenny)
    assert.deepEqual(
      fresh2.map((row) => [row.status, row.payoutId]),
      [['payable', null]]
    )
    assert.lengthOf(await transfers(jenny.creatorStripeAccountId!), 0)

    // The next run opens a new payout (a new key: nothing exists under the old one) and pays.
    const retried = await runPayouts()
    assert.deepEqual(
      retried.payouts.map((outcome) => [outcome.status, outcome.amountCents]),
      [['paid', 900]]
    )
    const rows = await payoutsOf(jenny)
    assert.deepEqual(
      rows.map((row) => row.status),
      ['failed', 'paid']
    )
    assert.lengthOf(await transfers(jenny.creatorStripeAccountId!), 1)
  })

  test('a transfer refused for a short platform balance is a retry: earnings stay payable, a later run pays once', async ({
    assert,
  }) => {
    const jenny = await creator()
    const bot = await agent(jenny)
    // An earning bigger than the platform's available balance (no charge funds it yet).
    const available = await platformAvailable()
    const grossCents = available * 2
    const earnings = await services.earnings()
    const { transaction } = await db.transaction((trx) =>
      earnings.recordSale(
        {
          agent: bot,
          buyerId: jenny.id,
          sourceType: 'payment_intent',
          sourceId: `pi_unfunded_${jenny.id}`,
          grossCents,
          at: DateTime.utc().minus({ days: 10 }),
        },
        trx
      )
    )

    const short = await runPayouts()
    assert.deepEqual(
      short.payouts.map((outcome) => [outcome.status, outcome.amountCents]),
      [['retry', transaction.creatorCents]]
    )
    assert.match(
      short.payouts[0].reason ?? '',
      /platform balance too low.*insufficient available funds/
    )
    const [refused] = await payoutsOf(jenny)
    assert.equal(refused.status, 'failed')
    assert.match(refused.failure_reason, /balance_insufficient|insufficient available funds/)
    const kept = await ledgerOf(jenny)
    assert.deepEqual(
      kept.map((row) => [row.status, row.payoutId]),
      [['payable', null]]
    )
    assert.lengthOf(await transfers(jenny.creatorStripeAccountId!), 0)
    const balances = await balancesOf(jenny)
    assert.equal(balances.payableCents, transaction.creatorCents)

    // Funds arrive; the next run opens a new payout (new key) and pays exactly once.
    await fundPlatform(transaction.creatorCents + 10_000)
    const paid = await runPayouts()
    assert.deepEqual(
      paid.payouts.map((outcome) => [outcome.status, outcome.amountCents]),
      [['paid', transaction.creatorCents]]
    )
    const rows = await payoutsOf(jenny)
    assert.deepEqual(
      rows.map((row) => row.status),
      ['failed', 'paid']
    )
    const made = await transfers(jenny.creatorStripeAccountId!)
    assert.lengthOf(made, 1)
    assert.equal(made[0].amount, transaction.creatorCents)
  })

  test('a creator who cannot receive funds accrues earnings, and is paid once onboarded', async ({
    assert,
  }) => {
    const late = await creator({ onboarded: false })
    await sale(await agent(late), await buyer(), 1000)
    const skipped = await runPayouts()
    assert.deepEqual(
      skipped.payouts.map((outcome) => outcome.status),
      ['skipped']
    )
    assert.match(skipped.payouts[0].reason ?? '', /cannot receive funds/)
    assert.lengthOf(await payoutsOf(late), 0)
    const fresh3 = await balancesOf(late.id)
    assert.equal(fresh3.payableCents, 900)

    const { completeOnboarding } = await import('../../../sandbox/stripe/resources/accounts.js')
    completeOnboarding(stripeSandbox().context, late.creatorStripeAccountId!, 'complete')
    await refreshConnect(late)
    const fresh4 = await User.findOrFail(late.id)
    assert.isTrue(fresh4.creatorPayoutsEnabled)
    const paid = await runPayouts()
    assert.deepEqual(
      paid.payouts.map((outcome) => [outcome.status, outcome.amountCents]),
      [['paid', 900]]
    )
  })

  test('platform agents earn nobody a share and never reach a payout', async ({ assert }) => {
    const platformAgent = await agent(null, { pricingType: 'one_time', priceCents: 500 })
    const { transaction } = await sale(platformAgent, await buyer(), 500)
    assert.equal(transaction.creatorCents, 0)
    assert.equal(transaction.platformCents, 500)
    assert.isNull(transaction.creatorId)
    const result = await runPayouts({ now: DateTime.utc().plus({ days: 30 }) })
    assert.lengthOf(result.payouts, 0)
    const row = await db.from('marketplace_transactions').where('id', transaction.id).first()
    assert.equal(row.status, 'pending')
  })
})
