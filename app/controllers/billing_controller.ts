import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import billingConfig from '#config/billing'
import CheckoutService, { type FulfilResult, type Purchase } from '#services/checkout_service'
import CheckoutMismatchException from '#exceptions/checkout_mismatch_exception'
import StripeUnavailableException from '#exceptions/stripe_unavailable_exception'
import PlanLimits from '#services/plan_limits'
import SubscriptionService from '#services/subscription_service'
import BillingOverviewService from '#services/billing_overview_service'
import UsageReportService from '#services/usage/usage_report_service'
import { checkoutValidator, purchaseRequestKey } from '#validators/billing'
import { wantsJson } from '#support/negotiation'

/**
 * The billing page, the start of a Checkout and the page Checkout returns to.
 * The return page and Stripe's webhook both call CheckoutService.fulfil, which
 * grants what was paid once, whichever comes first.
 */
@inject()
export default class BillingController {
  constructor(
    protected checkout: CheckoutService,
    protected subscriptions: SubscriptionService,
    protected overview: BillingOverviewService,
    protected usageReports: UsageReportService
  ) {}

  /** The billing dashboard: subscription, credits, deploy slots, recent transactions, offers. */
  async show(ctx: HttpContext) {
    const user = ctx.auth.getUserOrFail()
    // The transactions pager: a bad or missing ?page= shows the first page.
    const page = Math.min(
      Math.max(Number.parseInt(String(ctx.request.input('page', '1')), 10) || 1, 1),
      100_000
    )
    const overview = await this.overview.forUser(user, { page })
    return ctx.inertia.render('billing/show', {
      plan: user.plan,
      limits: PlanLimits.forUser(user),
      subscription: overview.subscription,
      pastDueGraceDays: billingConfig.premium.pastDueGraceDays,
      creditsBalanceCents: overview.creditsBalanceCents,
      usage: overview.usage,
      transactions: overview.transactions,
      usageInvoices: await this.usageReports.invoices(user, 6),
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
    const requestKey = await purchaseRequestKey(ctx)
    const purchase: Purchase =
      payload.kind === 'credits'
        ? { kind: 'credits', packageKey: payload.packageKey! }
        : { kind: payload.kind }
    const user = ctx.auth.getUserOrFail()
    // Premium goes through the subscription service: it refuses a second live
    // subscription and hands back a session that is still open instead of a new one.
    const { session } =
      purchase.kind === 'premium'
        ? await this.subscriptions.subscribe(user)
        : { session: await this.checkout.start(user, purchase, { requestKey }) }
    if (wantsJson(ctx)) {
      return ctx.response.created({ data: { id: session.id, url: session.url } })
    }
    return ctx.inertia.location(session.url!)
  }

  /** Where Checkout sends the user back: fulfils a paid session (or shows it is processing). */
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
    // The page and the webhook race safely: fulfil is idempotent on the session id.
    let fulfilment: {
      status: FulfilResult['status'] | 'refused' | 'unavailable'
      message: string | null
    }
    try {
      // Kinds fulfilled elsewhere (none yet) are left to their webhook.
      const result = CheckoutService.isOurs(session)
        ? await this.checkout.fulfil(session, { source: 'success_page' })
        : { status: 'pending' as const }
      fulfilment = { status: result.status, message: null }
    } catch (error) {
      if (error instanceof CheckoutMismatchException) {
        fulfilment = { status: 'refused', message: error.message }
      } else if (error instanceof StripeUnavailableException) {
        fulfilment = { status: 'unavailable', message: null }
      } else {
        throw error
      }
    }
    return ctx.inertia.render('billing/success', {
      fulfilment,
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
