import app from '@adonisjs/core/services/app'
import { errors as vineErrors } from '@vinejs/vine'
import { errors as shieldErrors } from '@adonisjs/shield'
import { errors as limiterErrors } from '@adonisjs/limiter'
import env from '#start/env'
import { wantsJson } from '#support/negotiation'
import { type HttpContext, ExceptionHandler } from '@adonisjs/core/http'
import type { StatusPageRange, StatusPageRenderer } from '@adonisjs/core/types/http'

/**
 * The configured secrets, as they could appear in an error's message or stack
 * (a driver echoing a connection string, a client echoing its key). Values
 * shorter than 8 characters are left alone: too short to be a real secret and
 * too likely to match ordinary text.
 */
function configuredSecrets(): string[] {
  const values: (string | undefined)[] = [
    env.get('APP_KEY')?.release(),
    env.get('STRIPE_SECRET_KEY')?.release(),
    env.get('STRIPE_WEBHOOK_SECRET')?.release(),
    env.get('LITELLM_API_KEY')?.release(),
    env.get('LITELLM_CALLBACK_SECRET')?.release(),
    env.get('DB_PASSWORD')?.release(),
  ]
  const databaseUrl = env.get('DATABASE_URL')
  if (databaseUrl) {
    try {
      const password = decodeURIComponent(new URL(databaseUrl).password)
      values.push(password, databaseUrl)
    } catch {
      values.push(databaseUrl)
    }
  }
  return [...new Set(values.filter((value): value is string => !!value && value.length >= 8))].sort(
    (a, b) => b.length - a.length
  )
}

/** `text` with every configured secret replaced by `[redacted]`. */
export function redactSecrets(text: string, secrets = configuredSecrets()): string {
  let result = text
  for (const secret of secrets) result = result.split(secret).join('[redacted]')
  return result
}

/**
 * Scrubs an error in place: its message, stack, cause and every string it
 * carries (a Stripe error's `raw` body, say), since the logger serializes
 * them all. A few levels deep is enough for every error we see.
 */
function scrubError(value: unknown, secrets: string[], depth = 0, seen = new Set<unknown>()) {
  if (secrets.length === 0 || !value || typeof value !== 'object' || seen.has(value) || depth > 4) {
    return
  }
  seen.add(value)
  const target = value as Record<string, unknown>
  const keys = new Set([
    ...Object.keys(target),
    ...(value instanceof Error ? ['message', 'stack', 'cause'] : []),
  ])
  for (const key of keys) {
    let field: unknown
    try {
      field = target[key]
    } catch {
      continue
    }
    if (typeof field === 'string') {
      const clean = redactSecrets(field, secrets)
      if (clean !== field) {
        try {
          target[key] = clean
        } catch {
          // Read-only: left as is (and never rendered in production).
        }
      }
    } else if (field && typeof field === 'object') {
      scrubError(field, secrets, depth + 1, seen)
    }
  }
}

/** What a 500 says in production: no internals, only the id to quote to support. */
const SERVER_ERROR_MESSAGE = 'Something went wrong on our side. Please try again in a minute.'

export default class HttpExceptionHandler extends ExceptionHandler {
  /**
   * Stack traces only outside production (NODE_ENV is required and validated
   * in start/env.ts, so a production server always runs with this false);
   * error pages and JSON never show secrets.
   */
  protected debug = !app.inProduction

  protected renderStatusPages = app.inProduction

  protected statusPages: Record<StatusPageRange, StatusPageRenderer> = {
    '404': (_, { inertia }) => inertia.render('errors/not_found', {}),
    '500..599': (_, { inertia }) => inertia.render('errors/server_error', {}),
  }

  async handle(error: unknown, ctx: HttpContext) {
    scrubError(error, configuredSecrets())
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
    // A refused CSRF token: JSON clients get a 403; pages a flash and the page
    // they came from. Shield's own handler would flash the inputs back
    // (`currentPassword` and `passwordConfirmation` among them) and answer
    // API clients with a redirect.
    if (error instanceof shieldErrors.E_BAD_CSRF_TOKEN) {
      // /api routes force JSON in a route middleware, which has not run yet here.
      if (wantsJson(ctx) || ctx.request.url().startsWith('/api/') || !ctx.session) {
        return ctx.response.status(403).send({ error: error.message, code: error.code })
      }
      ctx.session.flash('error', error.message)
      ctx.session.flashErrors({ [error.code!]: error.message })
      return ctx.response.redirect().back()
    }
    // A rate limit hit from an Inertia visit: the page shows the message as a flash
    // (with the limiter's Retry-After), not the raw 429 text in a modal. Plain form
    // posts and JSON keep the 429.
    if (
      error instanceof limiterErrors.ThrottleException &&
      ctx.request.header('x-inertia') &&
      ctx.session
    ) {
      for (const [name, value] of Object.entries(error.getDefaultHeaders())) {
        ctx.response.header(name, value)
      }
      ctx.session.flash('error', error.message)
      return ctx.response.redirect().back()
    }
    return super.handle(error, ctx)
  }

  /** Production JSON for an unexpected error: a generic message, never the error's own. */
  async renderErrorAsJSON(error: any, ctx: HttpContext) {
    if (!this.isDebuggingEnabled(ctx) && (error.status ?? 500) >= 500) {
      return ctx.response
        .status(error.status ?? 500)
        .send({ message: SERVER_ERROR_MESSAGE, requestId: ctx.request.id() ?? null })
    }
    return super.renderErrorAsJSON(error, ctx)
  }

  async report(error: unknown, ctx: HttpContext) {
    scrubError(error, configuredSecrets())
    return super.report(error, ctx)
  }
}
