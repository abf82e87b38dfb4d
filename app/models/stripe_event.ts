import { DateTime } from 'luxon'
import type Stripe from 'stripe'
import { BaseModel, column, scope } from '@adonisjs/lucid/orm'
import { bigintColumn } from '#support/columns'

export type StripeEventStatus = 'received' | 'processing' | 'processed' | 'failed' | 'ignored'

/** One Stripe webhook event, recorded once by its id and kept for replay. */
export default class StripeEvent extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column()
  declare stripeEventId: string

  @column()
  declare type: string

  @column()
  declare apiVersion: string | null

  @column()
  declare livemode: boolean

  /** The connected account, for Connect events. */
  @column()
  declare account: string | null

  @column.dateTime()
  declare stripeCreatedAt: DateTime

  /** The verified event as received. */
  @column()
  declare payload: Stripe.Event

  @column()
  declare status: StripeEventStatus

  @column()
  declare attempts: number

  @column()
  declare lastError: string | null

  @column.dateTime()
  declare receivedAt: DateTime

  @column.dateTime()
  declare processedAt: DateTime | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  /** Processed or deliberately ignored: nothing left to do. */
  get isDone() {
    return this.status === 'processed' || this.status === 'ignored'
  }

  static failed = scope((query) => {
    query.where('status', 'failed')
  })
}
