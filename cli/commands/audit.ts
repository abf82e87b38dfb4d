import type { Command } from 'commander'
import type { CommandContext } from '../main.js'
import { CliError, ExitCode } from '../output.js'
import { someOf } from '../choices.js'

function wholeNumber(flag: string, value: string, min: number) {
  const parsed = Number(value)
  if (!/^\d+$/.test(value) || parsed < min) {
    throw new CliError(`${flag} must be a whole number >= ${min} (got "${value}")`, ExitCode.usage)
  }
  return parsed
}

function cell(value: unknown) {
  if (value === null || value === undefined) return ''
  if (value instanceof Date) return value.toISOString()
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}

/** audit — checks the invariants of DESIGN.md against the database (read-only). */
export function register(program: Command, context: CommandContext) {
  program
    .command('audit')
    .description(
      'Check every billing invariant against the database (balances, splits, fulfilment, limits, usage, payouts, webhooks) and list the offending rows'
    )
    .option('--check <name...>', 'only these checks (repeatable; see the list below)')
    .option('--limit <n>', 'offending rows shown per check', '20')
    .option('--stuck-minutes <n>', "age after which a 'received'/'processing' event is stuck", '30')
    .option('--json', 'print JSON instead of tables')
    .addHelpText(
      'after',
      `
Checks: credit_balances, marketplace_splits, usage_invoice_totals, checkout_fulfilment, limits,
usage_billing, payouts, stuck_events, failed_events, agent_entitlements.
Read-only: one set-based query per check, safe to run at any time.

Examples:
  npm run cli -- audit
  npm run cli -- audit --check credit_balances --check payouts --json
  # cron, nightly at 03:30 UTC (exit 3 mails the failed checks):
  30 3 * * * cd /srv/studio-billing && npm run --silent cli -- audit >> /var/log/studio/audit.log 2>&1

Exit codes: 0 every check passed, 1 failed to run, 2 bad usage, 3 some checks failed.`
    )
    .action(
      async (options: {
        check?: string[]
        limit: string
        stuckMinutes: string
        json?: boolean
      }) => {
        const limit = wholeNumber('--limit', options.limit, 1)
        const stuckMinutes = wholeNumber('--stuck-minutes', options.stuckMinutes, 1)
        const { default: AuditService } = await import('#services/audit_service')
        const names = someOf('check', options.check, AuditService.checkNames) ?? [
          ...AuditService.checkNames,
        ]
        const audit = await context.app.container.make(AuditService)
        const result = await audit.run(names, { limit, stuckMinutes })
        if (!result.passed) context.setExitCode(ExitCode.partial)
        if (options.json) return context.output.json(result)

        context.output.table(result.checks, [
          { header: 'Check', value: (check) => check.name },
          { header: 'Status', value: (check) => (check.passed ? 'pass' : 'FAIL') },
          { header: 'Offenders', value: (check) => check.offenderCount },
        ])
        for (const check of result.checks.filter((failed) => !failed.passed)) {
          context.output.line()
          context.output.line(
            `${check.name}: ${check.offenderCount} offending row(s)` +
              (check.offenderCount > check.offenders.length
                ? ` (first ${check.offenders.length} shown)`
                : '')
          )
          context.output.line(`  ${check.description}`)
          const columns = Object.keys(check.offenders[0] ?? {})
          context.output.table(
            check.offenders,
            columns.map((column) => ({ header: column, value: (row) => cell(row[column]) }))
          )
          context.output.line(`  Fix: ${check.hint}`)
        }
        context.output.line()
        const failed = result.checks.filter((check) => !check.passed).length
        context.output.line(
          failed === 0
            ? `All ${result.checks.length} checks passed.`
            : `${failed} of ${result.checks.length} checks failed.`
        )
      }
    )
}
