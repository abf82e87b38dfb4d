import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import User from '#models/user'

/**
 * A creator's Stripe Connect (Express) account as we last saw it. The state
 * carries the time it was true at Stripe (`stripeUpdatedAt`): an older
 * `account.updated` never overwrites a newer one.
 */
export default class CreatorAccount extends BaseModel {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column({ consume: bigintColumn.consume })
  declare userId: number

  @column()
  declare stripeAccountId: string

  @column()
  declare detailsSubmitted: boolean

  @column()
  declare chargesEnabled: boolean

  @column()
  declare payoutsEnabled: boolean

  /** The `transfers` capability is active: the account can be a transfer destination. */
  @column()
  declare transfersActive: boolean

  /** requirements.currently_due (then past_due) as Stripe listed them. */
  @column({ prepare: (value: string[]) => JSON.stringify(value) })
  declare requirementsDue: string[]

  @column()
  declare disabledReason: string | null

  @column.dateTime()
  declare stripeUpdatedAt: DateTime | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => User)
  declare user: BelongsTo<typeof User>

  /** Transfers to it succeed and reach the creator's bank: we pay out only then. */
  get canReceiveFunds() {
    return this.transfersActive && this.payoutsEnabled
  }
}
