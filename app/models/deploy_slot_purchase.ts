import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column, scope } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'

export type DeploySlotPurchaseStatus = 'active' | 'refunded'

/** One extra deploy slot bought through Stripe Checkout. */
export default class DeploySlotPurchase extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column({ consume: bigintColumn.consume })
  declare userId: number

  @column()
  declare stripeCheckoutSessionId: string

  @column()
  declare stripePaymentIntentId: string | null

  @column({ consume: bigintColumn.consume })
  declare amountCents: number

  @column()
  declare currency: string

  @column()
  declare status: DeploySlotPurchaseStatus

  @column.dateTime()
  declare purchasedAt: DateTime

  @column.dateTime()
  declare refundedAt: DateTime | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => User)
  declare user: BelongsTo<typeof User>

  get isActive() {
    return this.status === 'active'
  }

  static active = scope((query) => {
    query.where('status', 'active')
  })
}
