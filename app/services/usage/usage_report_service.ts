import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import type User from '#models/user'
import UsageLog from '#models/usage_log'
import UsageInvoice from '#models/usage_invoice'
import { microsToCents } from '#support/usage_money'

/** A date range in UTC, whole days: `from` 00:00 to the end of `to`. */
export interface UsageRange {
  from: DateTime
  to: DateTime
}

/** One row of usage_daily_totals (a day x model x agent x project), with names. */
type GrainRow = {
  day: string
  model: string | null
  agent_id: string | null
  project_id: string | null
  agent_name: string | null
  agent_slug: string | null
  project_name: string | null
  requests: string
  prompt_tokens: string
  completion_tokens: string
  tokens: string
  cost_micros: string
  unbilled_micros: string
}

/** The ranges the dashboard offers. */
export type RangeName = '7d' | '30d' | 'month' | 'custom'

/** One breakdown line (a model, an agent, a project or a day). */
export type UsageLine = {
  key: string
  label: string
  requests: number
  tokens: number
  costMicros: number
}

export type UsageSummary = {
  range: { name: RangeName; from: string; to: string }
  totals: {
    requests: number
    promptTokens: number
    completionTokens: number
    costMicros: number
    /** What the range comes to in cents, rounded once (half up). */
    costCents: number
    /** Of it, not yet on an invoice. */
    unbilledMicros: number
  }
  /** Every day of the range, empty days included (for the chart). */
  byDay: UsageLine[]
  byModel: UsageLine[]
  byAgent: UsageLine[]
  byProject: UsageLine[]
  lastRequestAt: string | null
}

export type UsageLogFilters = {
  from: DateTime
  to: DateTime
  model?: string
  agent?: string
  project?: string
  page: number
  perPage: number
}

export type UsageInvoiceLine = {
  id: number
  period: string
  status: string
  costMicros: number
  amountCents: number
  creditsAppliedCents: number
  chargedCents: number
  currency: string
  stripeInvoiceId: string | null
  paidAt: string | null
  failureReason: string | null
}

/**
 * What users see of their AI usage: totals, spend per day, breakdowns by
 * model, agent and project, the request log, and their usage invoices. Reads
 * only, in SQL aggregates over `usage_logs` (indexed on user and time), so a
 * month of a heavy user's requests sums in the database, not in Node.
 */
export default class UsageReportService {
  /** The range a name stands for at `now` (UTC days); `custom` takes from/to. */
  static range(
    name: RangeName,
    now: DateTime = DateTime.utc(),
    custom?: { from: DateTime; to: DateTime }
  ): UsageRange {
    const today = now.toUTC().startOf('day')
    switch (name) {
      case '7d':
        return { from: today.minus({ days: 6 }), to: today }
      case '30d':
        return { from: today.minus({ days: 29 }), to: today }
      case 'month':
        return { from: today.startOf('month'), to: today }
      case 'custom':
        if (!custom) throw new Error('A custom range needs from and to')
        return { from: custom.from.toUTC().startOf('day'), to: custom.to.toUTC().startOf('day') }
    }
  }

  protected scoped(user: User, range: UsageRange) {
    return db
      .from('usage_logs')
      .where('usage_logs.user_id', user.id)
      .where('usage_logs.started_at', '>=', range.from.toJSDate())
      .where('usage_logs.started_at', '<', range.to.plus({ days: 1 }).toJSDate())
  }

  /**
   * Totals and breakdowns of a range from the daily totals PostgreSQL keeps
   * beside usage_logs (usage_daily_totals, kept by triggers; see its
   * migration): a range of whole UTC days is a sum of at most a few hundred
   * rows per month whatever the number of requests, rolled up here into
   * totals, days, models, agents and projects. The last request's time is
   * one indexed lookup. Sums stay integers (bigint in SQL, exact in JS far
   * below 2^53).
   */
  async summary(user: User, name: RangeName, range: UsageRange): Promise<UsageSummary> {
    const result = await db.rawQuery<{ rows: GrainRow[] }>(
      `SELECT to_char(t.day, 'YYYY-MM-DD') AS day, t.model,
              NULLIF(t.agent_id, 0) AS agent_id, NULLIF(t.project_id, 0) AS project_id,
              a.name AS agent_name, a.slug AS agent_slug, p.name AS project_name,
              t.requests, t.prompt_tokens, t.completion_tokens, t.total_tokens AS tokens,
              t.cost_micros, t.unbilled_micros
         FROM usage_daily_totals t
         LEFT JOIN marketplace_agents a ON a.id = t.agent_id
         LEFT JOIN projects p ON p.id = t.project_id
        WHERE t.user_id = ? AND t.day >= ?::date AND t.day <= ?::date AND t.requests <> 0`,
      [user.id, range.from.toISODate(), range.to.toISODate()]
    )
    const latest = await db.rawQuery<{ rows: { at: Date | null }[] }>(
      `SELECT max(started_at) AS at FROM usage_logs
        WHERE user_id = ? AND started_at >= ? AND started_at < ?`,
      [user.id, range.from.toJSDate(), range.to.plus({ days: 1 }).toJSDate()]
    )
    const last = latest.rows[0]?.at ? new Date(latest.rows[0].at) : null

    const totals = {
      requests: 0,
      promptTokens: 0,
      completionTokens: 0,
      costMicros: 0,
      unbilledMicros: 0,
    }
    const days = new Map<string, UsageLine>()
    const models = new Map<string, UsageLine>()
    const agents = new Map<string, UsageLine>()
    const projects = new Map<string, UsageLine>()
    const add = (into: Map<string, UsageLine>, key: string, label: string, row: GrainRow) => {
      let entry = into.get(key)
      if (!entry) {
        entry = { key, label, requests: 0, tokens: 0, costMicros: 0 }
        into.set(key, entry)
      }
      entry.requests += Number(row.requests)
      entry.tokens += Number(row.tokens)
      entry.costMicros += Number(row.cost_micros)
    }
    for (const row of result.rows) {
      totals.requests += Number(row.requests)
      totals.promptTokens += Number(row.prompt_tokens)
      totals.completionTokens += Number(row.completion_tokens)
      totals.costMicros += Number(row.cost_micros)
      totals.unbilledMicros += Number(row.unbilled_micros)
      add(days, row.day, row.day, row)
      add(models, String(row.model), String(row.model), row)
      if (row.agent_id === null) add(agents, 'none', 'No agent', row)
      else add(agents, String(row.agent_slug), String(row.agent_name), row)
      if (row.project_id === null) add(projects, 'none', 'No project', row)
      else add(projects, String(row.project_id), String(row.project_name), row)
    }

    const byDay: UsageLine[] = []
    for (let day = range.from; day <= range.to; day = day.plus({ days: 1 })) {
      const key = day.toISODate()!
      byDay.push(days.get(key) ?? { key, label: key, requests: 0, tokens: 0, costMicros: 0 })
    }
    const byCost = (lines: Map<string, UsageLine>) =>
      [...lines.values()].sort(
        (a, b) => b.costMicros - a.costMicros || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
      )

    return {
      range: { name, from: range.from.toISODate()!, to: range.to.toISODate()! },
      totals: {
        requests: totals.requests,
        promptTokens: totals.promptTokens,
        completionTokens: totals.completionTokens,
        costMicros: totals.costMicros,
        costCents: microsToCents(totals.costMicros),
        unbilledMicros: totals.unbilledMicros,
      },
      byDay,
      byModel: byCost(models),
      byAgent: byCost(agents),
      byProject: byCost(projects),
      lastRequestAt: last ? DateTime.fromJSDate(last).toUTC().toISO() : null,
    }
  }

  /** The request log, newest first, filtered and paginated. */
  async logs(user: User, filters: UsageLogFilters) {
    const page = await UsageLog.query()
      .where('user_id', user.id)
      .where('started_at', '>=', filters.from.toJSDate())
      .where('started_at', '<', filters.to.plus({ days: 1 }).toJSDate())
      .if(filters.model, (query) =>
        query.where((scope) =>
          scope.where('model', filters.model!).orWhere('model_group', filters.model!)
        )
      )
      .if(filters.agent, (query) =>
        query.whereHas('agent', (agent) => agent.where('slug', filters.agent!))
      )
      .if(filters.project, (query) =>
        query.whereHas('project', (project) => project.where('slug', filters.project!))
      )
      .preload('agent', (agent) => agent.select('id', 'slug', 'name'))
      .preload('project', (project) => project.select('id', 'slug', 'name'))
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .paginate(filters.page, filters.perPage)
    const json = page.toJSON()
    return {
      meta: json.meta,
      data: page.all().map((row) => ({
        requestId: row.requestId,
        startedAt: row.startedAt.toISO(),
        model: row.model,
        modelGroup: row.modelGroup,
        promptTokens: row.promptTokens,
        completionTokens: row.completionTokens,
        totalTokens: row.totalTokens,
        cacheHit: row.cacheHit,
        costMicros: row.costMicros,
        agent: row.agent ? { slug: row.agent.slug, name: row.agent.name } : null,
        project: row.project ? { slug: row.project.slug, name: row.project.name } : null,
        invoiced: row.usageInvoiceId !== null,
      })),
    }
  }

  /** The user's usage invoices, newest period first. */
  async invoices(user: User, limit = 12): Promise<UsageInvoiceLine[]> {
    const rows = await UsageInvoice.query()
      .where('user_id', user.id)
      .orderBy('period', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
    return rows.map((row) => ({
      id: row.id,
      period: row.period,
      status: row.status,
      costMicros: row.costMicros,
      amountCents: row.amountCents,
      creditsAppliedCents: row.creditsAppliedCents,
      chargedCents: row.chargedCents,
      currency: row.currency,
      stripeInvoiceId: row.stripeInvoiceId,
      paidAt: row.paidAt?.toISO() ?? null,
      failureReason: row.failureReason,
    }))
  }
}
