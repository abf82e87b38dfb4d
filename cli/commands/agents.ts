import type { Command } from 'commander'
import type { CommandContext } from '../main.js'
import { ExitCode } from '../output.js'
import { runAsJob } from '../job.js'

/**
 * agents:sync — finishes the Stripe side of agents whose product or price is
 * behind our row (a creator saved a price while Stripe was down). Keyed
 * calls: a rerun never makes a second product or price. One run at a time
 * across hosts (the job lock). Exit 3 when some still fail.
 */
export function register(program: Command, context: CommandContext) {
  program
    .command('agents:sync')
    .description(
      'Create or update the Stripe product and price of agents that are behind (after an outage)'
    )
    .option(
      '--dry-run',
      'list the agents that would be synced and what each would get; call nothing'
    )
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      `
Examples:
  npm run cli -- agents:sync
  npm run cli -- agents:sync --dry-run
  # cron, every 10 minutes:
  */10 * * * * cd /srv/studio-billing && npm run cli -- agents:sync >> /var/log/studio/agents-sync.log 2>&1`
    )
    .action(async (options: { dryRun?: boolean; json?: boolean }) => {
      const { default: AgentCatalogService } =
        await import('#services/marketplace/agent_catalog_service')
      const catalog = await context.app.container.make(AgentCatalogService)
      // A dry run calls nothing and writes nothing: no lock, no job run.
      if (options.dryRun) {
        const { planned } = await catalog.syncPending({ dryRun: true })
        if (options.json) return context.output.json({ dryRun: true, planned })
        if (planned.length === 0) return context.output.line('Every agent is in step with Stripe.')
        context.output.table(planned, [
          { header: 'Agent', value: (row) => `${row.agentId} ${row.slug}` },
          { header: 'Price version', value: (row) => row.priceVersion },
          { header: 'Would', value: (row) => row.action },
        ])
        return context.output.line(
          `${planned.length} agent(s) would be synced (dry run, nothing changed).`
        )
      }
      const result = await runAsJob(context, 'agents:sync', () => catalog.syncPending(), {
        json: options.json,
        report: (synced) => ({
          outcome: synced.failed.length > 0 ? 'partial' : 'succeeded',
          summary: { synced: synced.synced.length, failed: synced.failed.length },
        }),
      })
      if (result === null) return
      if (result.failed.length > 0) context.setExitCode(ExitCode.partial)
      if (options.json)
        return context.output.json({ dryRun: false, synced: result.synced, failed: result.failed })
      const rows = [
        ...result.synced.map((agentId) => ({ agentId, outcome: 'synced', error: '' })),
        ...result.failed.map((failure) => ({ ...failure, outcome: 'failed' })),
      ]
      if (rows.length === 0) return context.output.line('Every agent is in step with Stripe.')
      context.output.table(rows, [
        { header: 'Agent', value: (row) => row.agentId },
        { header: 'Outcome', value: (row) => row.outcome },
        { header: 'Error', value: (row) => row.error },
      ])
    })
}
