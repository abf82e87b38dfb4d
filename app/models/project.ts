import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column, scope } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'

export default class Project extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column({ consume: bigintColumn.consume })
  declare userId: number

  @column()
  declare name: string

  @column()
  declare slug: string

  @column()
  declare isDeployed: boolean

  @column.dateTime()
  declare deployedAt: DateTime | null

  @column.dateTime()
  declare stoppedAt: DateTime | null

  @column()
  declare stoppedReason: string | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => User)
  declare user: BelongsTo<typeof User>

  static ownedBy = scope((query, user: User) => {
    query.where('user_id', user.id)
  })

  static deployed = scope((query) => {
    query.where('is_deployed', true)
  })
}
