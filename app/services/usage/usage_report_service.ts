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

  async summary(user: User, name: RangeName, range: UsageRange): Promise<UsageSummary> {
    const [totals] = await this.scoped(user, range).select(
      db.raw('COUNT(*)::bigint AS requests'),
      db.raw('COALESCE(SUM(prompt_tokens), 0)::bigint AS prompt_tokens'),
      db.raw('COALESCE(SUM(completion_tokens), 0)::bigint AS completion_tokens'),
      db.raw('COALESCE(SUM(cost_micros), 0)::bigint AS cost_micros'),
      db.raw(
        'COALESCE(SUM(cost_micros) FILTER (WHERE usage_invoice_id IS NULL), 0)::bigint AS unbilled_micros'
      ),
      db.raw('MAX(started_at) AS last_request_at')
    )
    const line = (row: Record<string, unknown>, key: string, label: string): UsageLine => ({
      key,
      label,
      requests: Number(row.requests),
      tokens: Number(row.tokens),
      costMicros: Number(row.cost_micros),
    })
    const aggregates = [
      db.raw('COUNT(*)::bigint AS requests'),
      db.raw('COALESCE(SUM(total_tokens), 0)::bigint AS tokens'),
      db.raw('COALESCE(SUM(cost_micros), 0)::bigint AS cost_micros'),
    ]

    const days = await this.scoped(user, range)
      .select(
        db.raw(`to_char(date_trunc('day', started_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day`),
        ...aggregates
      )
      .groupBy('day')
    const byDayKey = new Map(days.map((row) => [String(row.day), row]))
    const byDay: UsageLine[] = []
    for (let day = range.from; day <= range.to; day = day.plus({ days: 1 })) {
      const key = day.toISODate()!
      const row = byDayKey.get(key)
      byDay.push(
        row ? line(row, key, key) : { key, label: key, requests: 0, tokens: 0, costMicros: 0 }
      )
    }

    const models = await this.scoped(user, range)
      .select(db.raw('COALESCE(model_group, model) AS model'), ...aggregates)
      .groupByRaw('COALESCE(model_group, model)')
      .orderBy('cost_micros', 'desc')
    const agents = await this.scoped(user, range)
      .leftJoin('marketplace_agents', 'marketplace_agents.id', 'usage_logs.agent_id')
      .select(
        'usage_logs.agent_id',
        'marketplace_agents.name',
        'marketplace_agents.slug',
        ...aggregates
      )
      .groupBy('usage_logs.agent_id', 'marketplace_agents.name', 'marketplace_agents.slug')
      .orderBy('cost_micros', 'desc')
    const projects = await this.scoped(user, range)
      .leftJoin('projects', 'projects.id', 'usage_logs.project_id')
      .select('usage_logs.project_id', 'projects.name', ...aggregates)
      .groupBy('usage_logs.project_id', 'projects.name')
      .orderBy('cost_micros', 'desc')

    const costMicros = Number(totals.cost_micros)
    return {
      range: { name, from: range.from.toISODate()!, to: range.to.toISODate()! },
      totals: {
        requests: Number(totals.requests),
        promptTokens: Number(totals.prompt_tokens),
        completionTokens: Number(totals.completion_tokens),
        costMicros,
        costCents: microsToCents(costMicros),
        unbilledMicros: Number(totals.unbilled_micros),
      },
      byDay,
      byModel: models.map((row) => line(row, String(row.model), String(row.model))),
      byAgent: agents.map((row) =>
        row.agent_id === null
          ? line(row, 'none', 'No agent')
          : line(row, String(row.slug), String(row.name))
      ),
      byProject: projects.map((row) =>
        row.project_id === null
          ? line(row, 'none', 'No project')
          : line(row, String(row.project_id), String(row.name))
      ),
      lastRequestAt: totals.last_request_at
        ? DateTime.fromJSDate(new Date(totals.last_request_at)).toUTC().toISO()
        : null,
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
