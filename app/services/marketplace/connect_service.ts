import { inject } from '@adonisjs/core'
import { DateTime } from 'luxon'
import type Stripe from 'stripe'
import db from '@adonisjs/lucid/services/db'
import locks from '@adonisjs/lock/services/main'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { appUrl } from '#config/app'
import billingConfig from '#config/billing'
import stripeConfig from '#config/stripe'
import User from '#models/user'
import CreatorAccount from '#models/creator_account'
import StripeGateway from '#services/stripe_gateway'

/** What the creator pages and the CLI show of a creator's Connect account. */
export interface ConnectStatus {
  stripeAccountId: string | null
  /** onboarding not started / requirements due / ready to be paid. */
  state: 'none' | 'incomplete' | 'restricted' | 'enabled'
  detailsSubmitted: boolean
  chargesEnabled: boolean
  payoutsEnabled: boolean
  canReceiveFunds: boolean
  requirementsDue: string[]
  disabledReason: string | null
  updatedAt: string | null
}

export interface ApplyAccountResult {
  /** false when the state was older than what we hold, or the account is not a creator's. */
  applied: boolean
  account: CreatorAccount | null
}

/** Two Stripe calls in a row at most, each up to timeout x attempts, plus slack. */
const ONBOARD_LOCK_TTL = `${Math.ceil((2 * stripeConfig.timeoutMs * (1 + stripeConfig.maxNetworkRetries)) / 1000) + 30}s`

/**
 * Creators' Stripe Connect (Express) accounts: created once per user (its
 * idempotency key is derived from the user), onboarded through account links,
 * kept in step by `account.updated`. Earnings keep accruing while an account
 * cannot receive funds; payout runs skip that creator until it can.
 */
@inject()
export default class ConnectService {
  constructor(protected gateway: StripeGateway) {}

  static accountKey(userId: number) {
    return `studio:connect-account:user:${userId}`
  }

  static returnUrl() {
    return new URL(billingConfig.marketplace.onboardingReturnPath, appUrl).toString()
  }

  static refreshUrl() {
    return new URL(billingConfig.marketplace.onboardingRefreshPath, appUrl).toString()
  }

  /**
   * An onboarding link for the creator (a fresh one each call: links are
   * single-use and expire). Creates the Express account first if the user has
   * none; a retry after a crash gets the same account from the idempotency key.
   */
  async onboardingLink(
    user: User
  ): Promise<{ url: string; stripeAccountId: string; expiresAt: DateTime }> {
    const [acquired, accountId] = await locks
      .createLock(`connect:onboard:user:${user.id}`, ONBOARD_LOCK_TTL)
      .run(() => this.ensureAccount(user))
    if (!acquired || !accountId) throw new Error(`Could not lock user ${user.id} for onboarding`)
    return this.linkFor(accountId)
  }

  /**
   * A new onboarding link for onboarding already started (Stripe's refresh URL,
   * a GET any site can link to): null when the user has no Connect account, for
   * only the POST that starts onboarding may open one.
   */
  async renewOnboardingLink(user: User) {
    const fresh = await User.findOrFail(user.id)
    return fresh.creatorStripeAccountId ? this.linkFor(fresh.creatorStripeAccountId) : null
  }

  protected async linkFor(
    accountId: string
  ): Promise<{ url: string; stripeAccountId: string; expiresAt: DateTime }> {
    const link = await StripeGateway.call(() =>
      this.gateway.client.accountLinks.create({
        account: accountId,
        type: 'account_onboarding',
        return_url: ConnectService.returnUrl(),
        refresh_url: ConnectService.refreshUrl(),
      })
    )
    return {
      url: link.url,
      stripeAccountId: accountId,
      expiresAt: DateTime.fromSeconds(link.expires_at, { zone: 'utc' }),
    }
  }

  /** The user's Connect account id, created in Stripe (outside any transaction) and recorded once. */
  async ensureAccount(user: User): Promise<string> {
    const fresh = await User.findOrFail(user.id)
    if (fresh.creatorStripeAccountId) return fresh.creatorStripeAccountId
    const account = await StripeGateway.call(() =>
      this.gateway.client.accounts.create(
        {
          type: 'express',
          email: fresh.email,
          capabilities: { transfers: { requested: true } },
          business_profile: { name: fresh.fullName },
          metadata: { user_id: String(fresh.id) },
        },
        { idempotencyKey: ConnectService.accountKey(fresh.id) }
      )
    )
    await db.transaction(async (trx) => {
      const locked = await User.query({ client: trx })
        .where('id', fresh.id)
        .forUpdate()
        .firstOrFail()
      if (!locked.creatorStripeAccountId) {
        await trx
          .from('users')
          .where('id', locked.id)
          .update({ creator_stripe_account_id: account.id, updated_at: new Date() })
      }
      await this.applyAccount(account, trx, DateTime.utc(), locked.id)
    })
    return account.id
  }

  /**
   * Mirrors a Connect account into our row and `users.creator_payouts_enabled`
   * (true only when transfers are active and payouts enabled). `at` is when the
   * state was true (an event's `created`); an older state than the one held is
   * ignored, so a late event never moves the status backwards. Never calls Stripe.
   */
  async applyAccount(
    account: Stripe.Account,
    trx: TransactionClientContract,
    at: DateTime = DateTime.utc(),
    userId?: number
  ): Promise<ApplyAccountResult> {
    const owner = await User.query({ client: trx })
      .if(
        userId !== undefined,
        (query) => query.where('id', userId!),
        (query) => query.where('creator_stripe_account_id', account.id)
      )
      .forUpdate()
      .first()
    if (!owner || (owner.creatorStripeAccountId && owner.creatorStripeAccountId !== account.id)) {
      return { applied: false, account: null }
    }
    let row = await CreatorAccount.query({ client: trx })
      .where('user_id', owner.id)
      .forUpdate()
      .first()
    if (row?.stripeUpdatedAt && at < row.stripeUpdatedAt) return { applied: false, account: row }

    const requirements = account.requirements
    const due = [
      ...new Set([...(requirements?.past_due ?? []), ...(requirements?.currently_due ?? [])]),
    ]
    const values = {
      userId: owner.id,
      stripeAccountId: account.id,
      detailsSubmitted: account.details_submitted ?? false,
      chargesEnabled: account.charges_enabled ?? false,
      payoutsEnabled: account.payouts_enabled ?? false,
      transfersActive: account.capabilities?.transfers === 'active',
      requirementsDue: due,
      disabledReason: requirements?.disabled_reason ?? null,
      stripeUpdatedAt: at,
    }
    if (row) {
      row.merge(values)
      await row.useTransaction(trx).save()
    } else {
      row = await CreatorAccount.create(values, { client: trx })
    }
    await trx.from('users').where('id', owner.id).update({
      creator_stripe_account_id: account.id,
      creator_payouts_enabled: row.canReceiveFunds,
      updated_at: new Date(),
    })
    return { applied: true, account: row }
  }

  /** Reads the account from Stripe now and applies it (return page, CLI). */
  async refresh(user: User): Promise<ConnectStatus> {
    const fresh = await User.findOrFail(user.id)
    if (fresh.creatorStripeAccountId) {
      const fetchedAt = DateTime.utc()
      const account = await StripeGateway.call(() =>
        this.gateway.client.accounts.retrieve(fresh.creatorStripeAccountId!)
      )
      await db.transaction((trx) => this.applyAccount(account, trx, fetchedAt))
    }
    return this.status(fresh)
  }

  /** The creator's Connect status as we hold it (no Stripe call). */
  async status(user: User): Promise<ConnectStatus> {
    const fresh = await User.findOrFail(user.id)
    const row = await CreatorAccount.findBy('user_id', fresh.id)
    if (!fresh.creatorStripeAccountId || !row) {
      return {
        stripeAccountId: fresh.creatorStripeAccountId,
        state: fresh.creatorStripeAccountId ? 'incomplete' : 'none',
        detailsSubmitted: false,
        chargesEnabled: false,
        payoutsEnabled: false,
        canReceiveFunds: false,
        requirementsDue: [],
        disabledReason: null,
        updatedAt: null,
      }
    }
    return {
      stripeAccountId: row.stripeAccountId,
      state: row.canReceiveFunds ? 'enabled' : row.detailsSubmitted ? 'restricted' : 'incomplete',
      detailsSubmitted: row.detailsSubmitted,
      chargesEnabled: row.chargesEnabled,
      payoutsEnabled: row.payoutsEnabled,
      canReceiveFunds: row.canReceiveFunds,
      requirementsDue: row.requirementsDue,
      disabledReason: row.disabledReason,
      updatedAt: row.stripeUpdatedAt?.toISO() ?? null,
    }
  }
}
