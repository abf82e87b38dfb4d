import type { Command } from 'commander'
import type { CommandContext } from '../main.js'
import { CliError, ExitCode } from '../output.js'
import { formatCents } from '../format.js'

/** users:list — who has an account, their plan, credits and Stripe customer. */
export function register(program: Command, context: CommandContext) {
  program
    .command('users:list')
    .description('List users with plan, credits and Stripe customer')
    .option('--plan <plan>', 'only users on this plan (free or premium)')
    .option('--no-customer', 'only users without a Stripe customer')
    .option('--limit <n>', 'at most this many users (newest first)', '100')
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      `
Examples:
  npm run cli -- users:list
  npm run cli -- users:list --plan premium --json
  npm run cli -- users:list --no-customer`
    )
    .action(
      async (options: { plan?: string; customer: boolean; limit: string; json?: boolean }) => {
        const limit = Number(options.limit)
        if (!Number.isInteger(limit) || limit < 1) {
          throw new CliError(
            `--limit must be a whole number >= 1 (got "${options.limit}")`,
            ExitCode.usage
          )
        }
        if (options.plan && !['free', 'premium'].includes(options.plan)) {
          throw new CliError(
            `--plan must be "free" or "premium" (got "${options.plan}")`,
            ExitCode.usage
          )
        }
        const { default: User } = await import('#models/user')
        const users = await User.query()
          .if(options.plan, (query) => query.where('plan', options.plan!))
          .if(!options.customer, (query) =>
            query.withScopes((scopes) => scopes.withoutStripeCustomer())
          )
          .orderBy('id', 'desc')
          .limit(limit)

        const rows = users.map((user) => ({
          id: user.id,
          email: user.email,
          name: user.fullName,
          plan: user.plan,
          creditsBalanceCents: user.creditsBalanceCents,
          stripeCustomerId: user.stripeCustomerId,
          createdAt: user.createdAt.toISO(),
        }))
        if (options.json) return context.output.json(rows)
        if (rows.length === 0) return context.output.line('No users.')
        context.output.table(rows, [
          { header: 'ID', value: (row) => row.id },
          { header: 'Email', value: (row) => row.email },
          { header: 'Name', value: (row) => row.name },
          { header: 'Plan', value: (row) => row.plan },
          { header: 'Credits', value: (row) => formatCents(row.creditsBalanceCents) },
          { header: 'Stripe customer', value: (row) => row.stripeCustomerId ?? '(none)' },
          { header: 'Created', value: (row) => row.createdAt },
        ])
      }
    )
}
