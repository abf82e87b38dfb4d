import factory from '@adonisjs/lucid/factories'
import Project from '#models/project'

let sequence = 0

export const ProjectFactory = factory
  .define(Project, () => {
    sequence += 1
    return { name: `Project ${sequence}`, slug: `project-${sequence}` }
  })
  .build()
