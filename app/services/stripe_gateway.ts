import Stripe from 'stripe'
import type { StripeConfig } from '#config/stripe'
import StripeUnavailableException from '#exceptions/stripe_unavailable_exception'

/**
 * The one place the app talks to Stripe. Configured from config/stripe.ts:
 * the pinned API version of the SDK, telemetry off, and STRIPE_API_BASE to
 * point it at a stand-in (sandbox/stripe) instead of api.stripe.com.
 * Registered as a container singleton (providers/billing_provider.ts);
 * tests that need a fault the sandbox cannot produce swap it.
 */
export default class StripeGateway {
  readonly client: Stripe

  constructor(config: StripeConfig) {
    const base = config.apiBase
    this.client = new Stripe(config.secretKey.release(), {
      telemetry: false,
      maxNetworkRetries: config.maxNetworkRetries,
      timeout: config.timeoutMs,
      ...(base
        ? {
            host: base.hostname,
            port: base.port || (base.protocol === 'https:' ? 443 : 80),
            protocol: base.protocol === 'https:' ? 'https' : 'http',
          }
        : {}),
    })
  }

  /** Creates a customer; the key makes a retried call return the first customer. */
  createCustomer(
    params: Stripe.CustomerCreateParams,
    idempotencyKey: string,
    options: Pick<Stripe.RequestOptions, 'timeout' | 'maxNetworkRetries'> = {}
  ) {
    return this.client.customers.create(params, { ...options, idempotencyKey })
  }

  /**
   * Runs a Stripe call; "could not get an answer" becomes StripeUnavailableException
   * (503, nothing changed, retry later), any other error passes through.
   */
  static async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      if (StripeGateway.isUnavailable(error)) throw StripeUnavailableException.fromError(error)
      throw error
    }
  }

  /** Runs a Stripe read; null when Stripe answers 404 (it does not know the object). */
  static async orNull<T>(fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn()
    } catch (error) {
      if (error instanceof Stripe.errors.StripeError && error.statusCode === 404) return null
      throw error
    }
  }

  /** A subscription as Stripe holds it now; null when unknown; unreachable Stripe is a 503. */
  retrieveSubscription(id: string) {
    return StripeGateway.call(() =>
      StripeGateway.orNull(() => this.client.subscriptions.retrieve(id))
    )
  }

  /** Stripe errors that mean "could not get an answer": safe to retry later. */
  static isUnavailable(error: unknown) {
    return (
      error instanceof Stripe.errors.StripeConnectionError ||
      error instanceof Stripe.errors.StripeAPIError ||
      error instanceof Stripe.errors.StripeRateLimitError
    )
  }
}
