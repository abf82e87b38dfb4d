import { inject } from '@adonisjs/core'
import logger from '@adonisjs/core/services/logger'
import User from '#models/user'
import StripeGateway from '#services/stripe_gateway'

/**
 * One Stripe customer per user. Created at registration when Stripe answers;
 * otherwise by the first billing action or `customers:sync`.
 */
@inject()
export default class CustomerService {
  constructor(protected gateway: StripeGateway) {}

  /** The key is derived from the user, so a retry or a race never makes two customers. */
  static idempotencyKey(user: User) {
    return `studio:customer:user:${user.id}:${user.createdAt.toUnixInteger()}`
  }

  /**
   * Returns the user's Stripe customer id, creating the customer if needed.
   * Throws StripeUnavailableException when Stripe cannot be reached.
   */
  async ensureCustomer(
    user: User,
    requestOptions: { timeout?: number; maxNetworkRetries?: number } = {}
  ): Promise<string> {
    if (user.stripeCustomerId) return user.stripeCustomerId

    const customer = await StripeGateway.call(() =>
      this.gateway.createCustomer(
        {
          email: user.email,
          name: user.fullName,
          metadata: { user_id: String(user.id) },
        },
        CustomerService.idempotencyKey(user),
        requestOptions
      )
    )
    const customerId = customer.id

    // Only fill an empty column: a concurrent caller got the same customer (same key).
    await User.query()
      .where('id', user.id)
      .whereNull('stripe_customer_id')
      .update({ stripe_customer_id: customerId, updated_at: new Date() })
    await user.refresh()
    return user.stripeCustomerId ?? customerId
  }

  /**
   * Registration path: tries to create the customer but never fails the
   * registration; a missing customer is created later.
   */
  async tryEnsureCustomer(user: User): Promise<string | null> {
    try {
      // Someone is waiting on the registration page: give Stripe 5 s and one retry, not the defaults.
      return await this.ensureCustomer(user, { timeout: 5000, maxNetworkRetries: 1 })
    } catch (error) {
      logger.warn(
        { userId: user.id, err: error },
        'Stripe customer not created; it will be created later'
      )
      return null
    }
  }

  /** Creates customers for every user that has none. Returns what happened per user. */
  async syncMissing(
    options: {
      dryRun?: boolean
      limit?: number
      /** Called after each user (for a progress bar). */
      onProgress?: (done: number, total: number) => void
    } = {}
  ) {
    const users = await User.query()
      .withScopes((scopes) => scopes.withoutStripeCustomer())
      .orderBy('id')
      .if(options.limit, (query) => query.limit(options.limit!))
    const results: {
      userId: number
      email: string
      customerId: string | null
      error: string | null
    }[] = []
    for (const user of users) {
      if (options.dryRun) {
        results.push({ userId: user.id, email: user.email, customerId: null, error: null })
        continue
      }
      try {
        results.push({
          userId: user.id,
          email: user.email,
          customerId: await this.ensureCustomer(user),
          error: null,
        })
      } catch (error) {
        results.push({
          userId: user.id,
          email: user.email,
          customerId: null,
          error: error instanceof Error ? error.message : String(error),
        })
      }
      options.onProgress?.(results.length, users.length)
    }
    return results
  }
}
