import { DateTime } from 'luxon'
import db from '@adonisjs/lucid/services/db'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import Project from '#models/project'
import User from '#models/user'
import PlanLimits from '#services/plan_limits'
import LimitExceededException from '#exceptions/limit_exceeded_exception'

/** Projects and deployments a user has against what their plan (and slots) allow. */
export interface DeploymentLimits {
  plan: User['plan']
  projects: { used: number; limit: number }
  deploys: { used: number; limit: number; planLimit: number }
  slots: { active: number }
}

/**
 * Deploying and undeploying projects ("deploy mode": kept running 24/7).
 * Counts and changes happen under a lock on the user's row, the same lock
 * ProjectService.create and SubscriptionService.apply take, so concurrent
 * requests cannot pass the deploy limit (plan deploys + purchased slots).
 */
export default class DeploymentService {
  /** Deploys the project; deploying a deployed project changes nothing. */
  async deploy(user: User, project: Project): Promise<Project> {
    return db.transaction(async (trx) => {
      const owner = await DeploymentService.lockOwner(user, trx)
      const locked = await DeploymentService.ownedProject(owner, project, trx)
      if (locked.isDeployed) return locked

      const used = await DeploymentService.deployedCount(owner, trx)
      const limit = await PlanLimits.deployLimit(owner, trx)
      const slots = Math.max(0, limit - PlanLimits.forUser(owner).deploys)
      if (used >= limit) throw LimitExceededException.deploys(limit, owner.plan, slots)

      locked.merge({
        isDeployed: true,
        deployedAt: DateTime.utc(),
        stoppedAt: null,
        stoppedReason: null,
      })
      await locked.save()
      return locked
    })
  }

  /** Stops the project's deployment; undeploying a stopped project changes nothing. */
  async undeploy(user: User, project: Project): Promise<Project> {
    return db.transaction(async (trx) => {
      const owner = await DeploymentService.lockOwner(user, trx)
      const locked = await DeploymentService.ownedProject(owner, project, trx)
      if (!locked.isDeployed) return locked
      locked.merge({ isDeployed: false, stoppedAt: DateTime.utc(), stoppedReason: null })
      await locked.save()
      return locked
    })
  }

  /** Projects and deployments used against the limits, for the API and pages. */
  async limits(user: User): Promise<DeploymentLimits> {
    const fresh = await User.findOrFail(user.id)
    const plan = PlanLimits.forUser(fresh)
    const deployLimit = await PlanLimits.deployLimit(fresh)
    const slots = Math.max(0, deployLimit - plan.deploys)
    const [{ projects, deployed }] = await db
      .from('projects')
      .where('user_id', fresh.id)
      .select(
        db.raw('count(*)::int as projects'),
        db.raw('count(*) filter (where is_deployed)::int as deployed')
      )
    return {
      plan: fresh.plan,
      projects: { used: Number(projects), limit: plan.projects },
      deploys: { used: Number(deployed), limit: deployLimit, planLimit: plan.deploys },
      slots: { active: slots },
    }
  }

  /**
   * After a limit went down (a downgrade to free, a refunded slot): stops the
   * deployments beyond the limit, newest first, each with `reason` saying why.
   * Deletes nothing. The caller holds the user's row lock in `trx` and has
   * already written the new plan on `owner`. Returns the stopped projects.
   */
  async stopExtraDeployments(
    owner: User,
    trx: TransactionClientContract,
    reason: string
  ): Promise<Project[]> {
    const limit = await PlanLimits.deployLimit(owner, trx)
    const deployed = await Project.query({ client: trx })
      .where('user_id', owner.id)
      .where('is_deployed', true)
      .orderBy('deployed_at', 'desc')
      .orderBy('id', 'desc')
      .forUpdate()
    const extra = deployed.slice(0, Math.max(0, deployed.length - limit))
    const now = DateTime.utc()
    for (const project of extra) {
      project.merge({ isDeployed: false, stoppedAt: now, stoppedReason: reason.slice(0, 255) })
      await project.save()
    }
    return extra
  }

  /** The message stored on a deployment stopped by a downgrade. */
  static downgradeReason(why: string, limit: number) {
    return `Stopped automatically: ${why}, and your plan now allows ${limit} deployment${limit === 1 ? '' : 's'}. Upgrade to Premium or buy a deploy slot to deploy it again.`
  }

  static lockOwner(user: User, trx: TransactionClientContract) {
    return User.query({ client: trx }).where('id', user.id).forUpdate().firstOrFail()
  }

  protected static async ownedProject(
    owner: User,
    project: Project,
    trx: TransactionClientContract
  ) {
    return Project.query({ client: trx })
      .where('id', project.id)
      .where('user_id', owner.id)
      .forUpdate()
      .firstOrFail()
  }

  protected static async deployedCount(owner: User, trx: TransactionClientContract) {
    const [{ count }] = await trx
      .from('projects')
      .where('user_id', owner.id)
      .where('is_deployed', true)
      .count('* as count')
    return Number(count)
  }
}
