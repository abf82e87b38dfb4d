import type { HttpContext } from '@adonisjs/core/http'
import billingConfig from '#config/billing'

/** The public plans page: Free vs Premium from config, for guests and members alike. */
export default class PlansController {
  async show({ inertia, auth }: HttpContext) {
    return inertia.render('plans/show', {
      currency: billingConfig.currency,
      premium: {
        amountCents: billingConfig.premium.priceCents,
        interval: billingConfig.premium.interval,
      },
      limits: billingConfig.limits,
      deploySlotCents: billingConfig.deploySlot.priceCents,
      creditPackages: billingConfig.creditPackages.map((pack) => ({
        key: pack.key,
        amountCents: pack.amountCents,
      })),
      currentPlan: auth.user?.plan ?? null,
    })
  }
}
