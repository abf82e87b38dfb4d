import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column, hasMany, scope } from '@adonisjs/lucid/orm'
import type { BelongsTo, HasMany } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'
import AgentEntitlement from '#models/agent_entitlement'

/**
 * free: no prices; monthly / one_time: priceCents; api: per-million-token prices
 * (a CHECK keeps each type to exactly its own prices).
 */
export type AgentPricingType = 'free' | 'monthly' | 'one_time' | 'api'

/** An AI agent listed in the marketplace, by a creator or (creatorId null) by the platform. */
export default class MarketplaceAgent extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column()
  declare slug: string

  @column()
  declare name: string

  @column()
  declare description: string

  @column({ consume: bigintColumn.consume })
  declare creatorId: number | null

  @column()
  declare pricingType: AgentPricingType

  @column({ consume: bigintColumn.consume })
  declare priceCents: number | null

  @column({ consume: bigintColumn.consume })
  declare inputPriceMicrosPerMillion: number | null

  @column({ consume: bigintColumn.consume })
  declare outputPriceMicrosPerMillion: number | null

  @column()
  declare stripeProductId: string | null

  @column()
  declare stripePriceId: string | null

  @column()
  declare isPublished: boolean

  /** Bumped on every price change (a new Stripe price each time). */
  @column()
  declare priceVersion: number

  /** The price version Stripe holds; behind `priceVersion` while a sync is due. */
  @column()
  declare stripePriceVersion: number | null

  /** Why the last Stripe sync failed (cleared when it succeeds). */
  @column()
  declare stripeSyncError: string | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => User, { foreignKey: 'creatorId' })
  declare creator: BelongsTo<typeof User>

  @hasMany(() => AgentEntitlement, { foreignKey: 'agentId' })
  declare entitlements: HasMany<typeof AgentEntitlement>

  get isFree() {
    return this.pricingType === 'free'
  }

  /** Bought once through Checkout (monthly or one_time), as opposed to free or billed per use. */
  get isSoldThroughCheckout() {
    return this.pricingType === 'monthly' || this.pricingType === 'one_time'
  }

  get isUsageBased() {
    return this.pricingType === 'api'
  }

  get isPlatformAgent() {
    return this.creatorId === null
  }

  /** Whether Stripe's product and price match our row (free agents need neither). */
  get isInStripeSync() {
    return this.isFree || this.stripePriceVersion === this.priceVersion
  }

  /** Sellable through Checkout now: published, priced in Stripe at our current price. */
  get isSellable() {
    return this.isPublished && this.isSoldThroughCheckout && this.isInStripeSync
  }

  static published = scope((query) => {
    query.where('is_published', true)
  })

  /** Agents whose Stripe product or price is behind our row. */
  static needingStripeSync = scope((query) => {
    query
      .where('pricing_type', '<>', 'free')
      .where((inner) =>
        inner.whereNull('stripe_price_version').orWhereRaw('stripe_price_version <> price_version')
      )
  })
}
