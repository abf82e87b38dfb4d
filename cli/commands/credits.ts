import { userInfo } from 'node:os'
import type { Command } from 'commander'
import type { CommandContext } from '../main.js'
import { CliError, ExitCode } from '../output.js'
import { formatCents } from '../format.js'
import { findUser } from '../lookup.js'

function operatorName(explicit?: string) {
  if (explicit?.trim()) return explicit.trim()
  try {
    return process.env.USER || userInfo().username || 'cli'
  } catch {
    return 'cli'
  }
}

/** credits:show and credits:grant — operators' view of and changes to the credit ledger. */
export function register(program: Command, context: CommandContext) {
  program
    .command('credits:show')
    .description("Show a user's credit balance, ledger (newest first) and credit purchases")
    .argument('<user>', 'user id or email')
    .option('--limit <n>', 'at most this many ledger entries', '20')
    .option('--json', 'print JSON instead of tables')
    .addHelpText(
      'after',
      `
Examples:
  npm run cli -- credits:show 42
  npm run cli -- credits:show ada@example.com --json`
    )
    .action(async (reference: string, options: { limit: string; json?: boolean }) => {
      const limit = Number(options.limit)
      if (!Number.isInteger(limit) || limit < 1) {
        throw new CliError(
          `--limit must be a whole number >= 1 (got "${options.limit}")`,
          ExitCode.usage
        )
      }
      const user = await findUser(reference)
      const { default: CreditService } = await import('#services/credit_service')
      const credits = new CreditService()
      const balance = await credits.balance(user)
      const ledgerSum = await credits.ledgerSum(user)
      const entries = await credits.history(user, { page: 1, perPage: limit })
      const purchases = await credits.purchases(user)
      const rows = entries.all().map((entry) => ({
        id: entry.id,
        kind: entry.kind,
        amountCents: entry.amountCents,
        balanceAfterCents: entry.balanceAfterCents,
        description: entry.description,
        createdBy: entry.createdBy,
        createdAt: entry.createdAt.toISO(),
      }))
      const purchaseRows = purchases.map((purchase) => ({
        id: purchase.id,
        packageKey: purchase.packageKey,
        creditsCents: purchase.creditsCents,
        amountCents: purchase.amountCents,
        status: purchase.status,
        checkoutSession: purchase.stripeCheckoutSessionId,
        paidAt: purchase.paidAt?.toISO() ?? null,
      }))
      if (options.json) {
        context.output.json({
          user: { id: user.id, email: user.email },
          balanceCents: balance,
          ledgerSumCents: ledgerSum,
          entries: rows,
          purchases: purchaseRows,
        })
      } else {
        context.output.line(`${user.email} (user ${user.id}): balance ${formatCents(balance)}`)
        if (rows.length === 0) context.output.line('No ledger entries.')
        else
          context.output.table(rows, [
            { header: 'ID', value: (row) => row.id },
            { header: 'When', value: (row) => row.createdAt },
            { header: 'Kind', value: (row) => row.kind },
            { header: 'Amount', value: (row) => formatCents(row.amountCents) },
            { header: 'Balance', value: (row) => formatCents(row.balanceAfterCents) },
            { header: 'By', value: (row) => row.createdBy },
            { header: 'Description', value: (row) => row.description },
          ])
        if (purchaseRows.length > 0)
          context.output.table(purchaseRows, [
            { header: 'Purchase', value: (row) => row.id },
            { header: 'Package', value: (row) => row.packageKey },
            { header: 'Paid', value: (row) => formatCents(row.amountCents) },
            { header: 'Status', value: (row) => row.status },
            { header: 'Checkout', value: (row) => row.checkoutSession },
          ])
      }
      if (balance !== ledgerSum) {
        context.output.warn(
          `Warning: cached balance ${balance} differs from the ledger sum ${ledgerSum}; investigate.`
        )
        context.setExitCode(ExitCode.partial)
      }
    })

  program
    .command('credits:grant')
    .description('Grant (or with --debit, take away) credits, recorded in the ledger with a reason')
    .argument('<user>', 'user id or email')
    .argument('<amount-cents>', 'whole number of cents (1 credit = 1 cent), > 0')
    .requiredOption('--reason <text>', 'why (kept in the ledger)')
    .option('--debit', 'take the credits away instead (refused if the balance is too low)')
    .option('--operator <name>', 'who is doing it (default: $USER)')
    .option(
      '--key <idempotency-key>',
      'names this adjustment (default: user, amount, reason, operator and UTC day, so a rerun applies once; pass a new key for a deliberate second one the same day)'
    )
    .option('--dry-run', 'show the entry and the balance after; record nothing')
    .option('--json', 'print JSON instead of text')
    .addHelpText(
      'after',
      `
Examples:
  npm run cli -- credits:grant 42 500 --reason "Support ticket #123"
  npm run cli -- credits:grant 42 500 --reason "Support ticket #123" --dry-run
  npm run cli -- credits:grant ada@example.com 200 --debit --reason "Duplicate grant"

Exit codes: 0 recorded (or already recorded: a rerun), 1 failed (e.g. not enough credits), 2 bad usage.`
    )
    .action(
      async (
        reference: string,
        amount: string,
        options: {
          reason: string
          debit?: boolean
          operator?: string
          key?: string
          dryRun?: boolean
          json?: boolean
        }
      ) => {
        const amountCents = Number(amount)
        if (!/^\d+$/.test(amount) || !Number.isSafeInteger(amountCents) || amountCents < 1) {
          throw new CliError(
            `<amount-cents> must be a whole number > 0 (got "${amount}")`,
            ExitCode.usage
          )
        }
        if (!options.reason.trim()) throw new CliError('--reason must not be empty', ExitCode.usage)
        const user = await findUser(reference)
        const { default: CreditService } = await import('#services/credit_service')
        const { default: InsufficientCreditsException } =
          await import('#exceptions/insufficient_credits_exception')
        const adjustment = {
          amountCents,
          debit: options.debit,
          reason: options.reason,
          operator: operatorName(options.operator),
          idempotencyKey: options.key ? `operator:${options.key}` : undefined,
        }
        const credits = new CreditService()
        let result
        try {
          if (options.dryRun) {
            const preview = await credits.previewOperatorAdjust(user, adjustment)
            if (options.json) return context.output.json({ dryRun: true, ...preview })
            return context.output.line(
              preview.wouldCreate
                ? `Dry run: would ${preview.kind === 'operator_debit' ? 'debit' : 'grant'} ${formatCents(Math.abs(preview.amountCents))} ` +
                    `for ${user.email}; balance ${formatCents(preview.balanceBeforeCents)} -> ${formatCents(preview.balanceAfterCents)}. Nothing recorded.`
                : `Dry run: already recorded with that key (entry ${preview.existingEntryId}); a real run changes nothing.`
            )
          }
          result = await credits.operatorAdjust(user, adjustment)
        } catch (error) {
          if (error instanceof InsufficientCreditsException) throw new CliError(error.message)
          throw error
        }
        const { entry, created } = result
        if (options.json) {
          return context.output.json({
            dryRun: false,
            created,
            entry: {
              id: entry.id,
              userId: entry.userId,
              kind: entry.kind,
              amountCents: entry.amountCents,
              balanceAfterCents: entry.balanceAfterCents,
              description: entry.description,
              createdBy: entry.createdBy,
            },
          })
        }
        context.output.line(
          created
            ? `${entry.kind === 'operator_debit' ? 'Debited' : 'Granted'} ${formatCents(Math.abs(entry.amountCents))} ` +
                `for ${user.email}; balance now ${formatCents(entry.balanceAfterCents)} (entry ${entry.id}).`
            : `Already recorded with that key (entry ${entry.id}); nothing changed.`
        )
      }
    )
}
