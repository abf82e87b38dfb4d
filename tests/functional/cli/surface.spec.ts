import { test } from '@japa/runner'
import type { Assert } from '@japa/assert'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import billingConfig from '#config/billing'
import Subscription from '#models/subscription'
import { UserFactory } from '#database/factories/user_factory'
import { truncate } from '#tests/support/database'
import { runCli, type CliRun } from '#tests/support/cli'
import { stripeSandbox } from '#tests/support/stripe'
import {
  agent,
  buyer,
  creator,
  loadStripeConfig,
  resetData,
  runPayouts,
  sale,
} from '../marketplace/helpers.js'
import { customer, usage } from '../invoices/helpers.js'
import { DAY, MASTER_KEY, createUser, startSandbox } from '../usage/helpers.js'

/*
| One command surface (issue 8, part 3): the time flags read the same way on
| every command, every command that changes state has --dry-run (which
| changes nothing), every listing and report has --json. The real binary in
| a child process, against the test database and the Stripe sandbox.
*/

/** Commands that move money or change state: each must have --dry-run. */
const CHANGES_STATE = [
  'customers:sync',
  'credits:grant',
  'webhooks:replay',
  'subscriptions:check-grace',
  'payouts:run',
  'payouts:reconcile',
  'agents:sync',
  'usage:sync',
  'invoices:generate',
  'stripe:reconcile',
]

const SINCE_ERROR =
  'Error: --since must be an ISO date/time (UTC) or an age like 30m, 24h, 7d (got "yesterday")\n'
const PERIOD_ERROR = 'Error: --period must be a calendar month like 2026-11 (got "2026-13")\n'
const BOTH_ERROR = 'Error: Give either --period or --since/--until, not both\n'

/** Every table a command could write: a digest of each, to compare before and after. */
const TABLES = [
  'users',
  'credit_ledger_entries',
  'credit_purchases',
  'subscriptions',
  'projects',
  'marketplace_agents',
  'agent_entitlements',
  'marketplace_transactions',
  'creator_payouts',
  'creator_transfer_reversals',
  'stripe_events',
  'usage_logs',
  'usage_sync_states',
  'usage_invoices',
  'job_runs',
  'locks',
]

/** What the database and Stripe hold: every row of every table (digested), and Stripe's event count. */
async function snapshot() {
  await stripeSandbox().waitForIdle(20_000)
  const tables: Record<string, string> = {}
  for (const table of TABLES) {
    const result = await db.rawQuery<{ rows: { n: string; digest: string }[] }>(
      `SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest
         FROM "${table}" t`
    )
    tables[table] = `${result.rows[0].n} rows ${result.rows[0].digest}`
  }
  // Every object Stripe creates or changes makes an event.
  return { tables, stripeEvents: stripeSandbox().eventLog().length }
}

function ok(assert: Assert, run: CliRun) {
  assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr}${run.stdout}`)
}

/** The command names listed by `--help`. */
async function commandNames() {
  const run = await runCli(['--help'])
  const names = run.stdout
    .split('\n')
    .map((line) => /^\s{2}([a-z]+(?::[a-z-]+)?)\s/.exec(line)?.[1])
    .filter((name): name is string => !!name && name !== 'help')
  return [...new Set(names)]
}

test.group('CLI surface: time flags', (group) => {
  group.setup(() => loadStripeConfig())
  group.each.setup(async () => {
    await resetData()
    await truncate('job_runs', 'usage_logs', 'usage_sync_states', 'usage_invoices')
  })
  group.each.timeout(120_000)

  test('a malformed --since gives exit 2 and the same message on every command', async ({
    assert,
  }) => {
    for (const args of [
      ['webhooks:list', '--since', 'yesterday'],
      ['webhooks:replay', '--since', 'yesterday'],
      ['usage:sync', '--since', 'yesterday'],
      ['payouts:reconcile', '--since', 'yesterday'],
      ['earnings:show', '--creator', '1', '--since', 'yesterday'],
    ]) {
      const run = await runCli(args)
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`)
      assert.equal(run.stdout, '', args.join(' '))
      assert.equal(run.stderr, SINCE_ERROR, args.join(' '))
    }
    const until = await runCli(['webhooks:list', '--until', 'yesterday'])
    assert.equal(until.code, 2)
    assert.equal(until.stderr, SINCE_ERROR.replace('--since', '--until'))
  })

  test('a malformed --period gives exit 2 and the same message on every command', async ({
    assert,
  }) => {
    for (const args of [
      ['invoices:list', '--period', '2026-13'],
      ['invoices:generate', '--period', '2026-13'],
      ['usage:show', '--user', '1', '--period', '2026-13'],
      ['webhooks:list', '--period', '2026-13'],
      ['earnings:show', '--creator', '1', '--period', '2026-13'],
    ]) {
      const run = await runCli(args)
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`)
      assert.equal(run.stderr, PERIOD_ERROR, args.join(' '))
    }
  })

  test('--period with --since, or --since not before --until, is bad usage', async ({ assert }) => {
    for (const args of [
      ['webhooks:list', '--period', '2026-11', '--since', '7d'],
      ['earnings:show', '--creator', '1', '--period', '2026-11', '--until', '1d'],
    ]) {
      const run = await runCli(args)
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`)
      assert.equal(run.stderr, BOTH_ERROR, args.join(' '))
    }
    const reversed = await runCli(['webhooks:list', '--since', '1d', '--until', '7d'])
    assert.equal(reversed.code, 2)
    assert.match(reversed.stderr, /^Error: --since \(.+\) must be before --until \(.+\)\n$/)
    const both = await runCli(['payouts:reconcile', '--since', '7d', '--days', '7'])
    assert.equal(both.code, 2)
    const badDays = await runCli(['payouts:reconcile', '--days', 'x'])
    assert.equal(badDays.code, 2)
  })

  test('ages (7d), dates and months select the same window everywhere', async ({ assert }) => {
    const now = DateTime.utc()
    for (const [id, daysAgo] of [
      ['evt_surface_recent', 2],
      ['evt_surface_old', 10],
    ] as const) {
      const at = now.minus({ days: daysAgo }).toJSDate()
      await db.table('stripe_events').insert({
        stripe_event_id: id,
        type: 'surface.test',
        livemode: false,
        stripe_created_at: at,
        payload: JSON.stringify({ id, type: 'surface.test', data: { object: {} } }),
        status: 'failed',
        attempts: 1,
        last_error: 'test fault',
        received_at: at,
        created_at: at,
        updated_at: at,
      })
    }
    const ids = (run: CliRun) => (JSON.parse(run.stdout) as { id: string }[]).map((row) => row.id)

    const week = await runCli(['webhooks:list', '--since', '7d', '--json'])
    ok(assert, week)
    assert.deepEqual(ids(week), ['evt_surface_recent'])
    const older = await runCli(['webhooks:list', '--until', '7d', '--json'])
    ok(assert, older)
    assert.deepEqual(ids(older), ['evt_surface_old'])
    const since = now.minus({ days: 11 }).toFormat('yyyy-MM-dd HH:mm')
    const range = await runCli(['webhooks:list', '--since', since, '--until', '24h', '--json'])
    ok(assert, range)
    assert.deepEqual(ids(range), ['evt_surface_recent', 'evt_surface_old'])
    const month = await runCli(['webhooks:list', '--period', '2001-01', '--json'])
    ok(assert, month)
    assert.deepEqual(ids(month), [])

    // The replay selection reads them the same way (a dry run: nothing replayed).
    const replay = await runCli(['webhooks:replay', '--since', '7d', '--dry-run', '--json'])
    ok(assert, replay)
    assert.deepEqual(
      JSON.parse(replay.stdout).results.map((row: { stripeEventId: string }) => row.stripeEventId),
      ['evt_surface_recent']
    )
    // --days still works (deprecated alias of --since <n>d).
    const days = await runCli(['payouts:reconcile', '--days', '30', '--dry-run'])
    ok(assert, days)
    const ageSince = await runCli(['payouts:reconcile', '--since', '30d', '--dry-run'])
    ok(assert, ageSince)
  })
})

test.group('CLI surface: --dry-run changes nothing', (group) => {
  group.setup(() => loadStripeConfig())
  group.each.setup(async () => {
    await resetData()
    await truncate(
      'job_runs',
      'usage_logs',
      'usage_spend_mismatches',
      'usage_sync_states',
      'usage_invoices'
    )
  })
  group.each.teardown(() => stripeSandbox().clearFaults())
  group.each.timeout(180_000)

  /**
   * Runs `args --dry-run` as a table and as --json: exit `code` (0, or 3 for a
   * report that finds something to repair), the database and Stripe unchanged;
   * returns both outputs for the caller to check what it says.
   */
  async function dryRun(
    assert: Assert,
    args: string[],
    { env = {}, code = 0 }: { env?: NodeJS.ProcessEnv; code?: number } = {}
  ) {
    const before = await snapshot()
    const table = await runCli([...args, '--dry-run'], { env })
    assert.equal(table.code, code, `exit ${table.code}: ${table.stderr}${table.stdout}`)
    const json = await runCli([...args, '--dry-run', '--json'], { env })
    assert.equal(json.code, code, `exit ${json.code}: ${json.stderr}${json.stdout}`)
    const parsed = JSON.parse(json.stdout)
    assert.isTrue(parsed.dryRun, `${args[0]} --json says dryRun: true`)
    assert.deepEqual(await snapshot(), before, `${args[0]} --dry-run changed nothing`)
    return { table: table.stdout, json: parsed }
  }

  test('customers:sync', async ({ assert }) => {
    const user = await UserFactory.create()
    const { table, json } = await dryRun(assert, ['customers:sync'])
    assert.include(table, user.email)
    assert.include(table, 'dry run, nothing changed')
    assert.equal(json.results[0].userId, user.id)
  })

  test('credits:grant', async ({ assert }) => {
    const user = await UserFactory.merge({ creditsBalanceCents: 0 }).create()
    const args = ['credits:grant', user.email, '500', '--reason', 'Surface test']
    const { table, json } = await dryRun(assert, args)
    assert.include(table, 'Dry run: would grant $5.00')
    assert.include(json, { wouldCreate: true, amountCents: 500, balanceAfterCents: 500 })
    // A debit past the balance is refused in a dry run too (exit 1), like the real one.
    const tooMuch = await runCli([...args, '--debit', '--dry-run'])
    assert.equal(tooMuch.code, 1)
    assert.match(tooMuch.stderr, /Not enough credits/)
  })

  test('webhooks:replay', async ({ assert }) => {
    const at = new Date()
    await db.table('stripe_events').insert({
      stripe_event_id: 'evt_surface_failed',
      type: 'surface.test',
      livemode: false,
      stripe_created_at: at,
      payload: JSON.stringify({ id: 'evt_surface_failed', type: 'surface.test' }),
      status: 'failed',
      attempts: 1,
      last_error: 'test fault',
      received_at: at,
      created_at: at,
      updated_at: at,
    })
    const { table, json } = await dryRun(assert, ['webhooks:replay', '--failed'])
    assert.include(table, 'evt_surface_failed')
    assert.include(table, '1 event(s) would be replayed')
    assert.equal(json.results[0].outcome, 'pending')
  })

  test('subscriptions:check-grace', async ({ assert }) => {
    const user = await UserFactory.apply('premium').create()
    const since = DateTime.utc().minus({ days: billingConfig.premium.pastDueGraceDays + 1 })
    await Subscription.create({
      userId: user.id,
      type: 'premium',
      stripeSubscriptionId: `sub_surface_${user.id}`,
      stripeCustomerId: `cus_surface_${user.id}`,
      stripePriceId: 'price_fixture',
      status: 'past_due',
      cancelAtPeriodEnd: false,
      pastDueSince: since,
      stripeUpdatedAt: since,
    })
    const { table, json } = await dryRun(assert, ['subscriptions:check-grace'])
    assert.include(table, user.email)
    assert.include(table, '1 user(s) would be dropped to the free plan (dry run')
    assert.equal(json.expired[0].userId, user.id)
  })

  test('payouts:run', async ({ assert }) => {
    const jenny = await creator()
    await sale(await agent(jenny), await buyer(), 999)
    const { table, json } = await dryRun(assert, ['payouts:run'])
    assert.include(table, 'would_pay')
    assert.include(table, '$8.99')
    assert.equal(json.madePayable, 1)
    assert.deepEqual(
      json.payouts.map((row: { creatorId: number; status: string; amountCents: number }) => [
        row.creatorId,
        row.status,
        row.amountCents,
      ]),
      [[jenny.id, 'would_pay', 899]]
    )
  })

  test('payouts:reconcile --repair', async ({ assert }) => {
    const jenny = await creator()
    await sale(await agent(jenny), await buyer(), 1000)
    // Every transfer attempt fails: the payout stays processing with no transfer.
    stripeSandbox().failNext({ count: 3, status: 503, path: '/v1/transfers', method: 'POST' })
    await runPayouts()
    stripeSandbox().clearFaults()
    const { table, json } = await dryRun(assert, ['payouts:reconcile', '--repair'], { code: 3 })
    assert.include(table, 'transfer_missing')
    assert.include(table, 'would finish payout')
    assert.deepEqual(
      json.mismatches.map((row: { kind: string }) => row.kind),
      ['transfer_missing']
    )
    assert.match(json.mismatches[0].repaired, /^would finish payout \d+/)
  })

  test('agents:sync', async ({ assert }) => {
    const behind = await agent(await creator())
    await db
      .from('marketplace_agents')
      .where('id', behind.id)
      .update({ stripe_price_version: null })
    const { table, json } = await dryRun(assert, ['agents:sync'])
    assert.include(table, behind.slug)
    assert.include(table, '1 agent(s) would be synced')
    assert.equal(json.planned[0].agentId, behind.id)
    assert.match(json.planned[0].action, /update product, create price v1/)
  })

  test('usage:sync reads LiteLLM and stores nothing', async ({ assert }) => {
    const ada = await createUser('ada-surface@example.com')
    const sandbox = await startSandbox({
      rows: 40,
      seed: 3,
      users: [String(ada)],
      unknownUserRate: 0,
    })
    try {
      const env = { LITELLM_BASE_URL: sandbox.url, LITELLM_API_KEY: MASTER_KEY }
      const window = ['usage:sync', '--since', `${DAY} 00:00`, '--until', `${DAY} 06:00`]
      const { table, json } = await dryRun(assert, window, { env })
      assert.include(table, 'would insert')
      assert.equal(json.counts.seen, 40)
      assert.equal(json.counts.inserted, 40)
      assert.equal(json.watermarkAfter, json.watermarkBefore)

      const real = await runCli([...window, '--json'], { env })
      ok(assert, real)
      assert.equal(JSON.parse(real.stdout).counts.inserted, 40)
      const again = await runCli([...window, '--dry-run', '--json'], { env })
      ok(assert, again)
      assert.include(JSON.parse(again.stdout).counts, { seen: 40, inserted: 0, duplicates: 40 })
    } finally {
      await sandbox.stop()
    }
  })

  test('invoices:generate', async ({ assert }) => {
    const ada = await customer({ credits: 100 })
    await usage(ada, [3_000_000])
    const { table, json } = await dryRun(assert, ['invoices:generate', '--period', '2026-10'])
    assert.include(table, 'Dry run: period 2026-10')
    assert.deepInclude(json.outcomes[0], { userId: ada.id, status: 'planned', amountCents: 300 })
  })
})

test.group('CLI surface: --help', () => {
  test('every command says --json if it lists or reports, --dry-run if it changes state', async ({
    assert,
  }) => {
    const names = await commandNames()
    assert.includeMembers(names, CHANGES_STATE)
    assert.isAtLeast(names.length, 17)
    for (const name of names) {
      const run = await runCli([name, '--help'])
      assert.equal(run.code, 0, `${name}: ${run.stderr}`)
      // Every command of this CLI lists or reports something.
      assert.include(run.stdout, '--json', `${name} --help mentions --json`)
      if (CHANGES_STATE.includes(name)) {
        assert.include(run.stdout, '--dry-run', `${name} --help mentions --dry-run`)
      }
    }
  }).timeout(120_000)
})
