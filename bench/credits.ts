/*
|--------------------------------------------------------------------------
| Benchmark: credit spending (`npm run bench:credits`)
|--------------------------------------------------------------------------
|
| 64 concurrent spenders on ONE user's balance, through the app's spending
| path: CreditService.record with a debit (what usage invoices and operator
| debits call), each spend its own transaction and idempotency key. The
| balance starts at 95% of what all spends together ask for, so the last
| spends are refused (InsufficientCreditsException) as it runs dry.
|
| Checks: no overdraft (final balance = start - the sum of successful spends,
| never below 0), the cached balance equals the ledger sum, one ledger entry
| per successful spend, every refusal an InsufficientCreditsException. Then
| 1,000 replays of spent keys, which must change nothing.
| Target: >= 2,000 spends/s (successful spends over the run's wall time).
|
| Database: DATABASE_URL (or DB_*), else an embedded PostgreSQL under
| tmp/postgres/bench; it must be empty (--reset empties it).
|
| Options: --spends N (20000), --spenders N (64), --pool N (database
| connections, default 16), --reset.
|
*/

process.env.NODE_ENV = process.env.NODE_ENV ?? 'development'
process.env.LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'error'

import { migrate, requireEmptyDatabase, useBenchDatabase } from './support/database.js'
import { describeMachine, loadAverage, postgresVersion } from './support/machine.js'
import { count, flag } from './support/options.js'
import { writeResult } from './support/results.js'
import { ms, summarize, whole } from './support/stats.js'

const SPENDS = count('spends', 20_000)
const SPENDERS = count('spenders', 64)
const POOL = count('pool', 16)

async function main() {
  const database = await useBenchDatabase()
  process.env.DB_POOL_MAX = String(POOL)
  const { bootApp } = await import('../cli/app.js')
  const booted = await bootApp()
  try {
    await migrate(booted.app)
    await requireEmptyDatabase(flag('reset'))
    const { default: db } = await import('@adonisjs/lucid/services/db')
    const { default: User } = await import('#models/user')
    const { default: CreditService } = await import('#services/credit_service')
    const { default: InsufficientCreditsException } =
      await import('#exceptions/insufficient_credits_exception')
    const credits = new CreditService()

    const user = await User.create({
      fullName: 'Bench spender',
      email: 'spender@credits.test',
      password: 'not-a-hash-but-long-enough',
      plan: 'free',
    } as Partial<InstanceType<typeof User>>)
    // Amounts 1..100 cents from a fixed sequence; the balance covers 95% of their sum.
    const amounts = Array.from({ length: SPENDS }, (_, i) => 1 + ((i * 7919 + 13) % 100))
    const asked = amounts.reduce((a, b) => a + b, 0)
    const start = Math.floor(asked * 0.95)
    await credits.grant(user.id, start, 'operator_grant', {
      idempotencyKey: 'bench:credits:start',
      createdBy: 'bench',
      description: 'Bench starting balance',
    })

    // Warm-up on another user (JIT, pool), not counted.
    const other = await User.create({
      fullName: 'Bench warm-up',
      email: 'warmup@credits.test',
      password: 'not-a-hash-but-long-enough',
      plan: 'free',
    } as Partial<InstanceType<typeof User>>)
    await credits.grant(other.id, 1_000_000, 'operator_grant', {
      idempotencyKey: 'bench:credits:warmup',
      createdBy: 'bench',
    })
    let warm = 0
    await Promise.all(
      Array.from({ length: SPENDERS }, async () => {
        while (warm < 500) {
          const i = warm++
          await credits.record(other.id, -1, 'operator_debit', {
            idempotencyKey: `bench:warmup:${i}`,
            createdBy: 'bench',
          })
        }
      })
    )

    const latencies: number[] = []
    let next = 0
    let spent = 0
    let succeeded = 0
    let refused = 0
    const unexpected: string[] = []
    let lowest = Number.POSITIVE_INFINITY
    const loadBefore = loadAverage()
    const started = performance.now()
    const spender = async () => {
      while (next < SPENDS) {
        const i = next++
        const t0 = performance.now()
        try {
          const result = await credits.record(user.id, -amounts[i], 'operator_debit', {
            idempotencyKey: `bench:spend:${i}`,
            createdBy: 'bench',
            description: `Bench spend ${i}`,
          })
          if (!result.created) unexpected.push(`spend ${i}: key already used`)
          spent += amounts[i]
          succeeded++
          lowest = Math.min(lowest, result.entry.balanceAfterCents)
        } catch (error) {
          if (error instanceof InsufficientCreditsException) refused++
          else unexpected.push(`spend ${i}: ${error instanceof Error ? error.message : error}`)
        }
        latencies.push(performance.now() - t0)
      }
    }
    await Promise.all(Array.from({ length: SPENDERS }, spender))
    const seconds = (performance.now() - started) / 1000

    // Replays of keys already spent: nothing may change.
    const balanceOf = async () => {
      const fresh = await User.findOrFail(user.id)
      return fresh.creditsBalanceCents
    }
    const before = await balanceOf()
    let replayedCreated = 0
    for (let i = 0; i < Math.min(1_000, SPENDS); i++) {
      try {
        const result = await credits.record(user.id, -amounts[i], 'operator_debit', {
          idempotencyKey: `bench:spend:${i}`,
          createdBy: 'bench',
        })
        if (result.created) replayedCreated++
      } catch (error) {
        if (!(error instanceof InsufficientCreditsException)) throw error
      }
    }
    const after = await balanceOf()

    const final = await balanceOf()
    const ledger = await db.rawQuery<{ rows: { sum: string; debits: string }[] }>(
      `SELECT coalesce(sum(amount_cents), 0) AS sum,
              count(*) FILTER (WHERE kind = 'operator_debit') AS debits
         FROM credit_ledger_entries WHERE user_id = ?`,
      [user.id]
    )
    const ledgerSum = Number(ledger.rows[0].sum)
    const entries = Number(ledger.rows[0].debits)
    const checks = {
      noOverdraft: final >= 0 && final === start - spent && lowest >= 0,
      cacheEqualsLedger: final === ledgerSum,
      oneEntryPerSpend: entries === succeeded,
      onlyInsufficient: unexpected.length === 0,
      replaysChangeNothing: replayedCreated === 0 && before === after,
    }
    const correct = Object.values(checks).every(Boolean)
    const rate = succeeded / seconds
    const latency = summarize(latencies)
    const machine = describeMachine(await postgresVersion())
    const row = (label: string, value: string) => console.log(`  ${label.padEnd(34)} ${value}`)
    console.log('')
    console.log(
      `bench/credits: ${whole(SPENDS)} spends by ${SPENDERS} concurrent spenders on one balance (${POOL} database connections), CreditService.record`
    )
    row('balance', `start ${whole(start)} cents (95% of the ${whole(asked)} asked)`)
    row(
      'run',
      `${seconds.toFixed(2)} s: ${whole(succeeded)} spent (${whole(spent)} cents), ${whole(refused)} refused (insufficient)`
    )
    row('spends/s', `${whole(rate)} (target >= 2,000: ${rate >= 2_000 ? 'met' : 'MISSED'})`)
    row('attempts/s', whole(SPENDS / seconds))
    row(
      'latency p50 / p95 / p99 / max',
      `${ms(latency.p50)} / ${ms(latency.p95)} / ${ms(latency.p99)} / ${ms(latency.max)}`
    )
    row(
      'final balance',
      `${whole(final)} = start - spent: ${final === start - spent}; lowest balance after a spend ${whole(lowest)}; ledger sum ${whole(ledgerSum)}`
    )
    row(
      'checks',
      `${Object.entries(checks)
        .map(([name, ok]) => `${name} ${ok ? 'ok' : 'FAILED'}`)
        .join(', ')}`
    )
    if (unexpected.length > 0) row('unexpected', unexpected.slice(0, 5).join(' | '))
    row('load average before the run', loadBefore)
    console.log(`  Machine: ${machine}`)
    writeResult({
      name: 'credits',
      machine,
      load: loadBefore,
      rows: [
        {
          benchmark: `credits: ${SPENDERS} concurrent spenders, one balance`,
          figure: `${whole(rate)} spends/s (p99 ${ms(latency.p99)})`,
          target: '>= 2,000 spends/s',
          met: rate >= 2_000,
        },
        {
          benchmark: 'credits: overdraft, ledger = cache, replays',
          figure: correct ? `no overdraft, final ${whole(final)} >= 0` : 'WRONG',
          target: 'zero overdraft',
          met: correct,
        },
      ],
    })
    if (!correct) process.exitCode = 1
  } finally {
    await booted.close()
    await database.stop()
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
