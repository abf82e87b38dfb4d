import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import Stripe from 'stripe'
import { StripeSandbox } from '#sandbox/stripe/sandbox'
import { runCli } from '#tests/support/cli'
import { customer, invoiceOf, resetData, usage } from './helpers.js'

const GENERATE = ['invoices:generate', '--period', '2026-10', '--skip-sync']

async function paidCount() {
  const [row] = await db.from('usage_invoices').where('status', 'paid').count('* as n')
  return Number(row.n)
}

test.group('Usage invoices: the CLI', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(120_000)

  test('invoices:generate --dry-run shows what would happen and changes nothing; invoices:list lists', async ({
    assert,
  }) => {
    const ada = await customer({ credits: 100 })
    await usage(ada, [3_000_000])

    const dry = await runCli([...GENERATE, '--dry-run', '--json'])
    assert.equal(dry.code, 0, dry.stderr)
    const planned = JSON.parse(dry.stdout)
    assert.equal(planned.dryRun, true)
    assert.deepInclude(planned.outcomes[0], {
      userId: ada.id,
      status: 'planned',
      amountCents: 300,
      creditsAppliedCents: 100,
      chargedCents: 200,
    })
    assert.lengthOf(await db.from('usage_invoices').select('id'), 0)

    const run = await runCli(GENERATE)
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /Invoices made: 1 {2}paid: 1/)
    assert.match(run.stdout, /Credits applied: \$1\.00 {2}charged: \$2\.00/)

    const listed = await runCli(['invoices:list', '--period', '2026-10', '--json'])
    assert.equal(listed.code, 0, listed.stderr)
    const { invoices } = JSON.parse(listed.stdout)
    assert.lengthOf(invoices, 1)
    assert.deepInclude(invoices[0], {
      userId: ada.id,
      status: 'paid',
      amountCents: 300,
      creditsAppliedCents: 100,
      chargedCents: 200,
    })
    const table = await runCli(['invoices:list', '--user', ada.email])
    assert.equal(table.code, 0, table.stderr)
    assert.include(table.stdout, '2026-10')

    const bad = await runCli(['invoices:generate', '--period', '2026-1'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--period must be a calendar month like 2026-11/)
    const open = await runCli(['invoices:generate', '--period', '2026-11', '--skip-sync'])
    assert.equal(open.code, 2)
    assert.match(open.stderr, /2026-11 is not over yet/)
  })

  test('a Stripe outage halfway: a clear message and exit 3; the rerun converges, nothing charged twice', async ({
    assert,
  }) => {
    // A Stripe of its own for this run, so it can go down (and come back with its state).
    const dataFile = fileURLToPath(new URL(`tmp/invoices-outage-${Date.now()}.json`, app.appRoot))
    let sandbox = await StripeSandbox.start({ port: 0, dataFile })
    try {
      const stripe = new Stripe('sk_test_outage', sandbox.stripeConfig({ maxNetworkRetries: 0 }))
      const users = []
      for (let index = 0; index < 8; index++) {
        const user = await customer({ stripe })
        await usage(user, [1_000_000 + index * 10_000])
        users.push(user)
      }
      // Slow enough that the outage lands mid-run: each invoice step takes 150 ms.
      sandbox.delayNext({ ms: 150, count: 10_000, path: '/v1/invoices', method: 'POST' })
      const env = {
        STRIPE_API_BASE: sandbox.url,
        STRIPE_MAX_NETWORK_RETRIES: '0',
        STRIPE_TIMEOUT_MS: '3000',
        USAGE_INVOICE_CONCURRENCY: '1',
      }
      const running = runCli(GENERATE, { env })
      const deadline = Date.now() + 60_000
      while ((await paidCount()) < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      await sandbox.stop()
      const first = await running
      assert.equal(first.code, 3, first.stderr)
      assert.match(first.stderr, /rerun `invoices:generate --period 2026-10`/)
      assert.match(first.stdout, /to retry: [1-9]/)
      const paidFirst = await paidCount()
      assert.isAtLeast(paidFirst, 2)
      assert.isBelow(paidFirst, 8)

      // Stripe is back (same state, same remembered keys): the rerun finishes the rest.
      sandbox = await StripeSandbox.start({ port: 0, dataFile })
      const second = await runCli(GENERATE, { env: { ...env, STRIPE_API_BASE: sandbox.url } })
      assert.equal(second.code, 0, second.stderr)
      assert.equal(await paidCount(), 8)
      const check = new Stripe('sk_test_outage', sandbox.stripeConfig({ maxNetworkRetries: 0 }))
      for (const [index, user] of users.entries()) {
        const invoice = await invoiceOf(user)
        assert.equal(invoice.status, 'paid')
        const listed = await check.invoices.list({ customer: user.stripeCustomerId!, limit: 10 })
        assert.lengthOf(listed.data, 1, `user ${index}: one Stripe invoice`)
        assert.equal(listed.data[0].id, invoice.stripeInvoiceId)
        const charges = await check.charges.list({ customer: user.stripeCustomerId!, limit: 10 })
        assert.deepEqual(
          charges.data.map((charge) => charge.amount),
          [100 + index]
        )
      }
      const third = await runCli(GENERATE, { env: { ...env, STRIPE_API_BASE: sandbox.url } })
      assert.equal(third.code, 0)
      assert.match(third.stdout, /Invoices made: 0/)
    } finally {
      await sandbox.stop()
      await rm(dataFile, { force: true })
    }
  })
})
