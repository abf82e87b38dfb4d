import { Exception } from '@adonisjs/core/exceptions'
import type { HttpContext } from '@adonisjs/core/http'

/**
 * A LiteLLM callback the intake refuses: a missing or wrong shared secret
 * (401), or a body that is not a batch of StandardLoggingPayload (422).
 * Nothing of a refused batch is stored; the pull sync still brings its rows.
 */
export default class UsageIntakeException extends Exception {
  static status = 422
  static code = 'E_USAGE_INTAKE'

  static unauthorized(reason: string) {
    return new UsageIntakeException(reason, { status: 401, code: 'E_USAGE_INTAKE_UNAUTHORIZED' })
  }

  static malformed(problems: string[]) {
    const error = new UsageIntakeException(`Malformed LiteLLM callback body: ${problems[0]}`, {
      status: 422,
      code: 'E_USAGE_INTAKE_MALFORMED',
    })
    error.problems = problems
    return error
  }

  problems: string[] = []

  async handle(error: this, ctx: HttpContext) {
    return ctx.response
      .status(error.status)
      .send({ error: error.message, code: error.code, problems: error.problems })
  }
}
