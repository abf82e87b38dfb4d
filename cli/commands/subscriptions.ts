import type { Command } from 'commander'
import { DateTime } from 'luxon'
import type { CommandContext } from '../main.js'
import { CliError, ExitCode } from '../output.js'
import { runAsJob } from '../job.js'

/** subscriptions:check-grace — drops past_due Premium users to free once the grace period is over. */
export function register(program: Command, context: CommandContext) {
  program
    .command('subscriptions:check-grace')
    .description(
      'Drop users whose Premium has been past_due longer than PREMIUM_PAST_DUE_GRACE_DAYS to free limits'
    )
    .option('--now <iso>', 'check as of this ISO time instead of now (UTC)')
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      `
A renewal that keeps failing leaves the subscription past_due while Stripe
retries; Premium limits stay for the grace period, then drop to free even if
no new event arrives. Extra deployments are stopped newest first, with the
reason on the project; nothing is deleted. Safe to run any number of times,
and from many hosts: one run at a time (the others say so and exit 0).

Examples:
  npm run cli -- subscriptions:check-grace
  npm run cli -- subscriptions:check-grace --json

Cron (hourly):
  0 * * * *  cd /srv/studio-billing && npm run --silent cli -- subscriptions:check-grace

Exit codes: 0 ok (also when nothing was due), 2 bad usage.`
    )
    .action(async (options: { now?: string; json?: boolean }) => {
      const now = options.now ? DateTime.fromISO(options.now, { zone: 'utc' }) : DateTime.utc()
      if (!now.isValid) {
        throw new CliError(`--now must be an ISO date-time (got "${options.now}")`, ExitCode.usage)
      }
      const { default: SubscriptionService } = await import('#services/subscription_service')
      const subscriptions = await context.app.container.make(SubscriptionService)
      const expired = await runAsJob(
        context,
        'subscriptions:check-grace',
        () => subscriptions.expireGrace(now),
        { json: options.json, report: (rows) => ({ summary: { expired: rows.length } }) }
      )
      if (expired === null) return

      if (options.json) {
        context.output.json({ now: now.toISO(), expired })
      } else if (expired.length === 0) {
        context.output.line('No past_due subscription is beyond its grace period.')
      } else {
        context.output.table(expired, [
          { header: 'User', value: (row) => row.userId },
          { header: 'Email', value: (row) => row.email },
          { header: 'Subscription', value: (row) => row.stripeSubscriptionId },
          { header: 'Past due since', value: (row) => row.pastDueSince },
          { header: 'Stopped deployments', value: (row) => row.stoppedProjectIds.length },
        ])
        context.output.line(`${expired.length} user(s) dropped to the free plan.`)
      }
    })
}
