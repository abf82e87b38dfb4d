import type { Command } from 'commander'
import type { DateTime } from 'luxon'
import type { CommandContext } from '../main.js'
import { ExitCode } from '../output.js'

/** The cron jobs an operator expects to see, listed even before their first run. */
const CRON_JOBS = [
  'customers:sync',
  'subscriptions:check-grace',
  'agents:sync',
  'usage:sync',
  'invoices:generate',
  'payouts:run',
  'payouts:reconcile',
  'stripe:reconcile',
  'webhooks:replay',
]

const SUMMARY_WIDTH = 70

/** 1234 ms → "1.2 s", 95_000 → "1m 35s". */
function duration(ms: number | null) {
  if (ms === null) return ''
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const minutes = Math.floor(ms / 60_000)
  const seconds = Math.round((ms % 60_000) / 1000)
  return minutes < 60 ? `${minutes}m ${seconds}s` : `${Math.floor(minutes / 60)}h ${minutes % 60}m`
}

/** Seconds → "40s ago", "5m ago", "3h ago", "2d ago". */
function ago(seconds: number) {
  if (seconds < 60) return `${seconds}s ago`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`
  return `${Math.floor(seconds / 86_400)}d ago`
}

/** A summary's plain values on one line: "created=2, failed=0" (nested objects flattened once). */
function summaryLine(summary: Record<string, unknown> | null, error: string | null) {
  const parts: string[] = []
  // jsonb keeps no key order: sorted, so a job's line reads the same every run.
  const entries = Object.entries(summary ?? {}).sort(([a], [b]) => a.localeCompare(b))
  for (const [key, value] of entries) {
    if (value === null || value === undefined) continue
    if (typeof value === 'object') {
      const inner = Object.entries(value as Record<string, unknown>)
        .filter(([, nested]) => typeof nested !== 'object')
        .map(([name, nested]) => `${name}:${nested}`)
      if (inner.length > 0) parts.push(`${key}=${inner.join('/')}`)
    } else {
      parts.push(`${key}=${value}`)
    }
  }
  const text = [error ? `error: ${error}` : null, parts.join(', ')].filter(Boolean).join('; ')
  return text.length > SUMMARY_WIDTH ? `${text.slice(0, SUMMARY_WIDTH - 1)}…` : text
}

function iso(value: DateTime | null) {
  return value ? value.toUTC().toISO() : null
}

/** jobs:status — when each cron job last ran, how long it took, and how it ended. */
export function register(program: Command, context: CommandContext) {
  program
    .command('jobs:status')
    .description(
      'The last run of each cron job (from job_runs): when it started, how long it took, how it ended'
    )
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      `
Every job records its runs in job_runs (host, pid, start, duration, outcome:
succeeded, partial, failed, or skipped when another host was running it). A
skipped run is shown only if the job never ran otherwise; "last skipped" says
when another host last found it busy. Read-only.

Examples:
  npm run cli -- jobs:status
  npm run cli -- jobs:status --json

Exit codes: 0 ok, 3 some job's last run failed.`
    )
    .action(async (options: { json?: boolean }) => {
      const { default: JobRunner } = await import('#services/job_runner')
      const { DateTime: Clock } = await import('luxon')
      const runner = await context.app.container.make(JobRunner)
      const now = Clock.utc()
      const statuses = await runner.latest(CRON_JOBS)
      const rows = statuses.map(({ job, last, lastSkippedAt }) => ({
        job,
        status: last?.status ?? 'never',
        startedAt: iso(last?.startedAt ?? null),
        finishedAt: iso(last?.finishedAt ?? null),
        durationMs: last
          ? (last.durationMs ?? (last.isRunning ? now.diff(last.startedAt).toMillis() : null))
          : null,
        agoSeconds: last
          ? Math.max(0, Math.floor(now.diff(last.startedAt, 'seconds').seconds))
          : null,
        host: last?.host ?? null,
        pid: last?.pid ?? null,
        summary: last?.summary ?? null,
        error: last?.error ?? null,
        lastSkippedAt: iso(lastSkippedAt),
      }))
      if (rows.some((row) => row.status === 'failed')) context.setExitCode(ExitCode.partial)
      if (options.json) return context.output.json({ now: now.toISO(), jobs: rows })

      context.output.table(rows, [
        { header: 'Job', value: (row) => row.job },
        {
          header: 'Last run (UTC)',
          value: (row) => row.startedAt?.slice(0, 19).replace('T', ' ') ?? '',
        },
        { header: 'Duration', value: (row) => duration(row.durationMs) },
        { header: 'Outcome', value: (row) => row.status },
        { header: 'Summary', value: (row) => summaryLine(row.summary, row.error) },
        {
          header: 'Ago',
          value: (row) =>
            (row.agoSeconds === null ? '' : ago(row.agoSeconds)) +
            (row.lastSkippedAt ? ` (last skipped ${row.lastSkippedAt})` : ''),
        },
      ])
    })
}
