import { test } from '@japa/runner'
import type { Assert } from '@japa/assert'
import db from '@adonisjs/lucid/services/db'
import { truncate } from '#tests/support/database'
import { runCli, type CliRun } from '#tests/support/cli'

/** What `audit --json` prints. */
type AuditJson = {
  passed: boolean
  checks: {
    name: string
    description: string
    passed: boolean
    offenderCount: number
    offenders: Record<string, unknown>[]
    hint: string
  }[]
}

const ALL_CHECKS = [
  'credit_balances',
  'marketplace_splits',
  'usage_invoice_totals',
  'checkout_fulfilment',
  'limits',
  'usage_billing',
  'payouts',
  'stuck_events',
  'failed_events',
  'agent_entitlements',
]

/*
| The CLI is another process, so rows are committed and tables truncated
| between tests (truncating users cascades to everything billing holds);
| ids start in a fresh range per test so an offender's id is this test's row.
*/
let idRange = 0
async function resetData() {
  await truncate('users', 'stripe_events')
  idRange += 1
  const start = 70_000 + idRange * 1000
  for (const table of [
    'users',
    'projects',
    'credit_purchases',
    'credit_ledger_entries',
    'marketplace_agents',
    'agent_entitlements',
    'marketplace_transactions',
    'creator_payouts',
    'usage_invoices',
    'usage_logs',
    'stripe_events',
  ]) {
    await db.rawQuery(`SELECT setval(pg_get_serial_sequence(?, 'id'), ?, false)`, [table, start])
  }
}

async function insert(table: string, row: Record<string, unknown>): Promise<number> {
  const now = new Date()
  const withTimes = { created_at: now, ...row }
  const [inserted] = await db.table(table).insert(withTimes).returning('id')
  return Number(inserted.id ?? inserted)
}

const stamps = () => ({ created_at: new Date(), updated_at: new Date() })

/**
 * A small, consistent book: a buyer who bought credits, used some on a usage
 * invoice and bought an agent; its creator paid out; one deployed project;
 * one processed Stripe event. Every check passes on it.
 */
async function seedConsistentBook() {
  const buyer = await insert('users', {
    full_name: 'Audit Buyer',
    email: `buyer${idRange}@example.com`,
    password: 'x',
    credits_balance_cents: 750,
    ...stamps(),
  })
  const creator = await insert('users', {
    full_name: 'Audit Creator',
    email: `creator${idRange}@example.com`,
    password: 'x',
    ...stamps(),
  })
  const purchase = await insert('credit_purchases', {
    user_id: buyer,
    package_key: 'medium',
    credits_cents: 1000,
    amount_cents: 1000,
    stripe_checkout_session_id: `cs_audit_credits_${idRange}`,
    status: 'paid',
    paid_at: new Date(),
    ...stamps(),
  })
  await insert('credit_ledger_entries', {
    user_id: buyer,
    amount_cents: 1000,
    balance_after_cents: 1000,
    kind: 'purchase',
    idempotency_key: `audit:purchase:${purchase}`,
    credit_purchase_id: purchase,
    created_by: 'test',
  })
  const invoice = await insert('usage_invoices', {
    user_id: buyer,
    period: '2026-10',
    cost_micros: 2_500_000,
    amount_cents: 250,
    credits_applied_cents: 250,
    charged_cents: 0,
    status: 'paid',
    paid_at: new Date(),
    idempotency_key: `audit:invoice:${idRange}`,
    line_count: 1,
    request_count: 2,
    ...stamps(),
  })
  await insert('usage_invoice_lines', {
    usage_invoice_id: invoice,
    kind: 'usage',
    description: 'AI usage 2026-10',
    request_count: 2,
    cost_micros: 2_500_000,
    amount_cents: 250,
  })
  await insert('credit_ledger_entries', {
    user_id: buyer,
    amount_cents: -250,
    balance_after_cents: 750,
    kind: 'usage_invoice',
    idempotency_key: `audit:invoice:${invoice}:credits`,
    usage_invoice_id: invoice,
    created_by: 'test',
  })
  const usageRows: number[] = []
  for (const [index, micros] of [1_000_000, 1_500_000].entries()) {
    usageRows.push(
      await insert('usage_logs', {
        request_id: `audit-req-${idRange}-${index}`,
        user_id: buyer,
        model: 'gpt-test',
        cost_micros: micros,
        spend_micros: micros,
        attribution: 'attributed',
        started_at: new Date('2026-10-15T12:00:00Z'),
        usage_invoice_id: invoice,
      })
    )
  }
  const agent = await insert('marketplace_agents', {
    slug: `audit-agent-${idRange}`,
    name: 'Audit Agent',
    creator_id: creator,
    pricing_type: 'one_time',
    price_cents: 1000,
    ...stamps(),
  })
  const entitlement = await insert('agent_entitlements', {
    user_id: buyer,
    agent_id: agent,
    pricing_type: 'one_time',
    status: 'active',
    stripe_checkout_session_id: `cs_audit_agent_${idRange}`,
    ...stamps(),
  })
  // The payout's key names its own id (a CHECK), so the id is taken first.
  const next = await db.rawQuery(
    `SELECT nextval(pg_get_serial_sequence('creator_payouts', 'id')) AS id`
  )
  const payout = Number(next.rows[0].id)
  await insert('creator_payouts', {
    id: payout,
    creator_id: creator,
    amount_cents: 900,
    status: 'paid',
    idempotency_key: `studio:payout:${payout}`,
    stripe_transfer_id: `tr_audit_${idRange}`,
    stripe_account_id: 'acct_audit',
    paid_at: new Date(),
    ...stamps(),
  })
  const sale = await insert('marketplace_transactions', {
    agent_id: agent,
    creator_id: creator,
    buyer_id: buyer,
    kind: 'sale',
    source_type: 'checkout_session',
    source_id: `cs_audit_agent_${idRange}`,
    gross_cents: 1000,
    creator_cents: 900,
    platform_cents: 100,
    status: 'paid',
    payable_at: new Date(),
    creator_payout_id: payout,
    ...stamps(),
  })
  const project = await insert('projects', {
    user_id: buyer,
    name: 'Deployed',
    slug: 'deployed',
    is_deployed: true,
    deployed_at: new Date(),
    ...stamps(),
  })
  await insert('stripe_events', event(`evt_audit_ok_${idRange}`, 'processed'))
  return { buyer, creator, purchase, invoice, usageRows, agent, entitlement, payout, sale, project }
}

function event(id: string, status: string, updatedAt = new Date()) {
  return {
    stripe_event_id: id,
    type: 'checkout.session.completed',
    livemode: false,
    stripe_created_at: updatedAt,
    payload: JSON.stringify({ id }),
    status,
    attempts: 1,
    last_error: status === 'failed' ? 'boom' : null,
    received_at: updatedAt,
    processed_at: status === 'processed' ? updatedAt : null,
    created_at: updatedAt,
    updated_at: updatedAt,
  }
}

async function audit(args: string[] = []) {
  const run = await runCli(['audit', '--json', ...args])
  let parsed: AuditJson | null = null
  try {
    parsed = JSON.parse(run.stdout) as AuditJson
  } catch {
    parsed = null
  }
  return { run, result: parsed }
}

/** Exactly `name` fails (exit 3) and one of its offenders has `column` = `id`. */
function assertOnlyFails(
  assert: Assert,
  run: CliRun,
  result: AuditJson | null,
  name: string,
  column: string,
  id: string | number
) {
  assert.equal(run.code, 3, run.stderr)
  assert.isNotNull(result, run.stdout)
  assert.isFalse(result!.passed)
  assert.deepEqual(
    result!.checks.filter((check) => !check.passed).map((check) => check.name),
    [name]
  )
  const check = result!.checks.find((candidate) => candidate.name === name)!
  assert.isAtLeast(check.offenderCount, 1)
  assert.include(
    check.offenders.map((row) => row[column]),
    id,
    JSON.stringify(check.offenders)
  )
}

test.group('audit', (group) => {
  group.each.setup(async () => {
    await resetData()
    return async () => {
      await truncate('users', 'stripe_events')
    }
  })
  group.each.timeout(60_000)

  test('a consistent database passes every check (exit 0, JSON shape)', async ({ assert }) => {
    await seedConsistentBook()
    const { run, result } = await audit()
    assert.equal(run.code, 0, run.stderr + run.stdout)
    assert.isTrue(result!.passed)
    assert.deepEqual(
      result!.checks.map((check) => check.name),
      ALL_CHECKS
    )
    for (const check of result!.checks) {
      assert.isTrue(check.passed, check.name)
      assert.equal(check.offenderCount, 0)
      assert.deepEqual(check.offenders, [])
      assert.isString(check.description)
      assert.isString(check.hint)
    }
  })

  test('the table lists every check and the offending rows of a failed one', async ({ assert }) => {
    const book = await seedConsistentBook()
    const clean = await runCli(['audit'])
    assert.equal(clean.code, 0, clean.stderr)
    for (const name of ALL_CHECKS) assert.match(clean.stdout, new RegExp(`│ ${name} +│ pass `))
    assert.include(clean.stdout, `All ${ALL_CHECKS.length} checks passed.`)

    await db.rawQuery(
      'UPDATE users SET credits_balance_cents = credits_balance_cents + 1 WHERE id = ?',
      [book.buyer]
    )
    const broken = await runCli(['audit'])
    assert.equal(broken.code, 3, broken.stderr)
    assert.match(broken.stdout, /│ credit_balances +│ FAIL +│ 1 /)
    assert.include(broken.stdout, 'credit_balances: 1 offending row(s)')
    assert.match(broken.stdout, new RegExp(`│ ${book.buyer} +│ buyer`))
    assert.include(broken.stdout, `1 of ${ALL_CHECKS.length} checks failed.`)
  })

  test('credit_balances: a cached balance that is not the ledger sum', async ({ assert }) => {
    const book = await seedConsistentBook()
    await db.rawQuery(
      'UPDATE users SET credits_balance_cents = credits_balance_cents + 1 WHERE id = ?',
      [book.buyer]
    )
    const { run, result } = await audit()
    assertOnlyFails(assert, run, result, 'credit_balances', 'user_id', book.buyer)
    const offender = result!.checks[0].offenders[0]
    assert.equal(offender.cached_cents, 751)
    assert.equal(offender.ledger_sum_cents, 750)
  })

  test('marketplace_splits: refunds taking back more than the sale', async ({ assert }) => {
    const book = await seedConsistentBook()
    await insert('marketplace_transactions', {
      agent_id: book.agent,
      creator_id: book.creator,
      buyer_id: book.buyer,
      kind: 'refund',
      source_type: 'refund',
      source_id: `re_audit_${idRange}`,
      gross_cents: -1200,
      creator_cents: -1080,
      platform_cents: -120,
      reverses_transaction_id: book.sale,
      status: 'pending',
      ...stamps(),
    })
    const { run, result } = await audit()
    assertOnlyFails(assert, run, result, 'marketplace_splits', 'transaction_id', book.sale)
  })

  test('usage_invoice_totals: credits applied that the ledger does not show', async ({
    assert,
  }) => {
    const book = await seedConsistentBook()
    // Still satisfies the row's own CHECK (200 + 50 + 0 = 250); the ledger took 250.
    await db.rawQuery(
      'UPDATE usage_invoices SET credits_applied_cents = 200, charged_cents = 50 WHERE id = ?',
      [book.invoice]
    )
    const { run, result } = await audit()
    assertOnlyFails(assert, run, result, 'usage_invoice_totals', 'invoice_id', book.invoice)
  })

  test('checkout_fulfilment: a paid credit purchase never credited', async ({ assert }) => {
    const book = await seedConsistentBook()
    const unpaid = await insert('credit_purchases', {
      user_id: book.buyer,
      package_key: 'small',
      credits_cents: 500,
      amount_cents: 500,
      stripe_checkout_session_id: `cs_audit_lost_${idRange}`,
      status: 'paid',
      paid_at: new Date(),
      ...stamps(),
    })
    const { run, result } = await audit()
    assertOnlyFails(assert, run, result, 'checkout_fulfilment', 'row', `credit_purchase ${unpaid}`)
  })

  test('checkout_fulfilment: one checkout session fulfilled as two purchases', async ({
    assert,
  }) => {
    const book = await seedConsistentBook()
    await insert('deploy_slot_purchases', {
      user_id: book.buyer,
      stripe_checkout_session_id: `cs_audit_credits_${idRange}`,
      amount_cents: 500,
      status: 'active',
      purchased_at: new Date(),
      ...stamps(),
    })
    // The slot also lifts the deploy limit: limits still passes.
    const { run, result } = await audit()
    assertOnlyFails(
      assert,
      run,
      result,
      'checkout_fulfilment',
      'checkout_session',
      `cs_audit_credits_${idRange}`
    )
  })

  test('limits: more deployments than the plan and slots allow', async ({ assert }) => {
    const book = await seedConsistentBook()
    await insert('projects', {
      user_id: book.buyer,
      name: 'Second',
      slug: 'second',
      is_deployed: true,
      deployed_at: new Date(),
      ...stamps(),
    })
    const { run, result } = await audit()
    assertOnlyFails(assert, run, result, 'limits', 'user_id', book.buyer)
    const offender = result!.checks.find((check) => check.name === 'limits')!.offenders[0]
    assert.equal(offender.deployed, 2)
    assert.equal(offender.deploy_limit, 1)
    assert.equal(offender.problem, 'deployments over the limit')
  })

  test('limits: projects kept after a downgrade pass, one created after it fails', async ({
    assert,
  }) => {
    const book = await seedConsistentBook()
    const earlier = new Date(Date.now() - 86_400_000)
    await insert('projects', {
      user_id: book.buyer,
      name: 'Made on Premium',
      slug: 'premium-era',
      created_at: earlier,
      updated_at: earlier,
    })
    await insert('subscriptions', {
      user_id: book.buyer,
      stripe_subscription_id: `sub_audit_${idRange}`,
      stripe_customer_id: 'cus_audit',
      stripe_price_id: 'price_audit',
      status: 'canceled',
      canceled_at: new Date(),
      ended_at: new Date(),
      stripe_updated_at: new Date(),
      ...stamps(),
    })
    const kept = await audit(['--check', 'limits'])
    assert.equal(kept.run.code, 0, kept.run.stderr + kept.run.stdout)

    const later = new Date(Date.now() + 60_000)
    const extra = await insert('projects', {
      user_id: book.buyer,
      name: 'Made on Free',
      slug: 'free-era',
      created_at: later,
      updated_at: later,
    })
    const { run, result } = await audit()
    assertOnlyFails(assert, run, result, 'limits', 'user_id', book.buyer)
    const offender = result!.checks.find((check) => check.name === 'limits')!.offenders[0]
    assert.equal(offender.projects_created_over_limit, String(extra))
    assert.equal(offender.problem, 'projects created over the limit')
  })

  test('usage_billing: an invoice cost that is not the sum of its usage rows', async ({
    assert,
  }) => {
    const book = await seedConsistentBook()
    await db.rawQuery('UPDATE usage_logs SET cost_micros = cost_micros + 1 WHERE id = ?', [
      book.usageRows[0],
    ])
    const { run, result } = await audit()
    assertOnlyFails(assert, run, result, 'usage_billing', 'invoice_id', book.invoice)
  })

  test('payouts: a paid payout whose amount is not its earnings', async ({ assert }) => {
    const book = await seedConsistentBook()
    await db.rawQuery('UPDATE creator_payouts SET amount_cents = 901 WHERE id = ?', [book.payout])
    const { run, result } = await audit()
    assertOnlyFails(assert, run, result, 'payouts', 'payout_id', book.payout)
  })

  test('stuck_events: an event left processing past --stuck-minutes', async ({ assert }) => {
    await seedConsistentBook()
    const stuck = await insert(
      'stripe_events',
      event(`evt_audit_stuck_${idRange}`, 'processing', new Date(Date.now() - 2 * 3_600_000))
    )
    const { run, result } = await audit()
    assertOnlyFails(assert, run, result, 'stuck_events', 'event_row_id', stuck)

    const patient = await audit(['--stuck-minutes', '600'])
    assert.equal(patient.run.code, 0, patient.run.stderr)
  })

  test('failed_events: a failed event awaiting replay', async ({ assert }) => {
    await seedConsistentBook()
    const failed = await insert('stripe_events', event(`evt_audit_failed_${idRange}`, 'failed'))
    const { run, result } = await audit()
    assertOnlyFails(assert, run, result, 'failed_events', 'event_row_id', failed)
  })

  test('agent_entitlements: a paid entitlement with no Stripe payment', async ({ assert }) => {
    const book = await seedConsistentBook()
    const monthly = await insert('marketplace_agents', {
      slug: `audit-monthly-${idRange}`,
      name: 'Monthly Agent',
      creator_id: book.creator,
      pricing_type: 'monthly',
      price_cents: 500,
      ...stamps(),
    })
    const granted = await insert('agent_entitlements', {
      user_id: book.buyer,
      agent_id: monthly,
      pricing_type: 'monthly',
      status: 'active',
      ...stamps(),
    })
    const { run, result } = await audit()
    assertOnlyFails(
      assert,
      run,
      result,
      'agent_entitlements',
      'entitlement_ids',
      `entitlement ${granted}`
    )
  })

  test('--check runs only the named checks; --limit caps the rows, not the count', async ({
    assert,
  }) => {
    const book = await seedConsistentBook()
    await db.rawQuery('UPDATE creator_payouts SET amount_cents = 901 WHERE id = ?', [book.payout])
    for (const index of [1, 2, 3]) {
      await insert('stripe_events', event(`evt_audit_failed_${idRange}_${index}`, 'failed'))
    }
    const { run, result } = await audit([
      '--check',
      'failed_events',
      'credit_balances',
      '--limit',
      '2',
    ])
    assert.equal(run.code, 3, run.stderr)
    assert.deepEqual(
      result!.checks.map((check) => check.name),
      ['credit_balances', 'failed_events']
    )
    const failed = result!.checks[1]
    assert.equal(failed.offenderCount, 3)
    assert.lengthOf(failed.offenders, 2)

    const passing = await audit(['--check', 'credit_balances'])
    assert.equal(passing.run.code, 0, passing.run.stderr)
  })

  test('bad usage exits 2 with one line saying what to do', async ({ assert }) => {
    const unknown = await runCli(['audit', '--check', 'nonsense'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /Unknown check "nonsense" \(one of: credit_balances, /)
    const limit = await runCli(['audit', '--limit', '0'])
    assert.equal(limit.code, 2)
    assert.include(limit.stderr, '--limit must be a whole number >= 1')
  })
})
