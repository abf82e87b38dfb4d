import { Exception } from '@adonisjs/core/exceptions'
import type { HttpContext } from '@adonisjs/core/http'

/**
 * A webhook we refuse: no or a wrong signature, a timestamp outside the
 * tolerance, or a body that is not a Stripe event. Nothing is recorded;
 * Stripe (or whoever sent it) gets a 400 with the reason.
 */
export default class InvalidWebhookException extends Exception {
  static status = 400
  static code = 'E_INVALID_WEBHOOK'

  async handle(error: this, ctx: HttpContext) {
    return ctx.response.status(error.status).send({ error: error.message, code: error.code })
  }
}
