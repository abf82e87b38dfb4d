/*
|--------------------------------------------------------------------------
| All benchmarks (`npm run bench`)
|--------------------------------------------------------------------------
|
| Builds the app once (npm run build), then runs, each in its own process:
| usage sync, monthly invoices, webhook intake, credit spending and the
| dashboards; prints one summary table (benchmark, figure, target, met?,
| machine) and writes it to tmp/bench/summary.md.
|
| Database: DATABASE_URL (or DB_*), else an embedded PostgreSQL under
| tmp/postgres/bench. Every benchmark empties it before it starts, so it
| must be empty to begin with, or pass --reset (never point this at a
| database you care about).
|
| Sizes (the figures by default; about 10 minutes on 2 cores):
|   --usage-rows N (1000000)  --invoice-users N (10000)  --events N (20000)
|   --paced N (5000)  --spends N (20000)  --page-rows N (100000)
|   --quick: a tenth of each (a smoke run; figures not comparable)
|   --only name[,name] (usage_sync, invoices, webhooks, credits, pages)
|   --port N: the built server's port (default: a free one), --no-build
|
*/

import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { useBenchDatabase } from './support/database.js'
import { describeMachine, loadAverage } from './support/machine.js'
import { count, flag, option } from './support/options.js'
import { ROOT } from './support/processes.js'
import { RESULTS_DIR, type BenchResult, type ResultRow } from './support/results.js'
import { buildApp } from './support/server.js'

const QUICK = flag('quick')
const size = (name: string, full: number) => count(name, QUICK ? Math.ceil(full / 10) : full)
const sizes = {
  usageRows: size('usage-rows', 1_000_000),
  invoiceUsers: size('invoice-users', 10_000),
  events: size('events', 20_000),
  paced: size('paced', 5_000),
  spends: size('spends', 20_000),
  pageRows: size('page-rows', 100_000),
}
const port = flag('port') ? ['--port', String(count('port', 3414))] : []

const BENCHES: { name: string; file: string; node?: string[]; args: string[] }[] = [
  {
    name: 'usage_sync',
    file: 'bench/usage_sync.ts',
    // The same V8 flags as `npm run bench:usage-sync` (see bench/usage_sync.ts).
    node: ['--max-semi-space-size=8', '--heap-growing-percent=60'],
    args: ['--rows', String(sizes.usageRows), '--truncate'],
  },
  {
    name: 'invoices',
    file: 'bench/invoices.ts',
    args: ['--users', String(sizes.invoiceUsers), '--reset'],
  },
  {
    name: 'webhooks',
    file: 'bench/webhooks.ts',
    args: [
      '--events',
      String(sizes.events),
      '--paced',
      String(sizes.paced),
      '--warmup',
      String(QUICK ? 100 : 500),
      '--no-build',
      '--reset',
      ...port,
    ],
  },
  {
    name: 'credits',
    file: 'bench/credits.ts',
    args: ['--spends', String(sizes.spends), '--reset'],
  },
  {
    name: 'pages',
    file: 'bench/pages.ts',
    args: [
      '--rows',
      String(sizes.pageRows),
      '--others',
      String(sizes.pageRows * 4),
      '--no-build',
      '--reset',
      ...port,
    ],
  },
]

/** Rows in the tables that hold someone's data (0 for a fresh database). */
async function dataRows(url: string) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    let total = 0
    for (const table of ['users', 'stripe_events', 'usage_logs', 'credit_ledger_entries']) {
      const exists = await client.query('SELECT to_regclass($1) AS t', [table])
      if (!exists.rows[0].t) continue
      const found = await client.query(
        `SELECT count(*) AS n FROM (SELECT 1 FROM ${table} LIMIT 1) t`
      )
      total += Number(found.rows[0].n)
    }
    const version = await client.query('SHOW server_version')
    return { total, version: String(version.rows[0].server_version) }
  } finally {
    await client.end()
  }
}

function run(bench: (typeof BENCHES)[number]) {
  return new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      [...(bench.node ?? []), '--import=@poppinss/ts-exec', bench.file, ...bench.args],
      { cwd: ROOT, stdio: 'inherit', env: process.env }
    )
    child.on('exit', (code) => resolve(code ?? 1))
  })
}

async function main() {
  const only = option('only', '').split(',').filter(Boolean)
  const selected = only.length > 0 ? BENCHES.filter((b) => only.includes(b.name)) : BENCHES
  const database = await useBenchDatabase()
  try {
    const url = process.env.DATABASE_URL
    if (!url) throw new Error('npm run bench needs DATABASE_URL (the DB_* parts are not enough)')
    const { total, version } = await dataRows(url)
    if (total > 0 && !flag('reset')) {
      throw new Error(
        'The database holds data: run on an empty database, or pass --reset (every benchmark empties it; never point this at a database you care about)'
      )
    }
    const build = buildApp({ skip: flag('no-build') })
    if (build.built) console.log(`Built the app (npm run build) in ${build.seconds.toFixed(1)} s\n`)

    const rows: (ResultRow & { machine: string; load: string })[] = []
    let failed = 0
    const started = Date.now()
    for (const bench of selected) {
      const file = join(RESULTS_DIR, `${bench.name}.json`)
      rmSync(file, { force: true })
      console.log(`\n===== ${bench.name}: node ${bench.file} ${bench.args.join(' ')}\n`)
      const code = await run(bench)
      if (code !== 0) failed++
      if (existsSync(file)) {
        const result = JSON.parse(readFileSync(file, 'utf8')) as BenchResult
        for (const row of result.rows)
          rows.push({ ...row, machine: result.machine, load: result.load })
        if (code !== 0) {
          rows.push({
            benchmark: `${bench.name}: exit code ${code}`,
            figure: 'see its output',
            target: 'exit 0',
            met: false,
            machine: result.machine,
            load: result.load,
          })
        }
      } else {
        rows.push({
          benchmark: bench.name,
          figure: `failed (exit code ${code}): see its output`,
          target: '',
          met: false,
          machine: '',
          load: loadAverage(),
        })
      }
    }

    const machine = describeMachine(version)
    const short = (full: string) =>
      full
        .replace(/ \(nproc\)/, '')
        .replace(/, [\d.]+ GiB RAM/, '')
        .replace(/PostgreSQL (\S+).*/, 'PG $1')
    const header = ['benchmark', 'figure', 'target', 'met?', 'machine']
    const table = [
      header,
      ...rows.map((row) => [
        row.benchmark,
        row.figure,
        row.target,
        row.met === null ? '-' : row.met ? 'yes' : '**no**',
        short(row.machine || machine),
      ]),
    ]
    const widths = header.map((_, i) => Math.max(...table.map((cells) => cells[i].length)))
    const line = (cells: string[]) =>
      `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`
    const markdown = [
      line(table[0]),
      `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
      ...table.slice(1).map(line),
    ].join('\n')
    const loads = [...new Set(rows.map((row) => row.load))].join('; ')
    const text = [
      `# npm run bench: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${QUICK ? ' (--quick: smoke sizes)' : ''}`,
      '',
      markdown,
      '',
      `Machine: ${machine}`,
      `Load average (1, 5, 15 min) at each benchmark's start: ${loads}`,
      `Total time: ${((Date.now() - started) / 60000).toFixed(1)} min`,
      '',
    ].join('\n')
    mkdirSync(join(ROOT, 'tmp', 'bench'), { recursive: true })
    writeFileSync(join(ROOT, 'tmp', 'bench', 'summary.md'), text)
    console.log(`\n${text}\nWritten to tmp/bench/summary.md`)
    // A missed target is a figure to read; a benchmark that failed (or found wrong effects) is an error.
    if (failed > 0) process.exitCode = 1
  } finally {
    await database.stop()
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
