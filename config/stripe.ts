import env from '#start/env'

/**
 * Stripe client settings. `apiBase` (STRIPE_API_BASE) points the SDK at a
 * stand-in such as sandbox/stripe; unset, the SDK talks to api.stripe.com.
 */
const apiBase = env.get('STRIPE_API_BASE')

const stripeConfig = {
  secretKey: env.get('STRIPE_SECRET_KEY'),
  publishableKey: env.get('STRIPE_PUBLISHABLE_KEY'),
  webhookSecret: env.get('STRIPE_WEBHOOK_SECRET'),
  /** Maximum age in seconds of a webhook signature timestamp. */
  webhookToleranceSeconds: env.get('STRIPE_WEBHOOK_TOLERANCE'),
  apiBase: apiBase ? new URL(apiBase) : undefined,
  maxNetworkRetries: env.get('STRIPE_MAX_NETWORK_RETRIES'),
  timeoutMs: env.get('STRIPE_TIMEOUT_MS'),
}

export type StripeConfig = typeof stripeConfig

export default stripeConfig
