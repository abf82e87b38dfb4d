/*
|--------------------------------------------------------------------------
| Environment variables
|--------------------------------------------------------------------------
|
| Every variable the app reads is declared here, once, and validated at
| boot: a bad value stops the app with a message naming the variable.
| Config files (config/*.ts) read these; nothing else reads process.env.
| .env.example documents each one.
|
*/

import { Env, errors } from '@adonisjs/core/env'

/** A whole number >= 0: a count, or an amount in `unit` (cents). */
function wholeNumber(fallback: number, unit?: string) {
  const what = unit ? `a whole number of ${unit} >= 0` : 'a whole number >= 0'
  return (key: string, value?: string) => {
    if (value === undefined || value === '') return fallback
    if (!/^\d+$/.test(value.trim())) {
      throw new Error(`${key} must be ${what} (got "${value}")`)
    }
    return Number(value)
  }
}
const cents = (fallback: number) => wholeNumber(fallback, 'cents')
const count = (fallback: number) => wholeNumber(fallback)

/** Seconds, at least 1: for the webhook tolerance, 0 would switch the SDK's age check off. */
function positiveSeconds(fallback: number) {
  const parse = wholeNumber(fallback, 'seconds')
  return (key: string, value?: string) => {
    const seconds = parse(key, value)
    if (seconds < 1) throw new Error(`${key} must be at least 1 second (got "${value}")`)
    return seconds
  }
}

/** A fraction between 0 and 1 with at most 4 decimals, kept as basis points. */
function shareBps(fallback: number) {
  return (key: string, value?: string) => {
    if (value === undefined || value === '') return fallback
    const share = Number(value)
    const bps = Math.round(share * 10000)
    if (!/^\s*\d*\.?\d+\s*$/.test(value) || share < 0 || share > 1) {
      throw new Error(`${key} must be a fraction between 0 and 1, like 0.90 (got "${value}")`)
    }
    if (Math.abs(share * 10000 - bps) > 1e-6) {
      throw new Error(`${key} must have at most 4 decimal places (got "${value}")`)
    }
    return bps
  }
}

/** An absolute http(s) URL, returned without a trailing slash. */
function httpUrl(options: { optional: boolean }) {
  return (key: string, value?: string) => {
    if (value === undefined || value === '') {
      if (options.optional) return undefined
      throw new Error(`Missing environment variable "${key}"`)
    }
    let url: URL
    try {
      url = new URL(value)
    } catch {
      throw new Error(`${key} must be an absolute http(s) URL (got "${value}")`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`${key} must be an absolute http(s) URL (got "${value}")`)
    }
    return value.replace(/\/+$/, '')
  }
}

const env = await Env.create(new URL('../', import.meta.url), {
  NODE_ENV: Env.schema.enum(['development', 'production', 'test'] as const),
  PORT: Env.schema.number(),
  HOST: Env.schema.string({ format: 'host' }),
  APP_KEY: Env.schema.secret(),
  APP_NAME: Env.schema.string.optional(),
  APP_URL: httpUrl({ optional: false }),
  LOG_LEVEL: Env.schema.enum([
    'fatal',
    'error',
    'warn',
    'info',
    'debug',
    'trace',
    'silent',
  ] as const),
  SESSION_DRIVER: Env.schema.enum(['cookie', 'memory'] as const),

  /*
  | Database: DATABASE_URL, or the DB_* parts. Without either, the demo,
  | the CLI and the tests start an embedded PostgreSQL (bin/local_environment.ts).
  */
  DATABASE_URL: Env.schema.string.optional(),
  DB_HOST: Env.schema.string.optional({ format: 'host' }),
  DB_PORT: Env.schema.number.optional(),
  DB_USER: Env.schema.string.optional(),
  DB_PASSWORD: Env.schema.secret.optional(),
  DB_DATABASE: Env.schema.string.optional(),
  DB_POOL_MAX: Env.schema.number.optional(),

  /*
  | Stripe. STRIPE_API_BASE points the SDK at a stand-in (sandbox/stripe);
  | leave it empty in production to talk to api.stripe.com.
  */
  STRIPE_SECRET_KEY: Env.schema.secret(),
  STRIPE_PUBLISHABLE_KEY: Env.schema.string.optional(),
  STRIPE_WEBHOOK_SECRET: Env.schema.secret.optional(),
  STRIPE_WEBHOOK_TOLERANCE: positiveSeconds(300),
  STRIPE_API_BASE: httpUrl({ optional: true }),
  STRIPE_MAX_NETWORK_RETRIES: count(2),
  STRIPE_TIMEOUT_MS: count(20000),

  /*
  | Prices and limits (integer cents; 1 credit = 1 cent).
  */
  CURRENCY: Env.schema.enum.optional(['usd'] as const),
  PREMIUM_SUBSCRIPTION_PRICE: cents(500),
  CREDIT_PACKAGE_SMALL: cents(500),
  CREDIT_PACKAGE_MEDIUM: cents(1000),
  CREDIT_PACKAGE_LARGE: cents(5000),
  DEPLOY_SLOT_PRICE: cents(1000),
  FREE_MAX_PROJECTS: count(1),
  PREMIUM_MAX_PROJECTS: count(5),
  FREE_MAX_DEPLOYS: count(1),
  PREMIUM_MAX_DEPLOYS: count(5),
  PREMIUM_PAST_DUE_GRACE_DAYS: count(7),
  CREATOR_REVENUE_SHARE: shareBps(9000),

  /*
  | Marketplace payouts: days an earning is held before it can be paid out.
  */
  PAYOUT_HOLD_DAYS: count(7),

  /*
  | Monthly usage invoices (invoices:generate): the smallest amount charged
  | (Stripe's minimum, 50 cents USD; less is carried to the next period) and
  | how many users are invoiced at once.
  */
  USAGE_INVOICE_MIN_CHARGE_CENTS: cents(50),
  USAGE_INVOICE_CONCURRENCY: count(8),

  /*
  | LiteLLM proxy (spend logs).
  */
  LITELLM_BASE_URL: httpUrl({ optional: true }),
  LITELLM_API_KEY: Env.schema.secret.optional(),
  LITELLM_TIMEOUT_MS: count(30000),
  LITELLM_MAX_RETRIES: count(3),
  LITELLM_PAGE_SIZE: count(1000),
  // Shared secret LiteLLM's generic_api callback sends (Authorization: Bearer <secret>).
  LITELLM_CALLBACK_SECRET: Env.schema.secret.optional(),

  /*
  | Usage sync and pricing (config/usage.ts).
  */
  USAGE_SYNC_LOOKBACK_SECONDS: count(7200),
  USAGE_SYNC_SETTLE_SECONDS: count(120),
  USAGE_SYNC_CHUNK_MINUTES: count(60),
  USAGE_SYNC_INITIAL_DAYS: count(35),
  USAGE_MARKUP_BPS: count(0),

  /*
  | Rate limits (attempts per window) for login, registration and purchases.
  */
  AUTH_RATE_LIMIT: count(10),
  AUTH_RATE_WINDOW: Env.schema.string.optional(),
}).catch((error: unknown) => {
  // Env keeps the per-variable messages in `help`; printers of `error.message` (the CLI) would drop them.
  if (error instanceof errors.E_INVALID_ENV_VARIABLES) {
    throw new Error(`Invalid environment:\n${error.help}`)
  }
  throw error
})

/*
| Settings that only make sense together, checked once the values parsed.
*/
const problems: string[] = []
if (env.get('NODE_ENV') === 'production' && !env.get('STRIPE_WEBHOOK_SECRET')?.release()) {
  problems.push(
    'STRIPE_WEBHOOK_SECRET is required in production: without it webhooks cannot be verified'
  )
}
const webhookSecret = env.get('STRIPE_WEBHOOK_SECRET')?.release()
if (webhookSecret && !webhookSecret.startsWith('whsec_')) {
  problems.push('STRIPE_WEBHOOK_SECRET must start with "whsec_"')
}
if (!/^(sk|rk)_(test|live)_/.test(env.get('STRIPE_SECRET_KEY').release())) {
  problems.push('STRIPE_SECRET_KEY must start with sk_test_, sk_live_, rk_test_ or rk_live_')
}
if (env.get('NODE_ENV') === 'production' && !env.get('DATABASE_URL') && !env.get('DB_HOST')) {
  problems.push('DATABASE_URL (or DB_HOST and the other DB_* variables) is required in production')
}
if (problems.length > 0) {
  throw new Error(`Invalid environment:\n- ${problems.join('\n- ')}`)
}

export default env
