import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import UsageInvoiceLine from '#models/usage_invoice_line'
import UsageSyncService from '#services/usage/usage_sync_service'
import {
  balanceOf,
  chargeAmounts,
  chargesOf,
  customer,
  generate,
  invoiceOf,
  ledgerOf,
  resetData,
  service,
  stripeInvoicesOf,
  usage,
} from './helpers.js'

/** 1_234_567 + 2_000_000 micros = $3.234567: 323 cents once rounded. */
const MICROS = [1_234_567, 2_000_000]

test.group('Usage invoices: credits first, the rest charged', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('credits covering the whole invoice: paid at once, nothing sent to Stripe', async ({
    assert,
  }) => {
    const ada = await customer({ credits: 500 })
    await usage(ada, MICROS)

    const result = await generate('2026-10')
    assert.equal(result.created, 1)
    assert.equal(result.paid, 1)
    assert.equal(result.creditsAppliedCents, 323)
    assert.equal(result.chargedCents, 0)

    const invoice = await invoiceOf(ada)
    assert.equal(invoice.status, 'paid')
    assert.equal(invoice.costMicros, 3_234_567)
    assert.equal(invoice.amountCents, 323)
    assert.equal(invoice.creditsAppliedCents, 323)
    assert.equal(invoice.chargedCents, 0)
    assert.isNull(invoice.stripeInvoiceId)
    assert.isNotNull(invoice.paidAt)
    assert.lengthOf(await stripeInvoicesOf(ada), 0)

    const ledger = await ledgerOf(ada)
    assert.deepEqual(
      ledger.map((row) => [row.kind, Number(row.amount_cents), Number(row.balance_after_cents)]),
      [
        ['operator_grant', 500, 500],
        ['usage_invoice', -323, 177],
      ]
    )
    assert.equal(Number(ledger[1].usage_invoice_id), invoice.id)
    assert.equal(await balanceOf(ada), 177)
    const linked = await db.from('usage_logs').where('usage_invoice_id', invoice.id).count('* as n')
    assert.equal(Number(linked[0].n), 2)
  })

  test('credits covering part: the ledger takes them, Stripe charges the rest once', async ({
    assert,
  }) => {
    const ada = await customer({ credits: 100 })
    await usage(ada, MICROS)

    const result = await generate('2026-10')
    assert.equal(result.paid, 1)
    assert.equal(result.creditsAppliedCents, 100)
    assert.equal(result.chargedCents, 223)

    const invoice = await invoiceOf(ada)
    assert.equal(invoice.status, 'paid')
    assert.deepEqual(
      [invoice.amountCents, invoice.creditsAppliedCents, invoice.chargedCents],
      [323, 100, 223]
    )
    const [stripeInvoice, ...others] = await stripeInvoicesOf(ada)
    assert.lengthOf(others, 0)
    assert.equal(invoice.stripeInvoiceId, stripeInvoice.id)
    assert.equal(stripeInvoice.status, 'paid')
    assert.equal(stripeInvoice.amount_paid, 223)
    assert.equal(stripeInvoice.collection_method, 'charge_automatically')
    assert.deepInclude(stripeInvoice.metadata, {
      kind: 'usage',
      usage_invoice_id: String(invoice.id),
      user_id: String(ada.id),
      period: '2026-10',
    })
    const charges = await chargesOf(ada)
    assert.deepEqual(
      charges.map((charge) => charge.amount),
      [223]
    )
    assert.equal(await balanceOf(ada), 0)
    const ledger = await ledgerOf(ada)
    assert.deepEqual(
      ledger.map((row) => Number(row.amount_cents)),
      [100, -100]
    )
  })

  test('no credits: the whole invoice is charged, rounded to cents once', async ({ assert }) => {
    const ada = await customer()
    // Ten requests of 5.5555 cents: 55.555 cents once rounded is 56 (per request it would be 60).
    await usage(ada, Array(10).fill(55_555))

    const result = await generate('2026-10')
    assert.equal(result.paid, 1)
    const invoice = await invoiceOf(ada)
    assert.deepEqual(
      [invoice.costMicros, invoice.amountCents, invoice.creditsAppliedCents, invoice.chargedCents],
      [555_550, 56, 0, 56]
    )
    assert.equal(invoice.requestCount, 10)
    const lines = await UsageInvoiceLine.query().where('usage_invoice_id', invoice.id)
    assert.deepEqual(
      lines.map((line) => [line.kind, line.amountCents, line.requestCount]),
      [['usage', 56, 10]]
    )
    assert.deepEqual(await chargeAmounts(ada), [56])
    assert.lengthOf(await ledgerOf(ada), 0)
  })

  test('usage is synced first; a failed sync stops the run before anything is invoiced', async ({
    assert,
  }) => {
    const ada = await customer()
    await usage(ada, MICROS)
    const calls: unknown[] = []
    let answer: 'succeeded' | 'failed' = 'failed'
    app.container.swap(UsageSyncService, () => {
      return {
        sync: async (options: unknown) => {
          calls.push(options)
          return {
            status: answer,
            error: answer === 'failed' ? 'LiteLLM answered 503' : null,
            window: { since: '2026-10-31T22:00:00.000Z', until: '2026-11-24T00:00:00.000Z' },
            counts: { inserted: 0 },
          }
        },
      } as unknown as UsageSyncService
    })
    try {
      const invoices = await service()
      await assert.rejects(
        () => invoices.generate('2026-10'),
        /could not be synced before closing 2026-10 \(LiteLLM answered 503\).*--skip-sync/
      )
      assert.lengthOf(calls, 1)
      assert.lengthOf(await db.from('usage_invoices').select('id'), 0)

      answer = 'succeeded'
      const result = await invoices.generate('2026-10')
      assert.lengthOf(calls, 2)
      assert.equal(result.sync.status, 'synced')
      assert.equal(result.paid, 1)
    } finally {
      app.container.restore(UsageSyncService)
    }
  })

  test('a period is invoiced only once it is over, and must be a month', async ({ assert }) => {
    const invoices = await service()
    await assert.rejects(
      () => invoices.generate('2026-11', { skipSync: true }),
      /2026-11 is not over yet/
    )
    await assert.rejects(
      () => invoices.generate('2026-13', { skipSync: true }),
      /not a billing period/
    )
  })
})
