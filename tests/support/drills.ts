import http from 'node:http'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import hash from '@adonisjs/core/services/hash'
import db from '@adonisjs/lucid/services/db'
import app from '@adonisjs/core/services/app'
import User from '#models/user'
import { resetCommitted } from '#tests/support/reset'
import { runCli, type CliRun } from '#tests/support/cli'
import { stripeSandbox } from '#tests/support/stripe'

/*
| Shared by the fault drills (tests/functional/drills). Sizes scale with
| DRILL_SCALE (default 1: the sizes issue 9 names, where they fit CI); a
| seeded PRNG (DRILL_SEED) makes every shuffle, fault and kill reproducible.
*/

/** DRILL_SCALE: 1 by default; 0.1 for a quick local run, 2+ for a heavier one. */
export function drillScale() {
  const raw = Number(process.env.DRILL_SCALE ?? '1')
  return Number.isFinite(raw) && raw > 0 ? raw : 1
}

/** `n` scaled by DRILL_SCALE, at least `min`. */
export function scaled(n: number, min = 1) {
  return Math.max(min, Math.round(n * drillScale()))
}

export function drillSeed(offset = 0) {
  const raw = Number(process.env.DRILL_SEED ?? '9')
  return (Number.isFinite(raw) ? raw : 9) + offset
}

/** mulberry32: small, fast, seeded. */
export function prng(seed: number) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  return items
}

/**
 * Empties what the drills write (and everything that references users),
 * restarting the ids of `tables` at a range no other suite uses: our Stripe
 * idempotency keys derive from ids, and the sandbox lives for the whole run.
 */
let range = 0
export async function resetDrillData() {
  range += 1
  await resetCommitted({
    tables: [
      'users',
      'stripe_events',
      'usage_logs',
      'usage_invoices',
      'usage_invoice_lines',
      'credit_ledger_entries',
      'credit_purchases',
      'marketplace_agents',
      'marketplace_transactions',
      'creator_payouts',
      'creator_transfer_reversals',
      'creator_accounts',
      'locks',
      'job_runs',
    ],
    sequences: [
      'users',
      'usage_invoices',
      'marketplace_agents',
      'creator_payouts',
      'creator_transfer_reversals',
    ],
    start: 900_000_000 + range * 100_000,
  })
}

let passwordHash: string | null = null
/** `count` users in one insert (hashing a password per user would dominate the drill). */
export async function manyUsers(count: number, prefix: string): Promise<User[]> {
  passwordHash ??= await hash.make('secret-password')
  const now = new Date()
  const stamp = Date.now()
  const rows = Array.from({ length: count }, (_, i) => ({
    full_name: `Drill ${prefix} ${i}`,
    email: `drill-${prefix}-${i}-${stamp}@studio.test`,
    password: passwordHash,
    created_at: now,
    updated_at: now,
  }))
  const ids: number[] = []
  for (let i = 0; i < rows.length; i += 1000) {
    const inserted = await db
      .table('users')
      .multiInsert(rows.slice(i, i + 1000))
      .returning('id')
    ids.push(
      ...inserted.map((row: { id: number } | number) =>
        Number(typeof row === 'object' ? row.id : row)
      )
    )
  }
  return User.query().whereIn('id', ids).orderBy('id')
}

/** Runs `fn` over `items`, `concurrency` at a time, in order of start. */
export async function pool<T, R>(
  items: T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++
        results[index] = await fn(items[index], index)
      }
    })
  )
  return results
}

/**
 * HTTP POSTs over exactly `connections` keep-alive sockets (like Stripe's
 * senders: a few connections, many requests each), answering status and body.
 */
export function postingClient(connections: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const post = (url: string, body: string, headers: Record<string, string>) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(
        url,
        {
          method: 'POST',
          agent,
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          let text = ''
          response.setEncoding('utf8')
          response.on('data', (chunk: string) => (text += chunk))
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }))
          response.on('error', reject)
        }
      )
      request.on('error', reject)
      request.end(body)
    })
  return { post, close: () => agent.destroy() }
}

/** What `audit --json` says, run through the real CLI. */
export async function runAudit(): Promise<{ run: CliRun; passed: boolean; failed: unknown[] }> {
  const run = await runCli(['audit', '--json'], { timeoutMs: 60_000 })
  let parsed: { passed: boolean; checks: { name: string; passed: boolean }[] } | null = null
  try {
    parsed = JSON.parse(run.stdout)
  } catch {}
  return {
    run,
    passed: run.code === 0 && parsed?.passed === true,
    failed: parsed ? parsed.checks.filter((check) => !check.passed) : [run.stdout, run.stderr],
  }
}

/** A CLI's stderr must be short, plain sentences: no stack trace, no source paths. */
export function hasStack(text: string) {
  return /\n\s+at .+\(|\.ts:\d+:\d+|node:internal/.test(text)
}

/**
 * Runs the real CLI like runCli, and SIGKILLs it once `ready()` (polled every
 * 10 ms) says its work is under way, `afterMs` later: a kill at a chosen
 * point of the run rather than during boot. Resolves with `killed` false
 * when the run ended first.
 */
export async function killCliWhen(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; ready: () => Promise<boolean>; afterMs: number }
): Promise<{ killed: boolean; run: CliRun }> {
  let done = false
  let killTimer: NodeJS.Timeout | null = null
  const { child, finished } = spawnCli(args, options.env)
  const running = finished.then((run) => {
    done = true
    return run
  })
  let killed = false
  while (!done) {
    if (await options.ready()) {
      killTimer = setTimeout(() => {
        if (!done) killed = child.kill('SIGKILL')
      }, options.afterMs)
      break
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const run = await running
  if (killTimer) clearTimeout(killTimer)
  return { killed: killed && run.code === null, run }
}

/** Runs `node ace <args>` (e.g. migrations against another database) to its end. */
export function runAce(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnCli(args, env, 'ace.js').finished
}

/** runCli (tests/support/cli.ts) with the child process in hand. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}, entry = 'cli/main.ts') {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import=@poppinss/ts-exec', entry, ...args],
    {
      cwd: fileURLToPath(app.appRoot),
      env: { ...process.env, NODE_ENV: 'test', STRIPE_API_BASE: stripeSandbox().url, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }
  )
  const finished = new Promise<CliRun>((resolve) => {
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('error', (error) => (stderr += `spawn failed: ${error.message}\n`))
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
  return { child, finished }
}
