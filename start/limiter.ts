/*
|--------------------------------------------------------------------------
| HTTP rate limiters
|--------------------------------------------------------------------------
|
| Login and registration are limited per IP and per email, counted in
| PostgreSQL so all web nodes share the counts.
|
*/

import limiter from '@adonisjs/limiter/services/main'
import rateLimits from '#config/rate_limits'

export const authThrottle = limiter.define('auth', (ctx) => {
  const email = String(ctx.request.input('email', '')).trim().toLowerCase()
  return limiter
    .allowRequests(rateLimits.auth.requests)
    .every(rateLimits.auth.window)
    .usingKey(`${ctx.request.url()}:${ctx.request.ip()}:${email}`)
    .limitExceeded((error) => {
      error
        .setStatus(429)
        .setMessage('Too many attempts. Please wait a minute before trying again.')
    })
})

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
