import { Exception } from '@adonisjs/core/exceptions'
import type { HttpContext } from '@adonisjs/core/http'
import { wantsJson } from '#support/negotiation'

/**
 * Stripe could not be reached or answered with a server error. Nothing was
 * recorded on our side; the action can be retried safely.
 */
export default class StripeUnavailableException extends Exception {
  static status = 503
  static code = 'E_STRIPE_UNAVAILABLE'

  static fromError(error: unknown) {
    const reason = error instanceof Error ? error.message : String(error)
    return new StripeUnavailableException(
      `Payments are temporarily unavailable (${reason}). Nothing was charged; please try again in a minute.`,
      { cause: error }
    )
  }

  /** Pages get the message as a flash on the page they came from; JSON clients a 503. */
  async handle(error: this, ctx: HttpContext) {
    if (!wantsJson(ctx) && ctx.session) {
      ctx.session.flash('error', error.message)
      return ctx.response.redirect().back()
    }
    return ctx.response.status(error.status).send({ error: error.message, code: error.code })
  }
}
