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
