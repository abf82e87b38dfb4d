/*
|--------------------------------------------------------------------------
| Benchmark: monthly usage invoices (`npm run bench:invoices`)
|--------------------------------------------------------------------------
|
| 10,000 users with a month of usage (200,000 usage rows) invoiced by the
| real UsageInvoiceService against the Stripe sandbox: credits first, the rest
| charged through a Stripe invoice (create, item, finalize, pay: four keyed
| calls per user), under-minimum amounts carried, api agents' creator shares
| recorded. Target: under 60 s. Then a rerun of the same period, which must
| create nothing. Prints the figures and the machine.
|
| The user mix: 70% charged in full, 10% paid by credits alone, 10% partly by
| credits, 5% under the minimum (carried), 5% using an api agent.
|
| Database: DATABASE_URL (or DB_*), else an embedded PostgreSQL under
| tmp/postgres/bench. It must hold no users: pass --reset to empty the users
| and everything that references them (never point this at a database you
| care about).
|
| Options: --users N (default 10000), --concurrency N (default 16),
| --sandbox standalone|inprocess (default standalone: the Stripe sandbox in its
| own process, as Stripe is another machine; inprocess shares this process's
| event loop), --reset.
|
*/

process.env.NODE_ENV = process.env.NODE_ENV ?? 'development'
process.env.LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'error'

import { readFileSync } from 'node:fs'
import { useBenchDatabase } from './support/database.js'
import { describeMachine, loadAverage } from './support/machine.js'
import { count, flag, option } from './support/options.js'
import { startStripeSandbox } from './support/processes.js'
import { writeResult } from './support/results.js'
import { progress } from './support/stats.js'

const PERIOD = '2026-10'
const ROWS_PER_USER = 20

const USERS = count('users', 10_000)
const CONCURRENCY = count('concurrency', 16)
const SANDBOX = option('sandbox', 'standalone')
if (!['standalone', 'inprocess'].includes(SANDBOX)) {
  throw new Error('--sandbox is standalone or inprocess')
}

async function main() {
  const database = await useBenchDatabase()
  const started: { stop: () => Promise<void> }[] = [database]
  let sandboxPid: number | null = null
  let sandboxUrl: string
  if (SANDBOX === 'inprocess') {
    const { StripeSandbox } = await import('../sandbox/stripe/sandbox.js')
    const sandbox = await StripeSandbox.start({ port: 0 })
    started.push({ stop: () => sandbox.stop() })
    sandboxUrl = sandbox.url
  } else {
    const sandbox = await startStripeSandbox()
    sandboxPid = sandbox.pid
    started.push(sandbox)
    sandboxUrl = sandbox.url
  }
  process.env.STRIPE_API_BASE = sandboxUrl
  process.env.STRIPE_SECRET_KEY = process.env.STRIPE_SECRET_KEY ?? 'sk_test_bench'
  process.env.USAGE_INVOICE_CONCURRENCY = String(CONCURRENCY)
  process.env.DB_POOL_MAX = process.env.DB_POOL_MAX ?? String(Math.max(10, CONCURRENCY + 4))

  const { bootApp } = await import('../cli/app.js')
  const booted = await bootApp()
  try {
    const { default: db } = await import('@adonisjs/lucid/services/db')
    const { MigrationRunner } = await import('@adonisjs/lucid/migration')
    const migrator = new MigrationRunner(db, booted.app, { direction: 'up', dryRun: false })
    await migrator.run()
    if (migrator.error) throw migrator.error
    const { default: Stripe } = await import('stripe')
    const { default: UsageInvoiceService } = await import('#services/usage/usage_invoice_service')

    const [{ n: existing }] = await db.from('users').count('* as n')
    if (Number(existing) > 0) {
      if (!flag('reset')) {
        throw new Error(
          `The database holds ${existing} users: pass --reset to empty it (it deletes everything that references users)`
        )
      }
      await db.rawQuery(
        `TRUNCATE users, usage_logs, usage_invoices, usage_invoice_lines, credit_ledger_entries,
                  marketplace_agents, marketplace_transactions, stripe_events, locks, job_runs
         RESTART IDENTITY CASCADE`
      )
    }

    // ---- setup (not timed) -------------------------------------------------------------
    const setupStarted = Date.now()
    console.log(`Setting up ${USERS} users with ${ROWS_PER_USER} usage rows each...`)
    await db.rawQuery(
      `INSERT INTO users (full_name, email, password, plan, credits_balance_cents, created_at, updated_at)
       SELECT 'Bench user ' || i, 'bench' || i || '@bench.test', 'not-a-hash', 'free', 0, now(), now()
         FROM generate_series(1, ?) AS i`,
      [USERS]
    )
    const [creator] = await db
      .table('users')
      .insert({
        full_name: 'Bench creator',
        email: 'creator@bench.test',
        password: 'not-a-hash',
        plan: 'free',
        credits_balance_cents: 0,
        created_at: new Date(),
        updated_at: new Date(),
      })
      .returning('id')
    const { default: AgentCatalogService } =
      await import('#services/marketplace/agent_catalog_service')
    const catalog = await booted.app.container.make(AgentCatalogService)
    const agent = await catalog.create({
      slug: 'bench-api-agent',
      name: 'Bench api agent',
      creatorId: Number(creator.id ?? creator),
      pricing: {
        pricingType: 'api',
        inputPriceMicrosPerMillion: 1_000_000,
        outputPriceMicrosPerMillion: 2_000_000,
      },
    })
    // Usage: user i mod 20 picks its kind: 0..13 full charge, 14-15 credits only, 16-17 partly
    // credits, 18 under the minimum (one 20-cent request), 19 an api agent's usage.
    await db.rawQuery(
      `INSERT INTO usage_logs (request_id, user_id, agent_id, litellm_user, model, model_group,
         prompt_tokens, completion_tokens, total_tokens, cache_hit, spend_micros, cost_micros,
         attribution, spend_mismatch, started_at, created_at)
       SELECT 'bench-' || u.id || '-' || r, u.id,
              CASE WHEN u.id % 20 = 19 AND r % 2 = 0 THEN CAST(:agent AS bigint) END,
              u.id::text, 'gpt-4o-mini', 'gpt-4o-mini', 1000, 500, 1500, false,
              c.micros, c.micros, 'attributed', false,
              timestamptz '2026-10-01 00:00:00+00' + ((u.id * 131 + r * 7919) % 2678400) * interval '1 second',
              now()
         FROM users u
         CROSS JOIN generate_series(1, :rows) AS r
         CROSS JOIN LATERAL (SELECT 10000 + ((u.id * 7919 + r * 104729) % 500000) AS micros) c
        WHERE u.email LIKE 'bench%@bench.test' AND (u.id % 20 <> 18 OR r = 1)`,
      { agent: agent.id, rows: ROWS_PER_USER }
    )
    await db.rawQuery(
      `UPDATE usage_logs SET cost_micros = 200000, spend_micros = 200000
        WHERE user_id % 20 = 18`
    )
    // Credits: 100,000 cents (covers all) for kind 14-15, 100 cents for kind 16-17.
    await db.rawQuery(
      `WITH granted AS (
         SELECT id, CASE WHEN id % 20 IN (14, 15) THEN 100000 ELSE 100 END AS cents
           FROM users WHERE email LIKE 'bench%@bench.test' AND id % 20 IN (14, 15, 16, 17))
       , ledger AS (
         INSERT INTO credit_ledger_entries (user_id, amount_cents, balance_after_cents, kind,
           idempotency_key, created_by, created_at)
         SELECT id, cents, cents, 'operator_grant', 'bench:grant:' || id, 'bench', now() FROM granted)
       UPDATE users SET credits_balance_cents = granted.cents FROM granted WHERE users.id = granted.id`
    )
    // A Stripe customer with a default card per user (through the API, in parallel).
    const stripe = new Stripe(process.env.STRIPE_SECRET_KEY, {
      ...(() => {
        const base = new URL(sandboxUrl)
        return { host: base.hostname, port: Number(base.port), protocol: 'http' as const }
      })(),
      telemetry: false,
      maxNetworkRetries: 2,
    })
    const users = (await db
      .from('users')
      .where('email', 'like', 'bench%@bench.test')
      .orderBy('id')
      .select('id', 'email')) as { id: string; email: string }[]
    let next = 0
    let made = 0
    const customerProgress = progress('Stripe customers')
    const makeCustomers = async () => {
      while (next < users.length) {
        const user = users[next++]
        const customer = await stripe.customers.create({
          email: user.email,
          metadata: { user_id: String(user.id) },
        })
        const method = await stripe.paymentMethods.create({
          type: 'card',
          card: { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' },
        })
        await stripe.paymentMethods.attach(method.id, { customer: customer.id })
        await stripe.customers.update(customer.id, {
          invoice_settings: { default_payment_method: method.id },
        })
        await db.from('users').where('id', user.id).update({ stripe_customer_id: customer.id })
        customerProgress(++made, users.length)
      }
    }
    await Promise.all(Array.from({ length: 32 }, makeCustomers))
    const [{ n: rows }] = await db.from('usage_logs').count('* as n')
    console.log(
      `Setup: ${users.length} users, ${rows} usage rows, ${users.length} Stripe customers in ${((Date.now() - setupStarted) / 1000).toFixed(1)} s`
    )

    // ---- the timed runs -------------------------------------------------------------------
    const invoices = await booted.app.container.make(UsageInvoiceService)
    const { DateTime } = await import('luxon')
    const now = DateTime.utc(2026, 11, 1, 0, 5)
    /** CPU seconds of a process (from /proc), or of this one. */
    const cpuSeconds = (pid: number | null) => {
      if (pid === null) {
        const usage = process.cpuUsage()
        return (usage.user + usage.system) / 1e6
      }
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      return (Number(fields[11]) + Number(fields[12])) / 100
    }
    const cpuBefore = { app: cpuSeconds(null), sandbox: sandboxPid ? cpuSeconds(sandboxPid) : 0 }
    const first = await invoices.generate(PERIOD, {
      skipSync: true,
      now,
      concurrency: CONCURRENCY,
      onProgress: progress('Invoicing'),
    })
    const stripeInvoices = async () => {
      let total = 0
      for (const user of users.slice(0, 200)) {
        const customer = await db.from('users').where('id', user.id).first()
        const listed = await stripe.invoices.list({
          customer: customer.stripe_customer_id,
          limit: 10,
        })
        total += listed.data.length
      }
      return total
    }
    const cpu = {
      app: cpuSeconds(null) - cpuBefore.app,
      sandbox: sandboxPid ? cpuSeconds(sandboxPid) - cpuBefore.sandbox : 0,
    }
    const sampledBefore = await stripeInvoices()
    const second = await invoices.generate(PERIOD, {
      skipSync: true,
      now,
      concurrency: CONCURRENCY,
    })
    const sampledAfter = await stripeInvoices()
    const byStatus = await db
      .from('usage_invoices')
      .where('period', PERIOD)
      .groupBy('status')
      .select('status', db.raw('count(*)::int AS n'))
    const earnings = await db.from('marketplace_transactions').count('* as n')
    const version = await db.rawQuery('SHOW server_version')

    const seconds = first.durationMs / 1000
    console.log('')
    console.log(
      `bench/invoices: ${USERS} users, period ${PERIOD}, concurrency ${CONCURRENCY}, Stripe sandbox ${SANDBOX}`
    )
    console.log(
      `  run 1: ${seconds.toFixed(1)} s (${(USERS / seconds).toFixed(0)} users/s; target < 60 s: ${seconds < 60 ? 'met' : 'NOT met'})`
    )
    console.log(
      `         CPU: app ${cpu.app.toFixed(1)} s${sandboxPid ? `, Stripe sandbox ${cpu.sandbox.toFixed(1)} s` : ' (sandbox included)'}`
    )
    console.log(
      `         made ${first.created} invoices: paid ${first.paid}, carried ${first.carried}, failed ${first.failed}, to retry ${first.retry + first.errors}`
    )
    console.log(
      `         credits applied $${(first.creditsAppliedCents / 100).toFixed(2)}, charged $${(first.chargedCents / 100).toFixed(2)}, carried $${(first.carriedCents / 100).toFixed(2)}`
    )
    console.log(
      `         rows by status: ${byStatus.map((row) => `${row.status} ${row.n}`).join(', ')}; creator-share earnings ${earnings[0].n}`
    )
    console.log(
      `  run 2 (rerun): ${(second.durationMs / 1000).toFixed(2)} s, ${second.users} users to visit, ${second.created} invoices made; Stripe invoices of 200 sampled users before/after: ${sampledBefore}/${sampledAfter}`
    )
    console.log(`  Machine: ${describeMachine(version.rows[0].server_version)}`)
    writeResult({
      name: 'invoices',
      machine: describeMachine(version.rows[0].server_version),
      load: loadAverage(),
      rows: [
        {
          benchmark: `monthly usage invoices, ${USERS.toLocaleString('en-US')} users`,
          figure: `${seconds.toFixed(1)} s (${(USERS / seconds).toFixed(0)} users/s)`,
          target: '< 60 s',
          met: seconds < 60,
        },
        {
          benchmark: 'monthly usage invoices: rerun',
          figure: `${second.created} invoices made, ${(second.durationMs / 1000).toFixed(2)} s`,
          target: 'makes nothing',
          met: second.created === 0 && sampledAfter === sampledBefore,
        },
      ],
    })
    if (second.created !== 0 || sampledAfter !== sampledBefore) {
      process.exitCode = 1
      console.error('The rerun created something: that is a bug.')
    }
  } finally {
    await booted.close()
    for (const item of started.reverse()) await item.stop()
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
