import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import {
  balanceOf,
  chargeAmounts,
  customer,
  generate,
  invoiceOf,
  ledgerEntries,
  resetData,
  stripeInvoicesOf,
  usage,
} from './helpers.js'

test.group('Usage invoices: under the minimum charge, carried to the next period', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('30 cents is carried: no Stripe call, the usage stays unbilled and is charged next month', async ({
    assert,
  }) => {
    const ada = await customer()
    await usage(ada, [123_456, 176_544], { day: '2026-09-10T08:00:00' }) // 30 cents exactly

    const september = await generate('2026-09')
    assert.equal(september.carried, 1)
    assert.equal(september.carriedCents, 30)
    assert.equal(september.chargedCents, 0)
    const carried = await invoiceOf(ada, '2026-09')
    assert.equal(carried.status, 'carried')
    assert.deepEqual(
      [
        carried.amountCents,
        carried.creditsAppliedCents,
        carried.chargedCents,
        carried.carriedCents,
      ],
      [30, 0, 0, 30]
    )
    assert.isNull(carried.stripeInvoiceId)
    assert.lengthOf(await stripeInvoicesOf(ada), 0)
    const unbilled = await db.from('usage_logs').whereNull('usage_invoice_id').count('* as n')
    assert.equal(Number(unbilled[0].n), 2)

    // Rerunning September changes nothing.
    const rerun = await generate('2026-09')
    assert.equal(rerun.users, 0)

    // October: 25.4999 cents more. Both months are rounded together, once: 55.4999 -> 55.
    await usage(ada, [254_999], { day: '2026-10-03T08:00:00' })
    const october = await generate('2026-10')
    assert.equal(october.created, 1)
    assert.equal(october.paid, 1)
    const invoice = await invoiceOf(ada, '2026-10')
    assert.deepEqual(
      [invoice.costMicros, invoice.amountCents, invoice.chargedCents, invoice.requestCount],
      [554_999, 55, 55, 3]
    )
    const september2 = await invoiceOf(ada, '2026-09')
    assert.equal(september2.carriedIntoInvoiceId, invoice.id)
    const linked = await db.from('usage_logs').where('usage_invoice_id', invoice.id).count('* as n')
    assert.equal(Number(linked[0].n), 3)
    assert.deepEqual(await chargeAmounts(ada), [55])
  })

  test('credits first: a remainder under the minimum carries the whole amount, credits untouched', async ({
    assert,
  }) => {
    const ada = await customer({ credits: 20 })
    await usage(ada, [600_000], { day: '2026-09-20T00:00:00' }) // 60 cents: 20 credits + 40 to charge

    const september = await generate('2026-09')
    assert.equal(september.carried, 1)
    const carried = await invoiceOf(ada, '2026-09')
    assert.deepEqual(
      [carried.status, carried.carriedCents, carried.creditsAppliedCents],
      ['carried', 60, 0]
    )
    assert.equal(await balanceOf(ada), 20)

    await usage(ada, [100_000], { day: '2026-10-20T00:00:00' }) // 10 cents more: 70 - 20 = 50
    const october = await generate('2026-10')
    assert.equal(october.paid, 1)
    const invoice = await invoiceOf(ada, '2026-10')
    assert.deepEqual(
      [invoice.amountCents, invoice.creditsAppliedCents, invoice.chargedCents],
      [70, 20, 50]
    )
    assert.equal(await balanceOf(ada), 0)
    assert.deepEqual(await ledgerEntries(ada), [
      ['operator_grant', 20],
      ['usage_invoice', -20],
    ])
    assert.deepEqual(await chargeAmounts(ada), [50])
  })

  test('under the minimum but covered by credits: paid with credits, nothing carried', async ({
    assert,
  }) => {
    const ada = await customer({ credits: 100 })
    await usage(ada, [300_000])
    const result = await generate('2026-10')
    assert.equal(result.paid, 1)
    assert.equal(result.carried, 0)
    const invoice = await invoiceOf(ada)
    assert.deepEqual(
      [invoice.status, invoice.creditsAppliedCents, invoice.carriedCents],
      ['paid', 30, 0]
    )
  })
})
