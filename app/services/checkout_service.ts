import { inject } from '@adonisjs/core'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { DateTime } from 'luxon'
import Stripe from 'stripe'
import User from '#models/user'
import CreditPurchase from '#models/credit_purchase'
import DeploySlotPurchase from '#models/deploy_slot_purchase'
import billingConfig, { type CreditPackageKey } from '#config/billing'
import { appUrl } from '#config/app'
import CustomerService from '#services/customer_service'
import CreditService from '#services/credit_service'
import StripeGateway from '#services/stripe_gateway'
import { fromStripeTime } from '#support/stripe_time'
import type { FetchedSubscription } from '#services/subscription_service'
import type { FetchedAgentSubscription } from '#services/marketplace/entitlement_service'
import MarketplaceAgent from '#models/marketplace_agent'

/** What `fulfil` reads from Stripe before its transaction (see `prefetch`). */
export interface FulfilPrefetch {
  /** Premium: the subscription's current state. */
  subscription: FetchedSubscription | null
  /** A monthly agent: its subscription's current state. */
  agentSubscription: FetchedAgentSubscription | null
  /** A one-time agent: the charge that paid it. */
  chargeId: string | null
}
import StripeUnavailableException from '#exceptions/stripe_unavailable_exception'
import CheckoutMismatchException from '#exceptions/checkout_mismatch_exception'
import CheckoutConflictException from '#exceptions/checkout_conflict_exception'
import { stripeId } from '#support/stripe_ids'

/** What a user can buy through Checkout. */
export type Purchase =
  | { kind: 'premium' }
  | { kind: 'credits'; packageKey: CreditPackageKey }
  | { kind: 'deploy_slot' }
  | { kind: 'agent'; agent: MarketplaceAgent }

export type PurchaseKind = Purchase['kind']

export const PURCHASE_KINDS: readonly PurchaseKind[] = [
  'premium',
  'credits',
  'deploy_slot',
  'agent',
]

/**
 * What `fulfil` did: `fulfilled` (granted now), `already` (granted before:
 * nothing changed), `pending` (not paid yet: nothing granted), `failed`
 * (the asynchronous payment failed: nothing granted).
 */
export interface FulfilResult {
  kind: PurchaseKind
  status: 'fulfilled' | 'already' | 'pending' | 'failed'
}

export interface FulfilOptions {
  /** When the fact was true at Stripe (the event's `created`); defaults to now. */
  eventCreated?: DateTime
  /** Who is fulfilling, for the ledger's created_by ('webhook', 'success_page'). */
  source?: string
}

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
      case 'agent': {
        const { agent } = purchase
        if (!agent.isSoldThroughCheckout || agent.priceCents === null) {
          throw new Error(`Agent ${agent.id} (${agent.pricingType}) is not sold through Checkout`)
        }
        return {
          purchase,
          mode: agent.pricingType === 'monthly' ? 'subscription' : 'payment',
          amountCents: agent.priceCents,
          currency,
          name: agent.name,
          description: agent.description || 'AI agent',
        }
      }
    }
  }

  /**
   * Metadata that identifies the purchase, on the session and on what it
   * creates: the kind, our user, the package, and the price we quoted
   * (`price_cents`). Only our secret key can write it, so `fulfil` checks the
   * session against this quote: a price changed in config while a session is
   * open does not refuse a payment made at the price the user was shown.
   */
  static metadata(user: User, priced: PricedPurchase): Record<string, string> {
    const { purchase } = priced
    const metadata: Record<string, string> = { kind: purchase.kind, user_id: String(user.id) }
    if (purchase.kind === 'credits') metadata.package_key = purchase.packageKey
    if (purchase.kind === 'agent') {
      metadata.agent_id = String(purchase.agent.id)
      metadata.pricing_type = purchase.agent.pricingType
    }
    metadata.price_cents = String(priced.amountCents)
    return metadata
  }

  /**
   * The Stripe idempotency key of a purchase form: the user, what is bought
   * and the form's own key. The same form sent twice (a double click, a
   * resubmission) gets the same session; another form is another purchase.
   */
  static requestIdempotencyKey(user: User, purchase: Purchase, requestKey: string) {
    const what =
      purchase.kind === 'credits'
        ? `credits:${purchase.packageKey}`
        : purchase.kind === 'agent'
          ? `agent:${purchase.agent.id}`
          : purchase.kind
    return `studio:checkout:${user.id}:${what}:${requestKey}`
  }

  static successUrl() {
    return new URL('/billing/checkout/success?session_id={CHECKOUT_SESSION_ID}', appUrl)
      .toString()
      .replace('%7BCHECKOUT_SESSION_ID%7D', '{CHECKOUT_SESSION_ID}')
  }

  static cancelUrl() {
    return new URL('/billing?checkout=canceled', appUrl).toString()
  }

  /**
   * Creates the Checkout Session and returns it (its `url` is where the user
   * pays). With `requestKey` (the purchase form's key, or the API's
   * Idempotency-Key header) a repeat of the same request returns the same
   * session while it is open, and is refused (CheckoutConflictException)
   * once it is completed or expired, so one form never pays twice.
   */
  async start(
    user: User,
    purchase: Purchase,
    options: { requestKey?: string } = {}
  ): Promise<Stripe.Checkout.Session> {
    const priced = CheckoutService.price(purchase)
    const customer = await this.customers.ensureCustomer(user)
    const metadata = CheckoutService.metadata(user, priced)
    const productData = { name: priced.name, description: priced.description }
    // An agent is sold at its own Stripe price (kept in step with ours by the catalogue);
    // the rest at a price made for the session from config.
    const lineItem: Stripe.Checkout.SessionCreateParams.LineItem =
      purchase.kind === 'agent' && purchase.agent.stripePriceId
        ? { quantity: 1, price: purchase.agent.stripePriceId }
        : {
            quantity: 1,
            price_data: {
              currency: priced.currency,
              unit_amount: priced.amountCents,
              product_data: productData,
              ...(priced.mode === 'subscription'
                ? { recurring: { interval: billingConfig.premium.interval } }
                : {}),
            },
          }
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: priced.mode,
      customer,
      client_reference_id: String(user.id),
      success_url: CheckoutService.successUrl(),
      cancel_url: CheckoutService.cancelUrl(),
      metadata,
      line_items: [lineItem],
      ...(priced.mode === 'subscription'
        ? { subscription_data: { metadata } }
        : { payment_intent_data: { metadata } }),
    }
    const { requestKey } = options
    if (!requestKey) {
      return StripeGateway.call(() => this.gateway.client.checkout.sessions.create(params))
    }
    const idempotencyKey = CheckoutService.requestIdempotencyKey(user, purchase, requestKey)
    let session: Stripe.Response<Stripe.Checkout.Session>
    try {
      session = await StripeGateway.call(() =>
        this.gateway.client.checkout.sessions.create(params, { idempotencyKey })
      )
    } catch (error) {
      if (error instanceof Stripe.errors.StripeIdempotencyError) {
        throw new CheckoutConflictException(
          'This purchase form was already sent with other contents. Reload the page to buy again.'
        )
      }
      throw error
    }
    if (session.lastResponse?.headers?.['idempotent-replayed'] !== 'true') return session
    // A repeat: Stripe answered with the first response; what matters is the session now.
    const current = await StripeGateway.call(() =>
      this.gateway.client.checkout.sessions.retrieve(session.id)
    )
    if (current.status !== 'open') {
      throw new CheckoutConflictException(
        current.status === 'complete'
          ? 'This purchase form was already paid. Reload the page to buy again.'
          : 'This purchase form has expired. Reload the page to buy again.'
      )
    }
    return current
  }

  /** Whether a session is one of ours (a kind this service fulfils). */
  static isOurs(session: Stripe.Checkout.Session) {
    return PURCHASE_KINDS.includes(session.metadata?.kind as PurchaseKind)
  }

  /**
   * The purchase a session claims to be, checked against what we priced and
   * whom it is for. Throws CheckoutMismatchException on any difference.
   */
  protected verify(
    session: Stripe.Checkout.Session,
    user: User | null,
    agent: MarketplaceAgent | null = null
  ): PricedPurchase {
    const refuse = (problem: string) => CheckoutMismatchException.for(session.id, problem)
    const metadata = session.metadata ?? {}
    const kind = metadata.kind as PurchaseKind | undefined
    if (!kind || !PURCHASE_KINDS.includes(kind)) {
      throw refuse(`unknown purchase kind "${metadata.kind ?? ''}"`)
    }
    if (!user) throw refuse(`no user ${metadata.user_id ?? '(missing user_id)'}`)
    if (!user.stripeCustomerId || stripeId(session.customer) !== user.stripeCustomerId) {
      throw refuse(`customer ${stripeId(session.customer) ?? '(none)'} is not user ${user.id}'s`)
    }
    if (session.client_reference_id && session.client_reference_id !== String(user.id)) {
      throw refuse(`client_reference_id ${session.client_reference_id} is not user ${user.id}`)
    }
    let purchase: Purchase
    let expectedMode: PricedPurchase['mode'] | null = null
    if (kind === 'agent') {
      if (!agent || String(agent.id) !== metadata.agent_id) {
        throw refuse(`no agent ${metadata.agent_id ?? '(missing agent_id)'}`)
      }
      // The pricing type quoted at the start decides the mode, whatever the agent's is now,
      // and the amount must be quoted: an agent's price may have changed since.
      const quotedType = metadata.pricing_type
      if (quotedType !== 'monthly' && quotedType !== 'one_time') {
        throw refuse(`agent pricing type "${quotedType ?? ''}" is not sold through Checkout`)
      }
      if (metadata.price_cents === undefined) throw refuse('no quoted price')
      expectedMode = quotedType === 'monthly' ? 'subscription' : 'payment'
      purchase = { kind, agent }
    } else if (kind === 'credits') {
      const packageKey = metadata.package_key as CreditPackageKey | undefined
      if (!billingConfig.creditPackages.some((pack) => pack.key === packageKey)) {
        throw refuse(`unknown credit package "${packageKey ?? ''}"`)
      }
      purchase = { kind, packageKey: packageKey! }
    } else {
      purchase = { kind }
    }
    const priced = CheckoutService.quoted(purchase, metadata.price_cents, expectedMode)
    if (priced === null) throw refuse(`quoted price "${metadata.price_cents}" is not an amount`)
    if (session.mode !== priced.mode) throw refuse(`mode ${session.mode} (expected ${priced.mode})`)
    if (session.currency !== priced.currency) {
      throw refuse(`currency ${session.currency} (expected ${priced.currency})`)
    }
    if (session.amount_total !== priced.amountCents) {
      throw refuse(`amount ${session.amount_total} (expected ${priced.amountCents})`)
    }
    return priced
  }

  /**
   * Our price for the purchase as quoted on the session (`price_cents`), or
   * today's price for sessions made before quotes were recorded; null for a
   * quote that is not a positive whole number of cents.
   */
  protected static quoted(
    purchase: Purchase,
    quote: string | undefined,
    mode: PricedPurchase['mode'] | null = null
  ): PricedPurchase | null {
    const priced =
      purchase.kind === 'agent'
        ? {
            purchase,
            mode: mode ?? 'payment',
            amountCents: 0,
            currency: billingConfig.currency,
            name: purchase.agent.name,
            description: purchase.agent.description,
          }
        : CheckoutService.price(purchase)
    if (quote === undefined) return priced
    if (!/^[1-9][0-9]{0,11}$/.test(quote)) return null
    return { ...priced, amountCents: Number(quote) }
  }

  protected static isPaid(session: Stripe.Checkout.Session) {
    return (
      session.status === 'complete' &&
      (session.payment_status === 'paid' || session.payment_status === 'no_payment_required')
    )
  }

  protected async lockUser(session: Stripe.Checkout.Session, trx: TransactionClientContract) {
    const userId = Number(session.metadata?.user_id)
    if (!Number.isSafeInteger(userId) || userId <= 0) return null
    return User.query({ client: trx }).where('id', userId).forUpdate().first()
  }

  /**
   * What fulfilling a paid session needs from Stripe, read before any
   * transaction or lock: Premium's or a monthly agent's subscription (its
   * current state), or the charge that paid a one-time agent (its earning
   * is found by it on a refund). Nothing for the rest.
   */
  async prefetch(session: Stripe.Checkout.Session): Promise<FulfilPrefetch> {
    const none: FulfilPrefetch = { subscription: null, agentSubscription: null, chargeId: null }
    if (!CheckoutService.isPaid(session)) return none
    const subscriptionId = stripeId(session.subscription)
    const kind = session.metadata?.kind
    if (kind === 'premium' && subscriptionId) {
      const subscriptions = await this.subscriptionService()
      return { ...none, subscription: await subscriptions.fetchState(subscriptionId) }
    }
    if (kind === 'agent') {
      const entitlements = await this.entitlementService()
      if (subscriptionId) {
        return { ...none, agentSubscription: await entitlements.fetchSubscription(subscriptionId) }
      }
      return {
        ...none,
        chargeId: await entitlements.chargeOfPaymentIntent(stripeId(session.payment_intent)),
      }
    }
    return none
  }

  /**
   * Grants what a completed Checkout Session paid for, once: shared by the
   * webhook (checkout.session.completed / async_payment_succeeded) and the
   * success page, so they race safely. Checks kind, user, customer, mode,
   * currency and amount against the price we quoted (CheckoutMismatchException,
   * nothing granted); acts only when the session is complete and paid.
   * Idempotent on the session id: the user's row is locked, then the unique
   * `stripe_checkout_session_id` row is checked before it is inserted.
   * Reads Stripe first (`prefetch`), then writes in its own transaction.
   */
  async fulfil(
    session: Stripe.Checkout.Session,
    options: FulfilOptions = {}
  ): Promise<FulfilResult> {
    const prefetched = await this.prefetch(session)
    return db.transaction((trx) => this.fulfilIn(session, prefetched, trx, options))
  }

  /**
   * `fulfil`'s writes, in the caller's transaction (the webhook's), with what
   * `prefetch` read. Never calls Stripe.
   */
  async fulfilIn(
    session: Stripe.Checkout.Session,
    prefetched: FulfilPrefetch,
    trx: TransactionClientContract,
    options: FulfilOptions
  ): Promise<FulfilResult> {
    const user = await this.lockUser(session, trx)
    const agentId = Number(session.metadata?.agent_id)
    const agent =
      session.metadata?.kind === 'agent' && Number.isSafeInteger(agentId) && agentId > 0
        ? await MarketplaceAgent.find(agentId, { client: trx })
        : null
    const priced = this.verify(session, user, agent)
    const owner = user!
    const kind = priced.purchase.kind
    const paid = CheckoutService.isPaid(session)
    const paymentIntentId = stripeId(session.payment_intent)
    const now = DateTime.utc()
    const createdBy = options.source ?? 'checkout'

    if (priced.purchase.kind === 'credits') {
      let purchase = await CreditPurchase.query({ client: trx })
        .where('stripe_checkout_session_id', session.id)
        .first()
      if (purchase && purchase.status !== 'pending') {
        return { kind, status: purchase.status === 'failed' ? 'failed' : 'already' }
      }
      if (session.status !== 'complete') return { kind, status: 'pending' }
      if (!purchase) {
        // Completed but not yet paid (an asynchronous payment) is remembered as pending;
        // paid, the row is written paid at once.
        purchase = await CreditPurchase.create(
          {
            userId: owner.id,
            packageKey: priced.purchase.packageKey,
            creditsCents: priced.amountCents,
            amountCents: priced.amountCents,
            currency: priced.currency,
            stripeCheckoutSessionId: session.id,
            stripePaymentIntentId: paymentIntentId,
            status: paid ? 'paid' : 'pending',
            paidAt: paid ? (options.eventCreated ?? now) : null,
            refundedAt: null,
          },
          { client: trx }
        )
        if (!paid) return { kind, status: 'pending' }
      } else {
        if (!paid) return { kind, status: 'pending' }
        purchase.status = 'paid'
        purchase.paidAt = options.eventCreated ?? now
        purchase.stripePaymentIntentId = purchase.stripePaymentIntentId ?? paymentIntentId
        purchase.useTransaction(trx)
        await purchase.save()
      }
      await new CreditService().grant(
        owner.id,
        purchase.creditsCents,
        'purchase',
        {
          idempotencyKey: `checkout:${session.id}`,
          creditPurchaseId: purchase.id,
          description: `Credit pack (${purchase.packageKey})`,
          createdBy,
          // lockUser() holds the owner's row lock in this transaction.
          userLocked: true,
        },
        trx
      )
      return { kind, status: 'fulfilled' }
    }

    if (priced.purchase.kind === 'deploy_slot') {
      const existing = await DeploySlotPurchase.query({ client: trx })
        .where('stripe_checkout_session_id', session.id)
        .first()
      if (existing) return { kind, status: 'already' }
      if (!paid) return { kind, status: 'pending' }
      await DeploySlotPurchase.create(
        {
          userId: owner.id,
          stripeCheckoutSessionId: session.id,
          stripePaymentIntentId: paymentIntentId,
          amountCents: priced.amountCents,
          currency: priced.currency,
          status: 'active',
          purchasedAt: options.eventCreated ?? now,
          refundedAt: null,
        },
        { client: trx }
      )
      return { kind, status: 'fulfilled' }
    }

    if (priced.purchase.kind === 'agent') {
      if (!paid) return { kind, status: 'pending' }
      const entitlements = await this.entitlementService()
      const at = options.eventCreated ?? fromStripeTime(session.created) ?? now
      if (priced.mode === 'payment') {
        const status = await entitlements.fulfilOneTime(
          {
            owner,
            agent: priced.purchase.agent,
            session,
            grossCents: priced.amountCents,
            chargeId: prefetched.chargeId,
            at,
          },
          trx
        )
        return { kind, status }
      }
      // Monthly: the entitlement mirrors the subscription; its invoices write the earnings.
      const state = prefetched.agentSubscription
      if (!state?.subscription) return { kind, status: 'pending' }
      const known = await trx
        .from('agent_entitlements')
        .where('stripe_subscription_id', state.id)
        .first()
      await entitlements.applySubscription(state, { trx, eventCreated: at })
      return { kind, status: known ? 'already' : 'fulfilled' }
    }

    // Premium: the subscription (read from Stripe by prefetch) is mirrored by SubscriptionService.
    const subscription = prefetched.subscription
    if (!paid || !subscription?.subscription) return { kind, status: 'pending' }
    const known = await trx
      .from('subscriptions')
      .where('stripe_subscription_id', subscription.id)
      .first()
    const subscriptions = await this.subscriptionService()
    // The session's own time, not our clock: a clock ahead of Stripe's must not make a
    // later, genuine subscription event look older than this row.
    await subscriptions.applyState(subscription, {
      trx,
      eventCreated: options.eventCreated ?? fromStripeTime(session.created) ?? now,
      userId: owner.id,
    })
    return { kind, status: known ? 'already' : 'fulfilled' }
  }

  /** SubscriptionService depends on this service; it is resolved when needed, not injected. */
  protected async subscriptionService() {
    const { default: SubscriptionService } = await import('#services/subscription_service')
    return app.container.make(SubscriptionService)
  }

  /** So does AgentEntitlementService. */
  protected async entitlementService() {
    const { default: AgentEntitlementService } =
      await import('#services/marketplace/entitlement_service')
    return app.container.make(AgentEntitlementService)
  }

  /**
   * An asynchronous payment failed (checkout.session.async_payment_failed):
   * a pending credit purchase becomes failed (one that never got a row gets a
   * failed one, so a late "completed" cannot make it pending again). Nothing
   * is granted; a paid purchase is never moved back.
   */
  async markFailed(
    session: Stripe.Checkout.Session,
    options: { trx?: TransactionClientContract } = {}
  ) {
    const run = async (trx: TransactionClientContract): Promise<FulfilResult> => {
      const user = await this.lockUser(session, trx)
      // Only credit packs keep a row for a failed payment; an agent's session grants nothing either way.
      if (session.metadata?.kind === 'agent') return { kind: 'agent', status: 'failed' }
      const priced = this.verify(session, user)
      const kind = priced.purchase.kind
      if (priced.purchase.kind !== 'credits') return { kind, status: 'failed' }
      const purchase = await CreditPurchase.query({ client: trx })
        .where('stripe_checkout_session_id', session.id)
        .first()
      if (purchase) {
        if (purchase.status !== 'pending')
          return { kind, status: purchase.isPaid ? 'already' : 'failed' }
        purchase.status = 'failed'
        purchase.useTransaction(trx)
        await purchase.save()
        return { kind, status: 'failed' }
      }
      await CreditPurchase.create(
        {
          userId: user!.id,
          packageKey: priced.purchase.packageKey,
          creditsCents: priced.amountCents,
          amountCents: priced.amountCents,
          currency: priced.currency,
          stripeCheckoutSessionId: session.id,
          stripePaymentIntentId: stripeId(session.payment_intent),
          status: 'failed',
          paidAt: null,
          refundedAt: null,
        },
        { client: trx }
      )
      return { kind, status: 'failed' }
    }
    return options.trx ? run(options.trx) : db.transaction(run)
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
