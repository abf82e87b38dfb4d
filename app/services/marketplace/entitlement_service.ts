import { inject } from '@adonisjs/core'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import logger from '@adonisjs/core/services/logger'
import locks from '@adonisjs/lock/services/main'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { DateTime } from 'luxon'
import type Stripe from 'stripe'
import stripeConfig from '#config/stripe'
import User from '#models/user'
import MarketplaceAgent from '#models/marketplace_agent'
import AgentEntitlement, {
  type AgentEntitlementStatus,
  LIVE_ENTITLEMENT_STATUSES,
} from '#models/agent_entitlement'
import StripeGateway from '#services/stripe_gateway'
import CustomerService from '#services/customer_service'
import EarningsService from '#services/marketplace/earnings_service'
import { splitGross } from '#services/marketplace/split'
import ConflictException from '#exceptions/conflict_exception'
import { PurchaseNotRecordedYetException } from '#services/purchase_refund_service'
import { fromStripeTime, isOlderState } from '#support/stripe_time'
import { stripeId } from '#support/stripe_ids'

/** What acquiring an agent did: added at once (free, api) or a Checkout to pay at. */
export type AcquireResult =
  | { outcome: 'added'; entitlement: AgentEntitlement }
  | { outcome: 'checkout'; session: Stripe.Checkout.Session; reused: boolean }

/** An agent subscription read from Stripe before any lock, with the user's other live ones for the same agent. */
export interface FetchedAgentSubscription {
  id: string
  subscription: Stripe.Subscription | null
  current: boolean
  fetchedAt: DateTime
  others: ReadonlyMap<string, Stripe.Subscription | null>
}

/** A paid agent-subscription invoice, read before the lock: what it earned and the charge that paid it. */
export interface FetchedAgentInvoice {
  invoice: Stripe.Invoice
  chargeId: string | null
  subscription: FetchedAgentSubscription | null
}

/** One refund step or dispute of a charge that paid agent earnings. */
export type ChargeReversalStep = {
  /** Names this refund step or dispute: the reversal's unique source. */
  sourceId: string
  at: DateTime
  /** Refunded in full, or disputed: a one-time purchase loses its entitlement. */
  full: boolean
} & (
  | { kind: 'refund'; /** The charge's refunded total so far. */ refundedTotalCents: number }
  | { kind: 'dispute'; grossCents: number }
)

/** An agent as the marketplace shows it to one user. */
export type AgentListing = {
  id: number
  slug: string
  name: string
  description: string
  pricingType: string
  priceCents: number | null
  inputPriceMicrosPerMillion: number | null
  outputPriceMicrosPerMillion: number | null
  /** Null for the platform's own agents. */
  creatorName: string | null
  /** What the creator earns of each sale or renewal (null: per token, or free). */
  creatorEarnsCents: number | null
  creatorSharePercent: number
  /** Whether it can be bought now (a paid agent whose Stripe price is in step). */
  available: boolean
  /** The viewer made it. */
  own: boolean
  /** The viewer's live entitlement, if any. */
  held: {
    status: AgentEntitlementStatus
    cancelAtPeriodEnd: boolean
    currentPeriodEnd: string | null
  } | null
}

/** The user's agents, for "My agents" and the API. */
export type OwnedAgent = {
  entitlementId: number
  status: AgentEntitlementStatus
  pricingType: string
  cancelAtPeriodEnd: boolean
  currentPeriodEnd: string | null
  since: string
  agent: { id: number; slug: string; name: string; description: string }
}

/** A Stripe subscription's status as an agent entitlement's (also used by stripe:reconcile). */
export function statusFrom(subscription: Stripe.Subscription): AgentEntitlementStatus {
  switch (subscription.status) {
    case 'active':
    case 'trialing':
      return 'active'
    case 'past_due':
      return 'past_due'
    case 'incomplete':
      return 'pending'
    default:
      // canceled, unpaid, incomplete_expired, paused: no use of the agent.
      return 'canceled'
  }
}

const ENDED: readonly AgentEntitlementStatus[] = ['canceled', 'refunded']

/** Stripe calls the acquire lock may wrap: customer, list sessions, create (each timeout x attempts), plus slack. */
const ACQUIRE_LOCK_TTL = `${Math.ceil((4 * stripeConfig.timeoutMs * (1 + stripeConfig.maxNetworkRetries)) / 1000) + 30}s`

/**
 * Users' marketplace agents. Free agents are added at once; api agents once
 * the user can pay for usage (credits, or a saved card); monthly and one-time
 * agents through Checkout (CheckoutService, kind `agent`), fulfilled by the
 * shared `fulfil` and, for monthly ones, mirrored from their Stripe
 * subscription by webhook like Premium. A user holds at most one live
 * entitlement per agent (a partial unique index); re-subscribing after a
 * cancel creates a new one. Paid invoices of agent subscriptions write the
 * creator's earnings (first invoice: sale; later ones: renewal).
 */
@inject()
export default class AgentEntitlementService {
  constructor(
    protected gateway: StripeGateway,
    protected customers: CustomerService,
    protected earnings: EarningsService
  ) {}

  /** The user's live entitlement to an agent, if any. */
  live(userId: number, agentId: number, trx?: TransactionClientContract) {
    return AgentEntitlement.query(trx ? { client: trx } : {})
      .where('user_id', userId)
      .where('agent_id', agentId)
      .whereIn('status', [...LIVE_ENTITLEMENT_STATUSES])
      .first()
  }

  /**
   * Gets an agent for a user: free ones are added, api ones added when the
   * user has credits or a saved card, monthly and one-time ones answered
   * with a Checkout Session (an open one of the user's for this agent is
   * reused). Refused (409) while the user already has it, for an agent that
   * is not on sale, or for the creator's own paid agent.
   */
  async acquire(
    user: User,
    agent: MarketplaceAgent,
    options: { requestKey?: string } = {}
  ): Promise<AcquireResult> {
    if (!agent.isPublished) throw new ConflictException(`${agent.name} is not on sale.`)
    if (agent.creatorId === user.id && !agent.isFree) {
      throw new ConflictException(`${agent.name} is your own agent: you do not need to buy it.`)
    }
    const [acquired, result] = await locks
      .createLock(`agents:acquire:user:${user.id}`, ACQUIRE_LOCK_TTL)
      .run(async (): Promise<AcquireResult> => {
        const held = await this.live(user.id, agent.id)
        if (held) throw this.alreadyHeld(agent, held)
        if (agent.isFree) return { outcome: 'added', entitlement: await this.add(user, agent) }
        if (agent.isUsageBased) {
          await this.requireWayToPay(user)
          return { outcome: 'added', entitlement: await this.add(user, agent) }
        }
        if (!agent.isSellable) {
          throw new ConflictException(
            `${agent.name} cannot be bought right now (its price is being updated). Try again in a minute.`
          )
        }
        const open = await this.openSession(user, agent)
        if (open) return { outcome: 'checkout', session: open, reused: true }
        const { default: CheckoutService } = await import('#services/checkout_service')
        const checkout = await app.container.make(CheckoutService)
        const session = await checkout.start(user, { kind: 'agent', agent }, options)
        return { outcome: 'checkout', session, reused: false }
      })
    if (!acquired) {
      throw new ConflictException(
        'Another purchase is being started for your account; try again in a moment.'
      )
    }
    return result
  }

  /** Adds a free or api agent (no payment at this point), under the user's row lock. */
  protected add(user: User, agent: MarketplaceAgent) {
    return db.transaction(async (trx) => {
      await User.query({ client: trx }).where('id', user.id).forUpdate().firstOrFail()
      const held = await this.live(user.id, agent.id, trx)
      if (held) throw this.alreadyHeld(agent, held)
      return AgentEntitlement.create(
        { userId: user.id, agentId: agent.id, pricingType: agent.pricingType, status: 'active' },
        { client: trx }
      )
    })
  }

  /** Api agents are billed by usage: the user needs credits or a saved card first. */
  protected async requireWayToPay(user: User) {
    const fresh = await User.findOrFail(user.id)
    if (fresh.creditsBalanceCents > 0) return
    const customer = await this.customers.ensureCustomer(fresh)
    const methods = await StripeGateway.call(() =>
      this.gateway.client.customers.listPaymentMethods(customer, { limit: 1 })
    )
    if (methods.data.length > 0) return
    throw new ConflictException(
      'This agent is billed by the tokens it uses: buy credits or save a card (billing portal) first.'
    )
  }

  /** An open Checkout Session of the user's for this agent, to hand back instead of a second one. */
  protected async openSession(user: User, agent: MarketplaceAgent) {
    const customer = await this.customers.ensureCustomer(user)
    const sessions = await StripeGateway.call(() =>
      this.gateway.client.checkout.sessions.list({ customer, status: 'open', limit: 100 })
    )
    return (
      sessions.data.find(
        (session) =>
          session.metadata?.kind === 'agent' && session.metadata?.agent_id === String(agent.id)
      ) ?? null
    )
  }

  protected alreadyHeld(agent: MarketplaceAgent, held: AgentEntitlement) {
    return new ConflictException(
      held.status === 'past_due'
        ? `Your subscription to ${agent.name} has a failed payment: update your card in the billing portal.`
        : `You already have ${agent.name}.`
    )
  }

  /** Cancels a monthly agent at the end of its period (the webhook mirrors it). */
  async cancel(user: User, agent: MarketplaceAgent) {
    const held = await this.live(user.id, agent.id)
    if (!held || !held.stripeSubscriptionId) {
      throw new ConflictException(`You have no subscription to ${agent.name} to cancel.`)
    }
    if (held.cancelAtPeriodEnd) return held
    const fetchedAt = DateTime.utc()
    const updated = await StripeGateway.call(() =>
      this.gateway.client.subscriptions.update(
        held.stripeSubscriptionId!,
        { cancel_at_period_end: true },
        { idempotencyKey: `studio:entitlement:${held.id}:cancel:${held.updatedAt.toMillis()}` }
      )
    )
    const state: FetchedAgentSubscription = {
      id: updated.id,
      subscription: updated,
      current: true,
      fetchedAt,
      others: new Map(),
    }
    await db.transaction((trx) =>
      this.applySubscription(state, { trx, eventCreated: held.stripeUpdatedAt ?? fetchedAt })
    )
    return AgentEntitlement.findOrFail(held.id)
  }

  /** Agents as the marketplace shows them to `user`: price, the creator's share, what the user holds. */
  async listings(user: User, agents: MarketplaceAgent[]): Promise<AgentListing[]> {
    if (agents.length === 0) return []
    const ids = agents.map((agent) => agent.id)
    const [held, creators] = await Promise.all([
      AgentEntitlement.query()
        .where('user_id', user.id)
        .whereIn('agent_id', ids)
        .whereIn('status', [...LIVE_ENTITLEMENT_STATUSES]),
      User.query().whereIn(
        'id',
        agents.flatMap((agent) => (agent.creatorId === null ? [] : [agent.creatorId]))
      ),
    ])
    const heldBy = new Map(held.map((row) => [row.agentId, row]))
    const names = new Map(creators.map((creator) => [creator.id, creator.fullName]))
    return agents.map((agent) => {
      const share = agent.creatorId === null ? 0 : EarningsService.creatorShareBps()
      const own = heldBy.get(agent.id)
      return {
        id: agent.id,
        slug: agent.slug,
        name: agent.name,
        description: agent.description,
        pricingType: agent.pricingType,
        priceCents: agent.priceCents,
        inputPriceMicrosPerMillion: agent.inputPriceMicrosPerMillion,
        outputPriceMicrosPerMillion: agent.outputPriceMicrosPerMillion,
        creatorName: agent.creatorId === null ? null : (names.get(agent.creatorId) ?? null),
        creatorEarnsCents:
          agent.priceCents === null ? null : splitGross(agent.priceCents, share).creatorCents,
        creatorSharePercent: share / 100,
        available: agent.isPublished && (agent.isFree || agent.isUsageBased || agent.isSellable),
        own: agent.creatorId === user.id,
        held: own
          ? {
              status: own.status,
              cancelAtPeriodEnd: own.cancelAtPeriodEnd,
              currentPeriodEnd: own.currentPeriodEnd?.toISO() ?? null,
            }
          : null,
      }
    })
  }

  /** The user's agents (live first, then history), newest first. */
  async owned(user: User): Promise<OwnedAgent[]> {
    const rows = await AgentEntitlement.query()
      .where('user_id', user.id)
      .preload('agent')
      .orderByRaw(`CASE WHEN status IN ('pending', 'active', 'past_due') THEN 0 ELSE 1 END`)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
    return rows.map((row) => ({
      entitlementId: row.id,
      status: row.status,
      pricingType: row.pricingType,
      cancelAtPeriodEnd: row.cancelAtPeriodEnd,
      currentPeriodEnd: row.currentPeriodEnd?.toISO() ?? null,
      since: row.createdAt.toISO()!,
      agent: {
        id: row.agent.id,
        slug: row.agent.slug,
        name: row.agent.name,
        description: row.agent.description,
      },
    }))
  }

  /* ------------------------------------------------------------------ */
  /* Stripe reads (before any lock) and their application (under it)     */
  /* ------------------------------------------------------------------ */

  protected retrieve(id: string): Promise<Stripe.Subscription | null> {
    return this.gateway.retrieveSubscription(id)
  }

  /** Reads an agent subscription's current state, and the user's other live ones for that agent. */
  async fetchSubscription(
    reference: Stripe.Subscription | string
  ): Promise<FetchedAgentSubscription> {
    const id = typeof reference === 'string' ? reference : reference.id
    const fetchedAt = DateTime.utc()
    const current = await this.retrieve(id)
    const subscription = current ?? (typeof reference === 'string' ? null : reference)
    const others = new Map<string, Stripe.Subscription | null>()
    const userId = Number(subscription?.metadata?.user_id)
    const agentId = Number(subscription?.metadata?.agent_id)
    if (subscription && Number.isSafeInteger(userId) && Number.isSafeInteger(agentId)) {
      const live = await AgentEntitlement.query()
        .where('user_id', userId)
        .where('agent_id', agentId)
        .whereIn('status', [...LIVE_ENTITLEMENT_STATUSES])
        .whereNotNull('stripe_subscription_id')
        .whereNot('stripe_subscription_id', id)
      for (const other of live) {
        others.set(other.stripeSubscriptionId!, await this.retrieve(other.stripeSubscriptionId!))
      }
    }
    return { id, subscription, current: current !== null, fetchedAt, others }
  }

  /**
   * Mirrors an agent subscription into its entitlement, under the user's row
   * lock, refusing older states (invariant 8) and never reviving an ended
   * entitlement. A new live subscription while another live one of the same
   * agent is held: the other is settled from what Stripe said (ended there:
   * canceled here); both live in Stripe is a double charge for an operator,
   * so the event fails and stays for replay.
   */
  async applySubscription(
    state: FetchedAgentSubscription,
    options: { trx: TransactionClientContract; eventCreated: DateTime }
  ): Promise<AgentEntitlement | null> {
    const { trx, eventCreated } = options
    const subscription = state.subscription
    if (!subscription || subscription.metadata?.kind !== 'agent') return null
    const fetchedAt = state.current ? state.fetchedAt : undefined
    const userId = Number(subscription.metadata.user_id)
    const agentId = Number(subscription.metadata.agent_id)
    const owner = await User.query({ client: trx }).where('id', userId).forUpdate().first()
    const agent = await MarketplaceAgent.query({ client: trx }).where('id', agentId).first()
    const customerId = stripeId(subscription.customer)
    if (!owner || !agent || owner.stripeCustomerId !== customerId) {
      logger.warn(
        { subscription: subscription.id, userId, agentId, customer: customerId },
        'agent subscription of an unknown user, agent or customer: not mirrored'
      )
      return null
    }

    let row = await AgentEntitlement.query({ client: trx })
      .where('stripe_subscription_id', subscription.id)
      .forUpdate()
      .first()
    const status = statusFrom(subscription)
    if (row) {
      if (isOlderState(row, eventCreated, fetchedAt)) return row
      if (ENDED.includes(row.status)) return row
    } else if (status !== 'canceled') {
      await this.settleOtherLive(owner, agent, subscription, state.others, trx)
    }

    const item = subscription.items.data[0]
    const values = {
      userId: owner.id,
      agentId: agent.id,
      pricingType: 'monthly' as const,
      status,
      stripeSubscriptionId: subscription.id,
      cancelAtPeriodEnd: subscription.cancel_at_period_end || subscription.cancel_at !== null,
      currentPeriodEnd: fromStripeTime(item?.current_period_end) ?? row?.currentPeriodEnd ?? null,
      canceledAt: fromStripeTime(subscription.canceled_at),
      stripeUpdatedAt:
        row?.stripeUpdatedAt && row.stripeUpdatedAt > eventCreated
          ? row.stripeUpdatedAt
          : eventCreated,
      stripeFetchedAt: fetchedAt ?? row?.stripeFetchedAt ?? null,
    }
    if (row) {
      row.merge(values)
      await row.useTransaction(trx).save()
    } else {
      row = await AgentEntitlement.create(values, { client: trx })
    }
    return row
  }

  protected async settleOtherLive(
    owner: User,
    agent: MarketplaceAgent,
    incoming: Stripe.Subscription,
    others: ReadonlyMap<string, Stripe.Subscription | null>,
    trx: TransactionClientContract
  ) {
    const other = await this.live(owner.id, agent.id, trx)
    if (!other) return
    if (!other.stripeSubscriptionId) {
      throw new Error(
        `User ${owner.id} already holds agent ${agent.id} (${other.pricingType}, entitlement ${other.id}) and subscribed to it in ${incoming.id}; refund or cancel one, then replay this event`
      )
    }
    if (!others.has(other.stripeSubscriptionId)) {
      throw new Error(
        `Live agent subscription ${other.stripeSubscriptionId} was not read from Stripe before ${incoming.id} was applied; retry`
      )
    }
    const fresh = others.get(other.stripeSubscriptionId) ?? null
    if (fresh && statusFrom(fresh) !== 'canceled' && other.status !== 'pending') {
      throw new Error(
        `User ${owner.id} has two live subscriptions to agent ${agent.id} (${other.stripeSubscriptionId} and ${incoming.id}); cancel one in Stripe, then replay this event`
      )
    }
    other.merge({
      status: 'canceled',
      canceledAt: fromStripeTime(fresh?.canceled_at) ?? other.canceledAt,
    })
    await other.useTransaction(trx).save()
  }

  /** The charge that paid a PaymentIntent (refunds and disputes find earnings by it). */
  async chargeOfPaymentIntent(paymentIntentId: string | null): Promise<string | null> {
    if (!paymentIntentId) return null
    const intent = await StripeGateway.call(() =>
      this.gateway.client.paymentIntents.retrieve(paymentIntentId)
    )
    return stripeId(intent.latest_charge)
  }

  /** Whether an invoice belongs to an agent subscription (the subscription's metadata rides on it). */
  static isAgentInvoice(invoice: Stripe.Invoice) {
    return invoice.parent?.subscription_details?.metadata?.kind === 'agent'
  }

  /** Reads what a paid agent invoice needs: its charge and its subscription's current state. */
  async fetchInvoice(invoice: Stripe.Invoice): Promise<FetchedAgentInvoice> {
    const payments = await StripeGateway.call(() =>
      this.gateway.client.invoicePayments.list({ invoice: invoice.id!, limit: 10 })
    )
    const paid = payments.data.find((payment) => payment.status === 'paid')
    const chargeId =
      stripeId(paid?.payment.charge) ??
      (await this.chargeOfPaymentIntent(stripeId(paid?.payment.payment_intent)))
    const subscriptionId = stripeId(invoice.parent?.subscription_details?.subscription)
    const subscription = subscriptionId ? await this.fetchSubscription(subscriptionId) : null
    return { invoice, chargeId, subscription }
  }

  /**
   * invoice.paid of an agent subscription: one earning per invoice (the
   * subscription's first invoice is the sale, later ones renewals), then
   * the entitlement follows the subscription.
   */
  async applyPaidInvoice(
    fetched: FetchedAgentInvoice,
    options: { trx: TransactionClientContract; eventCreated: DateTime }
  ) {
    const { invoice } = fetched
    const metadata = invoice.parent?.subscription_details?.metadata ?? {}
    const agent = await MarketplaceAgent.find(Number(metadata.agent_id), { client: options.trx })
    const buyerId = Number(metadata.user_id)
    if (!agent || !Number.isSafeInteger(buyerId) || invoice.amount_paid <= 0) return null
    const input = {
      agent,
      buyerId,
      sourceId: invoice.id!,
      grossCents: invoice.amount_paid,
      stripeChargeId: fetched.chargeId,
      at: fromStripeTime(invoice.status_transitions?.paid_at) ?? options.eventCreated,
      currency: invoice.currency,
    }
    const earning =
      invoice.billing_reason === 'subscription_create'
        ? await this.earnings.recordSale({ ...input, sourceType: 'invoice' }, options.trx)
        : await this.earnings.recordRenewal(input, options.trx)
    if (fetched.subscription) await this.applySubscription(fetched.subscription, options)
    return earning
  }

  /**
   * A paid one-time Checkout for an agent (called by CheckoutService.fulfil
   * under the user's row lock): the entitlement and the sale, once per session.
   */
  async fulfilOneTime(
    input: {
      owner: User
      agent: MarketplaceAgent
      session: Stripe.Checkout.Session
      grossCents: number
      chargeId: string | null
      at: DateTime
    },
    trx: TransactionClientContract
  ): Promise<'fulfilled' | 'already'> {
    const { owner, agent, session } = input
    const existing = await AgentEntitlement.query({ client: trx })
      .where('stripe_checkout_session_id', session.id)
      .first()
    const sale = await this.earnings.recordSale(
      {
        agent,
        buyerId: owner.id,
        sourceId: session.id,
        sourceType: 'checkout_session',
        grossCents: input.grossCents,
        stripeChargeId: input.chargeId,
        at: input.at,
        currency: session.currency ?? undefined,
      },
      trx
    )
    if (existing) return 'already'
    const held = await this.live(owner.id, agent.id, trx)
    if (held) {
      // Paid twice through two sessions opened side by side: the money is recorded; an operator refunds one.
      logger.warn(
        { session: session.id, entitlement: held.id, sale: sale.transaction.id },
        'one-time agent paid while already held: sale recorded, no second entitlement'
      )
      return sale.created ? 'fulfilled' : 'already'
    }
    await AgentEntitlement.create(
      {
        userId: owner.id,
        agentId: agent.id,
        pricingType: 'one_time',
        status: 'active',
        stripeCheckoutSessionId: session.id,
        stripePaymentIntentId: stripeId(session.payment_intent),
      },
      { client: trx }
    )
    return 'fulfilled'
  }

  /**
   * A refund or dispute of a charge that paid agent earnings: each earning
   * takes back its share (EarningsService.recordReversal, keyed on the
   * refund step or dispute); a one-time purchase refunded in full, or
   * disputed, loses its entitlement. A refund names the charge's refunded
   * total so far, so a step whose event was missed is still taken back once.
   * A charge whose earning is not recorded yet throws
   * PurchaseNotRecordedYetException: the event fails and is delivered again.
   */
  async reverseCharge(
    input: ChargeReversalStep & { chargeId: string },
    trx: TransactionClientContract
  ) {
    const earnings = await this.earnings.earningsOfCharge(input.chargeId, trx)
    if (earnings.length === 0) {
      // The sale's own event (checkout or invoice.paid) is not processed yet: the refund waits for it.
      throw new PurchaseNotRecordedYetException(
        `Agent payment ${input.chargeId} has no earning recorded yet: retry once its sale is processed`
      )
    }
    let gross = 0
    if (input.kind === 'refund') {
      const [sums] = await trx
        .from('marketplace_transactions')
        .whereIn(
          'reverses_transaction_id',
          earnings.map((row) => row.id)
        )
        .where('kind', 'refund')
        .select(trx.raw('COALESCE(-SUM(gross_cents), 0) AS total'))
      gross = input.refundedTotalCents - Number(sums.total)
    } else {
      gross = input.grossCents
    }
    if (gross <= 0) return []
    const total = earnings.reduce((sum, row) => sum + row.grossCents, 0)
    const results = []
    let left = gross
    for (const [index, earning] of earnings.entries()) {
      // A charge paying several earnings (a usage invoice) is taken back in proportion; the last gets the rest.
      const share =
        index === earnings.length - 1
          ? left
          : Math.floor((gross * earning.grossCents) / Math.max(total, 1))
      left -= share
      if (share > 0) {
        results.push(
          await this.earnings.recordReversal(
            {
              earning,
              kind: input.kind,
              sourceId: input.sourceId,
              grossCents: share,
              at: input.at,
            },
            trx
          )
        )
      }
      if (input.full && earning.sourceType === 'checkout_session') {
        await AgentEntitlement.query({ client: trx })
          .where('stripe_checkout_session_id', earning.sourceId)
          .whereNot('status', 'refunded')
          .update({ status: 'refunded', refunded_at: input.at.toJSDate(), updated_at: new Date() })
      }
    }
    return results
  }
}
