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
}
