import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import CreatorService from '#services/marketplace/creator_service'
import type MarketplaceAgent from '#models/marketplace_agent'
import MarketplaceException from '#exceptions/marketplace_exception'
import { changePriceValidator, pricingFrom, publishAgentValidator } from '#validators/creator'
import { wantsJson } from '#support/negotiation'

/**
 * A creator's agents: publish a new one, change its price, unpublish or
 * publish it again. Pages get a flash and the earnings page; the JSON API
 * the agent. The catalogue keeps Stripe's product and price in step.
 */
@inject()
export default class CreatorAgentsController {
  constructor(protected creators: CreatorService) {}

  /** POST /creator/agents */
  async store(ctx: HttpContext) {
    const payload = await ctx.request.validateUsing(publishAgentValidator)
    return this.respond(
      ctx,
      201,
      () =>
        this.creators.publishAgent(ctx.auth.getUserOrFail(), {
          name: payload.name,
          description: payload.description ?? '',
          pricing: pricingFrom(payload),
        }),
      (agent) => `"${agent.name}" is published.`
    )
  }

  /** PUT /creator/agents/:id/price */
  async updatePrice(ctx: HttpContext) {
    const payload = await ctx.request.validateUsing(changePriceValidator)
    return this.respond(
      ctx,
      200,
      () =>
        this.creators.changeAgent(ctx.auth.getUserOrFail(), Number(ctx.params.id), {
          pricing: pricingFrom(payload),
        }),
      (agent) => `The price of "${agent.name}" is changed. New buyers pay the new price.`
    )
  }

  /** POST /creator/agents/:id/publish */
  async publish(ctx: HttpContext) {
    return this.respond(
      ctx,
      200,
      () =>
        this.creators.changeAgent(ctx.auth.getUserOrFail(), Number(ctx.params.id), {
          isPublished: true,
        }),
      (agent) => `"${agent.name}" is published again.`
    )
  }

  /** POST /creator/agents/:id/unpublish */
  async unpublish(ctx: HttpContext) {
    return this.respond(
      ctx,
      200,
      () =>
        this.creators.changeAgent(ctx.auth.getUserOrFail(), Number(ctx.params.id), {
          isPublished: false,
        }),
      (agent) =>
        `"${agent.name}" is unpublished: it is no longer listed or sold. Existing buyers keep it.`
    )
  }

  /**
   * Pages: a flash (the Stripe sync state included) and back to the earnings
   * page; a refused change (MarketplaceException 422) is a flash too.
   * JSON: the agent, or the exception's own status.
   */
  protected async respond(
    ctx: HttpContext,
    status: 200 | 201,
    action: () => Promise<MarketplaceAgent>,
    done: (agent: MarketplaceAgent) => string
  ) {
    let agent: MarketplaceAgent
    try {
      agent = await action()
    } catch (error) {
      if (wantsJson(ctx) || !(error instanceof MarketplaceException) || error.status !== 422) {
        throw error
      }
      ctx.session.flash('error', error.message)
      return ctx.response.redirect().toPath('/creator')
    }
    if (wantsJson(ctx)) {
      return ctx.response.status(status).send({ data: CreatorService.agentView(agent) })
    }
    if (!agent.isInStripeSync) {
      ctx.session.flash(
        'error',
        `${done(agent)} Stripe could not be reached to set its price, so it is not on sale yet: save the price again in a minute to finish.`
      )
    } else {
      ctx.session.flash('success', done(agent))
    }
    return ctx.response.redirect().toPath('/creator')
  }
}
