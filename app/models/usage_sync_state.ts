import { DateTime } from 'luxon'
import { BaseModel, column } from '@adonisjs/lucid/orm'
import { bigintColumn } from '#support/columns'

export type UsageSyncStatus = 'running' | 'succeeded' | 'failed' | 'partial'

/** Progress of pulling usage from one source (e.g. 'litellm'): its watermark and last run. */
export default class UsageSyncState extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column()
  declare source: string

  /** Newest started_at fully ingested; the next pull re-reads a look-back window before it. */
  @column.dateTime()
  declare watermarkAt: DateTime | null

  @column.dateTime()
  declare lastStartedAt: DateTime | null

  @column.dateTime()
  declare lastFinishedAt: DateTime | null

  @column()
  declare lastStatus: UsageSyncStatus | null

  @column()
  declare lastError: string | null

  /** Rows read in the last run. */
  @column({ consume: bigintColumn.consume })
  declare rowsSeen: number

  /** Rows new to usage_logs in the last run. */
  @column({ consume: bigintColumn.consume })
  declare rowsInserted: number

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  get isRunning() {
    return this.lastStatus === 'running'
  }
}
