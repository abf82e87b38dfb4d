import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import {
  agent,
  buyer,
  charge,
  creator,
  ledgerOf,
  loadStripeConfig,
  payoutsOf,
  resetData,
  sale,
  runPayouts,
  services,
  swapInCrashingGateway,
  transfers,
} from './helpers.js'
import { stripeClient } from '#tests/support/stripe'

test.group('Marketplace earnings: duplicates, refunds and reversals', (group) => {
  group.setup(() => loadStripeConfig())
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('duplicates of every earnings source change nothing, even at the same moment', async ({
    assert,
  }) => {
    const jenny = await creator()
    const bot = await agent(jenny, { pricingType: 'monthly', priceCents: 999 })
    const payer = await buyer()
    const earnings = await services.earnings()
    const paid = await charge(999)
    const input = { agent: bot, buyerId: payer.id, grossCents: 999, stripeChargeId: paid.chargeId }
    const record = {
      sale: () =>
        db.transaction((trx) => earnings.recordSale({ ...input, sourceId: 'cs_dup_1' }, trx)),
      renewal: () =>
        db.transaction((trx) => earnings.recordRenewal({ ...input, sourceId: 'in_dup_1' }, trx)),
      usage: () => db.transaction((trx) => earnings.recordUsage({ ...input, sourceId: '77' }, trx)),
    }
    for (const [kind, once] of Object.entries(record)) {
      const results = await Promise.all([once(), once(), once()])
      assert.deepEqual(
        results.map((result) => result.created).sort(),
        [false, false, true],
        `${kind}: one insert`
      )
      assert.equal(new Set(results.map((result) => result.transaction.id)).size, 1)
    }
    const [sold] = await ledgerOf(jenny)
    const refund = () =>
      db.transaction((trx) =>
        earnings.recordReversal(
          {
            earning: { sourceType: 'checkout_session', sourceId: 'cs_dup_1', agentId: bot.id },
            kind: 'refund',
            sourceId: 're_dup_1',
            grossCents: 500,
          },
          trx
        )
      )
    const refunds = await Promise.all([refund(), refund()])
    assert.deepEqual(refunds.map((result) => result.created).sort(), [false, true])
    const dispute = () =>
      db.transaction((trx) =>
        earnings.recordReversal(
          {
            earning: { sourceType: 'checkout_session', sourceId: 'cs_dup_1', agentId: bot.id },
            kind: 'dispute',
            sourceId: 'dp_dup_1',
            grossCents: 999,
          },
          trx
        )
      )
    await dispute()
    await dispute()

    const rows = await ledgerOf(jenny)
    assert.deepEqual(
      rows.map((row) => [row.kind, row.grossCents, row.creatorCents, row.platformCents]),
      [
        ['sale', 999, 899, 100],
        ['renewal', 999, 899, 100],
        ['usage', 999, 899, 100],
        ['refund', -500, -449, -51],
        // The dispute takes what is left of the sale: never more than was earned.
        ['dispute', -499, -450, -49],
      ]
    )
    assert.equal(sold.creatorCents + rows[3].creatorCents + rows[4].creatorCents, 0)
    for (const row of rows) assert.equal(row.creatorCents + row.platformCents, row.grossCents)

    // The same source with different money is a bug upstream: refused, nothing written.
    await assert.rejects(
      () =>
        db.transaction((trx) =>
          earnings.recordSale({ ...input, grossCents: 1000, sourceId: 'cs_dup_1' }, trx)
        ),
      /different kind, amount or buyer/
    )
    assert.lengthOf(await ledgerOf(jenny), 5)
  })

  test('a refund before payout nets against the payout; after payout the run reverses the transfer', async ({
    assert,
  }) => {
    const jenny = await creator()
    const bot = await agent(jenny)
    const payer = await buyer()
    const earnings = await services.earnings()
    const first = await sale(bot, payer, 1000)
    const second = await sale(bot, payer, 2000)
    // A partial refund of the first sale before any payout: netted.
    await db.transaction((trx) =>
      earnings.recordReversal(
        { earning: first.transaction, kind: 'refund', sourceId: 're_before', grossCents: 300 },
        trx
      )
    )
    const run = await runPayouts()
    assert.deepEqual(
      run.payouts.map((outcome) => [outcome.status, outcome.amountCents]),
      [['paid', 900 + 1800 - 270]]
    )
    const [transfer] = await transfers(jenny.creatorStripeAccountId!)
    assert.equal(transfer.amount, 2430)

    // The second sale is refunded in full after it was paid: a transfer reversal, made by the run.
    const { transferReversal } = await db.transaction((trx) =>
      earnings.recordReversal(
        { earning: second.transaction, kind: 'refund', sourceId: 're_after', grossCents: 2000 },
        trx
      )
    )
    assert.equal(transferReversal?.amountCents, 1800)
    assert.equal(transferReversal?.status, 'pending')
    assert.equal(
      transferReversal?.idempotencyKey,
      `studio:transfer-reversal:${transferReversal?.id}`
    )

    const reversing = await runPayouts()
    assert.deepEqual(
      reversing.reversals.map((outcome) => [outcome.status, outcome.amountCents]),
      [['succeeded', 1800]]
    )
    const after = await stripeClient().transfers.retrieve(transfer.id)
    assert.equal(after.amount_reversed, 1800)
    const [payout] = await payoutsOf(jenny)
    assert.equal(Number(payout.reversed_cents), 1800)

    // Rerunning makes no second reversal.
    await runPayouts()
    const retrieved = await stripeClient().transfers.retrieve(transfer.id)
    assert.equal(retrieved.amount_reversed, 1800)
    const balances = await earnings.balances(jenny.id)
    assert.equal(balances.paidCents - balances.reversedCents, balances.netEarnedCents)
    assert.equal(balances.netEarnedCents, 630)
  })

  test('a reversal larger than what is left of the transfer takes the rest and nets the shortfall', async ({
    assert,
  }) => {
    const jenny = await creator()
    const bot = await agent(jenny)
    const payer = await buyer()
    const earnings = await services.earnings()
    const sold = await sale(bot, payer, 1000)
    await runPayouts()
    // Earlier reversals (say) took all but 100 cents of this transfer.
    await db.from('creator_payouts').where('creator_id', jenny.id).update({ reversed_cents: 800 })
    await db.transaction((trx) =>
      earnings.recordReversal(
        { earning: sold.transaction, kind: 'dispute', sourceId: 'dp_big', grossCents: 1000 },
        trx
      )
    )
    const run = await runPayouts()
    assert.deepEqual(
      run.reversals.map((outcome) => [outcome.status, outcome.amountCents]),
      [['succeeded', 100]]
    )
    const [transfer] = await transfers(jenny.creatorStripeAccountId!)
    assert.equal(transfer.amount_reversed, 100)
    const rows = await ledgerOf(jenny)
    assert.deepEqual(
      rows.map((row) => [row.kind, row.sourceType, row.grossCents, row.creatorCents, row.status]),
      [
        ['sale', 'payment_intent', 1000, 900, 'paid'],
        ['dispute', 'dispute', -200, -100, 'reversed'],
        ['dispute', 'reversal_shortfall', -800, -800, 'payable'],
      ]
    )
    // Split still sums per row, and the creator gave back exactly the 900 earned.
    for (const row of rows)
      assert.equal(row.creatorCents + (row.grossCents - row.creatorCents), row.grossCents)
    assert.equal(rows[1].creatorCents + rows[2].creatorCents, -900)
    // The shortfall nets against the next earnings.
    await sale(bot, payer, 2000)
    const next = await runPayouts()
    assert.deepEqual(
      next.payouts.map((outcome) => [outcome.status, outcome.amountCents]),
      [['paid', 1800 - 800]]
    )
  })

  test('a crash after the transfer reversal and before recording it converges on rerun, one reversal', async ({
    assert,
  }) => {
    const jenny = await creator()
    const earnings = await services.earnings()
    const sold = await sale(await agent(jenny), await buyer(), 1000)
    await runPayouts()
    await db.transaction((trx) =>
      earnings.recordReversal(
        { earning: sold.transaction, kind: 'refund', sourceId: 're_crash', grossCents: 1000 },
        trx
      )
    )
    swapInCrashingGateway('reversal')
    const crashed = await runPayouts()
    assert.deepEqual(
      crashed.reversals.map((outcome) => outcome.status),
      ['retry']
    )
    const [transfer] = await transfers(jenny.creatorStripeAccountId!)
    assert.equal(transfer.amount_reversed, 900)
    const rerun = await runPayouts()
    assert.deepEqual(
      rerun.reversals.map((outcome) => outcome.status),
      ['succeeded']
    )
    const reversals = await stripeClient().transfers.listReversals(transfer.id)
    assert.lengthOf(reversals.data, 1)
    const [payout] = await payoutsOf(jenny)
    assert.equal(payout.status, 'reversed')
    assert.equal(Number(payout.reversed_cents), 900)
  })

  test('makePayable moves only creators’ earnings past the hold period', async ({ assert }) => {
    const jenny = await creator()
    const payer = await buyer()
    await sale(await agent(jenny), payer, 1000, { daysAgo: 6 })
    const earnings = await services.earnings()
    assert.equal(await earnings.makePayable(), 0)
    assert.equal(await earnings.makePayable(DateTime.utc().plus({ days: 1, minutes: 1 })), 1)
    assert.equal(await earnings.makePayable(DateTime.utc().plus({ days: 2 })), 0)
  })
})
