import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import CreatorPayout from '#models/creator_payout'
import MarketplaceTransaction from '#models/marketplace_transaction'

export type CreatorTransferReversalStatus = 'pending' | 'succeeded' | 'failed'

/**
 * Taking back (part of) a paid payout's transfer because one of its sales was
 * refunded or disputed. Written by the earnings ledger (no Stripe call), made
 * real by the payout run with its own idempotency key.
 */
export default class CreatorTransferReversal extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column({ consume: bigintColumn.consume })
  declare creatorId: number

  @column({ consume: bigintColumn.consume })
  declare creatorPayoutId: number

  /** The refund or dispute entry it settles. */
  @column({ consume: bigintColumn.consume })
  declare marketplaceTransactionId: number

  @column({ consume: bigintColumn.consume })
  declare amountCents: number

  @column()
  declare currency: string

  @column()
  declare status: CreatorTransferReversalStatus

  @column()
  declare idempotencyKey: string

  @column()
  declare stripeTransferReversalId: string | null

  @column()
  declare attempts: number

  @column()
  declare failureReason: string | null

  @column.dateTime()
  declare reversedAt: DateTime | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => CreatorPayout)
  declare creatorPayout: BelongsTo<typeof CreatorPayout>

  @belongsTo(() => MarketplaceTransaction)
  declare marketplaceTransaction: BelongsTo<typeof MarketplaceTransaction>

  /** Derived from the row (a CHECK pins it). */
  static keyFor(id: number) {
    return `studio:transfer-reversal:${id}`
  }
}
