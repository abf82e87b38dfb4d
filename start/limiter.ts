/*
|--------------------------------------------------------------------------
| HTTP rate limiters
|--------------------------------------------------------------------------
|
| Login and registration are limited per IP and email, and per IP, counted in
| PostgreSQL so all web nodes share the counts.
|
*/

import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import limiter from '@adonisjs/limiter/services/main'
import rateLimits from '#config/rate_limits'

const AUTH_MESSAGE = 'Too many attempts. Please wait a minute before trying again.'

/**
 * Attempts from one IP over all emails: a password spray (one password tried
 * on many accounts) changes the email every time, so the per-email count
 * alone never stops it. Generous, so people behind one NAT are not blocked.
 */
export const AUTH_IP_FACTOR = 10

/** Per IP and email: one account guessed from one address. */
const authPerEmail = limiter.define('auth', (ctx) => {
  const email = String(ctx.request.input('email', '')).trim().toLowerCase()
  return limiter
    .allowRequests(rateLimits.auth.requests)
    .every(rateLimits.auth.window)
    .usingKey(`${ctx.request.url()}:${ctx.request.ip()}:${email}`)
    .limitExceeded((error) => {
      error.setStatus(429).setMessage(AUTH_MESSAGE)
    })
})

/** Per IP, whatever the email. */
const authPerIp = limiter.define('auth_ip', (ctx) => {
  return limiter
    .allowRequests(rateLimits.auth.requests * AUTH_IP_FACTOR)
    .every(rateLimits.auth.window)
    .usingKey(`${ctx.request.url()}:${ctx.request.ip()}`)
    .limitExceeded((error) => {
      error.setStatus(429).setMessage(AUTH_MESSAGE)
    })
})

/** Login and registration: both limits apply. */
export const authThrottle = (ctx: HttpContext, next: NextFn) =>
  authPerIp(ctx, () => authPerEmail(ctx, next))

/** A limit per signed-in user (per IP for guests), counted apart under `name`. */
function perUserThrottle(name: string, message: string) {
  return limiter.define(name, (ctx) => {
    const user = ctx.auth.user
    return limiter
      .allowRequests(rateLimits.purchase.requests)
      .every(rateLimits.purchase.window)
      .usingKey(`${name}:${user ? `user:${user.id}` : `ip:${ctx.request.ip()}`}`)
      .limitExceeded((error) => error.setStatus(429).setMessage(message))
  })
}

/** Starting a Checkout (every purchase route shares the count). */
export const purchaseThrottle = perUserThrottle(
  'purchase',
  'Too many purchases started. Please wait a minute and try again.'
)

/** Cancel, resume and portal: each calls Stripe, so a user cannot hammer them either. */
export const billingActionThrottle = perUserThrottle(
  'billing_action',
  'Too many billing changes. Please wait a minute and try again.'
)
