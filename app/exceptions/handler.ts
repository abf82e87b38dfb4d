import app from '@adonisjs/core/services/app'
import { errors as vineErrors } from '@vinejs/vine'
import { wantsJson } from '#support/negotiation'
import { type HttpContext, ExceptionHandler } from '@adonisjs/core/http'
import type { StatusPageRange, StatusPageRenderer } from '@adonisjs/core/types/http'

export default class HttpExceptionHandler extends ExceptionHandler {
  /** Stack traces only outside production; error pages never show secrets. */
  protected debug = !app.inProduction

  protected renderStatusPages = app.inProduction

  protected statusPages: Record<StatusPageRange, StatusPageRenderer> = {
    '404': (_, { inertia }) => inertia.render('errors/not_found', {}),
    '500..599': (_, { inertia }) => inertia.render('errors/server_error', {}),
  }

  async handle(error: unknown, ctx: HttpContext) {
    // Form posts without JavaScript would otherwise flash every input back into the
    // session, password confirmations included; field errors are enough to redisplay.
    if (
      error instanceof vineErrors.E_VALIDATION_ERROR &&
      ctx.session &&
      !ctx.request.header('x-inertia') &&
      !wantsJson(ctx)
    ) {
      ctx.session.flashValidationErrors(error, false)
      return ctx.response.redirect('back', true)
    }
    return super.handle(error, ctx)
  }

  async report(error: unknown, ctx: HttpContext) {
    return super.report(error, ctx)
  }
}
