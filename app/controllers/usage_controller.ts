import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import billingConfig from '#config/billing'
import UsageReportService from '#services/usage/usage_report_service'
import UsageSyncService from '#services/usage/usage_sync_service'
import { usageLogsValidator, usageRangeOf, usageRangeValidator } from '#validators/usage'
import { wantsJson } from '#support/negotiation'

/** Recent requests shown under the dashboard's breakdowns. */
const DASHBOARD_LOGS = 20

/**
 * AI usage: the dashboard (/usage), its JSON (GET /api/billing/usage), the
 * request log (GET /api/billing/usage/logs) and the sync button. Sums are
 * made by UsageReportService; syncing by UsageSyncService.
 */
@inject()
export default class UsageController {
  constructor(
    protected reports: UsageReportService,
    protected syncs: UsageSyncService
  ) {}

  /** GET /usage (page), GET /api/billing/usage (summary JSON). */
  async show(ctx: HttpContext) {
    const user = ctx.auth.getUserOrFail()
    const payload = await usageRangeValidator.validate(ctx.request.qs())
    const { name, range } = usageRangeOf(payload)
    const summary = await this.reports.summary(user, name, range)
    if (wantsJson(ctx)) return { data: summary }
    const logs = await this.reports.logs(user, { ...range, page: 1, perPage: DASHBOARD_LOGS })
    return ctx.inertia.render('usage/show', {
      summary,
      logs: logs.data,
      invoices: await this.reports.invoices(user),
      currency: billingConfig.currency,
    })
  }

  /** GET /api/billing/usage/logs: newest first, filtered by range, model, agent, project. */
  async logs(ctx: HttpContext) {
    const payload = await usageLogsValidator.validate(ctx.request.qs())
    const { range } = usageRangeOf(payload)
    return this.reports.logs(ctx.auth.getUserOrFail(), {
      ...range,
      model: payload.model,
      agent: payload.agent,
      project: payload.project,
      page: payload.page ?? 1,
      perPage: payload.perPage ?? 50,
    })
  }

  /**
   * POST /usage/sync, POST /api/billing/usage/sync: pulls what LiteLLM has
   * recorded since the last sync (the same run as cron's `usage:sync`, for
   * everyone's usage). While another sync runs it is not started twice: the
   * answer says so. LiteLLM unreachable: 503 and nothing changed.
   */
  async sync(ctx: HttpContext) {
    const report = await this.syncs.sync()
    const body = {
      status: report.status,
      inserted: report.counts.inserted,
      seen: report.counts.seen,
      watermark: report.watermarkAfter,
    }
    if (report.status === 'failed') {
      const message =
        'LiteLLM could not be reached, so usage was not synced. Try again in a few minutes.'
      if (wantsJson(ctx)) return ctx.response.serviceUnavailable({ error: message, data: body })
      ctx.session.flash('error', message)
      return ctx.response.redirect().back()
    }
    const message =
      report.status === 'skipped'
        ? 'A sync is already running: new usage appears in a moment.'
        : `Usage is up to date (${report.counts.inserted} new request${report.counts.inserted === 1 ? '' : 's'}).`
    if (wantsJson(ctx)) return { data: { ...body, message } }
    ctx.session.flash('success', message)
    return ctx.response.redirect().back()
  }
}
