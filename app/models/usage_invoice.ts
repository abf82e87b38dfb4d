import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column, hasMany, scope } from '@adonisjs/lucid/orm'
import type { BelongsTo, HasMany } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'
import UsageLog from '#models/usage_log'
import UsageInvoiceLine from '#models/usage_invoice_line'

/**
 * draft: made, Stripe steps not finished; open: finalized in Stripe, payment
 * pending; paid; failed: a payment attempt failed (Stripe keeps retrying);
 * carried: under Stripe's minimum charge, its usage rolls into the next period.
 */
export type UsageInvoiceStatus =
  'draft' | 'open' | 'paid' | 'void' | 'uncollectible' | 'failed' | 'carried'

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

  /** costMicros rounded to cents once (half up); equals credits applied + charged + carried. */
  @column({ consume: bigintColumn.consume })
  declare amountCents: number

  @column({ consume: bigintColumn.consume })
  declare creditsAppliedCents: number

  @column({ consume: bigintColumn.consume })
  declare chargedCents: number

  /** Under Stripe's minimum charge: left unbilled, rolled into the next period's invoice. */
  @column({ consume: bigintColumn.consume })
  declare carriedCents: number

  /** The invoice that billed this carried amount's usage. */
  @column({ consume: bigintColumn.consume })
  declare carriedIntoInvoiceId: number | null

  @column()
  declare requestCount: number

  @column()
  declare currency: string

  @column()
  declare status: UsageInvoiceStatus

  @column()
  declare stripeInvoiceId: string | null

  @column()
  declare stripeCustomerId: string | null

  @column()
  declare stripeInvoiceItemId: string | null

  @column()
  declare stripeChargeId: string | null

  /** Runs that started this row's Stripe steps (> 0: a rerun looks the invoice up first). */
  @column()
  declare stripeAttempts: number

  /** Derived from (user, period); each Stripe step's key is this plus the step. */
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

  @column.dateTime()
  declare paymentFailedAt: DateTime | null

  /** When Stripe retries a failed payment (null: no retry scheduled). */
  @column.dateTime()
  declare nextPaymentAttemptAt: DateTime | null

  /** The event second of the Stripe state applied last. */
  @column.dateTime()
  declare stripeUpdatedAt: DateTime | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => User)
  declare user: BelongsTo<typeof User>

  @hasMany(() => UsageLog)
  declare usageLogs: HasMany<typeof UsageLog>

  @hasMany(() => UsageInvoiceLine)
  declare lines: HasMany<typeof UsageInvoiceLine>

  get isPaid() {
    return this.status === 'paid'
  }

  /** Nothing more will happen to it: paid, voided or written off. */
  get isSettled() {
    return this.status === 'paid' || this.status === 'void' || this.status === 'uncollectible'
  }

  /** A payment attempt failed and the invoice is still unpaid: the billing page shows it. */
  get isPastDue() {
    return this.status === 'failed'
  }

  /** Stripe steps still to do (a crashed or interrupted run left it). */
  get isUnfinished() {
    return this.status === 'draft' || this.status === 'open'
  }

  static forPeriod = scope((query, period: string) => {
    query.where('period', period)
  })

  static pastDue = scope((query) => {
    query.where('status', 'failed')
  })
}
