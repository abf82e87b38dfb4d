import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import type Stripe from 'stripe'
import UsageInvoiceLine from '#models/usage_invoice_line'
import { stripeSandbox } from '#tests/support/stripe'
import {
  apiAgent,
  chargesOf,
  customer,
  earningsOf,
  generate,
  invoiceOf,
  resetData,
  settle,
  usage,
} from './helpers.js'

test.group('Usage invoices: creators of api agents earn their share once per invoice', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('each api agent line is split exactly from the rounded total, recorded once with the charge', async ({
    assert,
  }) => {
    const jenny = await customer()
    const sam = await customer()
    const alpha = await apiAgent(jenny, 'share-alpha')
    const beta = await apiAgent(sam, 'share-beta')
    const platform = await apiAgent(null, 'share-platform')
    const ada = await customer()
    await usage(ada, [1_000_000, 234_567], { agent: alpha }) // 123.4567 cents
    await usage(ada, [2_345_678], { agent: beta }) // 234.5678 cents
    await usage(ada, [3_456_789]) // 345.6789 cents of plain model usage
    await usage(ada, [10_000], { agent: platform }) // 1 cent: a platform agent, no creator

    const result = await generate('2026-10')
    assert.equal(result.paid, 1)
    await settle()
    const invoice = await invoiceOf(ada)
    // 7_047_034 micros = 704.7034 cents: 705 once rounded.
    assert.deepEqual([invoice.costMicros, invoice.amountCents], [7_047_034, 705])
    const lines = await UsageInvoiceLine.query().where('usage_invoice_id', invoice.id).orderBy('id')
    // Whole cents 123 + 234 + 1 + 345 = 703; the 2 left go to the largest fractions (.6789, .5678).
    assert.deepEqual(
      lines.map((line) => [line.kind, line.agentId, line.costMicros, line.amountCents]),
      [
        ['agent', alpha.id, 1_234_567, 123],
        ['agent', beta.id, 2_345_678, 235],
        ['agent', platform.id, 10_000, 1],
        ['usage', null, 3_456_789, 346],
      ]
    )
    assert.equal(
      lines.reduce((sum, line) => sum + line.amountCents, 0),
      invoice.amountCents
    )

    const [charge] = await chargesOf(ada)
    assert.equal(charge.amount, 705)
    const earnings = await earningsOf(invoice.id)
    assert.deepEqual(earnings, [
      {
        agentId: alpha.id,
        kind: 'usage',
        grossCents: 123,
        creatorCents: 110,
        platformCents: 13,
        stripeChargeId: charge.id,
      },
      {
        agentId: beta.id,
        kind: 'usage',
        grossCents: 235,
        creatorCents: 211,
        platformCents: 24,
        stripeChargeId: charge.id,
      },
      {
        agentId: platform.id,
        kind: 'usage',
        grossCents: 1,
        creatorCents: 0,
        platformCents: 1,
        stripeChargeId: charge.id,
      },
    ])
    for (const row of earnings) assert.equal(row.creatorCents + row.platformCents, row.grossCents)

    // The webhook (already delivered), its duplicate and a rerun add nothing.
    const paidEvent = stripeSandbox()
      .eventLog('invoice.paid')
      .find((event) => (event.data.object as Stripe.Invoice).id === invoice.stripeInvoiceId)!
    await stripeSandbox().duplicateEvent(paidEvent.id)
    await settle()
    await generate('2026-10')
    assert.deepEqual(await earningsOf(invoice.id), earnings)
    const all = await db.from('marketplace_transactions').count('* as n')
    assert.equal(Number(all[0].n), 3)
  })

  test('an invoice paid with credits records the shares at once, without a charge', async ({
    assert,
  }) => {
    const jenny = await customer()
    const alpha = await apiAgent(jenny, 'share-credits')
    const ada = await customer({ credits: 1000 })
    await usage(ada, [4_444_444], { agent: alpha })

    await generate('2026-10')
    const invoice = await invoiceOf(ada)
    assert.equal(invoice.status, 'paid')
    assert.isNull(invoice.stripeInvoiceId)
    assert.deepEqual(await earningsOf(invoice.id), [
      {
        agentId: alpha.id,
        kind: 'usage',
        grossCents: 444,
        creatorCents: 399,
        platformCents: 45,
        stripeChargeId: null,
      },
    ])
  })
})
