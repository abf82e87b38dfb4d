import type { Command } from 'commander'
import type { CommandContext } from '../main.js'
import { CliError, ExitCode } from '../output.js'
import { formatCents } from '../format.js'
import { recordAsJob, runAsJob } from '../job.js'
import { findUserId } from '../lookup.js'
import { progress } from '../progress.js'
import { parseTimeRange, timeOptions } from '../time.js'

/** Outcomes counted by status, for the run's summary in job_runs: { paid: 2, retry: 1 }. */
function countBy(outcomes: { status: string }[]) {
  const counts: Record<string, number> = {}
  for (const outcome of outcomes) counts[outcome.status] = (counts[outcome.status] ?? 0) + 1
  return counts
}

/** payouts:run and payouts:reconcile — paying creators and checking the payouts against Stripe. */
export function register(program: Command, context: CommandContext) {
  program
    .command('payouts:run')
    .description(
      'Pay creators what is payable (past the hold period) in one Connect transfer each, finish payouts a crashed run left, and make recorded transfer reversals'
    )
    .option('--creator <email|id>', 'only this creator')
    .option('--dry-run', 'show the payouts and reversals it would make; transfer nothing')
    .option('--json', 'print JSON instead of tables')
    .addHelpText(
      'after',
      `
Safe to rerun at any time (and from two hosts at once): every transfer carries a key derived
from its payout row, so a rerun finishes a payout instead of paying it twice.

Examples:
  npm run cli -- payouts:run
  npm run cli -- payouts:run --dry-run
  npm run cli -- payouts:run --creator jenny@example.com --json

Exit codes: 0 done, 1 failed, 2 bad usage, 3 some payouts or reversals need a rerun or attention.`
    )
    .action(async (options: { creator?: string; dryRun?: boolean; json?: boolean }) => {
      const only = await findUserId(options.creator)
      const dryRun = options.dryRun ?? false
      const { default: PayoutService } = await import('#services/marketplace/payout_service')
      const payouts = await context.app.container.make(PayoutService)
      const isTroubled = (outcome: { status: string }) =>
        outcome.status === 'failed' || outcome.status === 'retry'
      const bar = progress('payouts:run', !options.json && !dryRun)
      const pay = async () => {
        try {
          return await payouts.run({
            creatorId: only,
            onProgress: (done, total) => bar.update(done, total, `${done}/${total} creators`),
          })
        } finally {
          bar.stop()
        }
      }
      // A dry run reads only: not recorded as a run. Creators are locked one by one
      // (two hosts may share a run), so a real run is only recorded.
      const result = dryRun
        ? await payouts.run({ creatorId: only, dryRun: true })
        : await recordAsJob(context, 'payouts:run', pay, (ran) => ({
            outcome:
              ran.payouts.some(isTroubled) || ran.reversals.some(isTroubled)
                ? 'partial'
                : 'succeeded',
            summary: {
              madePayable: ran.madePayable,
              payouts: countBy(ran.payouts),
              reversals: countBy(ran.reversals),
            },
          }))
      const troubled = result.payouts.some(isTroubled) || result.reversals.some(isTroubled)
      if (options.json) {
        context.output.json(dryRun ? { dryRun, ...result } : result)
      } else {
        context.output.line(
          dryRun
            ? `Dry run (nothing changed): ${result.madePayable} earning(s) would become payable.`
            : `${result.madePayable} earning(s) became payable.`
        )
        if (result.payouts.length === 0) context.output.line('Nothing to pay.')
        else
          context.output.table(result.payouts, [
            { header: 'Creator', value: (row) => row.creatorId },
            { header: 'Payout', value: (row) => row.payoutId },
            { header: 'Amount', value: (row) => formatCents(row.amountCents) },
            { header: 'Status', value: (row) => row.status },
            { header: 'Transfer', value: (row) => row.stripeTransferId },
            { header: 'Reason', value: (row) => row.reason },
          ])
        if (result.reversals.length > 0)
          context.output.table(result.reversals, [
            { header: 'Reversal', value: (row) => row.reversalId },
            { header: 'Payout', value: (row) => row.payoutId },
            { header: 'Amount', value: (row) => formatCents(row.amountCents) },
            { header: 'Status', value: (row) => row.status },
            { header: 'Stripe', value: (row) => row.stripeTransferReversalId },
            { header: 'Reason', value: (row) => row.reason },
          ])
      }
      if (troubled) context.setExitCode(ExitCode.partial)
    })

  const reconcile = program
    .command('payouts:reconcile')
    .description(
      "Compare our payouts and transfer reversals with Stripe's transfers; report (and with --repair fix) missing or unrecorded transfers, amounts that differ and unrecorded reversals"
    )
    .option('--repair', 'fix what can be fixed (record, finish, top up)')
    .option(
      '--dry-run',
      'with --repair: say what each repair would be; change nothing, take no lock'
    )
  timeOptions(reconcile, { since: 'look at payouts created since (default: 90d)' })
    .option('--days <n>', 'deprecated: same as --since <n>d')
    .option('--json', 'print JSON instead of tables')
    .addHelpText(
      'after',
      `
One run at a time across hosts (the job lock): another one says so and exits 0.
A dry run takes no lock and is not recorded as a run.

Examples:
  npm run cli -- payouts:reconcile
  npm run cli -- payouts:reconcile --since 30d
  npm run cli -- payouts:reconcile --repair --dry-run
  npm run cli -- payouts:reconcile --repair --json

Exit codes: 0 everything matches (or every mismatch was repaired), 1 failed, 2 bad usage,
3 mismatches remain (reported, not repaired).`
    )
    .action(
      async (options: {
        repair?: boolean
        dryRun?: boolean
        since?: string
        days?: string
        json?: boolean
      }) => {
        if (options.days !== undefined) {
          if (!/^\d+$/.test(options.days) || Number(options.days) < 1) {
            throw new CliError(
              `--days must be a whole number >= 1 (got "${options.days}")`,
              ExitCode.usage
            )
          }
          if (options.since !== undefined) {
            throw new CliError(
              'Give either --since or --days (deprecated), not both',
              ExitCode.usage
            )
          }
          context.output.warn(`Warning: --days is deprecated; use --since ${options.days}d`)
        }
        const { since } = parseTimeRange({
          since: options.since ?? `${options.days ?? 90}d`,
        })
        const dryRun = options.dryRun ?? false
        const { default: PayoutService } = await import('#services/marketplace/payout_service')
        const payouts = await context.app.container.make(PayoutService)
        const unrepaired = (mismatch: { repaired: string | null }) =>
          !mismatch.repaired || mismatch.repaired.startsWith('not repaired')
        const reconcileNow = () =>
          payouts.reconcile({ repair: options.repair ?? false, since, dryRun })
        const result = dryRun
          ? await reconcileNow()
          : await runAsJob(context, 'payouts:reconcile', reconcileNow, {
              json: options.json,
              report: (reconciled) => {
                const remaining = reconciled.mismatches.filter(unrepaired).length
                return {
                  outcome: remaining > 0 ? 'partial' : 'succeeded',
                  summary: {
                    repair: options.repair ?? false,
                    checked: reconciled.checkedPayouts,
                    mismatches: reconciled.mismatches.length,
                    unrepaired: remaining,
                  },
                }
              },
            })
        if (result === null) return
        if (options.json) context.output.json(dryRun ? { dryRun, ...result } : result)
        else {
          context.output.line(
            `${dryRun ? 'Dry run (nothing changed): ' : ''}${result.checkedPayouts} payout(s) checked, ${result.mismatches.length} mismatch(es).`
          )
          if (result.mismatches.length > 0)
            context.output.table(result.mismatches, [
              { header: 'Kind', value: (row) => row.kind },
              { header: 'Payout', value: (row) => row.payoutId },
              { header: 'Creator', value: (row) => row.creatorId },
              { header: 'Transfer', value: (row) => row.stripeTransferId },
              { header: 'Detail', value: (row) => row.detail },
              { header: 'Repaired', value: (row) => row.repaired ?? (options.repair ? 'no' : '') },
            ])
        }
        // A dry run only says what it would do: exit 0 (the report is the answer).
        // A dry run repairs nothing: every mismatch it finds still needs attention.
        if (result.mismatches.some((mismatch) => dryRun || unrepaired(mismatch)))
          context.setExitCode(ExitCode.partial)
      }
    )
}
