import { DateTime } from 'luxon'
import type { Command } from 'commander'
import { parsePeriod } from '#support/usage_money'
import { CliError, ExitCode } from './output.js'

/**
 * The one reading of `--since`, `--until` and `--period` for every command.
 *
 * A moment is an ISO date or date-time (`2026-11-01`, `2026-11-01 10:00`,
 * `2026-11-01T10:00:00Z`), read as UTC unless it names a zone, or an age
 * back from now (`30m`, `24h`, `7d`). A period is a calendar month in UTC
 * (`2026-11`). `--period` cannot be mixed with `--since`/`--until`.
 */
export const MOMENT_HELP = 'ISO date/time (UTC) or an age like 30m, 24h, 7d'

const AGE = /^(\d+)([mhd])$/
const UNITS = { m: 'minutes', h: 'hours', d: 'days' } as const

export function parseMoment(value: string, flag: string, now = DateTime.utc()): DateTime {
  const text = value.trim()
  const age = AGE.exec(text)
  if (age) {
    return now.minus({ [UNITS[age[2] as keyof typeof UNITS]]: Number(age[1]) })
  }
  const date = DateTime.fromISO(text.replace(' ', 'T'), { zone: 'utc' })
  if (!date.isValid) {
    throw new CliError(`${flag} must be an ${MOMENT_HELP} (got "${value}")`, ExitCode.usage)
  }
  return date.toUTC()
}

export type BillingMonth = { period: string; start: DateTime; end: DateTime }

export function parseMonth(value: string, flag = '--period'): BillingMonth {
  const month = parsePeriod(value)
  if (!month) {
    throw new CliError(
      `${flag} must be a calendar month like 2026-11 (got "${value}")`,
      ExitCode.usage
    )
  }
  return month
}

/** The month now is in, UTC. */
export function currentMonth(now = DateTime.utc()): BillingMonth {
  return parseMonth(now.toFormat('yyyy-MM'))
}

export type TimeOptions = { since?: string; until?: string; period?: string }
export type TimeRange = { since?: DateTime; until?: DateTime; period?: BillingMonth }

/**
 * Reads the three flags into one range: `--period` gives [start of month,
 * start of next), `--since`/`--until` give their moments. Mixing them, or a
 * `--since` not before `--until`, is bad usage (exit 2).
 */
export function parseTimeRange(options: TimeOptions, now = DateTime.utc()): TimeRange {
  if (
    options.period !== undefined &&
    (options.since !== undefined || options.until !== undefined)
  ) {
    throw new CliError('Give either --period or --since/--until, not both', ExitCode.usage)
  }
  if (options.period !== undefined) {
    const period = parseMonth(options.period)
    return { since: period.start, until: period.end, period }
  }
  const since = options.since === undefined ? undefined : parseMoment(options.since, '--since', now)
  const until = options.until === undefined ? undefined : parseMoment(options.until, '--until', now)
  if (since && until && since >= until) {
    throw new CliError(
      `--since (${since.toISO()}) must be before --until (${until.toISO()})`,
      ExitCode.usage
    )
  }
  return { since, until }
}

/** Adds the time flags to a command with the same wording everywhere. */
export function timeOptions(
  command: Command,
  which: { since?: string; until?: string; period?: string }
): Command {
  if (which.since) command.option('--since <when>', `${which.since}: ${MOMENT_HELP}`)
  if (which.until) command.option('--until <when>', `${which.until}: ${MOMENT_HELP}`)
  if (which.period) command.option('--period <yyyy-mm>', `${which.period}: a calendar month (UTC)`)
  return command
}
