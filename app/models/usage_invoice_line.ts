import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import UsageInvoice from '#models/usage_invoice'
import MarketplaceAgent from '#models/marketplace_agent'

/** agent: an api-priced agent's usage (its creator earns a share); usage: everything else. */
export type UsageInvoiceLineKind = 'usage' | 'agent'

/** One line of a usage invoice; the lines split the invoice's rounded total exactly. */
export default class UsageInvoiceLine extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column({ consume: bigintColumn.consume })
  declare usageInvoiceId: number

  @column()
  declare kind: UsageInvoiceLineKind

  @column({ consume: bigintColumn.consume })
  declare agentId: number | null

  @column()
  declare description: string

  @column()
  declare requestCount: number

  @column({ consume: bigintColumn.consume })
  declare costMicros: number

  @column({ consume: bigintColumn.consume })
  declare amountCents: number

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @belongsTo(() => UsageInvoice)
  declare usageInvoice: BelongsTo<typeof UsageInvoice>

  @belongsTo(() => MarketplaceAgent, { foreignKey: 'agentId' })
  declare agent: BelongsTo<typeof MarketplaceAgent>
}
