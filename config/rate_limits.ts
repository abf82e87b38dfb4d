import env from '#start/env'

/**
 * Attempts allowed per window for login and registration, per IP and email.
 */
const rateLimitsConfig = {
  auth: {
    requests: env.get('AUTH_RATE_LIMIT'),
    window: env.get('AUTH_RATE_WINDOW', '1 minute'),
  },
  /** Checkouts a signed-in user may start per window (credit packs, deploy slots). */
  purchase: {
    requests: 10,
    window: '1 minute',
  },
}

export default rateLimitsConfig
