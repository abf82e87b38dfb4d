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

  /** `limit` counts the plan's deploys plus purchased slots (`slots` of them). */
  static deploys(limit: number, plan: string, slots = 0) {
    const extra = slots > 0 ? ` (including ${slots} purchased slot${slots === 1 ? '' : 's'})` : ''
    return new LimitExceededException(
      `Your ${plan} plan allows ${limit} deployment${limit === 1 ? '' : 's'} at a time${extra}. Undeploy a project, upgrade to Premium or buy a deploy slot to deploy another.`
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
