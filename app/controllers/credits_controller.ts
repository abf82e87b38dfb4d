import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import billingConfig from '#config/billing'
import CheckoutService from '#services/checkout_service'
import CreditService from '#services/credit_service'
import { creditPurchaseValidator, pageValidator } from '#validators/credits'
import { purchaseRequestKey } from '#validators/billing'

/** Credits and deploy-slot purchases over the JSON API (/api/billing/credits…). */
@inject()
export default class CreditsController {
  constructor(
    protected checkout: CheckoutService,
    protected credits: CreditService
  ) {}

  /** GET /api/billing/credits: the balance and the packages on sale. */
  async show(ctx: HttpContext) {
    const user = ctx.auth.getUserOrFail()
    return {
      data: {
        balanceCents: await this.credits.balance(user),
        currency: billingConfig.currency,
        packages: billingConfig.creditPackages.map((pack) => ({
          key: pack.key,
          amountCents: pack.amountCents,
          creditsCents: pack.amountCents,
        })),
      },
    }
  }

  /**
   * POST /api/billing/credits/purchase {package}: a Checkout for a credit
   * pack. With an Idempotency-Key header, a repeat returns the same session.
   */
  async purchase(ctx: HttpContext) {
    const payload = await ctx.request.validateUsing(creditPurchaseValidator)
    const requestKey = await purchaseRequestKey(ctx)
    const session = await this.checkout.start(
      ctx.auth.getUserOrFail(),
      { kind: 'credits', packageKey: payload.package },
      { requestKey }
    )
    return ctx.response.created({ data: { id: session.id, url: session.url } })
  }

  /** POST /api/projects/deployment/purchase-slot: a Checkout for one extra deploy slot. */
  async purchaseSlot(ctx: HttpContext) {
    const requestKey = await purchaseRequestKey(ctx)
    const session = await this.checkout.start(
      ctx.auth.getUserOrFail(),
      { kind: 'deploy_slot' },
      { requestKey }
    )
    return ctx.response.created({ data: { id: session.id, url: session.url } })
  }

  /** GET /api/billing/credits/history: ledger entries, newest first. */
  async history(ctx: HttpContext) {
    const { page, perPage } = await pageValidator.validate(ctx.request.qs())
    const entries = await this.credits.history(ctx.auth.getUserOrFail(), { page, perPage })
    const json = entries.serialize()
    return { meta: json.meta, data: json.data }
  }

  /** GET /api/billing/transactions: ledger entries and purchases, newest first. */
  async transactions(ctx: HttpContext) {
    const { page, perPage } = await pageValidator.validate(ctx.request.qs())
    return this.credits.transactions(ctx.auth.getUserOrFail(), { page, perPage })
  }
}
