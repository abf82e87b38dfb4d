import type { Command } from 'commander'
import type { CommandContext } from '../main.js'
import { CliError, ExitCode } from '../output.js'
import { runAsJob } from '../job.js'
import { someOf } from '../choices.js'
import { progress } from '../progress.js'
import { parseTimeRange, timeOptions, type TimeOptions } from '../time.js'

type Options = TimeOptions & { fix?: boolean; dryRun?: boolean; only?: string[]; json?: boolean }

/** stripe:reconcile — our records against Stripe's, repairing what is safe with --fix. */
export function register(program: Command, context: CommandContext) {
  const command = program
    .command('stripe:reconcile')
    .description(
      "Compare our records with Stripe's (events we never received, customers, subscriptions, paid invoices, refunds, transfers); with --fix, apply Stripe's state where that is safe"
    )
    .option('--fix', "repair what is safe: process missed events, re-apply Stripe's state")
    .option('--dry-run', 'with --fix: list what would be repaired, change nothing')
    .option(
      '--only <area...>',
      'only these areas: events, customers, subscriptions, invoices, refunds, transfers'
    )
  timeOptions(command, {
    since: 'events, paid invoices, refunds and payouts from (default: 30d)',
    until: 'and before',
  })
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      `
Stripe keeps events for 30 days: that is how far back missed deliveries can be found.
Customers and live subscriptions are compared in full. A fix never moves money: it
records and processes the events Stripe sent (as a delivery would), re-reads a
subscription, invoice or refund and applies it through its webhook handler
(idempotent), or links a customer made for a user. What needs a person is listed
with a hint. One run at a time across hosts (job lock), unless --dry-run.

Examples:
  npm run cli -- stripe:reconcile
  npm run cli -- stripe:reconcile --since 7d --json
  npm run cli -- stripe:reconcile --fix --dry-run
  npm run cli -- stripe:reconcile --only subscriptions --only refunds
  # cron, nightly at 03:00 UTC:
  0 3 * * * cd /srv/studio-billing && npm run --silent cli -- stripe:reconcile --fix >> /var/log/studio/reconcile.log 2>&1

Exit codes: 0 everything matches (or every difference was fixed), 1 failed, 2 bad usage,
3 differences remain.`
    )
    .action(async (options: Options) => {
      const range = parseTimeRange({ since: options.since ?? '30d', until: options.until })
      if (options.dryRun && !options.fix) {
        throw new CliError(
          '--dry-run goes with --fix (without --fix nothing is changed anyway)',
          ExitCode.usage
        )
      }
      const fix = (options.fix ?? false) && !options.dryRun
      const { default: StripeReconcileService, RECONCILE_AREAS } =
        await import('#services/stripe_reconcile_service')
      const areas = someOf('area', options.only, RECONCILE_AREAS)
      const service = await context.app.container.make(StripeReconcileService)
      const bar = progress('stripe:reconcile', !options.json)
      const reconcile = () =>
        service
          .run({
            since: range.since,
            until: range.until,
            fix,
            areas,
            onProgress: (area, read) =>
              bar.update(
                RECONCILE_AREAS.indexOf(area),
                RECONCILE_AREAS.length,
                `${area}: ${read} read`
              ),
          })
          .finally(() => bar.stop())
      const open = (difference: { fix: string | null; result: string | null }) =>
        fix ? difference.result !== 'fixed' : true

      const result = options.dryRun
        ? await reconcile()
        : await runAsJob(context, 'stripe:reconcile', reconcile, {
            json: options.json,
            report: (ran) => {
              const remaining = ran.differences.filter(open).length
              return {
                outcome: remaining > 0 ? 'partial' : 'succeeded',
                summary: { fix, differences: ran.differences.length, remaining, ...ran.checked },
              }
            },
          })
      if (result === null) return
      if (result.differences.some(open)) context.setExitCode(ExitCode.partial)
      if (options.json) return context.output.json({ dryRun: options.dryRun ?? false, ...result })

      const checked = Object.entries(result.checked)
        .map(([area, count]) => `${count} ${area}`)
        .join(', ')
      context.output.line(`Compared since ${result.since}: ${checked}.`)
      if (result.differences.length === 0) {
        context.output.line('Everything matches Stripe.')
        return
      }
      context.output.table(result.differences, [
        { header: 'Area', value: (row) => row.area },
        { header: 'Difference', value: (row) => row.kind },
        { header: 'Stripe id', value: (row) => row.stripeId },
        { header: 'User', value: (row) => row.userId },
        { header: 'Ours', value: (row) => row.ours },
        { header: 'Stripe', value: (row) => row.stripe },
        {
          header: fix ? 'Result' : options.dryRun ? 'Would' : 'Fix (--fix)',
          value: (row) => (fix ? (row.result ?? 'needs a person') : (row.fix ?? 'needs a person')),
        },
      ])
      const hints = [...new Set(result.differences.map((row) => row.hint).filter(Boolean))]
      for (const hint of hints) context.output.line(`- ${hint}`)
      const fixed = result.differences.filter((row) => row.result === 'fixed').length
      context.output.line(
        fix
          ? `${result.differences.length} difference(s), ${fixed} fixed.`
          : `${result.differences.length} difference(s); run with --fix to repair those that can be.`
      )
    })
}
