import { inject } from '@adonisjs/core'
import type User from '#models/user'
import Subscription from '#models/subscription'
import CreditService from '#services/credit_service'
import DeploymentService, { type DeploymentLimits } from '#services/deployment_service'
import SubscriptionService, { type SubscriptionSummary } from '#services/subscription_service'

/** Transactions shown per page on the billing dashboard. */
export const DASHBOARD_TRANSACTIONS_PER_PAGE = 10

/** The plan badge in the navigation of every page. */
export type PlanBadge = {
  status: 'premium' | 'free' | 'past_due'
  /** Premium set to cancel at period end: when it ends (ISO). */
  cancelsAt: string | null
}

export interface BillingOverview {
  subscription: SubscriptionSummary['subscription']
  creditsBalanceCents: number
  usage: DeploymentLimits
  transactions: Awaited<ReturnType<CreditService['transactions']>>
}

/**
 * What the billing dashboard shows of one user, read in one place: the
 * Premium subscription, the credit balance, projects and deployments against
 * the limits (with purchased slots) and a page of recent transactions.
 * Reads only; every change goes through the services that own it.
 */
@inject()
export default class BillingOverviewService {
  constructor(
    protected subscriptions: SubscriptionService,
    protected credits: CreditService,
    protected deployments: DeploymentService
  ) {}

  /**
   * Premium, Free or Past due (a renewal payment is owed), and when a Premium
   * set to cancel ends. One indexed query for the live subscription; the plan
   * is the user's own column (kept by SubscriptionService).
   */
  static async badge(user: User): Promise<PlanBadge> {
    const live = await Subscription.query()
      .where('user_id', user.id)
      .where('type', 'premium')
      .withScopes((scopes) => scopes.live())
      .select('status', 'cancel_at_period_end', 'current_period_end')
      .orderBy('created_at', 'desc')
      .first()
    const owing = live?.status === 'past_due' || live?.status === 'unpaid'
    const premium = user.plan === 'premium'
    return {
      status: owing ? 'past_due' : premium ? 'premium' : 'free',
      cancelsAt:
        !owing && premium && live?.cancelAtPeriodEnd
          ? (live.currentPeriodEnd?.toISO() ?? null)
          : null,
    }
  }

  async forUser(user: User, { page = 1 }: { page?: number } = {}): Promise<BillingOverview> {
    // One after the other: a few small indexed reads, and safe on a single connection (tests' global transaction).
    const summary = await this.subscriptions.current(user)
    const creditsBalanceCents = await this.credits.balance(user)
    const usage = await this.deployments.limits(user)
    const transactions = await this.credits.transactions(user, {
      page,
      perPage: DASHBOARD_TRANSACTIONS_PER_PAGE,
    })
    return { subscription: summary.subscription, creditsBalanceCents, usage, transactions }
  }
}
