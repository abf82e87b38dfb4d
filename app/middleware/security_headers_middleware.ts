import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import type { Encryption } from '@adonisjs/core/encryption'
import ShieldMiddleware from '@adonisjs/shield/shield_middleware'
import shieldConfig from '#config/shield'

/**
 * Shield's headers (CSP, X-Frame-Options, HSTS, nosniff) for every response,
 * before routing: the 404 page, static assets and Vite's modules never reach
 * the router middleware, where Shield (with its CSRF check) runs for routed
 * requests and sets the same headers again. CSRF needs the session, so it is
 * left to that router-level Shield.
 */
const headersOnly = new ShieldMiddleware(
  { ...shieldConfig, csrf: { enabled: false } },
  undefined as unknown as Encryption
)

export default class SecurityHeadersMiddleware {
  handle(ctx: HttpContext, next: NextFn) {
    return headersOnly.handle(ctx, next)
  }
}
