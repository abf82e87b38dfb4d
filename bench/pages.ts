/*
|--------------------------------------------------------------------------
| Benchmark: dashboards (`npm run bench:pages`)
|--------------------------------------------------------------------------
|
| The billing dashboard (GET /billing) and the usage dashboard (GET /usage,
| its default range: the last 30 days) of the production build, logged in
| over HTTP like a browser (login form, session cookie, CSRF token), for a
| user with 100,000 usage rows, all inside the dashboard's range (the worst
| case: every row is summed), spread over 4 models, 3 marketplace agents and
| 5 projects, and 200 credit ledger entries. The full HTML
| page is fetched, and also the Inertia JSON visit (X-Inertia: what a click
| in the app loads).
|
| Server time: the response time over loopback with keep-alive, one request
| at a time (no queueing in the figure). Target: p95 under 50 ms per page.
| Other users' rows (--others N, default 400,000 rows over 200 users) share
| the table, so an index that does not lead with the user would show.
|
| Database: DATABASE_URL (or DB_*), else an embedded PostgreSQL under
| tmp/postgres/bench; it must be empty (--reset empties it).
|
| Options: --rows N (100000), --others N (400000), --requests N (300 per
| page), --no-build, --port N, --reset.
|
*/

process.env.NODE_ENV = process.env.NODE_ENV ?? 'development'
process.env.LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'error'

import { migrate, requireEmptyDatabase, useBenchDatabase } from './support/database.js'
import { describeMachine, loadAverage, postgresVersion } from './support/machine.js'
import { count, flag } from './support/options.js'
import { startStripeSandbox } from './support/processes.js'
import { cookieHeader, cookiesOf, keepAliveAgent, request } from './support/http.js'
import { writeResult } from './support/results.js'
import { buildApp, startBuiltServer } from './support/server.js'
import { ms, summarize, whole } from './support/stats.js'

const ROWS = count('rows', 100_000)
const OTHERS = flag('others') ? Number(process.argv[process.argv.indexOf('--others') + 1]) : 400_000
const REQUESTS = count('requests', 300)
const SECRET_KEY = 'sk_test_bench'
const WEBHOOK_SECRET = 'whsec_bench_pages_secret'
const EMAIL = 'heavy@pages.test'
const PASSWORD = 'bench-password-123'

async function main() {
  const database = await useBenchDatabase()
  const stops: { stop: () => Promise<void> }[] = [database]
  const build = buildApp({ skip: flag('no-build') })
  if (build.built) console.log(`Built the app (npm run build) in ${build.seconds.toFixed(1)} s`)
  const sandbox = await startStripeSandbox()
  stops.push(sandbox)
  process.env.STRIPE_API_BASE = sandbox.url
  process.env.STRIPE_SECRET_KEY = SECRET_KEY
  process.env.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET

  const { bootApp } = await import('../cli/app.js')
  const booted = await bootApp()
  try {
    await migrate(booted.app)
    await requireEmptyDatabase(flag('reset'))
    const { default: db } = await import('@adonisjs/lucid/services/db')
    const { default: User } = await import('#models/user')

    // ---- setup (not timed) --------------------------------------------------------------
    const setupStarted = performance.now()
    const user = await User.create({
      fullName: 'Heavy user',
      email: EMAIL,
      password: PASSWORD,
      plan: 'free',
    })
    const creator = await User.create({
      fullName: 'Agent creator',
      email: 'creator@pages.test',
      password: PASSWORD,
      plan: 'free',
    })
    await db.rawQuery(
      `INSERT INTO users (full_name, email, password, plan, created_at, updated_at)
       SELECT 'Other ' || i, 'other' || i || '@pages.test', 'not-a-hash', 'free', now(), now()
         FROM generate_series(1, 200) AS i`
    )
    const { default: AgentCatalogService } =
      await import('#services/marketplace/agent_catalog_service')
    const catalog = await booted.app.container.make(AgentCatalogService)
    const agents: number[] = []
    for (let i = 1; i <= 3; i++) {
      const agent = await catalog.create({
        slug: `bench-agent-${i}`,
        name: `Bench agent ${i}`,
        creatorId: creator.id,
        pricing: {
          pricingType: 'api',
          inputPriceMicrosPerMillion: 1_000_000 * i,
          outputPriceMicrosPerMillion: 2_000_000 * i,
        },
      })
      agents.push(agent.id)
    }
    await db.rawQuery(
      `INSERT INTO projects (user_id, name, slug, is_deployed, deployed_at, created_at, updated_at)
       SELECT ?, 'Project ' || i, 'project-' || i, i = 1, CASE WHEN i = 1 THEN now() END, now(), now()
         FROM generate_series(1, 5) i`,
      [user.id]
    )
    const projectRows = await db
      .from('projects')
      .where('user_id', user.id)
      .orderBy('id')
      .select('id')
    const projects = projectRows.map((row) => Number(row.id))
    // 100,000 rows for the user within the last 30 days (the default range), newest up to now.
    const usageRows = async (userSql: string, rows: number, prefix: string) =>
      db.rawQuery(
        `INSERT INTO usage_logs (request_id, user_id, agent_id, project_id, litellm_user, model,
           model_group, prompt_tokens, completion_tokens, total_tokens, cache_hit, spend_micros,
           cost_micros, attribution, spend_mismatch, started_at, created_at)
         SELECT :prefix || r, u, a.agent, p.project, u::text,
                (ARRAY['gpt-4o-mini', 'gpt-4o', 'claude-sonnet', 'llama-3'])[1 + r % 4],
                (ARRAY['gpt-4o-mini', 'gpt-4o', 'claude-sonnet', 'llama-3'])[1 + r % 4],
                500 + r % 1000, 200 + r % 700, 700 + r % 1000 + r % 700, r % 10 = 0,
                1000 + (r::bigint * 7919) % 50000, 1000 + (r::bigint * 7919) % 50000, 'attributed', false,
                now() - ((r::bigint * 104729) % (29 * 86400)) * interval '1 second', now()
           FROM generate_series(1, :rows) AS r
           CROSS JOIN LATERAL (SELECT ${userSql} AS u) who
           CROSS JOIN LATERAL (SELECT CASE WHEN r % 10 < 3 THEN (:agents::bigint[])[1 + r % 3] END AS agent) a
           CROSS JOIN LATERAL (SELECT CASE WHEN r % 10 < 8 AND :mine THEN (:projects::bigint[])[1 + r % 5] END AS project) p`,
        {
          prefix,
          rows,
          agents: `{${agents.join(',')}}`,
          projects: `{${projects.join(',')}}`,
          mine: prefix === 'heavy-',
        }
      )
    await usageRows(String(Number(user.id)), ROWS, 'heavy-')
    if (OTHERS > 0) {
      await usageRows(
        `(SELECT min(id) FROM users WHERE email LIKE 'other%') + r % 200`,
        OTHERS,
        'other-'
      )
    }
    // 200 credit ledger entries (grants), the balance their sum.
    await db.rawQuery(
      `INSERT INTO credit_ledger_entries (user_id, amount_cents, balance_after_cents, kind,
         idempotency_key, created_by, description, created_at)
       SELECT ?, 100, 100 * i, 'operator_grant', 'bench:pages:' || i, 'bench', 'Bench grant ' || i,
              now() - (200 - i) * interval '1 hour'
         FROM generate_series(1, 200) i`,
      [user.id]
    )
    await db.from('users').where('id', user.id).update({ credits_balance_cents: 20_000 })
    // What autovacuum does after a bulk insert (PostgreSQL 13+): statistics, visibility map.
    await db.rawQuery('VACUUM ANALYZE usage_logs')
    const [{ n: stored }] = await db.from('usage_logs').where('user_id', user.id).count('* as n')
    console.log(
      `Setup: ${whole(Number(stored))} usage rows for the user (+${whole(OTHERS)} of 200 others), 200 ledger entries, in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s`
    )

    // ---- the built server, logged in ------------------------------------------------------
    const server = await startBuiltServer({
      databaseUrl: process.env.DATABASE_URL!,
      stripeApiBase: sandbox.url,
      stripeSecretKey: SECRET_KEY,
      webhookSecret: WEBHOOK_SECRET,
      port: flag('port') ? count('port', 3414) : undefined,
    })
    stops.push(server)
    const agent = keepAliveAgent(1)
    const cookies = new Map<string, string>()
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const response = await request(agent, `${server.url}${path}`, {
        headers: { cookie: cookieHeader(cookies), accept: 'text/html', ...headers },
      })
      cookiesOf(response.headers, cookies)
      return response
    }
    const loginPage = await get('/login')
    if (loginPage.status !== 200) throw new Error(`GET /login: ${loginPage.status}`)
    const login = await request(agent, `${server.url}/login`, {
      method: 'POST',
      headers: {
        'cookie': cookieHeader(cookies),
        'content-type': 'application/json',
        'accept': 'text/html',
        'x-xsrf-token': cookies.get('XSRF-TOKEN') ?? '',
      },
      body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
    })
    cookiesOf(login.headers, cookies)
    if (login.status !== 302 || login.headers.location !== '/projects') {
      throw new Error(
        `login failed: ${login.status} ${login.headers.location} ${login.body.slice(0, 300)}`
      )
    }
    const billingPage = await get('/billing')
    const version = /"version":"([^"]*)"/.exec(billingPage.body)?.[1]

    const pages = [
      { name: 'billing dashboard', path: '/billing', marker: 'billing/show' },
      { name: 'usage dashboard', path: '/usage', marker: 'usage/show' },
    ]
    const results: {
      name: string
      html: ReturnType<typeof summarize>
      json: ReturnType<typeof summarize>
      bytes: number
    }[] = []
    const loadBefore = loadAverage()
    for (const page of pages) {
      // Warm-up (JIT, plans, caches): not counted.
      for (let i = 0; i < 30; i++) await get(page.path)
      const html: number[] = []
      const json: number[] = []
      let bytes = 0
      for (let i = 0; i < REQUESTS; i++) {
        const full = await get(page.path)
        if (
          full.status !== 200 ||
          !full.body.includes(`"component":"${page.marker.replace('/', '\\/')}"`)
        ) {
          throw new Error(`${page.path}: ${full.status} ${full.body.slice(0, 300)}`)
        }
        html.push(full.ms)
        bytes = full.body.length
        const visit = await get(page.path, {
          'x-inertia': 'true',
          'x-inertia-version': version ?? '',
          'accept': 'text/html, application/xhtml+xml',
          'x-requested-with': 'XMLHttpRequest',
        })
        if (visit.status !== 200) throw new Error(`${page.path} (Inertia): ${visit.status}`)
        json.push(visit.ms)
      }
      results.push({ name: page.name, html: summarize(html), json: summarize(json), bytes })
    }
    // What the usage page sums, to show the page is not empty.
    const visit = await get('/usage', {
      'x-inertia': 'true',
      'x-inertia-version': version ?? '',
      'x-requested-with': 'XMLHttpRequest',
    })
    const summary = (
      JSON.parse(visit.body) as { props: { summary: { totals: { requests: number } } } }
    ).props.summary
    const health: number[] = []
    for (let i = 0; i < REQUESTS; i++) {
      const response = await get('/health')
      health.push(response.ms)
    }
    const healthLatency = summarize(health)

    const machine = describeMachine(await postgresVersion())
    const row = (label: string, value: string) => console.log(`  ${label.padEnd(30)} ${value}`)
    console.log('')
    console.log(
      `bench/pages: ${REQUESTS} requests per page, one at a time, logged in, built server ${server.url}`
    )
    row('usage rows summed per view', whole(summary.totals.requests))
    for (const result of results) {
      row(
        `${result.name} (HTML)`,
        `p50 ${ms(result.html.p50)}, p95 ${ms(result.html.p95)}, p99 ${ms(result.html.p99)}, max ${ms(result.html.max)} (${whole(result.bytes)} bytes; target p95 < 50 ms: ${result.html.p95 < 50 ? 'met' : 'MISSED'})`
      )
      row(
        `${result.name} (Inertia)`,
        `p50 ${ms(result.json.p50)}, p95 ${ms(result.json.p95)}, p99 ${ms(result.json.p99)}`
      )
    }
    row('GET /health, same way', `p50 ${ms(healthLatency.p50)}, p95 ${ms(healthLatency.p95)}`)
    row('load average before the run', loadBefore)
    console.log(`  Machine: ${machine}`)
    writeResult({
      name: 'pages',
      machine,
      load: loadBefore,
      rows: results.map((result) => ({
        benchmark: `${result.name}, ${whole(ROWS)} usage rows`,
        figure: `p95 ${ms(result.html.p95)} (p50 ${ms(result.html.p50)})`,
        target: 'p95 < 50 ms',
        met: result.html.p95 < 50,
      })),
    })
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
