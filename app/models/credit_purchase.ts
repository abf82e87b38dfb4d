import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column, scope } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'

export type CreditPurchaseStatus = 'pending' | 'paid' | 'refunded' | 'failed'

/** A credit pack bought through Stripe Checkout; credits are granted only once it is paid. */
export default class CreditPurchase extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column({ consume: bigintColumn.consume })
  declare userId: number

  @column()
  declare packageKey: string

  /** Credits granted (1 credit = 1 cent). */
  @column({ consume: bigintColumn.consume })
  declare creditsCents: number

  /** Price paid. */
  @column({ consume: bigintColumn.consume })
  declare amountCents: number

  @column()
  declare currency: string

  @column()
  declare stripeCheckoutSessionId: string

  @column()
  declare stripePaymentIntentId: string | null

  @column()
  declare status: CreditPurchaseStatus

  @column.dateTime()
  declare paidAt: DateTime | null

  @column.dateTime()
  declare refundedAt: DateTime | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => User)
  declare user: BelongsTo<typeof User>

  get isPaid() {
    return this.status === 'paid'
  }

  get isPending() {
    return this.status === 'pending'
  }

  static paid = scope((query) => {
    query.where('status', 'paid')
  })
}
