import type { Command } from 'commander'
import type { CommandContext } from '../main.js'
import { CliError, ExitCode } from '../output.js'
import { formatCents } from '../format.js'
import { recordAsJob, runAsJob } from '../job.js'

async function creatorId(reference: string | undefined) {
  if (reference === undefined) return undefined
  const { default: User } = await import('#models/user')
  const user = /^\d+$/.test(reference)
    ? await User.find(Number(reference))
    : await User.query().whereRaw('lower(email) = ?', [reference.trim().toLowerCase()]).first()
  if (!user) throw new CliError(`No user "${reference}" (give a user id or an email)`)
  return user.id
}

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
    .option('--json', 'print JSON instead of tables')
    .addHelpText(
      'after',
      `
Safe to rerun at any time (and from two hosts at once): every transfer carries a key derived
from its payout row, so a rerun finishes a payout instead of paying it twice.

Examples:
  npm run cli -- payouts:run
  npm run cli -- payouts:run --creator jenny@example.com --json

Exit codes: 0 done, 1 failed, 2 bad usage, 3 some payouts or reversals need a rerun or attention.`
    )
    .action(async (options: { creator?: string; json?: boolean }) => {
      const only = await creatorId(options.creator)
      const { default: PayoutService } = await import('#services/marketplace/payout_service')
      const payouts = await context.app.container.make(PayoutService)
      const isTroubled = (outcome: { status: string }) =>
        outcome.status === 'failed' || outcome.status === 'retry'
      // Creators are locked one by one (two hosts may share a run), so the run is only recorded.
      const result = await recordAsJob(
        context,
        'payouts:run',
        () => payouts.run({ creatorId: only }),
        (ran) => ({
          outcome:
            ran.payouts.some(isTroubled) || ran.reversals.some(isTroubled)
              ? 'partial'
              : 'succeeded',
          summary: {
            madePayable: ran.madePayable,
            payouts: countBy(ran.payouts),
            reversals: countBy(ran.reversals),
          },
        })
      )
      const troubled = result.payouts.some(isTroubled) || result.reversals.some(isTroubled)
      if (options.json) {
        context.output.json(result)
      } else {
        context.output.line(`${result.madePayable} earning(s) became payable.`)
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

  program
    .command('payouts:reconcile')
    .description(
      "Compare our payouts and transfer reversals with Stripe's transfers; report (and with --repair fix) missing or unrecorded transfers, amounts that differ and unrecorded reversals"
    )
    .option('--repair', 'fix what can be fixed (record, finish, top up)')
    .option('--days <n>', 'look at payouts of the last n days', '90')
    .option('--json', 'print JSON instead of tables')
    .addHelpText(
      'after',
      `
One run at a time across hosts (the job lock): another one says so and exits 0.

Examples:
  npm run cli -- payouts:reconcile
  npm run cli -- payouts:reconcile --repair --json

Exit codes: 0 everything matches (or every mismatch was repaired), 1 failed, 2 bad usage,
3 mismatches remain (reported, not repaired).`
    )
    .action(async (options: { repair?: boolean; days: string; json?: boolean }) => {
      const days = Number(options.days)
      if (!/^\d+$/.test(options.days) || days < 1) {
        throw new CliError(
          `--days must be a whole number >= 1 (got "${options.days}")`,
          ExitCode.usage
        )
      }
      const { DateTime } = await import('luxon')
      const { default: PayoutService } = await import('#services/marketplace/payout_service')
      const payouts = await context.app.container.make(PayoutService)
      const unrepaired = (mismatch: { repaired: string | null }) =>
        !mismatch.repaired || mismatch.repaired.startsWith('not repaired')
      const result = await runAsJob(
        context,
        'payouts:reconcile',
        () =>
          payouts.reconcile({
            repair: options.repair ?? false,
            since: DateTime.utc().minus({ days }),
          }),
        {
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
        }
      )
      if (result === null) return
      if (options.json) context.output.json(result)
      else {
        context.output.line(
          `${result.checkedPayouts} payout(s) checked, ${result.mismatches.length} mismatch(es).`
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
      if (result.mismatches.some(unrepaired)) context.setExitCode(ExitCode.partial)
    })
}
