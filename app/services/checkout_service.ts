import { inject } from '@adonisjs/core'
import type Stripe from 'stripe'
import type User from '#models/user'
import billingConfig, { type CreditPackageKey } from '#config/billing'
import { appUrl } from '#config/app'
import CustomerService from '#services/customer_service'
import StripeGateway from '#services/stripe_gateway'
import StripeUnavailableException from '#exceptions/stripe_unavailable_exception'

/** What a user can buy through Checkout (marketplace agents join in a later issue). */
export type Purchase =
  { kind: 'premium' } | { kind: 'credits'; packageKey: CreditPackageKey } | { kind: 'deploy_slot' }

export type PurchaseKind = Purchase['kind']

/** A priced line: the amount and wording we charge, from config only. */
export interface PricedPurchase {
  purchase: Purchase
  mode: 'payment' | 'subscription'
  amountCents: number
  currency: string
  name: string
  description: string
}

/**
 * Creates Stripe Checkout Sessions for what users buy. Amounts come from
 * config/billing.ts, never from the request; return URLs from APP_URL only;
 * `metadata.kind` and our ids ride on the session (and on the subscription or
 * payment intent it creates) so the webhook can tell what was bought.
 */
@inject()
export default class CheckoutService {
  constructor(
    protected gateway: StripeGateway,
    protected customers: CustomerService
  ) {}

  /** The price and wording of a purchase; throws for an unknown credit package. */
  static price(purchase: Purchase): PricedPurchase {
    const currency = billingConfig.currency
    switch (purchase.kind) {
      case 'premium':
        return {
          purchase,
          mode: 'subscription',
          amountCents: billingConfig.premium.priceCents,
          currency,
          name: 'Studio Premium',
          description: `${billingConfig.limits.premium.projects} projects and ${billingConfig.limits.premium.deploys} deploys`,
        }
      case 'credits': {
        const pack = billingConfig.creditPackages.find((item) => item.key === purchase.packageKey)
        if (!pack) throw new Error(`Unknown credit package: ${purchase.packageKey}`)
        return {
          purchase,
          mode: 'payment',
          amountCents: pack.amountCents,
          currency,
          name: `Credit pack (${pack.key})`,
          description: 'Prepaid credits, spent before any card charge',
        }
      }
      case 'deploy_slot':
        return {
          purchase,
          mode: 'payment',
          amountCents: billingConfig.deploySlot.priceCents,
          currency,
          name: 'Extra deploy slot',
          description: 'One more project deployed at a time',
        }
    }
  }

  /** Metadata that identifies the purchase: on the session and on what it creates. */
  static metadata(user: User, purchase: Purchase): Record<string, string> {
    const metadata: Record<string, string> = { kind: purchase.kind, user_id: String(user.id) }
    if (purchase.kind === 'credits') metadata.package_key = purchase.packageKey
    return metadata
  }

  static successUrl() {
    return new URL('/billing/checkout/success?session_id={CHECKOUT_SESSION_ID}', appUrl)
      .toString()
      .replace('%7BCHECKOUT_SESSION_ID%7D', '{CHECKOUT_SESSION_ID}')
  }

  static cancelUrl() {
    return new URL('/billing?checkout=canceled', appUrl).toString()
  }

  /** Creates the Checkout Session and returns it (its `url` is where the user pays). */
  async start(user: User, purchase: Purchase): Promise<Stripe.Checkout.Session> {
    const priced = CheckoutService.price(purchase)
    const customer = await this.customers.ensureCustomer(user)
    const metadata = CheckoutService.metadata(user, purchase)
    const productData = { name: priced.name, description: priced.description }
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: priced.mode,
      customer,
      client_reference_id: String(user.id),
      success_url: CheckoutService.successUrl(),
      cancel_url: CheckoutService.cancelUrl(),
      metadata,
      line_items: [
        {
          quantity: 1,
          price_data: {
            currency: priced.currency,
            unit_amount: priced.amountCents,
            product_data: productData,
            ...(priced.mode === 'subscription'
              ? { recurring: { interval: billingConfig.premium.interval } }
              : {}),
          },
        },
      ],
      ...(priced.mode === 'subscription'
        ? { subscription_data: { metadata } }
        : { payment_intent_data: { metadata } }),
    }
    try {
      return await this.gateway.client.checkout.sessions.create(params)
    } catch (error) {
      if (StripeGateway.isUnavailable(error)) throw StripeUnavailableException.fromError(error)
      throw error
    }
  }

  /**
   * The session a user came back with from Checkout, if it is theirs
   * (fulfilment itself is the webhook engine's job).
   */
  async returned(user: User, sessionId: string): Promise<Stripe.Checkout.Session | null> {
    if (!/^cs_[A-Za-z0-9_]+$/.test(sessionId)) return null
    let session: Stripe.Checkout.Session
    try {
      session = await this.gateway.client.checkout.sessions.retrieve(sessionId)
    } catch (error) {
      if (StripeGateway.isUnavailable(error)) throw StripeUnavailableException.fromError(error)
      return null
    }
    return session.metadata?.user_id === String(user.id) ? session : null
  }
}
