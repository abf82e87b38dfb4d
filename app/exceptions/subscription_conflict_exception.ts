import { Exception } from '@adonisjs/core/exceptions'
import type { HttpContext } from '@adonisjs/core/http'
import { wantsJson } from '#support/negotiation'

/**
 * A subscription action that does not fit the subscription's state:
 * subscribing while Premium is live, cancelling without a subscription,
 * resuming one that is not set to cancel. Nothing was changed.
 */
export default class SubscriptionConflictException extends Exception {
  static status = 409
  static code = 'E_SUBSCRIPTION_CONFLICT'

  async handle(error: this, ctx: HttpContext) {
    if (!wantsJson(ctx) && ctx.session) {
      ctx.session.flash('error', error.message)
      return ctx.response.redirect().back()
    }
    return ctx.response.status(error.status).send({ error: error.message, code: error.code })
  }
}
