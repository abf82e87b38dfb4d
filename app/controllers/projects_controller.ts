import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import Project from '#models/project'
import ProjectPolicy from '#policies/project_policy'
import billingConfig from '#config/billing'
import type { LimitHit } from '#exceptions/limit_exceeded_exception'
import DeploymentService from '#services/deployment_service'
import ProjectService from '#services/project_service'
import ProjectTransformer from '#transformers/project_transformer'
import { projectValidator } from '#validators/project'
import { wantsJson } from '#support/negotiation'

/**
 * Pages under /projects and the JSON API under /api/projects share these
 * actions; JSON clients get JSON, pages get a redirect with a flash.
 */
@inject()
export default class ProjectsController {
  constructor(
    protected projects: ProjectService,
    protected deployments: DeploymentService
  ) {}

  /** Loads a project the current user may act on; others' projects are a 404. */
  protected async authorized(ctx: HttpContext, action: 'view' | 'update' | 'delete') {
    const project = await Project.find(ctx.params.id)
    if (!project) return ctx.response.abort({ error: 'Project not found' }, 404)
    await ctx.bouncer.with(ProjectPolicy).authorize(action, project)
    return project
  }

  async index(ctx: HttpContext) {
    const user = ctx.auth.getUserOrFail()
    const projects = ProjectTransformer.transform(await this.projects.list(user))
    if (wantsJson(ctx)) return ctx.serialize(projects)
    const limits = await this.deployments.limits(user)
    // Set by LimitExceededException for pages: which limit the last action hit.
    const limitHit: LimitHit | undefined = ctx.session.flashMessages.get('limit')
    return ctx.inertia.render('projects/index', {
      projects,
      limits: {
        plan: limits.plan,
        projects: { ...limits.projects },
        deploys: { ...limits.deploys },
        slots: limits.slots.active,
      },
      premium: {
        projects: billingConfig.limits.premium.projects,
        deploys: billingConfig.limits.premium.deploys,
        priceCents: billingConfig.premium.priceCents,
        interval: billingConfig.premium.interval,
      },
      deploySlot: { priceCents: billingConfig.deploySlot.priceCents },
      currency: billingConfig.currency,
      limitHit: limitHit ?? null,
    })
  }

  async store(ctx: HttpContext) {
    const payload = await ctx.request.validateUsing(projectValidator)
    const project = await this.projects.create(ctx.auth.getUserOrFail(), payload)
    if (wantsJson(ctx))
      return ctx.response.created(await ctx.serialize(ProjectTransformer.transform(project)))
    ctx.session.flash('success', `Project "${project.name}" created.`)
    return ctx.response.redirect().toPath('/projects')
  }

  async show(ctx: HttpContext) {
    const project = await this.authorized(ctx, 'view')
    return ctx.serialize(ProjectTransformer.transform(project))
  }

  async update(ctx: HttpContext) {
    const project = await this.authorized(ctx, 'update')
    const payload = await ctx.request.validateUsing(projectValidator)
    await this.projects.rename(project, payload)
    if (wantsJson(ctx)) return ctx.serialize(ProjectTransformer.transform(project))
    ctx.session.flash('success', `Project renamed to "${project.name}".`)
    return ctx.response.redirect().toPath('/projects')
  }

  async destroy(ctx: HttpContext) {
    const project = await this.authorized(ctx, 'delete')
    await this.projects.delete(project)
    if (wantsJson(ctx)) return ctx.response.noContent()
    ctx.session.flash('success', `Project "${project.name}" deleted.`)
    return ctx.response.redirect().toPath('/projects')
  }
}
