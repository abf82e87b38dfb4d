import { test } from '@japa/runner'
import type { Assert } from '@japa/assert'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import Subscription from '#models/subscription'
import { UserFactory } from '#database/factories/user_factory'
import { runCli, type CliRun } from '#tests/support/cli'
import type { StripeReconcileResult } from '#services/stripe_reconcile_service'
import { appWebhookEndpoint } from '#tests/support/stripe'
import {
  resetData,
  stripeClient,
  stripeSandbox,
  subscribe,
  settle,
  statusOf,
} from '../subscriptions/helpers.js'
import { pay, startCredits } from '../credits/helpers.js'
import app from '@adonisjs/core/services/app'
import StripeGateway from '#services/stripe_gateway'
import {
  agent,
  buyer,
  creator,
  loadStripeConfig,
  payoutsOf,
  resetData as resetMarketplace,
  runPayouts,
  sale,
  swapInCrashingGateway,
  transfers,
} from '../marketplace/helpers.js'

/** What `stripe:reconcile --json` prints. */
type ReconcileJson = StripeReconcileResult & { dryRun: boolean }

/*
| The sandbox lives for the whole run and its clock only moves forward, so
| every run here reads from the sandbox's "now" at the start of the test: the
| events, invoices and refunds of earlier tests are outside the window, and
| their customers and subscriptions belong to users this test does not have.
*/
let since = ''

async function reconcile(...args: string[]) {
  const run = await runCli(['stripe:reconcile', '--since', since, ...args])
  return run
}

function parsed(assert: Assert, run: CliRun): ReconcileJson {
  assert.doesNotThrow(() => JSON.parse(run.stdout), `not JSON: ${run.stdout}\n${run.stderr}`)
  return JSON.parse(run.stdout) as ReconcileJson
}

/** Stripe events are not delivered while `fn` runs: the endpoint is disabled, as from the Dashboard. */
async function undelivered<T>(fn: () => Promise<T>): Promise<T> {
  const endpoint = appWebhookEndpoint().id
  stripeSandbox().disableWebhookEndpoint(endpoint)
  try {
    return await fn()
  } finally {
    stripeSandbox().enableWebhookEndpoint(endpoint)
  }
}

test.group('stripe:reconcile', (group) => {
  group.each.setup(async () => {
    await resetData()
    // One second on, so an earlier test's last events (same second) stay outside the window.
    await stripeSandbox().advanceClock(1)
    since = DateTime.fromSeconds(stripeSandbox().now(), { zone: 'utc' }).toISO()!
  })
  group.each.timeout(90_000)

  test('a cancellation whose event never arrived is found, left alone without --fix, and fixed with it', async ({
    assert,
    client,
  }) => {
    const user = await UserFactory.create()
    const subscriptionId = await subscribe(client, user)
    assert.equal(await statusOf(subscriptionId), 'active')

    const canceled = await undelivered(() => stripeClient().subscriptions.cancel(subscriptionId))
    assert.equal(canceled.status, 'canceled')
    await settle()
    assert.equal(await statusOf(subscriptionId), 'active', 'the event was not delivered')

    // Report only: both the missed event and the stale row, exit 3, nothing changed.
    const report = await reconcile('--json')
    assert.equal(report.code, 3, report.stderr)
    const found = parsed(assert, report)
    assert.isFalse(found.fix)
    const missed = found.differences.find(
      (difference) =>
        difference.kind === 'event_missing' &&
        difference.stripe.startsWith('customer.subscription.deleted')
    )
    assert.exists(missed, JSON.stringify(found.differences))
    assert.equal(missed!.ours, 'never received')
    assert.isNull(missed!.result)
    const stale = found.differences.find((difference) => difference.kind === 'subscription_differs')
    assert.deepInclude(stale, {
      area: 'subscriptions',
      stripeId: subscriptionId,
      userId: user.id,
      ours: 'premium active',
      stripe: 'premium canceled',
    })
    assert.equal(await statusOf(subscriptionId), 'active')
    const unrecorded = await db.from('stripe_events').where('stripe_event_id', missed!.stripeId!)
    assert.lengthOf(unrecorded, 0)

    // A dry run of the fix says what it would do and changes nothing.
    const dry = await reconcile('--fix', '--dry-run', '--json')
    assert.equal(dry.code, 3, dry.stderr)
    const wouldDo = parsed(assert, dry)
    assert.isTrue(wouldDo.dryRun)
    assert.isTrue(wouldDo.differences.every((difference) => difference.result === null))
    assert.equal(await statusOf(subscriptionId), 'active')

    // The fix records and processes the event Stripe sent: Premium ends.
    const fixed = await reconcile('--fix', '--json')
    assert.equal(fixed.code, 0, `${fixed.stdout}\n${fixed.stderr}`)
    const result = parsed(assert, fixed)
    assert.isTrue(result.fix)
    const event = result.differences.find((difference) => difference.stripeId === missed!.stripeId)
    assert.equal(event?.result, 'fixed')
    assert.isTrue(result.differences.every((difference) => difference.result === 'fixed'))
    assert.equal(await statusOf(subscriptionId), 'canceled')
    await user.refresh()
    assert.equal(user.plan, 'free')
    const recorded = await db
      .from('stripe_events')
      .where('stripe_event_id', missed!.stripeId!)
      .first()
    assert.equal(recorded.status, 'processed')

    // Now everything matches, and the table says so.
    const again = await reconcile()
    assert.equal(again.code, 0, again.stderr)
    assert.include(again.stdout, 'Everything matches Stripe.')

    // The run is recorded for jobs:status.
    const job = await db
      .from('job_runs')
      .where('job', 'stripe:reconcile')
      .orderBy('id', 'desc')
      .first()
    assert.equal(job?.status, 'succeeded')
  })

  test("a row that drifted from Stripe with no event to explain it gets Stripe's state; a customer never saved on its user is linked", async ({
    assert,
    client,
  }) => {
    const user = await UserFactory.create()
    const subscriptionId = await subscribe(client, user)
    // Our row says past_due (e.g. an event older than Stripe's 30 days of events was lost).
    await Subscription.query()
      .where('stripe_subscription_id', subscriptionId)
      .update({
        status: 'past_due',
        past_due_since: new Date(),
        stripe_updated_at: DateTime.utc().minus({ days: 40 }).toJSDate(),
      })

    // A customer made for a user whose save never happened (a crash after Stripe answered).
    const orphan = await UserFactory.create()
    const customer = await stripeClient().customers.create({
      email: orphan.email,
      metadata: { user_id: String(orphan.id) },
    })

    const report = await reconcile('--json')
    assert.equal(report.code, 3, report.stderr)
    const kinds = parsed(assert, report).differences.map(
      (difference) => `${difference.kind}:${difference.stripeId}`
    )
    assert.includeMembers(kinds, [
      `subscription_differs:${subscriptionId}`,
      `customer_unlinked:${customer.id}`,
    ])

    // Stripe fails every read of the subscription during the fix: that one fix fails
    // (nothing written), the other is made, and the run says differences remain.
    stripeSandbox().failNext({
      count: 20,
      status: 500,
      path: `/v1/subscriptions/${subscriptionId}`,
      method: 'GET',
    })
    const halfway = await reconcile('--fix')
    stripeSandbox().clearFaults()
    assert.equal(halfway.code, 3, `${halfway.stdout}\n${halfway.stderr}`)
    assert.include(halfway.stdout, '2 difference(s), 1 fixed.')
    assert.match(halfway.stdout, /failed: /)
    assert.equal(await statusOf(subscriptionId), 'past_due')
    await orphan.refresh()
    assert.equal(orphan.stripeCustomerId, customer.id)

    // A rerun converges: only the subscription is left, and it gets Stripe's state.
    const fixed = await reconcile('--fix')
    assert.equal(fixed.code, 0, `${fixed.stdout}\n${fixed.stderr}`)
    assert.include(fixed.stdout, '1 difference(s), 1 fixed.')
    assert.equal(await statusOf(subscriptionId), 'active')
  })

  test('a refund our handler skipped is found by the charge and applied once', async ({
    assert,
    client,
  }) => {
    const user = await UserFactory.create()
    await pay(await startCredits(client, user, 'medium'))
    await user.refresh()
    const balance = user.creditsBalanceCents
    assert.isAbove(balance, 0)
    const purchase = await db.from('credit_purchases').where('user_id', user.id).firstOrFail()

    // The refund's event is recorded as ignored (as an older version of us would have): no clawback.
    const refund = await undelivered(() =>
      stripeClient().refunds.create({ payment_intent: purchase.stripe_payment_intent_id })
    )
    const events = await stripeClient().events.list({ type: 'charge.refunded', limit: 5 })
    const event = events.data.find(
      (candidate) => (candidate.data.object as { id: string }).id === refund.charge
    )
    assert.exists(event)
    await db.table('stripe_events').insert({
      stripe_event_id: event!.id,
      type: event!.type,
      livemode: false,
      stripe_created_at: new Date(event!.created * 1000),
      payload: JSON.stringify(event),
      status: 'ignored',
      attempts: 1,
      received_at: new Date(),
      created_at: new Date(),
      updated_at: new Date(),
    })

    const report = await reconcile('--json')
    assert.equal(report.code, 3, report.stderr)
    const differences = parsed(assert, report).differences
    assert.deepInclude(
      differences.find((difference) => difference.area === 'refunds'),
      {
        kind: 'refund_unrecorded',
        stripeId: refund.charge,
        userId: user.id,
        ours: 'no credits clawback',
      }
    )

    const fixed = await reconcile('--fix', '--json')
    assert.equal(fixed.code, 0, `${fixed.stdout}\n${fixed.stderr}`)
    await user.refresh()
    assert.equal(user.creditsBalanceCents, 0, 'the refunded pack is taken back')
    // Twice is the same as once.
    const again = await reconcile('--fix', '--json')
    assert.equal(again.code, 0, again.stderr)
    assert.lengthOf(parsed(assert, again).differences, 0)
    await user.refresh()
    assert.equal(user.creditsBalanceCents, 0)
    const clawbacks = await db
      .from('credit_ledger_entries')
      .where('user_id', user.id)
      .where('idempotency_key', 'like', 'refund:%')
    assert.lengthOf(clawbacks, 1)
  })

  test('bad usage exits 2 with one line saying what to do', async ({ assert }) => {
    const dry = await runCli(['stripe:reconcile', '--dry-run'])
    assert.equal(dry.code, 2)
    assert.include(dry.stderr, '--dry-run goes with --fix')
    const badSince = await runCli(['stripe:reconcile', '--since', 'yesterday'])
    assert.equal(badSince.code, 2)
    assert.include(
      badSince.stderr,
      '--since must be an ISO date/time (UTC) or an age like 30m, 24h, 7d'
    )
  })
})

test.group('stripe:reconcile transfers', (group) => {
  group.setup(() => loadStripeConfig())
  group.each.setup(() => resetMarketplace())
  group.each.timeout(90_000)

  test('a payout whose transfer was made but not recorded (a crash) is found and recorded with --fix', async ({
    assert,
  }) => {
    const jenny = await creator()
    await sale(await agent(jenny), await buyer(), 1000)
    swapInCrashingGateway('transfer')
    await runPayouts()
    app.container.restore(StripeGateway)
    const [crashed] = await payoutsOf(jenny)
    assert.equal(crashed.status, 'processing')

    const report = await runCli([
      'stripe:reconcile',
      '--only',
      'transfers',
      '--since',
      '1h',
      '--json',
    ])
    assert.equal(report.code, 3, report.stderr)
    const found = JSON.parse(report.stdout) as ReconcileJson
    assert.deepEqual(
      Object.entries(found.checked)
        .filter(([, count]) => count > 0)
        .map(([area]) => area),
      ['transfers']
    )
    assert.deepEqual(
      found.differences.map((difference) => [difference.area, difference.kind, difference.userId]),
      [['transfers', 'transfer_unrecorded', jenny.id]]
    )

    const fixed = await runCli([
      'stripe:reconcile',
      '--only',
      'transfers',
      '--since',
      '1h',
      '--fix',
      '--json',
    ])
    assert.equal(fixed.code, 0, `${fixed.stdout}\n${fixed.stderr}`)
    assert.equal((JSON.parse(fixed.stdout) as ReconcileJson).differences[0].result, 'fixed')
    const [payout] = await payoutsOf(jenny)
    assert.equal(payout.status, 'paid')
    assert.lengthOf(await transfers(jenny.creatorStripeAccountId!), 1, 'recorded, not paid again')

    const unknownArea = await runCli(['stripe:reconcile', '--only', 'payments'])
    assert.equal(unknownArea.code, 2)
    assert.include(unknownArea.stderr, 'Unknown area "payments"')
  })
})
