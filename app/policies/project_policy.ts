import type User from '#models/user'
import type Project from '#models/project'
import { AuthorizationResponse, BasePolicy } from '@adonisjs/bouncer'
import type { AuthorizerResponse } from '@adonisjs/bouncer/types'

/**
 * A project belongs to one user. To anyone else it does not exist: the
 * denial is a 404, so ids of other users' projects reveal nothing.
 */
export default class ProjectPolicy extends BasePolicy {
  protected owns(user: User, project: Project): AuthorizerResponse {
    return user.id === project.userId || AuthorizationResponse.deny('Project not found', 404)
  }

  view(user: User, project: Project): AuthorizerResponse {
    return this.owns(user, project)
  }

  update(user: User, project: Project): AuthorizerResponse {
    return this.owns(user, project)
  }

  delete(user: User, project: Project): AuthorizerResponse {
    return this.owns(user, project)
  }
}
