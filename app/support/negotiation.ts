import type { HttpContext } from '@adonisjs/core/http'

/**
 * Whether to answer JSON rather than a page or redirect. /api routes force
 * `Accept: application/json` (force_json_response_middleware), so this is
 * the one rule for controllers and exceptions alike.
 */
export function wantsJson(ctx: HttpContext) {
  return ctx.request.accepts(['html', 'json']) === 'json'
}
