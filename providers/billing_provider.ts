import type { ApplicationService } from '@adonisjs/core/types'
import StripeGateway from '#services/stripe_gateway'

/**
 * Registers the billing singletons. The Stripe gateway holds one SDK client
 * (and its keep-alive connections) for the whole process.
 */
export default class BillingProvider {
  constructor(protected app: ApplicationService) {}

  register() {
    this.app.container.singleton(StripeGateway, async () => {
      const { default: stripeConfig } = await import('#config/stripe')
      return new StripeGateway(stripeConfig)
    })
  }
}
