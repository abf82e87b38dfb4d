import db from '@adonisjs/lucid/services/db'
import { parsePeriod } from '#support/usage_money'

export type UsageTotalRow = {
  key: string
  requests: number
  promptTokens: number
  completionTokens: number
  costMicros: number
  spendMicros: number
}

export type UsageTotals = {
  userId: number
  period: string
  since: string
  until: string
  total: Omit<UsageTotalRow, 'key'> & { invoicedMicros: number; mismatches: number }
  byModel: UsageTotalRow[]
  byAgent: UsageTotalRow[]
  byDay: UsageTotalRow[]
}

/** The calendar month `2026-11` as [start, end) in UTC; throws on anything else. */
export function periodBounds(period: string) {
  const month = parsePeriod(period)
  if (!month) {
    throw new RangeError(`A period is a calendar month like 2026-11 (got "${period}")`)
  }
  return { start: month.start, end: month.end }
}

const SUMS = `count(*)::bigint AS requests,
  coalesce(sum(prompt_tokens), 0)::bigint AS prompt_tokens,
  coalesce(sum(completion_tokens), 0)::bigint AS completion_tokens,
  coalesce(sum(cost_micros), 0)::bigint AS cost_micros,
  coalesce(sum(spend_micros), 0)::bigint AS spend_micros`

type SumRow = {
  key: string | null
  requests: string
  prompt_tokens: string
  completion_tokens: string
  cost_micros: string
  spend_micros: string
}

function toRow(row: SumRow): UsageTotalRow {
  return {
    key: row.key ?? '(none)',
    requests: Number(row.requests),
    promptTokens: Number(row.prompt_tokens),
    completionTokens: Number(row.completion_tokens),
    costMicros: Number(row.cost_micros),
    spendMicros: Number(row.spend_micros),
  }
}

/** One user's usage in a month, summed in SQL on integer micro-dollars (for `usage:show`). */
export default class UsageTotalsService {
  async forUser(userId: number, period: string): Promise<UsageTotals> {
    const { start, end } = periodBounds(period)
    const bounds = [userId, start.toJSDate(), end.toJSDate()]
    const where = `WHERE l.user_id = ? AND l.started_at >= ? AND l.started_at < ?`
    const grouped = async (key: string, join = '', order = 'cost_micros DESC, key') => {
      const result = await db.rawQuery<{ rows: SumRow[] }>(
        `SELECT ${key} AS key, ${SUMS} FROM usage_logs l ${join} ${where} GROUP BY 1 ORDER BY ${order}`,
        bounds
      )
      return result.rows.map(toRow)
    }
    const totals = await db.rawQuery<{
      rows: (SumRow & { invoiced_micros: string; mismatches: string })[]
    }>(
      `SELECT NULL AS key, ${SUMS},
              coalesce(sum(cost_micros) FILTER (WHERE usage_invoice_id IS NOT NULL), 0)::bigint AS invoiced_micros,
              count(*) FILTER (WHERE spend_mismatch)::bigint AS mismatches
         FROM usage_logs l ${where}`,
      bounds
    )
    const { requests, promptTokens, completionTokens, costMicros, spendMicros } = toRow(
      totals.rows[0]
    )
    const total = { requests, promptTokens, completionTokens, costMicros, spendMicros }
    return {
      userId,
      period,
      since: start.toISO()!,
      until: end.toISO()!,
      total: {
        ...total,
        invoicedMicros: Number(totals.rows[0].invoiced_micros),
        mismatches: Number(totals.rows[0].mismatches),
      },
      byModel: await grouped('coalesce(l.model_group, l.model)'),
      byAgent: await grouped('a.slug', 'LEFT JOIN marketplace_agents a ON a.id = l.agent_id'),
      byDay: await grouped(`to_char(l.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`, '', 'key'),
    }
  }
}
