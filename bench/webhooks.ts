/*
|--------------------------------------------------------------------------
| Benchmark: webhook intake (`npm run bench:webhooks`)
|--------------------------------------------------------------------------
|
| 20,000 signed Stripe events POSTed over loopback, 32 at a time, to
| /api/webhooks/stripe of the production build (build/bin/server.js):
| - new credit purchases: checkout.session.completed of Checkout Sessions
|   made by the app's CheckoutService and paid in the Stripe sandbox;
| - subscription renewals: invoice.paid of Premium subscriptions bought the
|   same way (fulfilled before the run), renewed by moving the sandbox clock
|   one month at a time (the handler reads each subscription from Stripe);
| - 20% duplicates (the same event id and bytes again, freshly signed),
|   shuffled among the rest.
| The events are Stripe's own (listed from the sandbox's /v1/events), signed
| with the webhook secret just before each is sent.
|
| Reports events/s processed and p50/p95/p99 latency (target >= 1,000/s on 2
| cores); a paced run at 500 events/s of fresh events with its p99 (target
| < 50 ms, measured from each event's scheduled send time); the same server's
| GET /health at the same concurrency and the ratio. Then checks the effects:
| every credit purchase paid and granted once (one ledger entry per session,
| balances = ledger sums), every event recorded once and processed, every
| Premium subscription still active.
|
| Database: DATABASE_URL (or DB_*), else an embedded PostgreSQL under
| tmp/postgres/bench. It must be empty: --reset empties it (never point a
| benchmark at a database you care about).
|
| Options: --events N (20000), --paced N (5000 events in the paced run),
| --rate N (500/s), --concurrency N (32), --duplicates P (20, percent),
| --warmup N (500 events, not counted), --no-build (reuse build/), --port N
| (BENCH_PORT; default a free port), --reset.
|
*/

process.env.NODE_ENV = process.env.NODE_ENV ?? 'development'
process.env.LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'error'

import Stripe from 'stripe'
import { migrate, requireEmptyDatabase, useBenchDatabase } from './support/database.js'
import { cpuSeconds, describeMachine, loadAverage, postgresVersion } from './support/machine.js'
import { count, flag, option } from './support/options.js'
import { startStripeSandbox } from './support/processes.js'
import { closedLoop, keepAliveAgent, paced, request, type TimedResponse } from './support/http.js'
import { writeResult } from './support/results.js'
import { buildApp, startBuiltServer } from './support/server.js'
import { ms, pool, progress, summarize, whole } from './support/stats.js'

const EVENTS = count('events', 20_000)
const PACED = count('paced', 5_000)
const RATE = count('rate', 500)
const CONCURRENCY = count('concurrency', 32)
const WARMUP = count('warmup', 500)
const DUPLICATE_PERCENT = Number(option('duplicates', '20'))
if (!(DUPLICATE_PERCENT >= 0 && DUPLICATE_PERCENT < 100))
  throw new Error('--duplicates is a percent')
const RENEWAL_SHARE = 0.25
const RENEWAL_MONTHS = 4
const SECRET_KEY = 'sk_test_bench'
const WEBHOOK_SECRET = 'whsec_bench_webhooks_secret'
const MONTH_SECONDS = 31 * 24 * 3600

/** A small seeded PRNG (mulberry32), so a run's order is repeatable. */
function random(seed: number) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function shuffle<T>(items: T[], next: () => number) {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  return items
}

interface Delivery {
  id: string
  type: string
  payload: string
}

/** `unique` events plus duplicates of random ones, to `total`, shuffled. */
function withDuplicates(unique: Delivery[], total: number, next: () => number) {
  const list = [...unique]
  while (list.length < total) list.push(unique[Math.floor(next() * unique.length)])
  return shuffle(list, next)
}

async function main() {
  const database = await useBenchDatabase()
  const stops: { stop: () => Promise<void> }[] = [database]
  const mainUnique = Math.round(EVENTS * (1 - DUPLICATE_PERCENT / 100))
  const pacedUnique = Math.round(PACED * (1 - DUPLICATE_PERCENT / 100))
  const uniqueTotal = WARMUP + mainUnique + pacedUnique
  const renewalsWanted = Math.ceil((mainUnique + pacedUnique) * RENEWAL_SHARE)
  const premiumUsers = Math.max(1, Math.ceil(renewalsWanted / RENEWAL_MONTHS))
  const creditSessions = uniqueTotal - premiumUsers * RENEWAL_MONTHS

  const build = buildApp({ skip: flag('no-build') })
  if (build.built) console.log(`Built the app (npm run build) in ${build.seconds.toFixed(1)} s`)

  const sandbox = await startStripeSandbox()
  stops.push(sandbox)
  process.env.STRIPE_API_BASE = sandbox.url
  process.env.STRIPE_SECRET_KEY = SECRET_KEY
  process.env.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
  process.env.DB_POOL_MAX = process.env.DB_POOL_MAX ?? '20'

  const { bootApp } = await import('../cli/app.js')
  const booted = await bootApp()
  try {
    await migrate(booted.app)
    await requireEmptyDatabase(flag('reset'))
    const { default: db } = await import('@adonisjs/lucid/services/db')
    const { default: User } = await import('#models/user')
    const { default: CheckoutService } = await import('#services/checkout_service')
    const { default: CustomerService } = await import('#services/customer_service')
    const checkout = await booted.app.container.make(CheckoutService)
    const customers = await booted.app.container.make(CustomerService)
    const base = new URL(sandbox.url)
    const stripe = new Stripe(SECRET_KEY, {
      host: base.hostname,
      port: Number(base.port),
      protocol: 'http',
      telemetry: false,
      maxNetworkRetries: 2,
    })
    const sim = async (path: string, body: unknown = {}) => {
      const response = await fetch(`${sandbox.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`)
      return response.json()
    }

    // ---- setup (not timed) ------------------------------------------------------------------
    const setupStarted = performance.now()
    console.log(
      `Setting up: ${premiumUsers} users with Premium, ${creditSessions} paid credit-pack sessions, ${premiumUsers * RENEWAL_MONTHS} renewals...`
    )
    await db.rawQuery(
      `INSERT INTO users (full_name, email, password, plan, credits_balance_cents, created_at, updated_at)
       SELECT 'Bench user ' || i, 'bench' || i || '@webhooks.test', 'not-a-hash', 'free', 0, now(), now()
         FROM generate_series(1, ?) AS i`,
      [premiumUsers]
    )
    const users = await User.query().orderBy('id')
    const premiumProgress = progress('Customers and Premium subscriptions')
    let done = 0
    await pool(users, 16, async (user) => {
      await customers.ensureCustomer(user)
      await user.refresh()
      const session = await checkout.start(user, { kind: 'premium' })
      await sim(`/_sim/checkout/sessions/${session.id}/complete`)
      const paid = await stripe.checkout.sessions.retrieve(session.id)
      const result = await checkout.fulfil(paid, { source: 'bench' })
      if (result.status !== 'fulfilled')
        throw new Error(`Premium for user ${user.id}: ${result.status}`)
      premiumProgress(++done, users.length)
    })
    const creditProgress = progress('Credit-pack sessions')
    done = 0
    const slots = Array.from({ length: creditSessions }, (_, i) => users[i % users.length])
    await pool(slots, 16, async (user) => {
      const session = await checkout.start(user, { kind: 'credits', packageKey: 'small' })
      await sim(`/_sim/checkout/sessions/${session.id}/complete`)
      creditProgress(++done, slots.length)
    })
    const creditEvents: Delivery[] = []
    for await (const event of stripe.events.list({
      type: 'checkout.session.completed',
      limit: 100,
    })) {
      const session = event.data.object as Stripe.Checkout.Session
      if (session.metadata?.kind !== 'credits') continue
      creditEvents.push({ id: event.id, type: event.type, payload: JSON.stringify(event) })
    }
    if (creditEvents.length !== creditSessions) {
      throw new Error(`listed ${creditEvents.length} credit events, expected ${creditSessions}`)
    }
    const renewalEvents: Delivery[] = []
    for (let month = 1; month <= RENEWAL_MONTHS; month++) {
      const clockResponse = await fetch(`${sandbox.url}/_sim/clock`)
      const clock = (await clockResponse.json()) as { now: number }
      await sim('/_sim/clock/advance', { seconds: MONTH_SECONDS })
      for await (const event of stripe.events.list({
        type: 'invoice.paid',
        created: { gt: clock.now },
        limit: 100,
      })) {
        const invoice = event.data.object as Stripe.Invoice
        if (invoice.billing_reason !== 'subscription_cycle') continue
        renewalEvents.push({ id: event.id, type: event.type, payload: JSON.stringify(event) })
      }
      process.stderr.write(`Renewals: month ${month}, ${renewalEvents.length} so far\n`)
    }
    if (renewalEvents.length !== premiumUsers * RENEWAL_MONTHS) {
      throw new Error(
        `listed ${renewalEvents.length} renewals, expected ${premiumUsers * RENEWAL_MONTHS}`
      )
    }
    const next = random(20261124)
    shuffle(creditEvents, next)
    shuffle(renewalEvents, next)
    const warmup = creditEvents.splice(0, WARMUP)
    // The main and paced pools share the rest in proportion, each with credits and renewals.
    const mainShare = mainUnique / (mainUnique + pacedUnique)
    const mainCredits = Math.round(creditEvents.length * mainShare)
    const mainRenewals = mainUnique - mainCredits
    const mainPool = shuffle(
      [...creditEvents.slice(0, mainCredits), ...renewalEvents.slice(0, mainRenewals)],
      next
    )
    const pacedPool = shuffle(
      [...creditEvents.slice(mainCredits), ...renewalEvents.slice(mainRenewals)],
      next
    )
    const mainRun = withDuplicates(mainPool, EVENTS, next)
    const pacedRun = withDuplicates(pacedPool, PACED, next)
    console.log(
      `Setup done in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s: main run ${mainRun.length} events (${mainPool.length} unique: ${mainCredits} credit purchases, ${mainRenewals} renewals), paced run ${pacedRun.length} (${pacedPool.length} unique), warm-up ${warmup.length}`
    )

    // ---- the built server -------------------------------------------------------------------
    const server = await startBuiltServer({
      databaseUrl: process.env.DATABASE_URL!,
      stripeApiBase: sandbox.url,
      stripeSecretKey: SECRET_KEY,
      webhookSecret: WEBHOOK_SECRET,
      port: flag('port') ? count('port', 3414) : undefined,
      env: { DB_POOL_MAX: process.env.BENCH_SERVER_POOL_MAX ?? '20' },
    })
    stops.push(server)
    const agent = keepAliveAgent(CONCURRENCY)
    const webhookUrl = `${server.url}/api/webhooks/stripe`
    const outcomes = new Map<string, number>()
    const errors: string[] = []
    const send = (delivery: Delivery) =>
      request(agent, webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': Stripe.webhooks.generateTestHeaderString({
            payload: delivery.payload,
            secret: WEBHOOK_SECRET,
          }),
        },
        body: delivery.payload,
      })
    const check = (response: TimedResponse) => {
      if (response.status !== 200) {
        if (errors.length < 5) errors.push(`${response.status} ${response.body.slice(0, 300)}`)
        outcomes.set(`http ${response.status}`, (outcomes.get(`http ${response.status}`) ?? 0) + 1)
        return
      }
      const outcome = (JSON.parse(response.body) as { outcome: string }).outcome
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }
    const health = (rounds: number) =>
      closedLoop(
        rounds,
        CONCURRENCY,
        () => request(agent, `${server.url}/health`),
        (response) => {
          if (response.status !== 200) throw new Error(`/health answered ${response.status}`)
        }
      )

    // Warm-up (not counted): the health route, then fresh events.
    await health(2_000)
    await closedLoop(warmup.length, CONCURRENCY, (i) => send(warmup[i]), check)
    const warmOutcomes = new Map(outcomes)
    outcomes.clear()

    // 1. The main run: as fast as 32 connections go.
    const cpuBefore = {
      server: cpuSeconds(server.pid),
      sandbox: cpuSeconds(sandbox.pid),
      bench: cpuSeconds(),
    }
    const loadBefore = loadAverage()
    const mainResult = await closedLoop(mainRun.length, CONCURRENCY, (i) => send(mainRun[i]), check)
    const cpu = {
      server: cpuSeconds(server.pid) - cpuBefore.server,
      sandbox: cpuSeconds(sandbox.pid) - cpuBefore.sandbox,
      bench: cpuSeconds() - cpuBefore.bench,
    }
    const mainOutcomes = new Map(outcomes)
    outcomes.clear()
    const mainLatency = summarize(mainResult.latencies)
    const rate = mainRun.length / mainResult.seconds

    // 2. The health route, same server, same connections.
    const healthCpuBefore = cpuSeconds(server.pid)
    const healthRun = await health(Math.min(EVENTS, 20_000))
    const healthCpu = cpuSeconds(server.pid) - healthCpuBefore
    const healthLatency = summarize(healthRun.latencies)
    const healthRate = healthLatency.count / healthRun.seconds

    // 3. The paced run: fresh events at RATE/s.
    const pacedResult = await paced(pacedRun.length, RATE, (i) => send(pacedRun[i]), check)
    const pacedOutcomes = new Map(outcomes)
    const pacedLatency = summarize(pacedResult.latencies)

    // ---- effects ----------------------------------------------------------------------------
    const sentCredits = new Set(
      [...warmup, ...mainRun, ...pacedRun].filter((d) => d.type !== 'invoice.paid').map((d) => d.id)
    ).size
    const sentUnique = new Set([...warmup, ...mainRun, ...pacedRun].map((d) => d.id)).size
    const one = async (sql: string) =>
      Number(((await db.rawQuery(sql)) as { rows: { n: string }[] }).rows[0].n)
    const effects = {
      events: await one('SELECT count(*) AS n FROM stripe_events'),
      processed: await one(`SELECT count(*) AS n FROM stripe_events WHERE status = 'processed'`),
      paidPurchases: await one(`SELECT count(*) AS n FROM credit_purchases WHERE status = 'paid'`),
      purchaseEntries: await one(
        `SELECT count(*) AS n FROM credit_ledger_entries WHERE kind = 'purchase'`
      ),
      sessionsWithOtherThanOneEntry: await one(
        `SELECT count(*) AS n FROM credit_purchases p
          WHERE (SELECT count(*) FROM credit_ledger_entries e WHERE e.credit_purchase_id = p.id) <> 1`
      ),
      balanceMismatches: await one(
        `SELECT count(*) AS n FROM users u
          WHERE u.credits_balance_cents <> COALESCE((SELECT sum(amount_cents) FROM credit_ledger_entries e WHERE e.user_id = u.id), 0)
             OR u.credits_balance_cents <> 500 * (SELECT count(*) FROM credit_purchases p WHERE p.user_id = u.id AND p.status = 'paid')`
      ),
      premiumActive: await one(
        `SELECT count(*) AS n FROM users u WHERE u.plan = 'premium'
            AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = u.id AND s.status = 'active')`
      ),
    }
    const effectsOk =
      effects.events === sentUnique &&
      effects.processed === sentUnique &&
      effects.paidPurchases === sentCredits &&
      effects.purchaseEntries === sentCredits &&
      effects.sessionsWithOtherThanOneEntry === 0 &&
      effects.balanceMismatches === 0 &&
      effects.premiumActive === premiumUsers

    const machine = describeMachine(await postgresVersion())
    const fmt = (map: Map<string, number>) =>
      [...map].map(([outcome, n]) => `${outcome} ${whole(n)}`).join(', ')
    const row = (label: string, value: string) => console.log(`  ${label.padEnd(36)} ${value}`)
    const pacedP99 = pacedLatency.p99
    const met = { rate: rate >= 1_000, paced: pacedP99 < 50 }
    console.log('')
    console.log(
      `bench/webhooks: ${whole(EVENTS)} events at concurrency ${CONCURRENCY} (${DUPLICATE_PERCENT}% duplicates), then ${whole(PACED)} at ${RATE}/s; built server ${server.url}, Stripe sandbox in its own process`
    )
    row('warm-up (not counted)', fmt(warmOutcomes))
    row('main run', `${mainResult.seconds.toFixed(2)} s, ${fmt(mainOutcomes)}`)
    row('events/s processed', `${whole(rate)} (target >= 1,000: ${met.rate ? 'met' : 'MISSED'})`)
    row(
      'latency p50 / p95 / p99 / max',
      `${ms(mainLatency.p50)} / ${ms(mainLatency.p95)} / ${ms(mainLatency.p99)} / ${ms(mainLatency.max)}`
    )
    row(
      'CPU during the main run',
      `server ${cpu.server.toFixed(1)} s, Stripe sandbox ${cpu.sandbox.toFixed(1)} s, bench client ${cpu.bench.toFixed(1)} s (PostgreSQL not counted)`
    )
    row(
      'server CPU per request',
      `webhook ${ms((cpu.server * 1000) / mainRun.length)}, GET /health ${ms((healthCpu * 1000) / healthLatency.count)}`
    )
    row(
      'GET /health, same server',
      `${whole(healthRate)} req/s, p50 ${ms(healthLatency.p50)}, p99 ${ms(healthLatency.p99)}`
    )
    row(
      'webhook / health',
      `${((rate / healthRate) * 100).toFixed(1)} % of the health route's rate; p50 ${(mainLatency.p50 / healthLatency.p50).toFixed(1)}x`
    )
    row(
      `paced run at ${RATE}/s`,
      `${pacedResult.seconds.toFixed(2)} s for ${whole(PACED)} (${whole(PACED / pacedResult.seconds)}/s), ${fmt(pacedOutcomes)}`
    )
    row(
      'paced p50 / p95 / p99 / max',
      `${ms(pacedLatency.p50)} / ${ms(pacedLatency.p95)} / ${ms(pacedLatency.p99)} / ${ms(pacedLatency.max)} (target p99 < 50 ms: ${met.paced ? 'met' : 'MISSED'})`
    )
    row(
      'effects',
      `${whole(effects.events)} events recorded (${whole(sentUnique)} unique sent), ${whole(effects.processed)} processed; ${whole(effects.paidPurchases)} credit packs paid and ${whole(effects.purchaseEntries)} purchase ledger entries for ${whole(sentCredits)} sessions; sessions without exactly one entry: ${effects.sessionsWithOtherThanOneEntry}; balances off: ${effects.balanceMismatches}; Premium active: ${effects.premiumActive}/${premiumUsers}: ${effectsOk ? 'OK' : 'WRONG'}`
    )
    if (errors.length > 0) row('first errors', errors.join(' | '))
    row('load average before the run', loadBefore)
    console.log(`  Machine: ${machine}`)
    writeResult({
      name: 'webhooks',
      machine,
      load: loadBefore,
      rows: [
        {
          benchmark: `webhooks: ${whole(EVENTS)} signed events, concurrency ${CONCURRENCY}`,
          figure: `${whole(rate)} events/s (p50 ${ms(mainLatency.p50)}, p99 ${ms(mainLatency.p99)})`,
          target: '>= 1,000 events/s',
          met: met.rate,
        },
        {
          benchmark: `webhooks: paced at ${RATE}/s`,
          figure: `p99 ${ms(pacedP99)}`,
          target: 'p99 < 50 ms',
          met: met.paced,
        },
        {
          benchmark: 'webhooks vs GET /health (same server)',
          figure: `${((rate / healthRate) * 100).toFixed(1)} % (${whole(healthRate)} health req/s)`,
          target: 'printed',
          met: null,
        },
        {
          benchmark: 'webhooks: effects once',
          figure: effectsOk ? 'every purchase granted once' : 'WRONG',
          target: 'once per purchase',
          met: effectsOk,
        },
      ],
    })
    if (!effectsOk) process.exitCode = 1
    agent.destroy()
  } finally {
    await booted.close()
    for (const item of stops.reverse()) await item.stop()
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
