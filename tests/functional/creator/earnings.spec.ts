import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import {
  agent,
  buyer,
  creator,
  resetData,
  runPayouts,
  sale,
  services,
  transfers,
} from '../marketplace/helpers.js'

type Overview = {
  connect: { state: string; canReceiveFunds: boolean; stripeAccountId: string | null }
  balances: Record<string, number>
  agents: Array<{ id: number; slug: string; pricingType: string; isPublished: boolean }>
  earningsByAgent: Array<{
    agentId: number
    sales: number
    reversals: number
    grossCents: number
    creatorCents: number
    platformCents: number
  }>
  payouts: Array<{
    id: number
    amountCents: number
    status: string
    stripeTransferId: string | null
    reversedCents: number
  }>
  currency: string
  creatorSharePercent: number
  payoutHoldDays: number
}

test.group('Creator earnings: page and GET /api/billing/earnings', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('balances pending / payable / paid / reversed, per-agent figures and payouts, from the ledger', async ({
    client,
    assert,
  }) => {
    const jenny = await creator()
    const payer = await buyer()
    const writer = await agent(jenny, { pricingType: 'one_time', priceCents: 1000 }, 'jenny-writer')
    const coder = await agent(jenny, { pricingType: 'monthly', priceCents: 500 }, 'jenny-coder')
    await agent(jenny, { pricingType: 'free' }, 'jenny-free')

    // Paid in a payout run: 900 + 450; then the 1000 sale is refunded in full (a reversal).
    const refunded = await sale(writer, payer, 1000)
    await sale(coder, payer, 500)
    const run = await runPayouts()
    assert.deepEqual(
      run.payouts.map((outcome) => [outcome.status, outcome.amountCents]),
      [['paid', 1350]]
    )
    const earnings = await services.earnings()
    await db.transaction((trx) =>
      earnings.recordReversal(
        { earning: refunded.transaction, kind: 'refund', sourceId: 're_page', grossCents: 1000 },
        trx
      )
    )
    await runPayouts() // makes the transfer reversal of 900
    // Past the hold, not paid yet (the run above was before it): payable. Within the hold: pending.
    await sale(coder, payer, 500, { daysAgo: 8 })
    await earnings.makePayable()
    await sale(writer, payer, 1000, { daysAgo: 1 })

    // Someone else's money never shows.
    const other = await creator()
    await sale(await agent(other), payer, 2000)

    const api = await client.get('/api/billing/earnings').loginAs(jenny)
    api.assertStatus(200)
    const data = api.body().data as Overview
    assert.deepEqual(data.balances, {
      pendingCents: 900,
      payableCents: 450,
      inFlightCents: 0,
      paidCents: 1350,
      reversedCents: 900,
      reversalPendingCents: 0,
      netEarnedCents: 900 + 450 + 450 + 900 - 900,
    })
    assert.deepEqual(
      data.agents.map((row) => row.slug),
      ['jenny-free', 'jenny-coder', 'jenny-writer']
    )
    const bySlug = new Map(data.agents.map((row) => [row.id, row.slug]))
    assert.deepEqual(
      data.earningsByAgent.map((row) => [
        bySlug.get(row.agentId),
        row.sales,
        row.reversals,
        row.grossCents,
        row.creatorCents,
        row.platformCents,
      ]),
      [
        ['jenny-writer', 2, 1, 1000, 900, 100],
        ['jenny-coder', 2, 0, 1000, 900, 100],
        ['jenny-free', 0, 0, 0, 0, 0],
      ]
    )
    const [transfer] = await transfers(jenny.creatorStripeAccountId!)
    assert.deepEqual(
      data.payouts.map((payout) => [
        payout.amountCents,
        payout.status,
        payout.stripeTransferId,
        payout.reversedCents,
      ]),
      [[1350, 'paid', transfer.id, 900]]
    )
    assert.equal(transfer.amount_reversed, 900)
    assert.deepEqual(
      {
        state: data.connect.state,
        canReceiveFunds: data.connect.canReceiveFunds,
        stripeAccountId: data.connect.stripeAccountId,
      },
      { state: 'enabled', canReceiveFunds: true, stripeAccountId: jenny.creatorStripeAccountId }
    )
    assert.deepInclude(data, { currency: 'usd', creatorSharePercent: 90, payoutHoldDays: 7 })

    // The page shows the same overview.
    const page = await client.get('/creator').loginAs(jenny).withInertia()
    page.assertStatus(200)
    page.assertInertiaComponent('creator/show')
    const props = page.inertiaProps as Overview & { priceLimits: Record<string, number> }
    assert.deepEqual(props.balances, data.balances)
    assert.deepEqual(props.earningsByAgent, data.earningsByAgent)
    assert.deepEqual(props.payouts, data.payouts)
    assert.deepEqual(props.priceLimits, {
      minPriceCents: 50,
      maxPriceCents: 99_999_999,
      maxMicrosPerMillion: 1_000_000_000,
    })
  })

  test('a user who never sold anything sees zeros, no agents and onboarding not started', async ({
    client,
    assert,
  }) => {
    const newcomer = await buyer()
    const api = await client.get('/api/billing/earnings').loginAs(newcomer)
    api.assertStatus(200)
    const data = api.body().data as Overview
    assert.deepEqual(Object.values(data.balances), [0, 0, 0, 0, 0, 0, 0])
    assert.deepEqual(data.agents, [])
    assert.deepEqual(data.payouts, [])
    assert.equal(data.connect.state, 'none')

    const page = await client.get('/creator').loginAs(newcomer).withInertia()
    page.assertInertiaComponent('creator/show')
    assert.equal((page.inertiaProps as Overview).connect.state, 'none')

    const anonymous = await client.get('/api/billing/earnings')
    anonymous.assertStatus(401)
    const guestPage = await client.get('/creator').redirects(0)
    guestPage.assertStatus(302)
    assert.equal(guestPage.header('location'), '/login')
  })

  test('a creator who cannot receive funds yet sees the earnings kept payable and onboarding incomplete', async ({
    client,
    assert,
  }) => {
    const late = await creator({ onboarded: false })
    await sale(await agent(late), await buyer(), 1000)
    const skipped = await runPayouts({ now: DateTime.utc() })
    assert.equal(skipped.payouts[0].status, 'skipped')
    const api = await client.get('/api/billing/earnings').loginAs(late)
    const data = api.body().data as Overview
    assert.equal(data.balances.payableCents, 900)
    assert.equal(data.connect.state, 'incomplete')
    assert.isFalse(data.connect.canReceiveFunds)
    assert.deepEqual(data.payouts, [])
  })
})
