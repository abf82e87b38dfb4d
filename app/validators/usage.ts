import vine, { errors } from '@vinejs/vine'
import { DateTime } from 'luxon'
import UsageReportService, {
  type RangeName,
  type UsageRange,
} from '#services/usage/usage_report_service'

/** The longest custom range (a year and a day). */
const MAX_RANGE_DAYS = 366

const rangeFields = {
  range: vine.enum(['7d', '30d', 'month', 'custom'] as const).optional(),
  from: vine
    .date({ formats: ['YYYY-MM-DD'] })
    .optional()
    .requiredWhen('range', '=', 'custom'),
  to: vine
    .date({ formats: ['YYYY-MM-DD'] })
    .afterOrSameAs('from')
    .optional()
    .requiredWhen('range', '=', 'custom'),
}

/** ?range=7d|30d|month|custom (&from=YYYY-MM-DD&to=YYYY-MM-DD): the usage dashboard and summary API. */
export const usageRangeValidator = vine.create(rangeFields)

/** The request log: a range, optional model / agent / project filters, and a page. */
export const usageLogsValidator = vine.create({
  ...rangeFields,
  model: vine.string().trim().maxLength(200).optional(),
  agent: vine.string().trim().maxLength(100).optional(),
  project: vine.string().trim().maxLength(100).optional(),
  page: vine.number().withoutDecimals().min(1).optional(),
  perPage: vine.number().withoutDecimals().range([1, 100]).optional(),
})

/**
 * The UTC day range a validated query names (default: the last 30 days).
 * A custom range over a year is refused like any other invalid field (422).
 */
export function usageRangeOf(
  payload: { range?: RangeName; from?: Date; to?: Date },
  now: DateTime = DateTime.utc()
): { name: RangeName; range: UsageRange } {
  const name = payload.range ?? '30d'
  if (name !== 'custom') return { name, range: UsageReportService.range(name, now) }
  // VineJS parses YYYY-MM-DD as local midnight: keep the calendar day, as UTC.
  const day = (date: Date) =>
    DateTime.fromObject(
      { year: date.getFullYear(), month: date.getMonth() + 1, day: date.getDate() },
      { zone: 'utc' }
    )
  const range = UsageReportService.range(name, now, {
    from: day(payload.from!),
    to: day(payload.to!),
  })
  if (range.to.diff(range.from, 'days').days + 1 > MAX_RANGE_DAYS) {
    throw new errors.E_VALIDATION_ERROR([
      {
        field: 'to',
        message: `A custom range is at most ${MAX_RANGE_DAYS} days`,
        rule: 'maxRange',
      },
    ])
  }
  return { name, range }
}
