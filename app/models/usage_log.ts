import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column, scope } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'
import MarketplaceAgent from '#models/marketplace_agent'
import Project from '#models/project'
import UsageInvoice from '#models/usage_invoice'

/** attributed: tied to a user (a CHECK keeps attribution and userId in step). */
export type UsageAttribution = 'attributed' | 'unattributed'

/** One LiteLLM request, keyed on LiteLLM's request_id, with its spend and our price for it. */
export default class UsageLog extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column()
  declare requestId: string

  @column({ consume: bigintColumn.consume })
  declare userId: number | null

  @column({ consume: bigintColumn.consume })
  declare agentId: number | null

  @column({ consume: bigintColumn.consume })
  declare projectId: number | null

  @column()
  declare litellmUser: string | null

  @column()
  declare model: string

  @column()
  declare modelGroup: string | null

  @column()
  declare promptTokens: number

  @column()
  declare completionTokens: number

  @column()
  declare totalTokens: number

  @column()
  declare cacheHit: boolean

  /** LiteLLM's own spend figure, converted from float USD once at ingestion. */
  @column({ consume: bigintColumn.consume })
  declare spendMicros: number

  /** What we bill for this request, from our price table or the agent's API pricing. */
  @column({ consume: bigintColumn.consume })
  declare costMicros: number

  @column()
  declare attribution: UsageAttribution

  /** LiteLLM's spend and our cost disagree beyond tolerance: flagged for an operator. */
  @column()
  declare spendMismatch: boolean

  @column.dateTime()
  declare startedAt: DateTime

  @column.dateTime()
  declare endedAt: DateTime | null

  @column({ consume: bigintColumn.consume })
  declare usageInvoiceId: number | null

  @column()
  declare metadata: Record<string, unknown> | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @belongsTo(() => User)
  declare user: BelongsTo<typeof User>

  @belongsTo(() => MarketplaceAgent, { foreignKey: 'agentId' })
  declare agent: BelongsTo<typeof MarketplaceAgent>

  @belongsTo(() => Project)
  declare project: BelongsTo<typeof Project>

  @belongsTo(() => UsageInvoice)
  declare usageInvoice: BelongsTo<typeof UsageInvoice>

  get isAttributed() {
    return this.attribution === 'attributed'
  }

  get isInvoiced() {
    return this.usageInvoiceId !== null
  }

  static unattributed = scope((query) => {
    query.where('attribution', 'unattributed')
  })

  static uninvoiced = scope((query) => {
    query.whereNull('usage_invoice_id')
  })
}
