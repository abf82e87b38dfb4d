import type { Command } from 'commander'
import type { CommandContext } from '../main.js'
import { CliError, ExitCode } from '../output.js'

/** `2026-11-01`, `2026-11-01 10:00:00`, `2026-11-01T10:00:00Z`: UTC unless a zone is given. */
function parseMoment(value: string, flag: string): Date {
  const text = value.trim()
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text)
    ? `${text}T00:00:00Z`
    : /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)
      ? `${text.replace(' ', 'T')}Z`
      : text
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) {
    throw new CliError(
      `${flag} must be a UTC date or time like 2026-11-01 or "2026-11-01 10:00:00" (got "${value}")`,
      ExitCode.usage
    )
  }
  return date
}

function currentPeriod() {
  return new Date().toISOString().slice(0, 7)
}

/** A one-line progress bar on stderr, redrawn in place; only when stderr is a terminal. */
function progressBar() {
  const stream = process.stderr
  if (!stream.isTTY) return { update: (_f: number, _label: string) => {}, done: () => {} }
  let last = 0
  return {
    update(fraction: number, label: string) {
      const now = Date.now()
      if (now - last < 100 && fraction < 1) return
      last = now
      const width = 30
      const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width)
      stream.write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${label}\x1b[K`
      )
    },
    done() {
      stream.write('\r\x1b[K')
    },
  }
}

async function findUser(reference: string) {
  const { default: User } = await import('#models/user')
  const user = /^\d+$/.test(reference)
    ? await User.find(Number(reference))
    : await User.query().whereRaw('lower(email) = ?', [reference.trim().toLowerCase()]).first()
  if (!user) throw new CliError(`No user "${reference}" (give a user id or an email)`)
  return user
}

/** usage:sync and usage:show: pulling LiteLLM spend logs, and a user's usage for a month. */
export function register(program: Command, context: CommandContext) {
  program
    .command('usage:sync')
    .description(
      'Pull LiteLLM spend logs since the watermark (minus the look-back) into usage_logs'
    )
    .option('--since <time>', 'read from this UTC time instead of watermark minus look-back')
    .option('--until <time>', 'read up to this UTC time instead of now minus the settle delay')
    .option(
      '--wait <seconds>',
      'if another sync is running, wait up to this long instead of skipping'
    )
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      `
Exit codes: 0 synced (or skipped: another host is syncing), 1 failed (LiteLLM or the
database; the watermark stays where rows were fully stored), 3 synced but some new rows
are unattributed or seen with a different spend (see the table).

Examples:
  npm run cli -- usage:sync
  npm run cli -- usage:sync --since 2026-11-01 --until "2026-11-02 00:00:00" --json
  */15 * * * *  cd /srv/billing && npm run --silent cli -- usage:sync`
    )
    .action(async (options: { since?: string; until?: string; wait?: string; json?: boolean }) => {
      const since = options.since ? parseMoment(options.since, '--since') : undefined
      const until = options.until ? parseMoment(options.until, '--until') : undefined
      if (since && until && since > until) {
        throw new CliError('--since must not be after --until', ExitCode.usage)
      }
      let waitMs: number | undefined
      if (options.wait !== undefined) {
        if (!/^\d+$/.test(options.wait)) {
          throw new CliError(`--wait must be whole seconds (got "${options.wait}")`, ExitCode.usage)
        }
        waitMs = Number(options.wait) * 1000
      }
      const { default: UsageSyncService } = await import('#services/usage/usage_sync_service')
      const service = await context.app.container.make(UsageSyncService)
      const bar = options.json ? { update: () => {}, done: () => {} } : progressBar()
      const report = await service.sync({
        since,
        until,
        waitMs,
        onProgress: ({ fraction, counts }) =>
          bar.update(fraction, `${counts.seen.toLocaleString('en-US')} rows`),
      })
      bar.done()

      if (options.json) {
        context.output.json(report)
      } else if (report.status === 'skipped') {
        context.output.line(`Skipped: ${report.error}.`)
      } else {
        const c = report.counts
        const rows: [string, string | number][] = [
          ['window', report.window ? `${report.window.since} .. ${report.window.until}` : '-'],
          ['rows seen', c.seen],
          ['inserted', c.inserted],
          ['duplicates', c.duplicates],
          ['mismatches (new)', c.mismatches],
          ['unattributed (new)', c.unattributed],
          ['unreadable rows', c.invalid],
          ['watermark before', report.watermarkBefore ?? '-'],
          ['watermark after', report.watermarkAfter ?? '-'],
          ['LiteLLM requests', report.requests],
          ['duration', `${(report.durationMs / 1000).toFixed(1)} s`],
        ]
        context.output.table(rows, [
          { header: 'usage:sync', value: (row) => row[0] },
          { header: report.status, value: (row) => row[1] },
        ])
      }
      for (const [group, count] of Object.entries(report.counts.unpriced)) {
        context.output.warn(
          `Warning: ${count} rows of model group "${group}" have no price in config/usage.ts: billed at LiteLLM's spend`
        )
      }
      if (report.status === 'failed') {
        context.output.warn(`Error: ${report.error}`)
        context.setExitCode(ExitCode.failed)
      } else if (report.needsAttention) {
        context.output.warn(
          `Attention: ${report.counts.unattributed} new unattributed rows, ${report.counts.mismatches} new spend mismatches`
        )
        context.setExitCode(ExitCode.partial)
      }
    })

  program
    .command('usage:show')
    .description("A user's AI usage for one month: totals by model, agent and day")
    .requiredOption('--user <user>', 'user id or email')
    .option('--period <yyyy-mm>', 'calendar month in UTC (default: this month)')
    .option('--json', 'print JSON instead of tables')
    .addHelpText(
      'after',
      `
Examples:
  npm run cli -- usage:show --user ada@example.com
  npm run cli -- usage:show --user 42 --period 2026-11 --json`
    )
    .action(async (options: { user: string; period?: string; json?: boolean }) => {
      const period = options.period ?? currentPeriod()
      const { default: UsageTotalsService, periodBounds } =
        await import('#services/usage/usage_totals_service')
      try {
        periodBounds(period)
      } catch (error) {
        throw new CliError((error as Error).message, ExitCode.usage)
      }
      const user = await findUser(options.user)
      const { formatMicros } = await import('#services/usage/usage_pricing')
      const totals = await new UsageTotalsService().forUser(user.id, period)
      if (options.json) {
        context.output.json({ user: { id: user.id, email: user.email }, ...totals })
        return
      }
      const t = totals.total
      context.output.line(
        `${user.email} (#${user.id}), ${period}: ${t.requests} requests, ${t.promptTokens} prompt + ${t.completionTokens} completion tokens, cost ${formatMicros(t.costMicros)} (LiteLLM spend ${formatMicros(t.spendMicros)}; invoiced ${formatMicros(t.invoicedMicros)})`
      )
      const columns = (header: string) => [
        { header, value: (row: (typeof totals.byModel)[number]) => row.key },
        { header: 'requests', value: (row: (typeof totals.byModel)[number]) => row.requests },
        {
          header: 'tokens in/out',
          value: (row: (typeof totals.byModel)[number]) =>
            `${row.promptTokens}/${row.completionTokens}`,
        },
        {
          header: 'cost',
          value: (row: (typeof totals.byModel)[number]) => formatMicros(row.costMicros),
        },
      ]
      if (totals.byModel.length === 0) {
        context.output.line('No usage in this period.')
        return
      }
      context.output.table(totals.byModel, columns('model'))
      context.output.table(totals.byAgent, columns('agent'))
      context.output.table(totals.byDay, columns('day (UTC)'))
    })
}
