import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import billingConfig from '#config/billing'
import CreatorService from '#services/marketplace/creator_service'
import { MAX_MICROS_PER_MILLION } from '#validators/creator'

/** The creator's earnings page and GET /api/billing/earnings: the same overview, two shapes. */
@inject()
export default class CreatorController {
  constructor(protected creators: CreatorService) {}

  /** GET /creator: balances, per-agent figures, payouts, onboarding state, the creator's agents. */
  async show(ctx: HttpContext) {
    const overview = await this.creators.overview(ctx.auth.getUserOrFail())
    return ctx.inertia.render('creator/show', {
      ...overview,
      priceLimits: {
        minPriceCents: billingConfig.marketplace.minPriceCents,
        maxPriceCents: billingConfig.marketplace.maxPriceCents,
        maxMicrosPerMillion: MAX_MICROS_PER_MILLION,
      },
    })
  }

  /** GET /api/billing/earnings */
  async earnings(ctx: HttpContext) {
    return { data: await this.creators.overview(ctx.auth.getUserOrFail()) }
  }
}
