import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import type User from '#models/user'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { hasStack, manyUsers, pool, resetDrillData, runAudit, scaled } from '#tests/support/drills'
import { runCli } from '#tests/support/cli'
import {
  FAST_STRIPE_ENV,
  faultRulesSeen,
  faultSummary,
  faultsInjected,
  invoiceUsers,
  payableCreators,
  rerunUntilDone,
  stripeFailing,
  stripeMoneyOf,
  transfersTo,
} from './helpers.js'
import { completeCheckoutSession } from '../../../sandbox/stripe/resources/checkout_sessions.js'

/*
| Drill 2: the Stripe sandbox fails ~20% of API calls (500, 429, connection
| resets and timeouts after the call ran) while users start checkouts and the
| invoicing and payout jobs run. Users get a clear 503, never a 500 or a
| stack; the jobs, rerun with the faults off, converge; nothing is charged or
| paid twice; audit passes.
*/

const CARD = { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' }

test.group('Drills: Stripe failing 20% of calls', (group) => {
  group.each.setup(() => resetDrillData())
  group.each.teardown(() => stripeSandbox().clearFaults())

  test('checkouts: a clear 503 or a session, never a 500; retried later, each buys once', async ({
    client,
    assert,
  }) => {
    const users = await manyUsers(scaled(40, 8), 'checkout')
    stripeFailing(1)
    const start = (user: User) =>
      client
        .post('/api/billing/credits/purchase')
        .json({ package: 'small' })
        .loginAs(user)
        .withCsrfToken()
    const first = await pool(users, 16, (user) => start(user))
    const injected = faultsInjected()
    const summary = faultSummary()
    const seenByRule = faultRulesSeen()
    stripeSandbox().clearFaults()

    const statuses = first.map((response) => response.status())
    console.log(
      `  checkouts under faults: ${statuses.filter((s) => s === 201).length} started, ` +
        `${statuses.filter((s) => s === 503).length} told to retry; ${summary}`
    )
    assert.isAbove(injected, 0, `faults were injected (${summary})`)
    assert.isTrue(
      seenByRule.every((seen) => seen > 0),
      `every fault kind drew: ${seenByRule}`
    )
    for (const response of first) {
      assert.include([201, 503], response.status(), response.text().slice(0, 300))
      if (response.status() === 503) {
        const body = response.body()
        assert.equal(body.code, 'E_STRIPE_UNAVAILABLE')
        assert.match(body.error, /temporarily unavailable.*Nothing was charged/)
        assert.isFalse(hasStack(response.text()), response.text())
      }
    }

    // Retried with Stripe healthy: everyone gets a session, pays it, and is credited once.
    const sessions = await pool(users, 8, async (user, i) => {
      if (first[i].status() === 201) return first[i].body().data.id as string
      const again = await start(user)
      again.assertStatus(201)
      return again.body().data.id as string
    })
    for (const id of sessions) {
      const { error } = completeCheckoutSession(stripeSandbox().context, id, { card: CARD })
      if (error) throw error
    }
    await stripeSandbox().waitForIdle(60_000)
    const stripe = stripeClient()
    for (const user of users) {
      await user.refresh()
      const customers = await stripe.customers.list({ email: user.email, limit: 10 })
      assert.lengthOf(customers.data, 1, `one Stripe customer for ${user.email}`)
      assert.equal(customers.data[0].id, user.stripeCustomerId)
      const { charges } = await stripeMoneyOf(user)
      assert.lengthOf(charges, 1, 'one charge per buyer')
      assert.equal(user.creditsBalanceCents, 500)
    }
    const purchases = await db.from('credit_purchases').where('status', 'paid').count('* as n')
    assert.equal(Number(purchases[0].n), users.length)
    const audit = await runAudit()
    assert.isTrue(audit.passed, `audit: ${JSON.stringify(audit.failed).slice(0, 2000)}`)
  }).timeout(120_000)

  test('invoices:generate under faults, rerun until done: one invoice and one charge per user', async ({
    assert,
  }) => {
    const users = await invoiceUsers(scaled(12, 4))
    const args = ['invoices:generate', '--period', '2026-10', '--skip-sync']
    stripeFailing(2)
    const faulty = await runCli(args, { env: FAST_STRIPE_ENV, timeoutMs: 120_000 })
    const faultyAgain = await runCli(args, { env: FAST_STRIPE_ENV, timeoutMs: 120_000 })
    const injected = faultsInjected()
    const summary = faultSummary()
    const seenByRule = faultRulesSeen()
    stripeSandbox().clearFaults()
    assert.isAbove(injected, 0, `faults were injected (${summary})`)
    assert.isTrue(
      seenByRule.every((seen) => seen > 0),
      `every fault kind drew: ${seenByRule}`
    )
    for (const run of [faulty, faultyAgain]) {
      assert.oneOf(run.code, [0, 3], `exit ${run.code}: ${run.stderr.slice(0, 500)}`)
      assert.isFalse(hasStack(run.stderr), run.stderr.slice(0, 2000))
    }
    const reruns = await rerunUntilDone(args, FAST_STRIPE_ENV)
    const last = reruns.at(-1)!
    console.log(
      `  invoices: ${summary}; exits ${faulty.code}, ${faultyAgain.code}, then ${reruns.map((r) => r.code).join(', ')}`
    )
    assert.equal(last.code, 0, `${last.stdout.slice(-800)}\n${last.stderr.slice(0, 800)}`)
    await stripeSandbox().waitForIdle(60_000)

    for (const user of users) {
      const { invoices, charges } = await stripeMoneyOf(user)
      assert.lengthOf(invoices, 1, `one Stripe invoice for user ${user.id}`)
      assert.equal(invoices[0].status, 'paid')
      assert.lengthOf(charges, 1, `one charge for user ${user.id}`)
      const rows = await db.from('usage_invoices').where('user_id', user.id)
      assert.lengthOf(rows, 1)
      assert.equal(rows[0].status, 'paid')
      assert.equal(rows[0].stripe_invoice_id, invoices[0].id)
      assert.equal(Number(rows[0].charged_cents), charges[0].amount)
    }
    const audit = await runAudit()
    assert.isTrue(audit.passed, `audit: ${JSON.stringify(audit.failed).slice(0, 2000)}`)
  }).timeout(180_000)

  test('payouts:run under faults, rerun until done: one transfer per creator, nothing paid twice', async ({
    assert,
  }) => {
    const creators = await payableCreators(scaled(10, 3))
    stripeFailing(9)
    const faulty = await runCli(['payouts:run'], { env: FAST_STRIPE_ENV, timeoutMs: 120_000 })
    const faultyAgain = await runCli(['payouts:run'], { env: FAST_STRIPE_ENV, timeoutMs: 120_000 })
    const injected = faultsInjected()
    const summary = faultSummary()
    const seenByRule = faultRulesSeen()
    stripeSandbox().clearFaults()
    assert.isAbove(injected, 0, `faults were injected (${summary})`)
    assert.isTrue(
      seenByRule.every((seen) => seen > 0),
      `every fault kind drew: ${seenByRule}`
    )
    for (const run of [faulty, faultyAgain]) {
      assert.oneOf(run.code, [0, 3], `exit ${run.code}: ${run.stderr.slice(0, 500)}`)
      assert.isFalse(hasStack(run.stderr), run.stderr.slice(0, 2000))
    }
    const reruns = await rerunUntilDone(['payouts:run'], FAST_STRIPE_ENV)
    const last = reruns.at(-1)!
    console.log(
      `  payouts: ${summary}; exits ${faulty.code}, ${faultyAgain.code}, then ${reruns.map((r) => r.code).join(', ')}`
    )
    assert.equal(last.code, 0, `${last.stdout.slice(-800)}\n${last.stderr.slice(0, 800)}`)

    for (const owner of creators) {
      const made = await transfersTo(owner)
      const payouts = await db.from('creator_payouts').where('creator_id', owner.id)
      const paid = payouts.filter((row) => row.status === 'paid')
      assert.lengthOf(made, paid.length, `one transfer per paid payout of creator ${owner.id}`)
      assert.isAtLeast(paid.length, 1)
      assert.sameMembers(
        made.map((transfer) => transfer.id),
        paid.map((row) => row.stripe_transfer_id)
      )
      const payable = await db
        .from('marketplace_transactions')
        .where('creator_id', owner.id)
        .whereNull('creator_payout_id')
        .where('creator_cents', '>', 0)
      assert.lengthOf(payable, 0, 'every earning paid')
      const sum = made.reduce((n, transfer) => n + transfer.amount, 0)
      const earned = await db
        .from('marketplace_transactions')
        .where('creator_id', owner.id)
        .sum('creator_cents as cents')
      assert.equal(sum, Number(earned[0].cents), 'paid exactly what was earned')
    }
    const audit = await runAudit()
    assert.isTrue(audit.passed, `audit: ${JSON.stringify(audit.failed).slice(0, 2000)}`)
  }).timeout(180_000)
})
