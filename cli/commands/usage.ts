import type { Command } from 'commander'
import type { CommandContext } from '../main.js'
import { CliError, ExitCode } from '../output.js'
import { findUser } from '../lookup.js'
import { progress } from '../progress.js'
import { currentMonth, parseMonth, parseTimeRange, timeOptions } from '../time.js'

/** usage:sync and usage:show: pulling LiteLLM spend logs, and a user's usage for a month. */
export function register(program: Command, context: CommandContext) {
  const sync = program
    .command('usage:sync')
    .description(
      'Pull LiteLLM spend logs since the watermark (minus the look-back) into usage_logs'
    )
  timeOptions(sync, {
    since: 'read from here instead of watermark minus look-back',
    until: 'read up to here instead of now minus the settle delay',
  })
    .option(
      '--wait <seconds>',
      'if another sync is running, wait up to this long instead of skipping'
    )
    .option('--dry-run', 'read the LiteLLM window and count what would be stored; write nothing')
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
  npm run cli -- usage:sync --since 24h --dry-run
  */15 * * * *  cd /srv/billing && npm run --silent cli -- usage:sync`
    )
    .action(
      async (options: {
        since?: string
        until?: string
        wait?: string
        dryRun?: boolean
        json?: boolean
      }) => {
        const range = parseTimeRange(options)
        let waitMs: number | undefined
        if (options.wait !== undefined) {
          if (!/^\d+$/.test(options.wait)) {
            throw new CliError(
              `--wait must be whole seconds (got "${options.wait}")`,
              ExitCode.usage
            )
          }
          waitMs = Number(options.wait) * 1000
        }
        const dryRun = options.dryRun ?? false
        const { default: UsageSyncService } = await import('#services/usage/usage_sync_service')
        const service = await context.app.container.make(UsageSyncService)
        const bar = progress('usage:sync', !options.json)
        let report
        try {
          report = await service.sync({
            since: range.since?.toJSDate(),
            until: range.until?.toJSDate(),
            waitMs,
            dryRun,
            onProgress: ({ fraction, counts }) =>
              bar.update(
                Math.round(fraction * 1000),
                1000,
                `${counts.seen.toLocaleString('en-US')} rows`
              ),
          })
        } finally {
          bar.stop()
        }

        if (options.json) {
          context.output.json({ dryRun, ...report })
        } else if (report.status === 'skipped') {
          context.output.line(`Skipped: ${report.error}.`)
        } else {
          const c = report.counts
          // A dry run stores nothing, so it cannot tell new mismatches or unattributed rows.
          const stored: [string, string | number][] = dryRun
            ? [
                ['would insert', c.inserted],
                ['already stored', c.duplicates],
              ]
            : [
                ['inserted', c.inserted],
                ['duplicates', c.duplicates],
                ['mismatches (new)', c.mismatches],
                ['unattributed (new)', c.unattributed],
              ]
          const rows: [string, string | number][] = [
            ['window', report.window ? `${report.window.since} .. ${report.window.until}` : '-'],
            ['rows seen', c.seen],
            ...stored,
            ['unreadable rows', c.invalid],
            ['watermark before', report.watermarkBefore ?? '-'],
            ['watermark after', report.watermarkAfter ?? '-'],
            ['LiteLLM requests', report.requests],
            ['duration', `${(report.durationMs / 1000).toFixed(1)} s`],
          ]
          context.output.table(rows, [
            { header: dryRun ? 'usage:sync (dry run)' : 'usage:sync', value: (row) => row[0] },
            { header: report.status, value: (row) => row[1] },
          ])
          if (dryRun) context.output.line('Dry run: nothing stored, the watermark did not move.')
        }
        for (const [group, count] of Object.entries(report.counts.unpriced)) {
          context.output.warn(
            `Warning: ${count} rows of model group "${group}" have no price in config/usage.ts: billed at LiteLLM's spend`
          )
        }
        if (report.status === 'failed') {
          context.output.warn(`Error: ${report.error}`)
          context.setExitCode(ExitCode.failed)
        } else if (report.needsAttention && !dryRun) {
          context.output.warn(
            `Attention: ${report.counts.unattributed} new unattributed rows, ${report.counts.mismatches} new spend mismatches`
          )
          context.setExitCode(ExitCode.partial)
        }
      }
    )

  const show = program
    .command('usage:show')
    .description("A user's AI usage for one month: totals by model, agent and day")
    .requiredOption('--user <user>', 'user id or email')
  timeOptions(show, { period: 'the month to show (default: this month)' })
    .option('--json', 'print JSON instead of tables')
    .addHelpText(
      'after',
      `
Examples:
  npm run cli -- usage:show --user ada@example.com
  npm run cli -- usage:show --user 42 --period 2026-11 --json`
    )
    .action(async (options: { user: string; period?: string; json?: boolean }) => {
      const period = (options.period === undefined ? currentMonth() : parseMonth(options.period))
        .period
      const { default: UsageTotalsService } = await import('#services/usage/usage_totals_service')
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
