import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import StripeGateway from '#services/stripe_gateway'
import { stripeSandbox } from '#tests/support/stripe'
import {
  chargeAmounts,
  chargeCount,
  chargesOf,
  customer,
  generate,
  invoiceOf,
  ledgerAmounts,
  resetData,
  settle,
  statusOf,
  stripeInvoiceCount,
  stripeInvoicesOf,
  swapInCountingGateway,
  swapInCrashingGateway,
  usage,
} from './helpers.js'

test.group('Usage invoices: crashes and reruns never charge twice', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('a crash between the Stripe invoice and our record: the rerun finds it, one invoice, one charge', async ({
    assert,
  }) => {
    const ada = await customer({ credits: 40 })
    await usage(ada, [1_500_000])
    // Webhooks held back: only the rerun can finish the invoice.
    stripeSandbox().holdWebhooks(true)
    const crashing = await swapInCrashingGateway('create')

    const first = await generate('2026-10')
    assert.equal(crashing.count, 1)
    assert.equal(first.errors, 1)
    assert.match(first.outcomes[0].reason!, /simulated crash after invoices.create/)
    let invoice = await invoiceOf(ada)
    assert.equal(invoice.status, 'draft')
    assert.isNull(invoice.stripeInvoiceId)
    assert.equal(invoice.stripeAttempts, 1)
    // Our row was made (and credits applied) before any Stripe call; Stripe holds a draft.
    assert.deepEqual(
      [invoice.amountCents, invoice.creditsAppliedCents, invoice.chargedCents],
      [150, 40, 110]
    )
    const [draft] = await stripeInvoicesOf(ada)
    assert.equal(draft.status, 'draft')

    // The rerun looks the invoice up by its metadata first: no second create at all.
    const counting = await swapInCountingGateway()
    const second = await generate('2026-10')
    assert.equal(counting.create, 0)
    assert.equal(counting.pay, 1)
    assert.equal(second.created, 0)
    assert.equal(second.paid, 1)
    invoice = await invoiceOf(ada)
    assert.equal(invoice.status, 'paid')
    assert.equal(invoice.stripeInvoiceId, draft.id)

    const invoices = await stripeInvoicesOf(ada)
    assert.lengthOf(invoices, 1)
    assert.equal(invoices[0].status, 'paid')
    assert.equal(invoices[0].amount_paid, 110)
    assert.lengthOf(invoices[0].lines.data, 1)
    assert.deepEqual(await chargeAmounts(ada), [110])
    // Credits were taken once.
    assert.deepEqual(await ledgerAmounts(ada), [40, -40])

    // And a third run has nothing to do; the late webhooks change nothing either.
    const third = await generate('2026-10')
    assert.equal(third.users, 0)
    stripeSandbox().releaseWebhooks()
    await settle()
    assert.equal(await statusOf(ada), 'paid')
    assert.lengthOf(await stripeInvoicesOf(ada), 1)
    assert.lengthOf(await chargesOf(ada), 1)
    const failed = await db.from('stripe_events').where('status', 'failed').count('* as n')
    assert.equal(Number(failed[0].n), 0)
  })

  test('a crash after Stripe charged but before we recorded it: the rerun records, never pays again', async ({
    assert,
  }) => {
    const ada = await customer()
    await usage(ada, [990_000])
    stripeSandbox().holdWebhooks(true)
    const crashing = await swapInCrashingGateway('pay')

    const first = await generate('2026-10')
    assert.equal(crashing.count, 1)
    assert.equal(first.errors, 1)
    let invoice = await invoiceOf(ada)
    assert.equal(invoice.status, 'open')
    assert.isNotNull(invoice.finalizedAt)
    assert.deepEqual(await chargeAmounts(ada), [99])

    app.container.restore(StripeGateway)
    const counting = await swapInCountingGateway()
    const second = await generate('2026-10')
    assert.equal(second.paid, 1)
    assert.equal(counting.pay, 0, 'Stripe says paid: no second pay call')
    invoice = await invoiceOf(ada)
    assert.equal(invoice.status, 'paid')
    assert.lengthOf(await stripeInvoicesOf(ada), 1)
    assert.deepEqual(await chargeAmounts(ada), [99])
    stripeSandbox().releaseWebhooks()
    await settle()
    assert.equal(await statusOf(ada), 'paid')
  })

  test('lost answers on every step are retried by the SDK with the same keys: no duplicates', async ({
    assert,
  }) => {
    const ada = await customer()
    await usage(ada, [2_000_000])
    // Each step executes in Stripe, then its answer is lost once; the SDK retries with its key.
    stripeSandbox().failNext({ count: 1, mode: 'reset', path: '/v1/invoices', method: 'POST' })
    stripeSandbox().failNext({ count: 1, mode: 'reset', path: '/v1/invoiceitems', method: 'POST' })
    const result = await generate('2026-10')
    assert.equal(result.paid, 1)
    const invoices = await stripeInvoicesOf(ada)
    assert.lengthOf(invoices, 1)
    assert.lengthOf(invoices[0].lines.data, 1)
    assert.deepEqual(await chargeAmounts(ada), [200])
  })

  test('rerunning a period creates nothing; usage arriving late goes on the next invoice', async ({
    assert,
  }) => {
    const ada = await customer()
    const bob = await customer({ credits: 10_000 })
    await usage(ada, [1_000_000])
    await usage(bob, [3_000_000])

    const first = await generate('2026-10')
    assert.equal(first.created, 2)
    assert.equal(first.paid, 2)
    await settle()
    const snapshot = async () => ({
      invoices: await db
        .from('usage_invoices')
        .orderBy('id')
        .select('id', 'status', 'amount_cents'),
      ledger: await db.from('credit_ledger_entries').count('* as n'),
      stripe: (await stripeInvoiceCount(ada)) + (await stripeInvoiceCount(bob)),
      charges: (await chargeCount(ada)) + (await chargeCount(bob)),
    })
    const before = await snapshot()
    assert.equal(before.stripe, 1)
    assert.equal(before.charges, 1)

    const second = await generate('2026-10')
    assert.equal(second.users, 0)
    assert.equal(second.created, 0)
    assert.deepEqual(await snapshot(), before)

    // A late October request after October was invoiced: not on October again, but on November.
    await usage(ada, [600_000], { day: '2026-10-30T23:59:00' })
    const third = await generate('2026-10')
    assert.equal(third.created, 0)
    assert.deepEqual(await snapshot(), before)
    await usage(ada, [100_000], { day: '2026-11-02T10:00:00' })
    const { DateTime } = await import('luxon')
    const november = await generate('2026-11', { now: DateTime.utc(2026, 12, 1, 0, 5) })
    assert.equal(november.created, 1)
    const invoice = await invoiceOf(ada, '2026-11')
    assert.equal(invoice.costMicros, 700_000)
    assert.equal(invoice.chargedCents, 70)
  })

  test('two runs at once make one invoice and one charge per user', async ({ assert }) => {
    const users = await Promise.all([customer(), customer(), customer({ credits: 30 })])
    for (const user of users) await usage(user, [1_111_111, 2_222_222])

    const [a, b] = await Promise.all([generate('2026-10'), generate('2026-10')])
    assert.equal(a.created + b.created, 3)
    const rows = await db.from('usage_invoices').where('period', '2026-10').select('status')
    assert.deepEqual(
      rows.map((row) => row.status),
      ['paid', 'paid', 'paid']
    )
    for (const user of users) {
      assert.lengthOf(await stripeInvoicesOf(user), 1)
      assert.lengthOf(await chargesOf(user), 1)
    }
    const debits = await db.from('credit_ledger_entries').where('kind', 'usage_invoice').select('*')
    assert.lengthOf(debits, 1)
    assert.equal(Number(debits[0].amount_cents), -30)
  })
})
