import type Project from '#models/project'
import { BaseTransformer } from '@adonisjs/core/transformers'

export default class ProjectTransformer extends BaseTransformer<Project> {
  toObject() {
    return {
      ...this.pick(this.resource, ['id', 'name', 'slug', 'isDeployed', 'stoppedReason']),
      deployedAt: this.resource.deployedAt?.toISO() ?? null,
      createdAt: this.resource.createdAt.toISO()!,
    }
  }
}
