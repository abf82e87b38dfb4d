import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column, scope } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'
import MarketplaceAgent from '#models/marketplace_agent'
import CreatorPayout from '#models/creator_payout'

/** sale, renewal and usage are positive; refund and dispute are negative (a CHECK enforces it). */
export type MarketplaceTransactionKind = 'sale' | 'renewal' | 'usage' | 'refund' | 'dispute'

export type MarketplaceTransactionStatus = 'pending' | 'payable' | 'paid' | 'reversed'

/**
 * What sourceId names: a Stripe session, payment intent, invoice, refund or
 * dispute, our usage invoice, or (reversal_shortfall) one of our transfer
 * reversals whose transfer had less left than the refund took back.
 */
export type MarketplaceTransactionSourceType =
  | 'checkout_session'
  | 'payment_intent'
  | 'invoice'
  | 'usage_invoice'
  | 'refund'
  | 'dispute'
  | 'reversal_shortfall'

export const POSITIVE_KINDS: readonly MarketplaceTransactionKind[] = ['sale', 'renewal', 'usage']
export const REVERSAL_KINDS: readonly MarketplaceTransactionKind[] = ['refund', 'dispute']

/** One entry in the creators' earnings ledger: a gross amount split into creator and platform. */
export default class MarketplaceTransaction extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column({ consume: bigintColumn.consume })
  declare agentId: number

  /** Null for platform agents, whose creatorCents is 0. */
  @column({ consume: bigintColumn.consume })
  declare creatorId: number | null

  @column({ consume: bigintColumn.consume })
  declare buyerId: number

  @column()
  declare kind: MarketplaceTransactionKind

  @column()
  declare sourceType: MarketplaceTransactionSourceType

  @column()
  declare sourceId: string

  @column({ consume: bigintColumn.consume })
  declare grossCents: number

  @column({ consume: bigintColumn.consume })
  declare creatorCents: number

  @column({ consume: bigintColumn.consume })
  declare platformCents: number

  @column()
  declare currency: string

  /** The charge that funded it: a Connect transfer's source_transaction. */
  @column()
  declare stripeChargeId: string | null

  @column.dateTime()
  declare payableAt: DateTime | null

  @column({ consume: bigintColumn.consume })
  declare creatorPayoutId: number | null

  /**
   * pending (in the hold period), payable, paid (in a payout), or for a
   * negative entry reversed (settled by a transfer reversal instead).
   */
  @column()
  declare status: MarketplaceTransactionStatus

  /** For a refund or dispute: the earning it takes back. */
  @column({ consume: bigintColumn.consume })
  declare reversesTransactionId: number | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => MarketplaceAgent, { foreignKey: 'agentId' })
  declare agent: BelongsTo<typeof MarketplaceAgent>

  @belongsTo(() => User, { foreignKey: 'creatorId' })
  declare creator: BelongsTo<typeof User>

  @belongsTo(() => User, { foreignKey: 'buyerId' })
  declare buyer: BelongsTo<typeof User>

  @belongsTo(() => CreatorPayout)
  declare creatorPayout: BelongsTo<typeof CreatorPayout>

  @belongsTo(() => MarketplaceTransaction, { foreignKey: 'reversesTransactionId' })
  declare reverses: BelongsTo<typeof MarketplaceTransaction>

  /** A refund or dispute, taking earnings back. */
  get isReversal() {
    return this.kind === 'refund' || this.kind === 'dispute'
  }

  static ofCreator = scope((query, creatorId: number) => {
    query.where('creator_id', creatorId)
  })

  static payable = scope((query) => {
    query.where('status', 'payable')
  })

  /** Payable and not yet attached to a payout. */
  static unpaidPayable = scope((query) => {
    query.where('status', 'payable').whereNull('creator_payout_id')
  })
}
