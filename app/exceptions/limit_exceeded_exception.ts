import { Exception } from '@adonisjs/core/exceptions'
import type { HttpContext } from '@adonisjs/core/http'
import { wantsJson } from '#support/negotiation'

/**
 * A user tried to go past a plan limit (projects, deployments).
 */
export default class LimitExceededException extends Exception {
  static status = 403
  static code = 'E_LIMIT_EXCEEDED'

  static projects(limit: number, plan: string) {
    return new LimitExceededException(
      `Your ${plan} plan allows ${limit} project${limit === 1 ? '' : 's'}. Upgrade to Premium or delete a project to create another.`
    )
  }

  async handle(error: this, ctx: HttpContext) {
    if (!wantsJson(ctx)) {
      ctx.session.flash('error', error.message)
      return ctx.response.redirect().back()
    }
    return ctx.response.status(error.status).send({ error: error.message, code: error.code })
  }
}
