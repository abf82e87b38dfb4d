import db from '@adonisjs/lucid/services/db'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import string from '@adonisjs/core/helpers/string'
import Project from '#models/project'
import User from '#models/user'
import PlanLimits from '#services/plan_limits'
import LimitExceededException from '#exceptions/limit_exceeded_exception'

/**
 * Projects of a user. Creation counts and inserts under a lock on the
 * user's row, so concurrent requests cannot pass the plan limit.
 */
export default class ProjectService {
  list(user: User) {
    return Project.query()
      .withScopes((scopes) => scopes.ownedBy(user))
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
  }

  async create(user: User, data: { name: string }) {
    return db.transaction(async (trx) => {
      const owner = await User.query({ client: trx }).where('id', user.id).forUpdate().firstOrFail()
      const limit = PlanLimits.forUser(owner).projects
      const [{ count }] = await trx.from('projects').where('user_id', owner.id).count('* as count')
      if (Number(count) >= limit) throw LimitExceededException.projects(limit, owner.plan)

      const slug = await this.uniqueSlug(owner, data.name, trx)
      return Project.create({ userId: owner.id, name: data.name, slug }, { client: trx })
    })
  }

  async rename(project: Project, data: { name: string }) {
    project.name = data.name
    await project.save()
    return project
  }

  async delete(project: Project) {
    await project.delete()
  }

  protected async uniqueSlug(user: User, name: string, trx: TransactionClientContract) {
    const base = string.slug(name, { lower: true, strict: true }).slice(0, 80) || 'project'
    const rows: { slug: string }[] = await trx
      .from('projects')
      .where('user_id', user.id)
      .where('slug', 'like', `${base}%`)
      .select('slug')
    const taken = new Set(rows.map((row) => row.slug))
    let slug = base
    for (let n = 2; taken.has(slug); n++) slug = `${base}-${n}`
    return slug
  }
}
