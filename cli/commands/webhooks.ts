import type { Command } from 'commander'
import type { StripeEventStatus } from '#models/stripe_event'
import type { CommandContext } from '../main.js'
import { runAsJob } from '../job.js'
import { oneOf } from '../choices.js'
import { CliError, ExitCode } from '../output.js'
import { progress } from '../progress.js'
import { parseTimeRange, timeOptions } from '../time.js'

/**
 * webhooks:list — the Stripe events we recorded and what became of them.
 * webhooks:replay — process recorded events again (after a fix, or from cron).
 */
export function register(program: Command, context: CommandContext) {
  const list = program
    .command('webhooks:list')
    .description('List recorded Stripe webhook events (newest first)')
    .option('--status <status>', `only this status (${STATUSES.join(', ')})`)
    .option('--type <type>', 'only this event type, e.g. checkout.session.completed')
  timeOptions(list, {
    since: 'received at or after',
    until: 'received before',
    period: 'received in this month',
  })
    .option('--limit <n>', 'at most this many events', '50')
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      `
Examples:
  npm run cli -- webhooks:list
  npm run cli -- webhooks:list --status failed
  npm run cli -- webhooks:list --type invoice.paid --since 24h --json
  npm run cli -- webhooks:list --since 2026-11-01 --until "2026-11-02 12:00"`
    )
    .action(
      async (options: {
        status?: string
        type?: string
        since?: string
        until?: string
        period?: string
        limit: string
        json?: boolean
      }) => {
        const status = oneOf('--status', options.status, STATUSES)
        const { since, until } = parseTimeRange(options)
        const limit = parseLimit(options.limit)
        const { default: StripeEventService } = await import('#services/stripe_event_service')
        const service = await context.app.container.make(StripeEventService)
        const events = await service.list({ status, type: options.type, since, until, limit })

        const rows = events.map((event) => ({
          id: event.stripeEventId,
          type: event.type,
          status: event.status,
          attempts: event.attempts,
          receivedAt: event.receivedAt.toUTC().toISO(),
          processedAt: event.processedAt?.toUTC().toISO() ?? null,
          lastError: event.lastError,
        }))
        if (options.json) return context.output.json(rows)
        if (rows.length === 0) return context.output.line('No events.')
        context.output.table(rows, [
          { header: 'ID', value: (row) => row.id },
          { header: 'Type', value: (row) => row.type },
          { header: 'Status', value: (row) => row.status },
          { header: 'Attempts', value: (row) => row.attempts },
          { header: 'Received', value: (row) => row.receivedAt },
          { header: 'Last error', value: (row) => shorten(row.lastError) },
        ])
      }
    )

  const replayCommand = program
    .command('webhooks:replay')
    .description('Process recorded Stripe events again: given ids, or failed/pending ones')
    .argument('[ids...]', 'Stripe event ids (evt_…)')
    .option('--failed', 'every failed event')
    .option('--type <type>', 'only events of this type (with --failed or alone)')
  timeOptions(replayCommand, {
    since: 'only events received at or after',
    until: 'only events received before',
  })
    .option('--limit <n>', 'at most this many events per run (oldest first)', '500')
    .option('--dry-run', 'list what would be replayed, change nothing')
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      `
Without ids, replays events not yet done (received or failed; only failed
with --failed), oldest first. Events already processed or ignored are never
applied twice (they answer "already"), so this is safe to run from cron.

Examples:
  npm run cli -- webhooks:replay evt_1Abc evt_2Def
  npm run cli -- webhooks:replay --failed --dry-run
  npm run cli -- webhooks:replay --failed --type invoice.paid --since 7d

Exit codes: 0 all replayed (or nothing to do), 3 some failed again or were not found, 2 bad usage.`
    )
    .action(
      async (
        ids: string[],
        options: {
          failed?: boolean
          type?: string
          since?: string
          until?: string
          limit: string
          dryRun?: boolean
          json?: boolean
        }
      ) => {
        const { since, until } = parseTimeRange(options)
        const limit = parseLimit(options.limit)
        const selects = options.failed || options.type || since || until
        if (ids.length > 0 && selects) {
          throw new CliError(
            'Give event ids, or --failed / --type / --since / --until, not both',
            ExitCode.usage
          )
        }
        if (ids.length === 0 && !selects) {
          throw new CliError(
            'Say which events: ids, --failed, --type, --since or --until (see --help)',
            ExitCode.usage
          )
        }
        const malformed = ids.find((id) => !/^evt_\w+$/.test(id))
        if (malformed) {
          throw new CliError(`Not a Stripe event id: "${malformed}"`, ExitCode.usage)
        }

        const { default: StripeEventService } = await import('#services/stripe_event_service')
        const service = await context.app.container.make(StripeEventService)
        // The selection form can be long (cron after an outage): a bar while it runs.
        const bar = progress(
          'webhooks:replay',
          !options.json && ids.length === 0 && !options.dryRun
        )
        const replay = async () => {
          try {
            return await service.replay({
              ids,
              failed: options.failed,
              type: options.type,
              since,
              until,
              limit,
              dryRun: options.dryRun,
              onProgress: (done, total) => bar.update(done, total, `${done}/${total} events`),
            })
          } finally {
            bar.stop()
          }
        }
        const failing = (rows: Awaited<ReturnType<typeof replay>>) =>
          rows.filter((r) => r.outcome === 'failed' || r.outcome === 'not_found')
        // A selection (the cron form, e.g. --failed) runs once across hosts; ids and dry runs need no lock.
        const results =
          ids.length > 0 || options.dryRun
            ? await replay()
            : await runAsJob(context, 'webhooks:replay', replay, {
                json: options.json,
                report: (rows) => ({
                  outcome: failing(rows).length > 0 ? 'partial' : 'succeeded',
                  summary: { selected: rows.length, failed: failing(rows).length },
                }),
              })
        if (results === null) return
        const bad = failing(results)

        if (options.json) {
          context.output.json({ dryRun: !!options.dryRun, results })
        } else if (results.length === 0) {
          context.output.line('No events to replay.')
        } else {
          context.output.table(results, [
            { header: 'ID', value: (row) => row.stripeEventId },
            { header: 'Type', value: (row) => row.type ?? '' },
            { header: 'Before', value: (row) => row.statusBefore ?? '' },
            {
              header: options.dryRun ? 'Would' : 'Outcome',
              value: (row) => (row.outcome === 'pending' ? 'replay' : row.outcome),
            },
            { header: 'Attempts', value: (row) => row.attempts },
            {
              header: 'Error',
              value: (row) =>
                row.outcome === 'failed' || row.outcome === 'not_found'
                  ? row.outcome === 'not_found'
                    ? 'no such event recorded'
                    : shorten(row.lastError)
                  : '',
            },
          ])
          const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length
          context.output.line(
            options.dryRun
              ? `${count('pending')} event(s) would be replayed (dry run, nothing changed).`
              : `${count('processed')} processed, ${count('ignored')} ignored, ${count('already')} already done, ` +
                  `${count('failed')} failed, ${count('not_found')} not found.`
          )
        }
        if (bad.length > 0 && !options.dryRun) {
          context.output.warn(
            `${bad.length} event(s) not replayed: see "webhooks:list --status failed" and the app log.`
          )
          context.setExitCode(ExitCode.partial)
        } else if (bad.length > 0) {
          context.output.warn(`${bad.length} event id(s) not found.`)
          context.setExitCode(ExitCode.partial)
        }
      }
    )
}

const STATUSES: StripeEventStatus[] = ['received', 'processing', 'processed', 'failed', 'ignored']

function parseLimit(value: string): number {
  const limit = Number(value)
  if (!Number.isInteger(limit) || limit < 1) {
    throw new CliError(`--limit must be a whole number >= 1 (got "${value}")`, ExitCode.usage)
  }
  return limit
}

function shorten(text: string | null, max = 60) {
  if (!text) return ''
  const line = text.replace(/\s+/g, ' ')
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}
