import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column, scope } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'

export type SubscriptionType = 'premium'

/** Stripe's subscription statuses, mirrored as-is. */
export type SubscriptionStatus =
  | 'incomplete'
  | 'incomplete_expired'
  | 'trialing'
  | 'active'
  | 'past_due'
  | 'unpaid'
  | 'canceled'
  | 'paused'

/** Statuses Stripe never leaves: a new subscription is needed after these. */
export const TERMINAL_SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = [
  'canceled',
  'incomplete_expired',
]

/** A user's Premium subscription, mirrored from Stripe. */
export default class Subscription extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column({ consume: bigintColumn.consume })
  declare userId: number

  @column()
  declare type: SubscriptionType

  @column()
  declare stripeSubscriptionId: string

  @column()
  declare stripeCustomerId: string

  @column()
  declare stripePriceId: string

  @column()
  declare status: SubscriptionStatus

  @column()
  declare cancelAtPeriodEnd: boolean

  @column.dateTime()
  declare currentPeriodStart: DateTime | null

  @column.dateTime()
  declare currentPeriodEnd: DateTime | null

  @column.dateTime()
  declare trialEndsAt: DateTime | null

  @column.dateTime()
  declare canceledAt: DateTime | null

  @column.dateTime()
  declare endedAt: DateTime | null

  @column.dateTime()
  declare pastDueSince: DateTime | null

  /** `created` of the Stripe event this state came from; older events must not overwrite it. */
  @column.dateTime()
  declare stripeUpdatedAt: DateTime

  /** When we read this state from Stripe (our clock): of two states of the same second, the later read wins. */
  @column.dateTime()
  declare stripeFetchedAt: DateTime | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => User)
  declare user: BelongsTo<typeof User>

  /** Paid up or trialing (the past_due grace period is a billing rule, not decided here). */
  get isActive() {
    return this.status === 'active' || this.status === 'trialing'
  }

  get onTrial() {
    return this.status === 'trialing'
  }

  get isPastDue() {
    return this.status === 'past_due'
  }

  get hasEnded() {
    return TERMINAL_SUBSCRIPTION_STATUSES.includes(this.status)
  }

  /** Set to cancel at period end and not ended yet. */
  get isCanceling() {
    return this.cancelAtPeriodEnd && !this.hasEnded
  }

  static active = scope((query) => {
    query.whereIn('status', ['active', 'trialing'])
  })

  /** Not terminal: at most one such row per user and type (a partial unique index). */
  static live = scope((query) => {
    query.whereNotIn('status', [...TERMINAL_SUBSCRIPTION_STATUSES])
  })
}
