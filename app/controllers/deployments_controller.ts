import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import Project from '#models/project'
import ProjectPolicy from '#policies/project_policy'
import DeploymentService from '#services/deployment_service'
import ProjectTransformer from '#transformers/project_transformer'
import { wantsJson } from '#support/negotiation'

/**
 * Deploy and undeploy. The API names projects by slug
 * (/api/projects/:slug/deploy), the pages by id (/projects/:id/deploy);
 * both land in the same actions.
 */
@inject()
export default class DeploymentsController {
  constructor(protected deployments: DeploymentService) {}

  /** The current user's project; anyone else's is a 404. */
  protected async project(ctx: HttpContext) {
    const user = ctx.auth.getUserOrFail()
    const project =
      ctx.params.slug !== undefined
        ? await Project.query()
            .where('user_id', user.id)
            .where('slug', String(ctx.params.slug))
            .first()
        : await Project.find(ctx.params.id)
    if (!project) return ctx.response.abort({ error: 'Project not found' }, 404)
    await ctx.bouncer.with(ProjectPolicy).authorize('update', project)
    return project
  }

  async deploy(ctx: HttpContext) {
    const project = await this.deployments.deploy(ctx.auth.getUserOrFail(), await this.project(ctx))
    if (wantsJson(ctx)) return ctx.serialize(ProjectTransformer.transform(project))
    ctx.session.flash('success', `Project "${project.name}" is deployed.`)
    return ctx.response.redirect().toPath('/projects')
  }

  async undeploy(ctx: HttpContext) {
    const project = await this.deployments.undeploy(
      ctx.auth.getUserOrFail(),
      await this.project(ctx)
    )
    if (wantsJson(ctx)) return ctx.serialize(ProjectTransformer.transform(project))
    ctx.session.flash('success', `Project "${project.name}" is no longer deployed.`)
    return ctx.response.redirect().toPath('/projects')
  }

  /** Projects and deployments used and allowed, and purchased slots. */
  async limits(ctx: HttpContext) {
    return { data: await this.deployments.limits(ctx.auth.getUserOrFail()) }
  }
}
