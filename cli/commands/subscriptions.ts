import type { Command } from 'commander'
import { DateTime } from 'luxon'
import type { CommandContext } from '../main.js'
import { runAsJob } from '../job.js'
import { MOMENT_HELP, parseMoment } from '../time.js'

/** subscriptions:check-grace — drops past_due Premium users to free once the grace period is over. */
export function register(program: Command, context: CommandContext) {
  program
    .command('subscriptions:check-grace')
    .description(
      'Drop users whose Premium has been past_due longer than PREMIUM_PAST_DUE_GRACE_DAYS to free limits'
    )
    .option('--now <when>', `check as of this moment instead of now: ${MOMENT_HELP}`)
    .option('--dry-run', 'list the users who would be dropped to free; change nothing')
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
  npm run cli -- subscriptions:check-grace --dry-run

Cron (hourly):
  0 * * * *  cd /srv/studio-billing && npm run --silent cli -- subscriptions:check-grace

Exit codes: 0 ok (also when nothing was due), 2 bad usage.`
    )
    .action(async (options: { now?: string; dryRun?: boolean; json?: boolean }) => {
      const now = options.now ? parseMoment(options.now, '--now') : DateTime.utc()
      const dryRun = options.dryRun ?? false
      const { default: SubscriptionService } = await import('#services/subscription_service')
      const subscriptions = await context.app.container.make(SubscriptionService)
      // A dry run changes nothing: no lock, not recorded as a run.
      const expired = dryRun
        ? await subscriptions.expireGrace(now, { dryRun })
        : await runAsJob(
            context,
            'subscriptions:check-grace',
            () => subscriptions.expireGrace(now),
            { json: options.json, report: (rows) => ({ summary: { expired: rows.length } }) }
          )
      if (expired === null) return

      if (options.json) {
        context.output.json({ dryRun, now: now.toISO(), expired })
      } else if (expired.length === 0) {
        context.output.line('No past_due subscription is beyond its grace period.')
      } else {
        context.output.table(expired, [
          { header: 'User', value: (row) => row.userId },
          { header: 'Email', value: (row) => row.email },
          { header: 'Subscription', value: (row) => row.stripeSubscriptionId },
          { header: 'Past due since', value: (row) => row.pastDueSince },
          {
            header: dryRun ? 'Would stop deployments' : 'Stopped deployments',
            value: (row) => row.stoppedProjectIds.length,
          },
        ])
        context.output.line(
          dryRun
            ? `${expired.length} user(s) would be dropped to the free plan (dry run, nothing changed).`
            : `${expired.length} user(s) dropped to the free plan.`
        )
      }
    })
}
