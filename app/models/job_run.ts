import { DateTime } from 'luxon'
import { BaseModel, column, scope } from '@adonisjs/lucid/orm'
import { bigintColumn } from '#support/columns'

export type JobRunStatus = 'running' | 'succeeded' | 'failed' | 'partial' | 'skipped'

/** One run of an operator CLI job (by hand or cron), on which host and how it ended. */
export default class JobRun extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column()
  declare job: string

  @column()
  declare status: JobRunStatus

  @column()
  declare host: string

  @column()
  declare pid: number

  @column.dateTime()
  declare startedAt: DateTime

  @column.dateTime()
  declare finishedAt: DateTime | null

  @column()
  declare durationMs: number | null

  @column()
  declare summary: Record<string, unknown> | null

  @column()
  declare error: string | null

  get isRunning() {
    return this.status === 'running'
  }

  static ofJob = scope((query, job: string) => {
    query.where('job', job)
  })
}
