import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'
import CreditPurchase from '#models/credit_purchase'
import UsageInvoice from '#models/usage_invoice'

/** Purchases and grants are positive; the other kinds are negative (a CHECK enforces it). */
export type CreditLedgerEntryKind =
  'purchase' | 'usage_invoice' | 'refund_clawback' | 'operator_grant' | 'operator_debit'

/** One append-only movement of a user's credits (1 credit = 1 cent); never updated or deleted. */
export default class CreditLedgerEntry extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column({ consume: bigintColumn.consume })
  declare userId: number

  /** Signed: positive adds credits, negative removes them. */
  @column({ consume: bigintColumn.consume })
  declare amountCents: number

  @column({ consume: bigintColumn.consume })
  declare balanceAfterCents: number

  @column()
  declare kind: CreditLedgerEntryKind

  @column()
  declare idempotencyKey: string

  @column({ consume: bigintColumn.consume })
  declare creditPurchaseId: number | null

  @column({ consume: bigintColumn.consume })
  declare usageInvoiceId: number | null

  @column()
  declare description: string | null

  /** Who wrote it, e.g. 'webhook' or 'cli:operator'. */
  @column()
  declare createdBy: string

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @belongsTo(() => User)
  declare user: BelongsTo<typeof User>

  @belongsTo(() => CreditPurchase)
  declare creditPurchase: BelongsTo<typeof CreditPurchase>

  @belongsTo(() => UsageInvoice)
  declare usageInvoice: BelongsTo<typeof UsageInvoice>

  get isCredit() {
    return this.amountCents > 0
  }

  get isDebit() {
    return this.amountCents < 0
  }
}
