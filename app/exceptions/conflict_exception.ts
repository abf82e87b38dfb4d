import { Exception } from '@adonisjs/core/exceptions'
import type { HttpContext } from '@adonisjs/core/http'
import { wantsJson } from '#support/negotiation'

/**
 * A request that does not fit the current state (409): the API gets the
 * message and code, a page gets it as a flash message on the page it came
 * from. Nothing was changed.
 */
export default class ConflictException extends Exception {
  static status = 409
  static code = 'E_CONFLICT'

  async handle(error: this, ctx: HttpContext) {
    if (!wantsJson(ctx) && ctx.session) {
      ctx.session.flash('error', error.message)
      return ctx.response.redirect().back()
    }
    return ctx.response.status(error.status).send({ error: error.message, code: error.code })
  }
}
