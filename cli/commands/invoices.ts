import type { Command } from 'commander'
import type { CommandContext } from '../main.js'
import { oneOf } from '../choices.js'
import { CliError, ExitCode } from '../output.js'
import { formatCents } from '../format.js'
import { findUserId } from '../lookup.js'
import { progress } from '../progress.js'
import { parseMonth, timeOptions } from '../time.js'

const STATUSES = ['draft', 'open', 'paid', 'failed', 'carried', 'void', 'uncollectible'] as const

/** invoices:generate and invoices:list — the monthly usage invoices. */
export function register(program: Command, context: CommandContext) {
  program
    .command('invoices:generate')
    .description(
      'Make the monthly usage invoices of a period: one per user with unbilled usage, credits first, the rest charged through Stripe (under 50 cents: carried to the next period)'
    )
    .requiredOption('--period <yyyy-mm>', 'the month to invoice: a calendar month (UTC)')
    .option('--user <email|id>', 'only this user')
    .option('--dry-run', 'show what would be invoiced; write nothing, charge nothing')
    .option('--skip-sync', 'do not sync usage from LiteLLM first')
    .option('--json', 'print JSON instead of tables')
    .addHelpText(
      'after',
      `
Usage is synced from LiteLLM first (usage:sync), then each user's unbilled usage up to the end
of the month (earlier months' late or carried usage included) becomes one invoice, rounded to
cents once. Safe to rerun at any time, and from two hosts at once: every Stripe call carries a
key derived from (user, period), a rerun finishes what a crashed or interrupted run left, and a
period already invoiced creates nothing.

Examples:
  npm run cli -- invoices:generate --period 2026-11
  npm run cli -- invoices:generate --period 2026-11 --user ada@example.com --dry-run
  # cron, 00:05 UTC on the 1st: invoice the month that just ended
  5 0 1 * * cd /srv/studio && npm run cli -- invoices:generate --period $(date -u -d 'last month' +\\%Y-\\%m)

Exit codes: 0 done, 1 failed (nothing invoiced), 2 bad usage, 3 some invoices failed or need a rerun.`
    )
    .action(
      async (options: {
        period: string
        user?: string
        dryRun?: boolean
        skipSync?: boolean
        json?: boolean
      }) => {
        const month = parseMonth(options.period).period
        const only = await findUserId(options.user)
        const { default: UsageInvoiceService } =
          await import('#services/usage/usage_invoice_service')
        const { default: UsageInvoiceException } =
          await import('#exceptions/usage_invoice_exception')
        const invoices = await context.app.container.make(UsageInvoiceService)
        const bar = progress('invoices:generate', !options.json)
        let result
        try {
          result = await invoices.generate(month, {
            userId: only,
            dryRun: options.dryRun ?? false,
            skipSync: options.skipSync ?? false,
            onProgress: (done, total) => bar.update(done, total, `${done}/${total} users`),
          })
        } catch (error) {
          if (error instanceof UsageInvoiceException) {
            const exitCode =
              error.code === 'E_USAGE_INVOICE_SYNC'
                ? ExitCode.failed
                : error.code === 'E_USAGE_INVOICE_BUSY'
                  ? ExitCode.partial
                  : ExitCode.usage
            throw new CliError(error.message, exitCode)
          }
          throw error
        } finally {
          bar.stop()
        }
        const troubled = result.outcomes.filter((outcome) =>
          ['failed', 'retry', 'error'].includes(outcome.status)
        )
        if (options.json) {
          context.output.json(result)
        } else {
          const out = context.output
          out.line(
            `${result.dryRun ? 'Dry run: ' : ''}period ${result.period}, ${result.users} user(s); sync: ${result.sync.detail}`
          )
          out.line(
            `Invoices made: ${result.created}  paid: ${result.paid}  carried: ${result.carried}  failed: ${result.failed}  ` +
              `to retry: ${result.retry + result.errors}  already done: ${result.already}`
          )
          out.line(
            `Credits applied: ${formatCents(result.creditsAppliedCents)}  charged: ${formatCents(result.chargedCents)}  ` +
              `carried: ${formatCents(result.carriedCents)}  unpaid: ${formatCents(result.unpaidCents)}  (${(result.durationMs / 1000).toFixed(1)} s)`
          )
          const shown = result.dryRun ? result.outcomes : troubled
          if (shown.length > 0)
            out.table(shown.slice(0, 200), [
              { header: 'User', value: (row) => row.userId },
              { header: 'Invoice', value: (row) => row.usageInvoiceId },
              { header: 'Status', value: (row) => row.status },
              { header: 'Amount', value: (row) => formatCents(row.amountCents) },
              { header: 'Credits', value: (row) => formatCents(row.creditsAppliedCents) },
              { header: 'Charge', value: (row) => formatCents(row.chargedCents) },
              { header: 'Carried', value: (row) => formatCents(row.carriedCents) },
              { header: 'Stripe', value: (row) => row.stripeInvoiceId },
              { header: 'Reason', value: (row) => row.reason },
            ])
          if (shown.length > 200) out.line(`(${shown.length - 200} more; use --json for all)`)
        }
        if (result.stoppedEarly) {
          context.output.warn(
            `Stopped early: ${result.stoppedEarly}. Nothing was charged twice; rerun \`invoices:generate --period ${result.period}\` once Stripe answers to finish the rest.`
          )
        } else if (troubled.some((outcome) => outcome.status !== 'failed')) {
          context.output.warn(
            `${troubled.filter((outcome) => outcome.status !== 'failed').length} invoice(s) not finished; rerun \`invoices:generate --period ${result.period}\` to finish them (safe: nothing is charged twice).`
          )
        }
        if (result.failed > 0) {
          context.output.warn(
            `${result.failed} payment(s) declined: Stripe retries them on its schedule; the users see them as past due.`
          )
        }
        if (troubled.length > 0) context.setExitCode(ExitCode.partial)
      }
    )

  const list = program
    .command('invoices:list')
    .description('List usage invoices (newest period first)')
  timeOptions(list, { period: 'only invoices of this period' })
    .option('--user <email|id>', 'only this user')
    .option('--status <status>', `only this status (${STATUSES.join(', ')})`)
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      `
Examples:
  npm run cli -- invoices:list --period 2026-11
  npm run cli -- invoices:list --status failed --json`
    )
    .action(
      async (options: { period?: string; user?: string; status?: string; json?: boolean }) => {
        const month = options.period === undefined ? undefined : parseMonth(options.period).period
        const status = oneOf('--status', options.status, STATUSES)
        const only = await findUserId(options.user)
        const { default: UsageInvoiceService } =
          await import('#services/usage/usage_invoice_service')
        const invoices = await context.app.container.make(UsageInvoiceService)
        const rows = await invoices.list({
          period: month,
          userId: only,
          status,
        })
        const data = rows.map((row) => ({
          id: row.id,
          userId: row.userId,
          period: row.period,
          status: row.status,
          costMicros: row.costMicros,
          amountCents: row.amountCents,
          creditsAppliedCents: row.creditsAppliedCents,
          chargedCents: row.chargedCents,
          carriedCents: row.carriedCents,
          carriedIntoInvoiceId: row.carriedIntoInvoiceId,
          requestCount: row.requestCount,
          stripeInvoiceId: row.stripeInvoiceId,
          paidAt: row.paidAt?.toISO() ?? null,
          failureReason: row.failureReason,
          nextPaymentAttemptAt: row.nextPaymentAttemptAt?.toISO() ?? null,
        }))
        if (options.json) {
          context.output.json({ invoices: data })
          return
        }
        if (data.length === 0) {
          context.output.line('No usage invoices match.')
          return
        }
        context.output.table(data, [
          { header: 'Id', value: (row) => row.id },
          { header: 'User', value: (row) => row.userId },
          { header: 'Period', value: (row) => row.period },
          { header: 'Status', value: (row) => row.status },
          { header: 'Amount', value: (row) => formatCents(row.amountCents) },
          { header: 'Credits', value: (row) => formatCents(row.creditsAppliedCents) },
          { header: 'Charged', value: (row) => formatCents(row.chargedCents) },
          { header: 'Carried', value: (row) => formatCents(row.carriedCents) },
          { header: 'Stripe', value: (row) => row.stripeInvoiceId },
          { header: 'Paid', value: (row) => row.paidAt },
          { header: 'Reason', value: (row) => row.failureReason },
        ])
      }
    )
}
