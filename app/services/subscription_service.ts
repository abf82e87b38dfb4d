import { inject } from '@adonisjs/core'
import { DateTime } from 'luxon'
import type Stripe from 'stripe'
import db from '@adonisjs/lucid/services/db'
import stripeConfig from '#config/stripe'
import logger from '@adonisjs/core/services/logger'
import locks from '@adonisjs/lock/services/main'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import billingConfig from '#config/billing'
import { appUrl } from '#config/app'
import User, { type Plan } from '#models/user'
import Subscription, {
  type SubscriptionStatus,
  TERMINAL_SUBSCRIPTION_STATUSES,
} from '#models/subscription'
import StripeGateway from '#services/stripe_gateway'
import CustomerService from '#services/customer_service'
import CheckoutService from '#services/checkout_service'
import DeploymentService from '#services/deployment_service'
import PlanLimits from '#services/plan_limits'
import SubscriptionConflictException from '#exceptions/subscription_conflict_exception'
import { fromStripeTime, isOlderState } from '#support/stripe_time'

export interface ApplyOptions {
  trx: TransactionClientContract
  /** `created` of the Stripe event (or the time of the state) being applied: older than the row's, it changes nothing. */
  eventCreated: DateTime
  /** Our user, when the caller knows it (Checkout fulfilment); else metadata.user_id, else the customer. */
  userId?: number
  /**
   * When this state was read from Stripe (our clock, taken before the request).
   * Stripe's times are whole seconds: of two states stamped with the same
   * second, the one read later wins.
   */
  fetchedAt?: DateTime
  /** The user's other live subscriptions as Stripe held them (read by `fetchState`, before any lock). */
  others?: ReadonlyMap<string, Stripe.Subscription | null>
}

/**
 * A subscription as read from Stripe before any transaction is opened, with
 * what `apply` may need to settle (the user's other live subscriptions).
 */
export interface FetchedSubscription {
  id: string
  /** Stripe's current state; the event's copy when Stripe no longer has it; null when neither. */
  subscription: Stripe.Subscription | null
  /** True when `subscription` is Stripe's answer (not the event's copy). */
  current: boolean
  fetchedAt: DateTime
  others: ReadonlyMap<string, Stripe.Subscription | null>
}

/** What the API and the billing page show of a user's Premium. */
export interface SubscriptionSummary {
  plan: Plan
  subscription: {
    id: string
    status: SubscriptionStatus
    cancelAtPeriodEnd: boolean
    currentPeriodStart: string | null
    currentPeriodEnd: string | null
    trialEndsAt: string | null
    canceledAt: string | null
    endedAt: string | null
    pastDueSince: string | null
    /** While past_due: when Premium limits drop if the payment is still failing. */
    graceEndsAt: string | null
  } | null
}

/** Result of one user's grace check. */
export interface GraceExpiry {
  userId: number
  email: string
  stripeSubscriptionId: string
  pastDueSince: string
  stoppedProjectIds: number[]
}

const KNOWN_STATUSES: readonly SubscriptionStatus[] = [
  'incomplete',
  'incomplete_expired',
  'trialing',
  'active',
  'past_due',
  'unpaid',
  'canceled',
  'paused',
]

/** Stripe's status as ours; a status we do not know fails loudly (the event stays for replay). */
function knownStatus(status: string): SubscriptionStatus {
  const known = KNOWN_STATUSES.find((value) => value === status)
  if (!known) throw new Error(`Unknown Stripe subscription status "${status}"`)
  return known
}

function isTerminal(status: string) {
  return TERMINAL_SUBSCRIPTION_STATUSES.some((value) => value === status)
}

/** Statuses that keep Premium without conditions. */
const PREMIUM_STATUSES: readonly SubscriptionStatus[] = ['active', 'trialing']

/** Four sequential Stripe calls at most, each up to timeout x (1 + retries), plus slack. */
const SUBSCRIBE_LOCK_TTL = `${Math.ceil((4 * stripeConfig.timeoutMs * (1 + stripeConfig.maxNetworkRetries)) / 1000) + 30}s`

/**
 * Premium, mirrored from Stripe. Every change, whether it comes from a
 * webhook, from Checkout fulfilment or from our own API calls (cancel,
 * resume, cancel now), goes through `apply`, which upserts the
 * `subscriptions` row under the user's row lock, refuses older states
 * (invariant 8), and derives `users.plan` from the user's subscriptions
 * (with the past_due grace period). A drop to free stops the deployments
 * beyond the free limit, newest first, and deletes nothing.
 */
@inject()
export default class SubscriptionService {
  constructor(
    protected gateway: StripeGateway,
    protected customers: CustomerService,
    protected checkout: CheckoutService,
    protected deployments: DeploymentService
  ) {}

  static graceDays() {
    return billingConfig.premium.pastDueGraceDays
  }

  /** Whether a subscription row gives Premium at `now`. */
  static givesPremium(row: Subscription, now: DateTime) {
    if (PREMIUM_STATUSES.includes(row.status)) return true
    if (row.status === 'past_due') {
      const since = row.pastDueSince ?? row.stripeUpdatedAt
      return now < since.plus({ days: SubscriptionService.graceDays() })
    }
    return false
  }

  static customerId(subscription: Stripe.Subscription) {
    return typeof subscription.customer === 'string'
      ? subscription.customer
      : subscription.customer.id
  }

  /**
   * Mirrors a Stripe subscription into our row and the user's plan.
   * Returns the row (unchanged when the state is older than what it holds),
   * or null when the subscription is not a Premium subscription of ours.
   */
  async apply(
    subscription: Stripe.Subscription,
    options: ApplyOptions
  ): Promise<Subscription | null> {
    const { trx, eventCreated } = options
    const known = await Subscription.query({ client: trx })
      .where('stripe_subscription_id', subscription.id)
      .first()
    if (!known && subscription.metadata?.kind !== 'premium') {
      logger.info(
        { subscription: subscription.id, kind: subscription.metadata?.kind },
        'not a Premium subscription: not mirrored'
      )
      return null
    }

    const customerId = SubscriptionService.customerId(subscription)
    const ownerId = known?.userId ?? (await this.resolveUserId(subscription, customerId, options))
    if (!ownerId) {
      logger.warn(
        { subscription: subscription.id, customer: customerId },
        'Premium subscription of an unknown user: not mirrored'
      )
      return null
    }

    // The user's row lock first (the order every per-user section uses), then the subscription row.
    const owner = await User.query({ client: trx }).where('id', ownerId).forUpdate().first()
    if (!owner) return null
    if (owner.stripeCustomerId !== customerId) {
      logger.warn(
        { subscription: subscription.id, customer: customerId, userId: owner.id },
        "subscription's customer is not the user's: not mirrored"
      )
      return null
    }

    let row = await Subscription.query({ client: trx })
      .where('stripe_subscription_id', subscription.id)
      .forUpdate()
      .first()

    if (row) {
      // Invariant 8: an older state never overwrites a newer one, and an ended subscription stays ended.
      if (isOlderState(row, eventCreated, options.fetchedAt)) return row
      if (row.hasEnded && !isTerminal(subscription.status)) return row
    } else if (!isTerminal(subscription.status)) {
      await this.settleOtherLiveSubscription(owner, subscription, trx, options.others)
    }

    const item = subscription.items.data[0]
    const status = knownStatus(subscription.status)
    const wasPastDueSince = row?.pastDueSince ?? null
    const values = {
      userId: owner.id,
      type: 'premium' as const,
      stripeSubscriptionId: subscription.id,
      stripeCustomerId: customerId,
      stripePriceId: item?.price.id ?? row?.stripePriceId ?? '',
      status,
      cancelAtPeriodEnd: subscription.cancel_at_period_end || subscription.cancel_at !== null,
      currentPeriodStart:
        fromStripeTime(item?.current_period_start) ?? row?.currentPeriodStart ?? null,
      currentPeriodEnd: fromStripeTime(item?.current_period_end) ?? row?.currentPeriodEnd ?? null,
      trialEndsAt: fromStripeTime(subscription.trial_end),
      canceledAt: fromStripeTime(subscription.canceled_at),
      endedAt: fromStripeTime(subscription.ended_at),
      pastDueSince: status === 'past_due' ? (wasPastDueSince ?? eventCreated) : null,
      stripeUpdatedAt:
        row && row.stripeUpdatedAt > eventCreated ? row.stripeUpdatedAt : eventCreated,
      stripeFetchedAt: options.fetchedAt ?? row?.stripeFetchedAt ?? null,
    }
    if (row) {
      row.merge(values)
      row.useTransaction(trx)
      await row.save()
    } else {
      row = await Subscription.create(values, { client: trx })
    }

    await this.settlePlan(owner, trx, DateTime.max(DateTime.utc(), eventCreated))
    return row
  }

  /**
   * Reads a subscription's current state from Stripe, before any transaction
   * or lock (webhook handlers apply Stripe's state, not the event's possibly
   * stale copy), and the user's other live subscriptions that `apply` may
   * have to settle. Falls back to the event's copy when Stripe no longer has
   * it. Writes nothing.
   */
  async fetchState(reference: Stripe.Subscription | string): Promise<FetchedSubscription> {
    const id = typeof reference === 'string' ? reference : reference.id
    const fetchedAt = DateTime.utc()
    const current = await this.retrieve(id)
    const subscription = current ?? (typeof reference === 'string' ? null : reference)
    const others = new Map<string, Stripe.Subscription | null>()
    if (subscription && !isTerminal(subscription.status)) {
      const known = await Subscription.findBy('stripeSubscriptionId', id)
      const ownerId =
        known?.userId ??
        (await this.resolveUserId(subscription, SubscriptionService.customerId(subscription)))
      if (ownerId) {
        const live = await Subscription.query()
          .where('user_id', ownerId)
          .where('type', 'premium')
          .whereNot('stripe_subscription_id', id)
          .withScopes((scopes) => scopes.live())
        for (const other of live) {
          others.set(other.stripeSubscriptionId, await this.retrieve(other.stripeSubscriptionId))
        }
      }
    }
    return { id, subscription, current: current !== null, fetchedAt, others }
  }

  /**
   * Applies what `fetchState` read, inside the caller's transaction, guarded
   * by `eventCreated` and the read time (see `apply`).
   */
  async applyState(state: FetchedSubscription, options: ApplyOptions) {
    if (!state.subscription) {
      return Subscription.query({ client: options.trx })
        .where('stripe_subscription_id', state.id)
        .first()
    }
    return this.apply(state.subscription, {
      ...options,
      fetchedAt: state.current ? state.fetchedAt : undefined,
      others: state.others,
    })
  }

  /**
   * Sets `users.plan` from the user's subscriptions at `now` (the caller holds
   * the user's row lock in `trx`); on a drop to free, stops the deployments
   * beyond the new limit. Returns the stopped projects.
   */
  async settlePlan(owner: User, trx: TransactionClientContract, now: DateTime) {
    const rows = await Subscription.query({ client: trx })
      .where('user_id', owner.id)
      .where('type', 'premium')
    const premium = rows.some((row) => SubscriptionService.givesPremium(row, now))
    const plan: Plan = premium ? 'premium' : 'free'
    if (owner.plan === plan) return []

    const before = owner.plan
    owner.plan = plan
    owner.useTransaction(trx)
    await owner.save()
    if (!(before === 'premium' && plan === 'free')) return []

    const latest = rows.sort(
      (a, b) => b.stripeUpdatedAt.toMillis() - a.stripeUpdatedAt.toMillis()
    )[0]
    const why =
      latest?.status === 'past_due'
        ? `your Premium renewal payment is overdue by more than ${SubscriptionService.graceDays()} days`
        : latest?.status === 'unpaid'
          ? 'your Premium subscription is unpaid'
          : 'your Premium subscription ended'
    const limit = await PlanLimits.deployLimit(owner, trx)
    return this.deployments.stopExtraDeployments(
      owner,
      trx,
      DeploymentService.downgradeReason(why, limit)
    )
  }

  /**
   * Past_due subscriptions whose grace period is over at `now` drop their
   * user to free even when no new event arrives (run by
   * `subscriptions:check-grace` from cron). Safe to run any number of times.
   * With `dryRun`, says who would be dropped and changes nothing.
   */
  async expireGrace(
    now: DateTime = DateTime.utc(),
    options: { dryRun?: boolean } = {}
  ): Promise<GraceExpiry[]> {
    const cutoff = now.minus({ days: SubscriptionService.graceDays() })
    const due = await Subscription.query()
      .where('status', 'past_due')
      .where('past_due_since', '<=', cutoff.toJSDate())
      .whereHas('user', (query) => query.where('plan', 'premium'))
      .orderBy('id')
    const expired: GraceExpiry[] = []
    for (const row of due) {
      const result = await this.inTransaction(options.dryRun ?? false, async (trx) => {
        const owner = await User.query({ client: trx }).where('id', row.userId).forUpdate().first()
        if (!owner || owner.plan !== 'premium') return null
        const before = owner.plan
        const stopped = await this.settlePlan(owner, trx, now)
        if (owner.plan === before) return null
        return {
          userId: owner.id,
          email: owner.email,
          stripeSubscriptionId: row.stripeSubscriptionId,
          pastDueSince: row.pastDueSince!.toISO()!,
          stoppedProjectIds: stopped.map((project) => project.id),
        }
      })
      if (result) expired.push(result)
    }
    return expired
  }

  /**
   * Runs `work` in a transaction; a dry run rolls it back, so it reports
   * exactly what a real run would do (the same plan and deployment rules)
   * and leaves nothing behind.
   */
  protected async inTransaction<T>(
    dryRun: boolean,
    work: (trx: TransactionClientContract) => Promise<T>
  ): Promise<T> {
    if (!dryRun) return db.transaction(work)
    const trx = await db.transaction()
    try {
      return await work(trx)
    } finally {
      await trx.rollback()
    }
  }

  /** The user's live subscription (not ended), if any. */
  liveSubscription(user: User, trx?: TransactionClientContract) {
    return Subscription.query(trx ? { client: trx } : {})
      .where('user_id', user.id)
      .where('type', 'premium')
      .withScopes((scopes) => scopes.live())
      .orderBy('created_at', 'desc')
      .first()
  }

  /** The subscription to show: the live one, else the most recent one. */
  async current(user: User): Promise<SubscriptionSummary> {
    const fresh = await User.findOrFail(user.id)
    const row =
      (await this.liveSubscription(fresh)) ??
      (await Subscription.query()
        .where('user_id', fresh.id)
        .where('type', 'premium')
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .first())
    if (!row) return { plan: fresh.plan, subscription: null }
    return {
      plan: fresh.plan,
      subscription: {
        id: row.stripeSubscriptionId,
        status: row.status,
        cancelAtPeriodEnd: row.cancelAtPeriodEnd,
        currentPeriodStart: row.currentPeriodStart?.toISO() ?? null,
        currentPeriodEnd: row.currentPeriodEnd?.toISO() ?? null,
        trialEndsAt: row.trialEndsAt?.toISO() ?? null,
        canceledAt: row.canceledAt?.toISO() ?? null,
        endedAt: row.endedAt?.toISO() ?? null,
        pastDueSince: row.pastDueSince?.toISO() ?? null,
        graceEndsAt:
          row.status === 'past_due' && row.pastDueSince
            ? row.pastDueSince.plus({ days: SubscriptionService.graceDays() }).toISO()
            : null,
      },
    }
  }

  /**
   * Starts a Premium Checkout. Refused while the user has a live Premium
   * subscription (here or in Stripe, where a paid one may not have reached
   * us yet). While a Premium Checkout Session of theirs is still open in
   * Stripe, that session is returned instead of a second one. A named lock
   * per user makes concurrent requests take turns; it outlives the worst case
   * of the Stripe calls inside it (at most four in a row, each up to the SDK's
   * timeout times its attempts), so it cannot expire halfway.
   */
  async subscribe(user: User): Promise<{ session: Stripe.Checkout.Session; reused: boolean }> {
    const [acquired, result] = await locks
      .createLock(`subscriptions:subscribe:user:${user.id}`, SUBSCRIBE_LOCK_TTL)
      .run(async () => {
        let live = await this.liveSubscription(user)
        if (live) {
          // Our mirror may lag (an ended subscription whose event has not arrived): refresh it first.
          const stale = live
          const state = await this.fetchState(stale.stripeSubscriptionId)
          await db.transaction((trx) =>
            this.applyState(state, { trx, eventCreated: stale.stripeUpdatedAt, userId: user.id })
          )
          live = await this.liveSubscription(user)
        }
        if (live && live.status !== 'incomplete') throw this.alreadySubscribed(live.status)

        const customer = await this.customers.ensureCustomer(user)
        const stripe = this.gateway.client
        const [subscriptions, sessions] = await this.call(() =>
          Promise.all([
            stripe.subscriptions.list({ customer, status: 'all', limit: 100 }),
            stripe.checkout.sessions.list({ customer, status: 'open', limit: 100 }),
          ])
        )
        const liveInStripe = subscriptions.data.find(
          (sub) =>
            sub.metadata?.kind === 'premium' &&
            !isTerminal(sub.status) &&
            sub.status !== 'incomplete'
        )
        if (liveInStripe) throw this.alreadySubscribed(liveInStripe.status)

        const open = sessions.data.find((session) => session.metadata?.kind === 'premium')
        if (open) return { session: open, reused: true }

        const session = await this.checkout.start(user, { kind: 'premium' })
        return { session, reused: false }
      })
    if (!acquired) {
      throw new SubscriptionConflictException(
        'Another Premium checkout is being started for your account; try again in a moment.'
      )
    }
    return result
  }

  /** Cancels at the end of the paid period: Premium stays until then. */
  async cancel(user: User) {
    const row = await this.requireLive(user)
    if (row.cancelAtPeriodEnd) return this.current(user)
    const calledAt = DateTime.utc()
    const updated = await this.call(() =>
      this.gateway.client.subscriptions.update(
        row.stripeSubscriptionId,
        { cancel_at_period_end: true },
        { idempotencyKey: this.key(row, 'cancel_at_period_end') }
      )
    )
    await this.applyOwn(updated, row, calledAt)
    return this.current(user)
  }

  /** Undoes a cancel at period end, while the period has not ended. */
  async resume(user: User) {
    const row = await this.requireLive(user)
    if (!row.cancelAtPeriodEnd) {
      throw new SubscriptionConflictException(
        'Your Premium subscription is not set to cancel, so there is nothing to resume.'
      )
    }
    const calledAt = DateTime.utc()
    const updated = await this.call(() =>
      this.gateway.client.subscriptions.update(
        row.stripeSubscriptionId,
        { cancel_at_period_end: false },
        { idempotencyKey: this.key(row, 'resume') }
      )
    )
    await this.applyOwn(updated, row, calledAt)
    return this.current(user)
  }

  /** Cancels at once: Premium ends now (no refund of the running period). */
  async cancelNow(user: User) {
    const row = await this.requireLive(user)
    const calledAt = DateTime.utc()
    const canceled = await this.call(() =>
      this.gateway.client.subscriptions.cancel(
        row.stripeSubscriptionId,
        {},
        { idempotencyKey: `studio:subscription:${row.id}:cancel_now` }
      )
    )
    await this.applyOwn(canceled, row, calledAt)
    return this.current(user)
  }

  /**
   * A Stripe customer portal session (payment method, invoices, cancel or
   * renew); it returns to the billing page. Changes made there come back by
   * webhook. Not keyed: every visit needs a fresh, short-lived URL.
   */
  async portalUrl(user: User): Promise<string> {
    const customer = await this.customers.ensureCustomer(user)
    const session = await this.call(() =>
      this.gateway.client.billingPortal.sessions.create({
        customer,
        return_url: new URL('/billing', appUrl).toString(),
      })
    )
    return session.url
  }

  /** Retrieves the subscription from Stripe; null when Stripe does not know it. Never called under a lock. */
  retrieve(id: string): Promise<Stripe.Subscription | null> {
    return this.gateway.retrieveSubscription(id)
  }

  /**
   * Applies the state Stripe answered one of our calls with (cancel, resume,
   * cancel now). Stripe's answer carries no time of its own, so it is stamped
   * with the second the row already holds (the webhook of this very change,
   * a later second, still applies when it arrives) and read at `calledAt`,
   * the moment before our call: a state the row got from a read made after
   * that (a webhook of a later change, processed meanwhile) is kept.
   */
  protected async applyOwn(
    subscription: Stripe.Subscription,
    row: Subscription,
    calledAt: DateTime
  ) {
    await db.transaction(async (trx) => {
      const current = await Subscription.query({ client: trx }).where('id', row.id).firstOrFail()
      await this.apply(subscription, {
        trx,
        eventCreated: current.stripeUpdatedAt,
        fetchedAt: calledAt,
        userId: row.userId,
      })
    })
  }

  /**
   * Before inserting a new live subscription: another live row of the user
   * is probably stale (its end has not reached us yet), so refresh it from
   * Stripe. If Stripe still has it live, the user pays twice: stop, so the
   * event fails and stays for replay after an operator looks at it.
   */
  protected async settleOtherLiveSubscription(
    owner: User,
    incoming: Stripe.Subscription,
    trx: TransactionClientContract,
    others: ReadonlyMap<string, Stripe.Subscription | null> = new Map()
  ) {
    const other = await this.liveSubscription(owner, trx)
    if (!other || other.stripeSubscriptionId === incoming.id) return
    if (!others.has(other.stripeSubscriptionId)) {
      // Read before the lock by fetchState; one that appeared since is read on the retry.
      throw new Error(
        `User ${owner.id}'s live subscription ${other.stripeSubscriptionId} was not read from Stripe before ${incoming.id} was applied; retry`
      )
    }
    const fresh = others.get(other.stripeSubscriptionId) ?? null
    if (fresh && isTerminal(fresh.status)) {
      other.merge({
        status: knownStatus(fresh.status),
        canceledAt: fromStripeTime(fresh.canceled_at),
        endedAt: fromStripeTime(fresh.ended_at),
        pastDueSince: null,
      })
    } else if (!fresh || other.status === 'incomplete') {
      other.merge({ status: 'incomplete_expired', pastDueSince: null })
    } else {
      throw new Error(
        `User ${owner.id} has two live Premium subscriptions (${other.stripeSubscriptionId} and ${incoming.id}); cancel one in Stripe, then replay this event`
      )
    }
    other.useTransaction(trx)
    await other.save()
  }

  protected async resolveUserId(
    subscription: Stripe.Subscription,
    customerId: string,
    options: Partial<ApplyOptions> = {}
  ): Promise<number | null> {
    if (options.userId) return options.userId
    const fromMetadata = Number(subscription.metadata?.user_id)
    if (Number.isSafeInteger(fromMetadata) && fromMetadata > 0) return fromMetadata
    const byCustomer = await User.query(options.trx ? { client: options.trx } : {})
      .where('stripe_customer_id', customerId)
      .first()
    return byCustomer?.id ?? null
  }

  protected async requireLive(user: User) {
    const row = await this.liveSubscription(user)
    if (!row || row.status === 'incomplete') {
      throw new SubscriptionConflictException('You have no Premium subscription to change.')
    }
    return row
  }

  /** Idempotency key from our row, the action and the row's version (a later repeat is a new request). */
  protected key(row: Subscription, action: string) {
    return `studio:subscription:${row.id}:${action}:${row.updatedAt.toMillis()}`
  }

  protected alreadySubscribed(status: string) {
    return new SubscriptionConflictException(
      status === 'past_due'
        ? 'Your Premium subscription has a failed payment: update your payment method in the billing portal instead of subscribing again.'
        : 'You already have Premium. Manage it from the billing page (cancel, resume, portal).'
    )
  }

  /** Runs a Stripe call; unreachable Stripe becomes StripeUnavailableException (nothing changed here). */
  protected call<T>(fn: () => Promise<T>): Promise<T> {
    return StripeGateway.call(fn)
  }
}
