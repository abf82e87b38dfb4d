import { DateTime } from 'luxon'
import hash from '@adonisjs/core/services/hash'
import { compose } from '@adonisjs/core/helpers'
import { withAuthFinder } from '@adonisjs/auth/mixins/lucid'
import { BaseModel, column, hasMany, scope } from '@adonisjs/lucid/orm'
import type { HasMany } from '@adonisjs/lucid/types/relations'
import { bigintColumn } from '#support/columns'
import Project from '#models/project'
import Subscription from '#models/subscription'
import DeploySlotPurchase from '#models/deploy_slot_purchase'
import CreditPurchase from '#models/credit_purchase'
import CreditLedgerEntry from '#models/credit_ledger_entry'
import UsageInvoice from '#models/usage_invoice'
import UsageLog from '#models/usage_log'
import MarketplaceAgent from '#models/marketplace_agent'
import AgentEntitlement from '#models/agent_entitlement'
import CreatorPayout from '#models/creator_payout'
import MarketplaceTransaction from '#models/marketplace_transaction'

const AuthFinder = withAuthFinder(() => hash.use('scrypt'), {
  uids: ['email'],
  passwordColumnName: 'password',
})

export type Plan = 'free' | 'premium'

export default class User extends compose(BaseModel, AuthFinder) {
  @column({ isPrimary: true, consume: bigintColumn.consume })
  declare id: number

  @column()
  declare fullName: string

  @column()
  declare email: string

  @column({ serializeAs: null })
  declare password: string

  /** Cached from the Premium subscription by the subscriptions service; never user-editable. */
  @column()
  declare plan: Plan

  /** Cached sum of the credit ledger (1 credit = 1 cent); a CHECK keeps it >= 0. */
  @column({ ...bigintColumn })
  declare creditsBalanceCents: number

  @column()
  declare stripeCustomerId: string | null

  @column()
  declare creatorStripeAccountId: string | null

  @column()
  declare creatorPayoutsEnabled: boolean

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @hasMany(() => Project)
  declare projects: HasMany<typeof Project>

  @hasMany(() => Subscription)
  declare subscriptions: HasMany<typeof Subscription>

  @hasMany(() => DeploySlotPurchase)
  declare deploySlotPurchases: HasMany<typeof DeploySlotPurchase>

  @hasMany(() => CreditPurchase)
  declare creditPurchases: HasMany<typeof CreditPurchase>

  @hasMany(() => CreditLedgerEntry)
  declare creditLedgerEntries: HasMany<typeof CreditLedgerEntry>

  @hasMany(() => UsageInvoice)
  declare usageInvoices: HasMany<typeof UsageInvoice>

  @hasMany(() => UsageLog)
  declare usageLogs: HasMany<typeof UsageLog>

  @hasMany(() => AgentEntitlement)
  declare agentEntitlements: HasMany<typeof AgentEntitlement>

  /** Agents this user sells as a creator. */
  @hasMany(() => MarketplaceAgent, { foreignKey: 'creatorId' })
  declare createdAgents: HasMany<typeof MarketplaceAgent>

  /** Earnings ledger rows credited to this user as a creator. */
  @hasMany(() => MarketplaceTransaction, { foreignKey: 'creatorId' })
  declare earnings: HasMany<typeof MarketplaceTransaction>

  @hasMany(() => CreatorPayout, { foreignKey: 'creatorId' })
  declare creatorPayouts: HasMany<typeof CreatorPayout>

  /** Users whose Stripe customer is still to be created (Stripe was down at registration). */
  static withoutStripeCustomer = scope((query) => {
    query.whereNull('stripe_customer_id')
  })

  get isPremium() {
    return this.plan === 'premium'
  }

  get initials() {
    const [first, last] = this.fullName.trim().split(/\s+/)
    return `${first?.charAt(0) ?? ''}${last?.charAt(0) ?? ''}`.toUpperCase() || '?'
  }
}
