import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import billingConfig from '#config/billing'
import SubscriptionService from '#services/subscription_service'
import { cancelSubscriptionValidator } from '#validators/subscription'
import { wantsJson } from '#support/negotiation'

/**
 * Premium: the JSON API under /api/billing (and the same actions for the
 * billing page's forms). Every rule is in SubscriptionService.
 */
@inject()
export default class SubscriptionsController {
  constructor(protected subscriptions: SubscriptionService) {}

  /** Prices, credit packages and limits, from config. */
  async config() {
    return {
      data: {
        currency: billingConfig.currency,
        premium: {
          amountCents: billingConfig.premium.priceCents,
          interval: billingConfig.premium.interval,
          pastDueGraceDays: billingConfig.premium.pastDueGraceDays,
        },
        creditPackages: billingConfig.creditPackages.map((pack) => ({
          key: pack.key,
          amountCents: pack.amountCents,
          credits: pack.amountCents,
        })),
        deploySlot: { amountCents: billingConfig.deploySlot.priceCents },
        limits: billingConfig.limits,
      },
    }
  }

  async show(ctx: HttpContext) {
    return { data: await this.subscriptions.current(ctx.auth.getUserOrFail()) }
  }

  /** Starts (or returns the open) Premium Checkout. */
  async subscribe(ctx: HttpContext) {
    const { session, reused } = await this.subscriptions.subscribe(ctx.auth.getUserOrFail())
    if (wantsJson(ctx)) {
      return ctx.response
        .status(reused ? 200 : 201)
        .send({ data: { id: session.id, url: session.url, reused } })
    }
    return ctx.inertia.location(session.url!)
  }

  async cancel(ctx: HttpContext) {
    const { mode = 'period_end' } = await ctx.request.validateUsing(cancelSubscriptionValidator)
    const user = ctx.auth.getUserOrFail()
    const summary =
      mode === 'now'
        ? await this.subscriptions.cancelNow(user)
        : await this.subscriptions.cancel(user)
    if (wantsJson(ctx)) return { data: summary }
    ctx.session.flash(
      'success',
      mode === 'now'
        ? 'Premium is cancelled. Your account is on the free plan now.'
        : 'Premium will end at the end of the paid period. You can resume it until then.'
    )
    return ctx.response.redirect().toPath('/billing')
  }

  async resume(ctx: HttpContext) {
    const summary = await this.subscriptions.resume(ctx.auth.getUserOrFail())
    if (wantsJson(ctx)) return { data: summary }
    ctx.session.flash('success', 'Premium resumed: it renews as usual.')
    return ctx.response.redirect().toPath('/billing')
  }

  /** A customer portal session URL (pages are sent there). */
  async portal(ctx: HttpContext) {
    const url = await this.subscriptions.portalUrl(ctx.auth.getUserOrFail())
    if (wantsJson(ctx)) return { data: { url } }
    return ctx.inertia.location(url)
  }
}
