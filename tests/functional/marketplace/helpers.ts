import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import type Stripe from 'stripe'
import User from '#models/user'
import type MarketplaceAgent from '#models/marketplace_agent'
import { UserFactory } from '#database/factories/user_factory'
import AgentCatalogService, { type AgentPricing } from '#services/marketplace/agent_catalog_service'
import ConnectService from '#services/marketplace/connect_service'
import EarningsService from '#services/marketplace/earnings_service'
import PayoutService from '#services/marketplace/payout_service'
import StripeGateway from '#services/stripe_gateway'
import { truncate } from '#tests/support/database'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { completeOnboarding } from '../../../sandbox/stripe/resources/accounts.js'

/*
| Real transactions and truncation (payout runs race each other on row and
| named locks, which one global transaction would hide). Every id our Stripe
| idempotency keys derive from (users, agents, payouts, reversals) starts in a
| fresh range per test: the sandbox, and the keys it remembers, live for the
| whole run.
*/
let range = 0
export async function resetData() {
  await stripeSandbox().waitForIdle(20_000)
  stripeSandbox().holdWebhooks(false)
  stripeSandbox().clearFaults()
  app.container.restore(StripeGateway)
  await truncate(
    'users',
    'stripe_events',
    'marketplace_agents',
    'marketplace_transactions',
    'creator_payouts',
    'creator_transfer_reversals',
    'creator_accounts',
    'locks'
  )
  await fundPlatform()
  range += 1
  const start = 7_000_000 + range * 1000
  for (const table of [
    'users',
    'marketplace_agents',
    'creator_payouts',
    'creator_transfer_reversals',
  ]) {
    await db.rawQuery(`SELECT setval(pg_get_serial_sequence(?, 'id'), ?, false)`, [table, start])
  }
}

/**
 * Tops the platform's available balance up to `minimumCents`. The sandbox lives
 * for the whole run and other suites' refunds and disputes (each dispute debits
 * its amount plus a $15 fee from the available balance, while the card payments
 * they refund are still pending) leave it short, or negative: a transfer made
 * then is refused with `balance_insufficient`, as real Stripe refuses it. A
 * charge with the bypassPending card is available at once, like Stripe's
 * 4000 0000 0000 0077 test card.
 */
export async function fundPlatform(minimumCents = 1_000_000) {
  const available = await platformAvailable()
  if (available >= minimumCents) return
  // Stripe's fee (2.9% + 30 cents) comes off the charge: gross it up.
  await charge(Math.ceil((minimumCents - available + 30) / 0.971) + 1)
}

/** The platform's available USD balance in the sandbox, in cents. */
export async function platformAvailable() {
  const balance = await stripeClient().balance.retrieve()
  return balance.available.find((entry) => entry.currency === 'usd')?.amount ?? 0
}

export const services = {
  catalog: () => app.container.make(AgentCatalogService),
  connect: () => app.container.make(ConnectService),
  earnings: () => app.container.make(EarningsService),
  payouts: () => app.container.make(PayoutService),
}

export async function runPayouts(options?: Parameters<PayoutService['run']>[0]) {
  const payouts = await services.payouts()
  return payouts.run(options)
}

export async function balancesOf(user: User | number) {
  const earnings = await services.earnings()
  return earnings.balances(typeof user === 'number' ? user : user.id)
}

export async function refreshConnect(user: User) {
  const connect = await services.connect()
  return connect.refresh(user)
}

export async function connectStatus(user: User) {
  const connect = await services.connect()
  return connect.status(user)
}

/** A creator with a Connect account onboarded in the sandbox (or left incomplete). */
export async function creator(options: { onboarded?: boolean } = {}) {
  const user = await UserFactory.create()
  const connect = await services.connect()
  const { stripeAccountId } = await connect.onboardingLink(user)
  if (options.onboarded !== false) {
    completeOnboarding(stripeSandbox().context, stripeAccountId, 'complete')
    await connect.refresh(user)
  }
  return User.findOrFail(user.id)
}

export async function buyer() {
  return UserFactory.create()
}

export async function agent(
  owner: User | null,
  pricing: AgentPricing = { pricingType: 'one_time', priceCents: 1000 },
  slug?: string
) {
  const catalog = await services.catalog()
  return catalog.create({
    slug: slug ?? `agent-${Math.random().toString(36).slice(2, 10)}`,
    name: 'Test agent',
    creatorId: owner?.id ?? null,
    pricing,
  })
}

/** A real charge in the sandbox (funds available at once, so grouped transfers are funded). */
export async function charge(amountCents: number, card = 'pm_card_bypassPending') {
  const intent = await stripeClient().paymentIntents.create({
    amount: amountCents,
    currency: 'usd',
    payment_method: card,
    confirm: true,
    automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
  })
  return { intentId: intent.id, chargeId: String(intent.latest_charge) }
}

/** A paid sale of `agentRow` recorded in the ledger, `daysAgo` days ago (hold period from then). */
export async function sale(
  agentRow: MarketplaceAgent,
  payer: User,
  amountCents: number,
  options: { daysAgo?: number } = {}
) {
  // Stripe charges at least 50 cents: a smaller gross is part of a bigger charge (like a usage invoice).
  const paid = await charge(Math.max(50, amountCents))
  const earnings = await services.earnings()
  const { transaction } = await db.transaction((trx) =>
    earnings.recordSale(
      {
        agent: agentRow,
        buyerId: payer.id,
        sourceType: 'payment_intent',
        sourceId: paid.intentId,
        grossCents: amountCents,
        stripeChargeId: paid.chargeId,
        at: DateTime.utc().minus({ days: options.daysAgo ?? 10 }),
      },
      trx
    )
  )
  return { ...paid, transaction }
}

/** Every transfer the sandbox holds (newest first). */
export async function transfers(destination?: string): Promise<Stripe.Transfer[]> {
  const listed = await stripeClient().transfers.list({
    limit: 100,
    ...(destination ? { destination } : {}),
  })
  return listed.data
}

export async function payoutsOf(user: User) {
  return db.from('creator_payouts').where('creator_id', user.id).orderBy('id').select('*')
}

export async function ledgerOf(user: User) {
  const rows = await db
    .from('marketplace_transactions')
    .where('creator_id', user.id)
    .orderBy('id')
    .select('*')
  return rows.map((row) => ({
    id: Number(row.id),
    kind: row.kind as string,
    sourceType: row.source_type as string,
    grossCents: Number(row.gross_cents),
    creatorCents: Number(row.creator_cents),
    platformCents: Number(row.platform_cents),
    status: row.status as string,
    payoutId: row.creator_payout_id === null ? null : Number(row.creator_payout_id),
  }))
}

/**
 * A gateway whose transfers (or transfer reversals) are made in Stripe and
 * then "crash" before the caller sees the answer: the process dying between
 * the Stripe call and recording it.
 */
export function swapInCrashingGateway(what: 'transfer' | 'reversal', times = 1) {
  let left = times
  app.container.swap(StripeGateway, () => {
    const gateway = new StripeGateway(stripeConfigForTests())
    const transfersResource = gateway.client.transfers
    if (what === 'transfer') {
      const create = transfersResource.create.bind(transfersResource)
      transfersResource.create = (async (...args: Parameters<typeof create>) => {
        const made = await create(...args)
        if (left-- > 0) throw new Error('simulated crash after the transfer was created')
        return made
      }) as typeof create
    } else {
      const createReversal = transfersResource.createReversal.bind(transfersResource)
      transfersResource.createReversal = (async (...args: Parameters<typeof createReversal>) => {
        const made = await createReversal(...args)
        if (left-- > 0) throw new Error('simulated crash after the reversal was created')
        return made
      }) as typeof createReversal
    }
    return gateway
  })
}

let config: ConstructorParameters<typeof StripeGateway>[0] | null = null
function stripeConfigForTests() {
  if (!config) throw new Error('call loadStripeConfig() first')
  return config
}
export async function loadStripeConfig() {
  const { default: stripeConfig } = await import('#config/stripe')
  config = stripeConfig
}
