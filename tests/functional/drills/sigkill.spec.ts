import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import { stripeSandbox } from '#tests/support/stripe'
import type { CliRun } from '#tests/support/cli'
import {
  drillSeed,
  killCliWhen,
  prng,
  resetDrillData,
  runAudit,
  scaled,
} from '#tests/support/drills'
import {
  FAST_STRIPE_ENV,
  invoiceUsers,
  payableCreators,
  rerunUntilDone,
  stripeMoneyOf,
  transfersTo,
} from './helpers.js'

/*
| Drill 3: a job killed with SIGKILL at random points (seeded delays, several
| times in a row, each run picking up what the last left), then rerun until
| it finishes: one Stripe invoice and one charge per user, one transfer per
| payout, audit passes.
*/

const KILLS = 4

/** An invoice run's progress: invoice rows made, and those finished (paid). */
async function invoiceProgress() {
  const [row] = await db
    .from('usage_invoices')
    .select(db.raw('count(*) AS made'), db.raw("count(*) FILTER (WHERE status = 'paid') AS paid"))
  return Number(row.made) + Number(row.paid)
}

/** A payout run's progress: payout rows made, and those finished (paid). */
async function payoutProgress() {
  const [row] = await db
    .from('creator_payouts')
    .select(db.raw('count(*) AS made'), db.raw("count(*) FILTER (WHERE status = 'paid') AS paid"))
  return Number(row.made) + Number(row.paid)
}

/**
 * Runs `args` `KILLS` times, each SIGKILLed at a seeded random point of its
 * work: once `progress()` (rows the run has written) passes a random share of
 * `units`, plus a random 0-200 ms. Each run picks up what the last one left.
 */
async function killRepeatedly(
  args: string[],
  seed: number,
  units: number,
  progress: () => Promise<number>
) {
  const random = prng(seed)
  const runs: { at: string; killed: boolean; run: CliRun }[] = []
  for (let i = 0; i < KILLS; i++) {
    const before = await progress()
    const after = Math.floor(random() * Math.max(1, units - before))
    const afterMs = Math.round(random() * 200)
    const { killed, run } = await killCliWhen(args, {
      env: FAST_STRIPE_ENV,
      ready: async () => (await progress()) > before + after - 1,
      afterMs,
    })
    runs.push({ at: `${before + after}+${afterMs}ms`, killed, run })
  }
  return runs
}

function describeKills(runs: { at: string; killed: boolean; run: CliRun }[]) {
  return runs
    .map(({ at, killed, run }) => `${at}: ${killed ? 'killed' : `exit ${run.code}`}`)
    .join(', ')
}

test.group('Drills: SIGKILL at random points', (group) => {
  group.each.setup(() => resetDrillData())
  group.each.teardown(() => stripeSandbox().clearFaults())

  test('an invoice run killed again and again converges: one invoice and one charge per user', async ({
    assert,
  }) => {
    const users = await invoiceUsers(scaled(16, 4))
    const args = ['invoices:generate', '--period', '2026-10', '--skip-sync']
    const kills = await killRepeatedly(args, drillSeed(300), users.length * 2, invoiceProgress)
    const started = Date.now()
    const reruns = await rerunUntilDone(args, FAST_STRIPE_ENV)
    const last = reruns.at(-1)!
    console.log(
      `  invoices: kills at ${describeKills(kills)}; reruns ${reruns.map((r) => r.code).join(', ')} ` +
        `in ${((Date.now() - started) / 1000).toFixed(1)} s`
    )
    assert.isTrue(
      kills.some(({ killed }) => killed),
      'at least one run was killed mid-way'
    )
    assert.equal(last.code, 0, `${last.stdout.slice(-800)}\n${last.stderr.slice(0, 800)}`)
    // A dead run's lock never turns the next run away (it would until its TTL ran out).
    const turnedAway = [...kills.map(({ run }) => run), ...reruns].filter(
      (run) => run.code !== null && run.code !== 0
    )
    assert.deepEqual(
      turnedAway.map((run) => `${run.code}: ${(run.stderr || run.stdout).slice(0, 300)}`),
      [],
      'no run after a kill was refused or failed'
    )
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
    }
    const debits = await db
      .from('credit_ledger_entries')
      .where('kind', 'usage_invoice')
      .groupBy('user_id')
      .select('user_id')
      .count('* as n')
    assert.isTrue(
      debits.every((row) => Number(row.n) === 1),
      'credits taken once per user'
    )
    const audit = await runAudit()
    assert.isTrue(audit.passed, `audit: ${JSON.stringify(audit.failed).slice(0, 2000)}`)
  }).timeout(200_000)

  test('a payout run killed again and again converges: one transfer per payout', async ({
    assert,
  }) => {
    const creators = await payableCreators(scaled(10, 3))
    const kills = await killRepeatedly(
      ['payouts:run'],
      drillSeed(400),
      creators.length * 2,
      payoutProgress
    )
    const started = Date.now()
    const reruns = await rerunUntilDone(['payouts:run'], FAST_STRIPE_ENV)
    const last = reruns.at(-1)!
    console.log(
      `  payouts: kills at ${describeKills(kills)}; reruns ${reruns.map((r) => r.code).join(', ')} ` +
        `in ${((Date.now() - started) / 1000).toFixed(1)} s`
    )
    assert.isTrue(
      kills.some(({ killed }) => killed),
      'at least one run was killed mid-way'
    )
    assert.equal(last.code, 0, `${last.stdout.slice(-800)}\n${last.stderr.slice(0, 800)}`)
    // A dead run's lock never turns the next run away (it would until its TTL ran out).
    const turnedAway = [...kills.map(({ run }) => run), ...reruns].filter(
      (run) => run.code !== null && run.code !== 0
    )
    assert.deepEqual(
      turnedAway.map((run) => `${run.code}: ${(run.stderr || run.stdout).slice(0, 300)}`),
      [],
      'no run after a kill was refused or failed'
    )

    for (const owner of creators) {
      const made = await transfersTo(owner)
      const payouts = await db.from('creator_payouts').where('creator_id', owner.id)
      assert.isTrue(
        payouts.every((row) => row.status === 'paid'),
        `payouts of ${owner.id}: ${payouts.map((row) => row.status).join(', ')}`
      )
      assert.lengthOf(made, payouts.length, `one transfer per payout of creator ${owner.id}`)
      assert.sameMembers(
        made.map((transfer) => transfer.id),
        payouts.map((row) => row.stripe_transfer_id)
      )
      const earned = await db
        .from('marketplace_transactions')
        .where('creator_id', owner.id)
        .sum('creator_cents as cents')
      assert.equal(
        made.reduce((n, transfer) => n + transfer.amount, 0),
        Number(earned[0].cents),
        'paid exactly what was earned'
      )
    }
    const audit = await runAudit()
    assert.isTrue(audit.passed, `audit: ${JSON.stringify(audit.failed).slice(0, 2000)}`)
  }).timeout(200_000)
})
