import { randomUUID } from 'node:crypto'
import { Exception } from '@adonisjs/core/exceptions'
import type { HttpContext } from '@adonisjs/core/http'
import { wantsJson } from '#support/negotiation'

/**
 * Which limit was hit, flashed as `limit` for the pages (the projects page
 * opens its upgrade modal with it). `limit` is what the user may have;
 * for deploys it counts the plan's deploys plus `slots` purchased slots.
 * `id` is new for every refusal, so a page tells a new hit from the last one.
 */
export type LimitHit = {
  id: string
  kind: 'projects' | 'deploys'
  limit: number
  plan: string
  slots: number
  message: string
}

/**
 * A user tried to go past a plan limit (projects, deployments).
 */
export default class LimitExceededException extends Exception {
  static status = 403
  static code = 'E_LIMIT_EXCEEDED'

  declare hit: LimitHit

  static projects(limit: number, plan: string) {
    return LimitExceededException.make(
      { kind: 'projects', limit, plan, slots: 0 },
      `Your ${plan} plan allows ${limit} project${limit === 1 ? '' : 's'}. Upgrade to Premium or delete a project to create another.`
    )
  }

  /** `limit` counts the plan's deploys plus purchased slots (`slots` of them). */
  static deploys(limit: number, plan: string, slots = 0) {
    const extra = slots > 0 ? ` (including ${slots} purchased slot${slots === 1 ? '' : 's'})` : ''
    return LimitExceededException.make(
      { kind: 'deploys', limit, plan, slots },
      `Your ${plan} plan allows ${limit} deployment${limit === 1 ? '' : 's'} at a time${extra}. Undeploy a project, upgrade to Premium or buy a deploy slot to deploy another.`
    )
  }

  protected static make(hit: Omit<LimitHit, 'id' | 'message'>, message: string) {
    const error = new LimitExceededException(message)
    error.hit = { id: randomUUID(), ...hit, message }
    return error
  }

  async handle(error: this, ctx: HttpContext) {
    if (!wantsJson(ctx)) {
      ctx.session.flash('error', error.message)
      if (error.hit) ctx.session.flash('limit', error.hit)
      return ctx.response.redirect().back()
    }
    return ctx.response.status(error.status).send({ error: error.message, code: error.code })
  }
}
