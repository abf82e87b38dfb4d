/*
|--------------------------------------------------------------------------
| HTTP kernel
|--------------------------------------------------------------------------
*/

import router from '@adonisjs/core/services/router'
import server from '@adonisjs/core/services/server'
import { Redirect } from '@adonisjs/core/http'
import { appUrl } from '#config/app'

/**
 * `redirect().back()` (and `redirect('back')`) go to the Referer only when it
 * is a page of APP_URL's origin, and only to its path: never to another
 * origin, whatever the Host or X-Forwarded-Host headers say, and never to a
 * path a browser reads as another host (`//evil.example`, `/\evil.example`,
 * their percent-encoded forms, which `back()` decodes).
 */
export function safePreviousPath(referer: string | undefined, fallback: string): string {
  if (!referer) return fallback
  const origin = new URL(String(appUrl)).origin
  let url: URL
  try {
    url = new URL(referer, origin)
  } catch {
    return fallback
  }
  if (url.origin !== origin) return fallback
  const path = `${url.pathname}${url.search}`
  let decoded: string
  try {
    // Fully decoded (%2F too): a proxy or client that decodes must not find another host either.
    decoded = decodeURIComponent(url.pathname)
  } catch {
    return fallback
  }
  if (!decoded.startsWith('/') || /^\/[\\/]/.test(decoded) || /[\\\p{Cc}]/u.test(decoded)) {
    return fallback
  }
  return path
}

Redirect.macro('getPreviousUrl', function (this: Redirect, fallback: string) {
  return safePreviousPath(this.ctx?.request.header('referer'), fallback)
})

server.errorHandler(() => import('#exceptions/handler'))

server.use([
  () => import('#middleware/container_bindings_middleware'),
  () => import('#middleware/security_headers_middleware'),
  () => import('@adonisjs/static/static_middleware'),
  () => import('@adonisjs/vite/vite_middleware'),
  () => import('#middleware/inertia_middleware'),
])

router.use([
  // The framework's body parser; webhook routes keep the raw body (see the middleware).
  () => import('#middleware/body_parser_middleware'),
  () => import('@adonisjs/session/session_middleware'),
  () => import('@adonisjs/shield/shield_middleware'),
  () => import('@adonisjs/auth/initialize_auth_middleware'),
  () => import('#middleware/initialize_bouncer_middleware'),
  () => import('#middleware/silent_auth_middleware'),
])

export const middleware = router.named({
  guest: () => import('#middleware/guest_middleware'),
  auth: () => import('#middleware/auth_middleware'),
  forceJson: () => import('#middleware/force_json_response_middleware'),
})
