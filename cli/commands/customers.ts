import type { Command } from 'commander'
import type { CommandContext } from '../main.js'
import { CliError, ExitCode } from '../output.js'
import { runAsJob } from '../job.js'
import { progress } from '../progress.js'

/** customers:sync — creates the Stripe customers that registration could not. */
export function register(program: Command, context: CommandContext) {
  program
    .command('customers:sync')
    .description('Create missing Stripe customers (users registered while Stripe was unreachable)')
    .option('--dry-run', 'list the users that would get a customer, change nothing')
    .option('--limit <n>', 'at most this many users per run')
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      `
Safe to run again: each customer is created with an idempotency key derived
from the user, and only users without a customer are touched. One run at a
time across hosts: another one says so and exits 0.

Examples:
  npm run cli -- customers:sync --dry-run
  npm run cli -- customers:sync --json

Exit codes: 0 all created (or nothing to do), 3 some failed (rerun later), 2 bad usage.`
    )
    .action(async (options: { dryRun?: boolean; limit?: string; json?: boolean }) => {
      const limit = options.limit === undefined ? undefined : Number(options.limit)
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
        throw new CliError(
          `--limit must be a whole number >= 1 (got "${options.limit}")`,
          ExitCode.usage
        )
      }
      const { default: CustomerService } = await import('#services/customer_service')
      const customers = await context.app.container.make(CustomerService)
      const bar = progress('customers:sync', !options.json)
      const create = async () => {
        try {
          return await customers.syncMissing({
            limit,
            onProgress: (done, total) => bar.update(done, total, `${done}/${total} users`),
          })
        } finally {
          bar.stop()
        }
      }
      // A dry run changes nothing: it neither waits for the lock nor counts as a run.
      const results = options.dryRun
        ? await customers.syncMissing({ dryRun: true, limit })
        : await runAsJob(context, 'customers:sync', create, {
            json: options.json,
            report: (rows) => {
              const failures = rows.filter((row) => row.error).length
              return {
                outcome: failures > 0 ? 'partial' : 'succeeded',
                summary: { created: rows.length - failures, failed: failures },
              }
            },
          })
      if (results === null) return
      const failed = results.filter((result) => result.error)

      if (options.json) {
        context.output.json({ dryRun: !!options.dryRun, results })
      } else if (results.length === 0) {
        context.output.line('Every user has a Stripe customer.')
      } else {
        context.output.table(results, [
          { header: 'User', value: (row) => row.userId },
          { header: 'Email', value: (row) => row.email },
          {
            header: options.dryRun ? 'Would create' : 'Customer',
            value: (row) => (options.dryRun ? 'yes' : (row.customerId ?? '')),
          },
          { header: 'Error', value: (row) => row.error ?? '' },
        ])
        const created = results.length - failed.length
        context.output.line(
          options.dryRun
            ? `${results.length} user(s) without a customer (dry run, nothing changed).`
            : `${created} customer(s) created, ${failed.length} failed.`
        )
      }
      if (failed.length > 0) {
        context.output.warn(
          `${failed.length} customer(s) could not be created; run customers:sync again later.`
        )
        return context.setExitCode(ExitCode.partial)
      }
    })
}
