import Stripe from 'stripe'
import { StripeSandbox } from '../../sandbox/stripe/sandbox.js'

/**
 * The Stripe sandbox the whole test run talks to. bin/test.ts starts it
 * before the app boots and exports its URL as STRIPE_API_BASE, so the app's
 * StripeGateway (the real SDK) reaches it over HTTP like it would Stripe.
 */
let instance: StripeSandbox | null = null

export async function startStripeSandbox() {
  instance = await StripeSandbox.start({ port: 0 })
  process.env.STRIPE_API_BASE = instance.url
  return instance
}

export function stripeSandbox(): StripeSandbox {
  if (!instance) throw new Error('The Stripe sandbox is not running (bin/test.ts starts it)')
  return instance
}

/** A separate SDK client on the sandbox, for tests to look at what Stripe holds. */
export function stripeClient() {
  return new Stripe('sk_test_suite', stripeSandbox().stripeConfig({ maxNetworkRetries: 0 }))
}
