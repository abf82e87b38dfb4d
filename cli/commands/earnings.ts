import type { Command } from 'commander'
import type { CommandContext } from '../main.js'
import { CliError, ExitCode } from '../output.js'
import { formatCents } from '../format.js'
import { findUser } from '../lookup.js'
import { parseTimeRange, timeOptions } from '../time.js'

/** earnings:show — a creator's balances, per-agent figures, payouts and latest ledger rows. */
export function register(program: Command, context: CommandContext) {
  const show = program
    .command('earnings:show')
    .description(
      "Show a creator's earnings: pending, payable, paid and reversed; per agent; payouts"
    )
    .requiredOption('--creator <email|id>', 'the creator (user id or email)')
  timeOptions(show, {
    since: 'ledger rows and payouts created at or after',
    until: 'ledger rows and payouts created before',
    period: 'ledger rows and payouts created in this month',
  })
    .option('--limit <n>', 'at most this many ledger rows', '20')
    .option('--json', 'print JSON instead of tables')
    .addHelpText(
      'after',
      `
The balances and per-agent figures are all-time; the time flags narrow the
ledger rows and payouts listed.

Examples:
  npm run cli -- earnings:show --creator jenny@example.com
  npm run cli -- earnings:show --creator 42 --period 2026-11 --json`
    )
    .action(
      async (options: {
        creator: string
        since?: string
        until?: string
        period?: string
        limit: string
        json?: boolean
      }) => {
        const limit = Number(options.limit)
        if (!/^\d+$/.test(options.limit) || limit < 1) {
          throw new CliError(
            `--limit must be a whole number >= 1 (got "${options.limit}")`,
            ExitCode.usage
          )
        }
        const { since, until } = parseTimeRange(options)
        const user = await findUser(options.creator)
        const { default: EarningsService } = await import('#services/marketplace/earnings_service')
        const { default: CreatorPayout } = await import('#models/creator_payout')
        const earnings = await context.app.container.make(EarningsService)
        const balances = await earnings.balances(user.id)
        const agents = await earnings.byAgent(user.id)
        const history = await earnings.history(user.id, { limit, since, until })
        const rows = history.map((row) => ({
          id: row.id,
          kind: row.kind,
          agentId: row.agentId,
          source: `${row.sourceType}:${row.sourceId}`,
          grossCents: row.grossCents,
          creatorCents: row.creatorCents,
          platformCents: row.platformCents,
          status: row.status,
          payoutId: row.creatorPayoutId,
          payableAt: row.payableAt?.toISO() ?? null,
        }))
        const payoutRows = await CreatorPayout.query()
          .where('creator_id', user.id)
          .if(since, (query) => query.where('created_at', '>=', since!.toJSDate()))
          .if(until, (query) => query.where('created_at', '<', until!.toJSDate()))
          .orderBy('id', 'desc')
          .limit(limit)
        const payouts = payoutRows.map((payout) => ({
          id: payout.id,
          amountCents: payout.amountCents,
          reversedCents: payout.reversedCents,
          status: payout.status,
          stripeTransferId: payout.stripeTransferId,
          paidAt: payout.paidAt?.toISO() ?? null,
          failureReason: payout.failureReason,
        }))
        const creator = {
          id: user.id,
          email: user.email,
          stripeAccountId: user.creatorStripeAccountId,
          payoutsEnabled: user.creatorPayoutsEnabled,
        }
        if (options.json) {
          return context.output.json({ creator, balances, agents, payouts, transactions: rows })
        }
        context.output.line(
          `${user.email} (user ${user.id}), Connect ${user.creatorStripeAccountId ?? 'not onboarded'}, payouts ${user.creatorPayoutsEnabled ? 'enabled' : 'disabled'}`
        )
        context.output.table(
          [balances],
          [
            { header: 'Pending', value: (row) => formatCents(row.pendingCents) },
            { header: 'Payable', value: (row) => formatCents(row.payableCents) },
            { header: 'In flight', value: (row) => formatCents(row.inFlightCents) },
            { header: 'Paid', value: (row) => formatCents(row.paidCents) },
            { header: 'Reversed', value: (row) => formatCents(row.reversedCents) },
            { header: 'Reversal due', value: (row) => formatCents(row.reversalPendingCents) },
            { header: 'Net earned', value: (row) => formatCents(row.netEarnedCents) },
          ]
        )
        if (agents.length > 0)
          context.output.table(agents, [
            { header: 'Agent', value: (row) => `${row.agentId} ${row.slug}` },
            { header: 'Sales', value: (row) => row.sales },
            { header: 'Refunds', value: (row) => row.reversals },
            { header: 'Gross', value: (row) => formatCents(row.grossCents) },
            { header: 'Creator', value: (row) => formatCents(row.creatorCents) },
            { header: 'Platform', value: (row) => formatCents(row.platformCents) },
          ])
        if (payouts.length > 0)
          context.output.table(payouts, [
            { header: 'Payout', value: (row) => row.id },
            { header: 'Amount', value: (row) => formatCents(row.amountCents) },
            { header: 'Reversed', value: (row) => formatCents(row.reversedCents) },
            { header: 'Status', value: (row) => row.status },
            { header: 'Transfer', value: (row) => row.stripeTransferId },
            { header: 'Paid at', value: (row) => row.paidAt },
          ])
        if (rows.length === 0) context.output.line('No earnings yet.')
        else
          context.output.table(rows, [
            { header: 'ID', value: (row) => row.id },
            { header: 'Kind', value: (row) => row.kind },
            { header: 'Source', value: (row) => row.source },
            { header: 'Gross', value: (row) => formatCents(row.grossCents) },
            { header: 'Creator', value: (row) => formatCents(row.creatorCents) },
            { header: 'Status', value: (row) => row.status },
            { header: 'Payout', value: (row) => row.payoutId },
          ])
      }
    )
}
