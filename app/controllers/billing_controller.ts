import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import billingConfig from '#config/billing'
import CheckoutService, { type Purchase } from '#services/checkout_service'
import PlanLimits from '#services/plan_limits'
import { checkoutValidator } from '#validators/billing'
import { wantsJson } from '#support/negotiation'

/**
 * The billing page, the start of a Checkout and the page Checkout returns to.
 * Fulfilment (credits, Premium, slots) happens when Stripe's webhook confirms
 * the payment, not here.
 */
@inject()
export default class BillingController {
  constructor(protected checkout: CheckoutService) {}

  async show(ctx: HttpContext) {
    const user = ctx.auth.getUserOrFail()
    return ctx.inertia.render('billing/show', {
      plan: user.plan,
      limits: PlanLimits.forUser(user),
      currency: billingConfig.currency,
      offers: {
        premium: {
          amountCents: billingConfig.premium.priceCents,
          interval: billingConfig.premium.interval,
          limits: billingConfig.limits.premium,
          freeLimits: billingConfig.limits.free,
        },
        creditPackages: billingConfig.creditPackages.map((pack) => ({
          key: pack.key,
          amountCents: pack.amountCents,
        })),
        deploySlot: { amountCents: billingConfig.deploySlot.priceCents },
      },
      checkoutCanceled: ctx.request.input('checkout') === 'canceled',
    })
  }

  /** Starts a Checkout and sends the browser (or the API client) to Stripe's page. */
  async start(ctx: HttpContext) {
    const payload = await ctx.request.validateUsing(checkoutValidator)
    const purchase: Purchase =
      payload.kind === 'credits'
        ? { kind: 'credits', packageKey: payload.packageKey! }
        : { kind: payload.kind }
    const session = await this.checkout.start(ctx.auth.getUserOrFail(), purchase)
    if (wantsJson(ctx)) {
      return ctx.response.created({ data: { id: session.id, url: session.url } })
    }
    return ctx.inertia.location(session.url!)
  }

  /** Where Checkout sends the user back; shows what was bought while the webhook confirms it. */
  async success(ctx: HttpContext) {
    const user = ctx.auth.getUserOrFail()
    const sessionId = String(ctx.request.input('session_id', ''))
    const session = await this.checkout.returned(user, sessionId)
    if (!session) {
      ctx.session.flash(
        'error',
        'We could not find that checkout. Nothing was charged by this page.'
      )
      return ctx.response.redirect().toPath('/billing')
    }
    return ctx.inertia.render('billing/success', {
      checkout: {
        id: session.id,
        kind: session.metadata?.kind ?? null,
        status: session.status,
        paymentStatus: session.payment_status,
        amountTotalCents: session.amount_total,
        currency: session.currency,
      },
    })
  }
}
