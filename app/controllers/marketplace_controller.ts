import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import billingConfig from '#config/billing'
import AgentCatalogService from '#services/marketplace/agent_catalog_service'
import AgentEntitlementService from '#services/marketplace/entitlement_service'
import MarketplaceException from '#exceptions/marketplace_exception'
import { purchaseRequestKey } from '#validators/billing'
import { wantsJson } from '#support/negotiation'

/**
 * The marketplace: the agent list, an agent's page, getting an agent (free
 * and per-token ones at once, monthly and one-time ones through Checkout),
 * cancelling a monthly one, and the user's agents. Pages and the JSON API
 * share these actions; the rules are in AgentEntitlementService.
 */
@inject()
export default class MarketplaceController {
  constructor(
    protected catalog: AgentCatalogService,
    protected entitlements: AgentEntitlementService
  ) {}

  /** A published agent by slug (404 otherwise). */
  protected async agent(ctx: HttpContext) {
    const agent = await this.catalog.find(String(ctx.params.slug))
    if (!agent.isPublished) throw MarketplaceException.agentNotFound(String(ctx.params.slug))
    return agent
  }

  /** GET /marketplace, GET /api/marketplace/agents */
  async index(ctx: HttpContext) {
    const user = ctx.auth.getUserOrFail()
    const agents = await this.entitlements.listings(user, await this.catalog.list())
    if (wantsJson(ctx)) return { data: agents }
    return ctx.inertia.render('marketplace/index', { agents, currency: billingConfig.currency })
  }

  /** GET /marketplace/:slug, GET /api/marketplace/agents/:slug */
  async show(ctx: HttpContext) {
    const user = ctx.auth.getUserOrFail()
    const [agent] = await this.entitlements.listings(user, [await this.agent(ctx)])
    if (wantsJson(ctx)) return { data: agent }
    return ctx.inertia.render('marketplace/show', { agent, currency: billingConfig.currency })
  }

  /**
   * POST /marketplace/:slug/purchase, POST /api/marketplace/agents/:slug/purchase:
   * adds a free or per-token agent (201 with the entitlement), or opens the
   * Checkout to pay for a monthly or one-time one (201 with its URL; the page
   * goes there). A form's key / Idempotency-Key makes a repeat safe.
   */
  async purchase(ctx: HttpContext) {
    const user = ctx.auth.getUserOrFail()
    const agent = await this.agent(ctx)
    const requestKey = await purchaseRequestKey(ctx)
    const result = await this.entitlements.acquire(user, agent, { requestKey })
    if (result.outcome === 'checkout') {
      if (wantsJson(ctx)) {
        return ctx.response.created({
          data: { checkout: { id: result.session.id, url: result.session.url } },
        })
      }
      return ctx.inertia.location(result.session.url!)
    }
    if (wantsJson(ctx)) {
      return ctx.response.created({
        data: { entitlement: { id: result.entitlement.id, status: result.entitlement.status } },
      })
    }
    ctx.session.flash('success', `${agent.name} is now in your agents.`)
    return ctx.response.redirect().toPath(`/marketplace/${agent.slug}`)
  }

  /** POST /marketplace/:slug/cancel, POST /api/marketplace/agents/:slug/cancel: a monthly agent ends with its period. */
  async cancel(ctx: HttpContext) {
    const agent = await this.agent(ctx)
    const entitlement = await this.entitlements.cancel(ctx.auth.getUserOrFail(), agent)
    if (wantsJson(ctx)) {
      return {
        data: {
          status: entitlement.status,
          cancelAtPeriodEnd: entitlement.cancelAtPeriodEnd,
          currentPeriodEnd: entitlement.currentPeriodEnd?.toISO() ?? null,
        },
      }
    }
    ctx.session.flash(
      'success',
      `Your subscription to ${agent.name} ends on ${entitlement.currentPeriodEnd?.toFormat('LLL d, yyyy') ?? 'its renewal date'}.`
    )
    return ctx.response.redirect().toPath(`/marketplace/${agent.slug}`)
  }

  /** GET /marketplace/mine, GET /api/billing/agents: the user's agents. */
  async mine(ctx: HttpContext) {
    const agents = await this.entitlements.owned(ctx.auth.getUserOrFail())
    if (wantsJson(ctx)) return { data: agents }
    return ctx.inertia.render('marketplace/mine', { agents })
  }
}
