import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column, hasMany } from '@adonisjs/lucid/orm'
import type { BelongsTo, HasMany } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'
import MarketplaceTransaction from '#models/marketplace_transaction'

export type CreatorPayoutStatus = 'pending' | 'processing' | 'paid' | 'failed' | 'reversed'

/** One Stripe Connect transfer of a creator's payable earnings. */
export default class CreatorPayout extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column({ consume: bigintColumn.consume })
  declare creatorId: number

  @column({ consume: bigintColumn.consume })
  declare amountCents: number

  @column()
  declare currency: string

  @column()
  declare status: CreatorPayoutStatus

  @column()
  declare idempotencyKey: string

  @column()
  declare stripeTransferId: string | null

  @column()
  declare failureReason: string | null

  /** The Connect account the transfer goes to (fixed when the payout is created). */
  @column()
  declare stripeAccountId: string | null

  /** Transfer attempts so far (a rerun after a crash or an outage adds one). */
  @column()
  declare attempts: number

  @column.dateTime()
  declare lastAttemptAt: DateTime | null

  /** Taken back since by transfer reversals (refunds, disputes of its sales). */
  @column({ consume: bigintColumn.consume })
  declare reversedCents: number

  @column.dateTime()
  declare paidAt: DateTime | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => User, { foreignKey: 'creatorId' })
  declare creator: BelongsTo<typeof User>

  @hasMany(() => MarketplaceTransaction, { foreignKey: 'creatorPayoutId' })
  declare transactions: HasMany<typeof MarketplaceTransaction>

  get isPaid() {
    return this.status === 'paid'
  }

  /** Created, transfer not confirmed yet: a run finishes it with the same key. */
  get isOpen() {
    return this.status === 'pending' || this.status === 'processing'
  }

  /** The idempotency key of its transfer, derived from the row (a CHECK pins it). */
  static keyFor(id: number) {
    return `studio:payout:${id}`
  }

  /** The transfer_group that finds its transfer once Stripe has forgotten the key (24 h). */
  static transferGroupFor(id: number) {
    return `studio_payout_${id}`
  }

  get transferGroup() {
    return CreatorPayout.transferGroupFor(this.id)
  }
}
