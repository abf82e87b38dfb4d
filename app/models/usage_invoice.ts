import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column, hasMany, scope } from '@adonisjs/lucid/orm'
import type { BelongsTo, HasMany } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'
import UsageLog from '#models/usage_log'

export type UsageInvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'uncollectible' | 'failed'

/** A user's AI usage for one calendar month (UTC), paid with credits first, then charged. */
export default class UsageInvoice extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column({ consume: bigintColumn.consume })
  declare userId: number

  /** Calendar month, e.g. '2026-11'. */
  @column()
  declare period: string

  @column({ consume: bigintColumn.consume })
  declare costMicros: number

  /** costMicros rounded to cents once per line; equals creditsAppliedCents + chargedCents. */
  @column({ consume: bigintColumn.consume })
  declare amountCents: number

  @column({ consume: bigintColumn.consume })
  declare creditsAppliedCents: number

  @column({ consume: bigintColumn.consume })
  declare chargedCents: number

  @column()
  declare currency: string

  @column()
  declare status: UsageInvoiceStatus

  @column()
  declare stripeInvoiceId: string | null

  @column()
  declare idempotencyKey: string

  @column()
  declare lineCount: number

  @column.dateTime()
  declare finalizedAt: DateTime | null

  @column.dateTime()
  declare paidAt: DateTime | null

  @column()
  declare failureReason: string | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => User)
  declare user: BelongsTo<typeof User>

  @hasMany(() => UsageLog)
  declare usageLogs: HasMany<typeof UsageLog>

  get isPaid() {
    return this.status === 'paid'
  }

  /** Nothing more will happen to it: paid, voided or written off. */
  get isSettled() {
    return this.status === 'paid' || this.status === 'void' || this.status === 'uncollectible'
  }

  static forPeriod = scope((query, period: string) => {
    query.where('period', period)
  })
}
