import Stripe from 'stripe'
import { StripeSandbox } from '../../sandbox/stripe/sandbox.js'
import { localSettings } from '../../bin/local_environment.js'

/**
 * The Stripe sandbox the whole test run talks to. bin/test.ts starts it
 * before the app boots and exports its URL as STRIPE_API_BASE, so the app's
 * StripeGateway (the real SDK) reaches it over HTTP like it would Stripe.
 *
 * It also registers the app's webhook endpoint
 * (`http://${HOST}:${PORT}/api/webhooks/stripe`, signed with
 * STRIPE_WEBHOOK_SECRET), reading these the way the app will: the process
 * environment first, then .env and .env.test. Every event the sandbox emits
 * is then delivered, signed, to the test server.
 */
let instance: StripeSandbox | null = null
let endpoint: { id: string; url: string; secret: string } | null = null

export async function startStripeSandbox() {
  instance = await StripeSandbox.start({ port: 0 })
  process.env.STRIPE_API_BASE = instance.url

  const setting = await localSettings(['.env', '.env.test'])
  const host = setting('HOST') ?? '127.0.0.1'
  const port = setting('PORT') ?? '3333'
  const secret = setting('STRIPE_WEBHOOK_SECRET')
  if (!secret) throw new Error('STRIPE_WEBHOOK_SECRET is not set (.env.test sets it)')
  const url = `http://${host}:${port}/api/webhooks/stripe`
  const added = instance.addWebhookEndpoint({ url, secret })
  endpoint = { id: added.id, url, secret }
  return instance
}

export function stripeSandbox(): StripeSandbox {
  if (!instance) throw new Error('The Stripe sandbox is not running (bin/test.ts starts it)')
  return instance
}

/** The app's webhook endpoint registered in the sandbox (id, url, signing secret). */
export function appWebhookEndpoint() {
  if (!endpoint) throw new Error('The Stripe sandbox is not running (bin/test.ts starts it)')
  return endpoint
}

/** A separate SDK client on the sandbox, for tests to look at what Stripe holds. */
export function stripeClient() {
  return new Stripe('sk_test_suite', stripeSandbox().stripeConfig({ maxNetworkRetries: 0 }))
}
