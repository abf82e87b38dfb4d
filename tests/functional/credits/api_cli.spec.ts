import { test } from '@japa/runner'
import { runCli } from '#tests/support/cli'
import db from '@adonisjs/lucid/services/db'
import billingConfig from '#config/billing'
import CreditService from '#services/credit_service'
import InsufficientCreditsException from '#exceptions/insufficient_credits_exception'
import User from '#models/user'
import { stripeSandbox } from '#tests/support/stripe'
import {
  assertBalance,
  buyer,
  creditPurchases,
  ledger,
  pay,
  resetData,
  sessionCount,
  startCredits,
  startSlot,
} from './helpers.js'

/** The real CLI in a child process (tests/support/cli.ts). */
const cli = (args: string[]) => runCli(args)

test.group('Credits: JSON API', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('an unknown package is a 422 with the field; an anonymous caller a 401', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const response = await client
      .post('/api/billing/credits/purchase')
      .json({ package: 'huge' })
      .loginAs(user)
      .withCsrfToken()
    response.assertStatus(422)
    assert.equal(response.body().errors[0].field, 'package')
    const anonymous = await client.get('/api/billing/credits').header('accept', 'application/json')
    anonymous.assertStatus(401)
  })

  test('purchases are rate-limited per user', async ({ client, assert }) => {
    const user = await buyer()
    const statuses: number[] = []
    for (let n = 0; n < 11; n++) {
      const response = await client
        .post(n % 2 ? '/api/projects/deployment/purchase-slot' : '/api/billing/credits/purchase')
        .json({ package: 'small' })
        .loginAs(user)
        .withCsrfToken()
      statuses.push(response.status())
    }
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(201))
    assert.equal(statuses[10], 429)
    assert.lengthOf(await creditPurchases(user), 0)
  })

  test('Stripe failing while creating the checkout: a clear 503 and nothing recorded', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    await startCredits(client, user, 'small') // the customer exists; only the session fails
    const before = await sessionCount()
    stripeSandbox().failNext({
      path: '/v1/checkout/sessions',
      method: 'POST',
      status: 500,
      count: 10,
    })
    try {
      for (const url of [
        '/api/billing/credits/purchase',
        '/api/projects/deployment/purchase-slot',
      ]) {
        const response = await client
          .post(url)
          .json({ package: 'large' })
          .loginAs(user)
          .withCsrfToken()
        response.assertStatus(503)
        assert.match(
          response.body().error,
          /Payments are temporarily unavailable.*Nothing was charged/
        )
      }
    } finally {
      stripeSandbox().clearFaults()
    }
    assert.equal(await sessionCount(), before)
    assert.lengthOf(await creditPurchases(user), 0)
    assert.lengthOf(await db.from('deploy_slot_purchases'), 0)
    await assertBalance(assert, user, 0)
  })

  test('history and transactions are paginated, newest first', async ({ client, assert }) => {
    const user = await buyer()
    const id = await startCredits(client, user, 'small')
    await pay(id)
    const slot = await startSlot(client, user)
    await pay(slot)
    const credits = new CreditService()
    const fresh = await User.findOrFail(user.id)
    for (const amount of [10, 20, 30]) {
      await credits.operatorAdjust(fresh, {
        amountCents: amount,
        reason: `gift ${amount}`,
        operator: 'test',
      })
    }

    const history = await client.get('/api/billing/credits/history?page=1&perPage=2').loginAs(user)
    history.assertStatus(200)
    assert.equal(history.body().meta.total, 4)
    assert.equal(history.body().meta.lastPage, 2)
    assert.deepEqual(
      history.body().data.map((entry: { amountCents: number }) => entry.amountCents),
      [30, 20]
    )
    const second = await client.get('/api/billing/credits/history?page=2&perPage=2').loginAs(user)
    assert.deepEqual(
      second.body().data.map((entry: { kind: string }) => entry.kind),
      ['operator_grant', 'purchase']
    )
    const bad = await client.get('/api/billing/credits/history?perPage=1000').loginAs(user)
    bad.assertStatus(422)

    const transactions = await client.get('/api/billing/transactions?perPage=50').loginAs(user)
    transactions.assertStatus(200)
    assert.equal(transactions.body().meta.total, 6) // 4 ledger entries, 1 credit pack, 1 slot
    const sources = transactions.body().data.map((row: { source: string }) => row.source)
    assert.sameMembers(
      [...new Set(sources)],
      ['credit_ledger', 'credit_purchase', 'deploy_slot_purchase']
    )
    const slotRow = transactions
      .body()
      .data.find((row: { source: string }) => row.source === 'deploy_slot_purchase')
    assert.include(slotRow, {
      type: 'deploy_slot',
      amountCents: billingConfig.deploySlot.priceCents,
      status: 'active',
    })
    const page2 = await client.get('/api/billing/transactions?perPage=4&page=2').loginAs(user)
    assert.lengthOf(page2.body().data, 2)
  })

  test('the ledger refuses a debit past the balance and is idempotent on its key', async ({
    assert,
  }) => {
    const user = await buyer()
    const credits = new CreditService()
    const key = { idempotencyKey: 'test:grant-1', description: 'x', createdBy: 'test' }
    const results = await Promise.all(
      Array.from({ length: 20 }, () => credits.grant(user.id, 300, 'operator_grant', key))
    )
    assert.equal(results.filter((result) => result.created).length, 1)
    await assertBalance(assert, user, 300)
    const debits = await Promise.allSettled(
      Array.from({ length: 5 }, (_, n) =>
        credits.record(user.id, -100, 'operator_debit', {
          idempotencyKey: `test:debit-${n}`,
          createdBy: 'test',
        })
      )
    )
    assert.equal(debits.filter((result) => result.status === 'fulfilled').length, 3)
    const refused = debits.find((result) => result.status === 'rejected')
    assert.instanceOf((refused as PromiseRejectedResult).reason, InsufficientCreditsException)
    await assertBalance(assert, user, 0)
  })
})

test.group('Credits: CLI', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(120_000)

  test('credits:grant and --debit record the reason and operator; credits:show prints them', async ({
    assert,
  }) => {
    const user = await buyer()
    const granted = await cli([
      'credits:grant',
      user.email,
      '750',
      '--reason',
      'Support ticket #123',
      '--operator',
      'alice',
    ])
    assert.equal(granted.code, 0, granted.stderr)
    assert.match(granted.stdout, /Granted \$7\.50 .* balance now \$7\.50/)
    // A rerun of the same command (crash, timeout, cron overlap) applies once.
    const rerun = await cli([
      'credits:grant',
      user.email,
      '750',
      '--reason',
      'Support ticket #123',
      '--operator',
      'alice',
    ])
    assert.equal(rerun.code, 0, rerun.stderr)
    await assertBalance(assert, user, 750)

    const debited = await cli([
      'credits:grant',
      String(user.id),
      '250',
      '--debit',
      '--reason',
      'Duplicate grant',
      '--operator',
      'bob',
      '--json',
    ])
    assert.equal(debited.code, 0, debited.stderr)
    assert.include(JSON.parse(debited.stdout).entry, {
      kind: 'operator_debit',
      amountCents: -250,
      balanceAfterCents: 500,
      createdBy: 'operator:bob',
      description: 'Duplicate grant',
    })

    const tooMuch = await cli(['credits:grant', String(user.id), '501', '--debit', '--reason', 'x'])
    assert.equal(tooMuch.code, 1)
    assert.match(tooMuch.stderr, /Not enough credits/)
    const noReason = await cli(['credits:grant', String(user.id), '5'])
    assert.equal(noReason.code, 2)
    const badAmount = await cli(['credits:grant', String(user.id), '1.5', '--reason', 'x'])
    assert.equal(badAmount.code, 2)
    const nobody = await cli(['credits:show', 'nobody@example.com'])
    assert.equal(nobody.code, 1)
    assert.match(nobody.stderr, /No user "nobody@example.com"/)

    await assertBalance(assert, user, 500)
    const entries = await ledger(user)
    assert.deepEqual(
      entries.map((entry) => [entry.kind, entry.amountCents, entry.createdBy, entry.description]),
      [
        ['operator_grant', 750, 'operator:alice', 'Support ticket #123'],
        ['operator_debit', -250, 'operator:bob', 'Duplicate grant'],
      ]
    )

    const shown = await cli(['credits:show', user.email, '--json'])
    assert.equal(shown.code, 0, shown.stderr)
    const json = JSON.parse(shown.stdout)
    assert.equal(json.balanceCents, 500)
    assert.equal(json.ledgerSumCents, 500)
    assert.deepEqual(
      json.entries.map((entry: { kind: string }) => entry.kind),
      ['operator_debit', 'operator_grant']
    )
    const table = await cli(['credits:show', String(user.id)])
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, /balance \$5\.00/)
    assert.match(table.stdout, /Support ticket #123/)
  })
})
