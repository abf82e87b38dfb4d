import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import ConnectService from '#services/marketplace/connect_service'
import StripeUnavailableException from '#exceptions/stripe_unavailable_exception'
import { wantsJson } from '#support/negotiation'

/**
 * Stripe Connect onboarding for creators: the page button and
 * POST /api/billing/connect hand out an account link (the Express account is
 * created on first use), and Stripe sends the creator back to the return or
 * refresh URL (config/billing.ts `marketplace.onboarding*Path`).
 */
@inject()
export default class CreatorConnectController {
  constructor(protected connect: ConnectService) {}

  /** POST /creator/connect and POST /api/billing/connect: a fresh onboarding link. */
  async start(ctx: HttpContext) {
    const link = await this.connect.onboardingLink(ctx.auth.getUserOrFail())
    if (wantsJson(ctx)) {
      return ctx.response.created({
        data: {
          url: link.url,
          stripeAccountId: link.stripeAccountId,
          expiresAt: link.expiresAt.toISO(),
        },
      })
    }
    // An Inertia visit leaves the app through X-Inertia-Location; a plain form post redirects.
    if (ctx.request.header('x-inertia')) return ctx.inertia.location(link.url)
    return ctx.response.redirect().toPath(link.url)
  }

  /**
   * GET /creator/payouts?onboarding=done (Stripe's return_url): reads the
   * account from Stripe now rather than waiting for account.updated, then
   * shows the earnings page with what it found.
   */
  async returned(ctx: HttpContext) {
    if (ctx.request.input('onboarding') !== 'done')
      return ctx.response.redirect().toPath('/creator')
    try {
      const status = await this.connect.refresh(ctx.auth.getUserOrFail())
      if (status.state === 'enabled') {
        ctx.session.flash(
          'success',
          'Payouts are set up. Your earnings will be paid to your Stripe account.'
        )
      } else if (status.state === 'none') {
        ctx.session.flash('error', 'You have not started payout onboarding yet.')
      } else {
        ctx.session.flash(
          'error',
          'Stripe still needs some details before you can be paid. Your earnings are kept; continue onboarding when you are ready.'
        )
      }
    } catch (error) {
      if (!(error instanceof StripeUnavailableException)) throw error
      ctx.session.flash(
        'error',
        'We could not check your payout status with Stripe just now. It updates on its own shortly; reload this page in a minute.'
      )
    }
    return ctx.response.redirect().toPath('/creator')
  }

  /** GET /creator/payouts/onboarding (Stripe's refresh_url: the link expired or was used): a new link. */
  async refreshLink(ctx: HttpContext) {
    try {
      // Renews the link of onboarding already started; never opens an account (a GET).
      const link = await this.connect.renewOnboardingLink(ctx.auth.getUserOrFail())
      if (!link) {
        ctx.session.flash('error', 'Start payout onboarding from this page.')
        return ctx.response.redirect().toPath('/creator')
      }
      return ctx.response.redirect().toPath(link.url)
    } catch (error) {
      if (!(error instanceof StripeUnavailableException)) throw error
      ctx.session.flash('error', error.message)
      return ctx.response.redirect().toPath('/creator')
    }
  }
}
