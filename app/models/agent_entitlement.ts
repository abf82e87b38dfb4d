import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column, scope } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'
import MarketplaceAgent from '#models/marketplace_agent'
import type { AgentPricingType } from '#models/marketplace_agent'

export type AgentEntitlementStatus = 'pending' | 'active' | 'past_due' | 'canceled' | 'refunded'

/** Statuses of a live entitlement: at most one per user and agent (a partial unique index). */
export const LIVE_ENTITLEMENT_STATUSES: readonly AgentEntitlementStatus[] = [
  'pending',
  'active',
  'past_due',
]

/** A user's right to use one marketplace agent, from one purchase or subscription. */
export default class AgentEntitlement extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column({ consume: bigintColumn.consume })
  declare userId: number

  @column({ consume: bigintColumn.consume })
  declare agentId: number

  /** The agent's pricing type when bought; later changes to the agent do not alter it. */
  @column()
  declare pricingType: AgentPricingType

  @column()
  declare status: AgentEntitlementStatus

  @column()
  declare stripeSubscriptionId: string | null

  @column()
  declare stripeCheckoutSessionId: string | null

  @column()
  declare stripePaymentIntentId: string | null

  @column()
  declare cancelAtPeriodEnd: boolean

  @column.dateTime()
  declare currentPeriodEnd: DateTime | null

  @column.dateTime()
  declare canceledAt: DateTime | null

  @column.dateTime()
  declare refundedAt: DateTime | null

  /** `created` of the Stripe event this state came from; older events must not overwrite it. */
  @column.dateTime()
  declare stripeUpdatedAt: DateTime | null

  /** When we read that state from Stripe (our clock): breaks ties between states of the same second. */
  @column.dateTime()
  declare stripeFetchedAt: DateTime | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => User)
  declare user: BelongsTo<typeof User>

  @belongsTo(() => MarketplaceAgent, { foreignKey: 'agentId' })
  declare agent: BelongsTo<typeof MarketplaceAgent>

  get isActive() {
    return this.status === 'active'
  }

  get isLive() {
    return LIVE_ENTITLEMENT_STATUSES.includes(this.status)
  }

  static active = scope((query) => {
    query.where('status', 'active')
  })

  static live = scope((query) => {
    query.whereIn('status', [...LIVE_ENTITLEMENT_STATUSES])
  })
}
