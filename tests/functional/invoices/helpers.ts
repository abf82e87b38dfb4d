import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import type Stripe from 'stripe'
import User from '#models/user'
import UsageInvoice from '#models/usage_invoice'
import type MarketplaceAgent from '#models/marketplace_agent'
import { UserFactory } from '#database/factories/user_factory'
import AgentCatalogService from '#services/marketplace/agent_catalog_service'
import CreditService from '#services/credit_service'
import StripeGateway from '#services/stripe_gateway'
import UsageInvoiceService, { type GenerateOptions } from '#services/usage/usage_invoice_service'
import { resetCommitted } from '#tests/support/reset'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'

/*
| Real transactions and truncation: invoicing runs race each other on row and
| named locks, which one global transaction would hide. Every id a Stripe
| idempotency key derives from (users: keys are `(user, period)`) starts in a
| fresh range per test, because the sandbox and the keys it remembers live for
| the whole run.
*/
let range = 0
export async function resetData() {
  range += 1
  await resetCommitted({
    tables: [
      'users',
      'stripe_events',
      'usage_logs',
      'usage_invoices',
      'usage_invoice_lines',
      'credit_ledger_entries',
      'marketplace_agents',
      'marketplace_transactions',
      'locks',
      'job_runs',
    ],
    sequences: ['users', 'usage_invoices', 'marketplace_agents'],
    start: 30_000_000 + range * 1000,
  })
}

/** Every webhook in flight delivered and processed. */
export function settle() {
  return stripeSandbox().waitForIdle(20_000)
}

export const CARD_OK = '4242424242424242'
/** Succeeds on-session, declined off-session (invoices.pay): a failing usage charge. */
export const CARD_OFF_SESSION_DECLINE = '4000000000000341'

/** A card of `number`, attached to the customer and made its default for invoices. */
export async function setDefaultCard(customerId: string, number: string, stripe = stripeClient()) {
  const method = await stripe.paymentMethods.create({
    type: 'card',
    card: { number, exp_month: 12, exp_year: 2034, cvc: '123' },
  })
  await stripe.paymentMethods.attach(method.id, { customer: customerId })
  await stripe.customers.update(customerId, {
    invoice_settings: { default_payment_method: method.id },
  })
  return method.id
}

/** A user with a Stripe customer and a default card (and `credits` cents of credits). */
export async function customer(
  options: { card?: string | null; credits?: number; stripe?: Stripe } = {}
) {
  const user = await UserFactory.create()
  const stripe = options.stripe ?? stripeClient()
  const created = await stripe.customers.create({
    email: user.email,
    metadata: { user_id: String(user.id) },
  })
  if (options.card !== null) await setDefaultCard(created.id, options.card ?? CARD_OK, stripe)
  user.stripeCustomerId = created.id
  await user.save()
  if (options.credits) await grant(user, options.credits)
  return User.findOrFail(user.id)
}

export async function grant(user: User, cents: number) {
  const credits = await app.container.make(CreditService)
  await credits.grant(user.id, cents, 'operator_grant', {
    idempotencyKey: `test:grant:${user.id}:${cents}:${Math.random()}`,
    createdBy: 'test',
  })
}

let requestSeq = 0
/**
 * Usage rows as the sync would store them (cost already priced), one per
 * entry of `micros`, started on `day` (UTC; default mid-October 2026).
 */
export async function usage(
  user: User,
  micros: number[],
  options: { day?: string; agent?: MarketplaceAgent } = {}
) {
  const startedAt = DateTime.fromISO(options.day ?? '2026-10-15T12:00:00', { zone: 'utc' })
  await db.table('usage_logs').multiInsert(
    micros.map((cost, index) => ({
      request_id: `req-inv-${Date.now()}-${++requestSeq}`,
      user_id: user.id,
      agent_id: options.agent?.id ?? null,
      litellm_user: String(user.id),
      model: 'gpt-4o-mini',
      model_group: 'gpt-4o-mini',
      prompt_tokens: 100,
      completion_tokens: 50,
      total_tokens: 150,
      cache_hit: false,
      spend_micros: cost,
      cost_micros: cost,
      attribution: 'attributed',
      spend_mismatch: false,
      started_at: startedAt.plus({ seconds: index }).toJSDate(),
      created_at: new Date(),
    }))
  )
}

/** An api-priced agent by `owner` (null: a platform agent). */
export async function apiAgent(owner: User | null, slug: string) {
  const catalog = await app.container.make(AgentCatalogService)
  return catalog.create({
    slug,
    name: `Agent ${slug}`,
    creatorId: owner?.id ?? null,
    pricing: {
      pricingType: 'api',
      inputPriceMicrosPerMillion: 1_000_000,
      outputPriceMicrosPerMillion: 2_000_000,
    },
  })
}

export async function service() {
  return app.container.make(UsageInvoiceService)
}

/** Runs invoicing for `period` as of today (the period is over), without the LiteLLM sync. */
export async function generate(period = '2026-10', options: GenerateOptions = {}) {
  const invoices = await service()
  return invoices.generate(period, { skipSync: true, ...options })
}

export async function invoiceOf(user: User, period = '2026-10') {
  return UsageInvoice.query().where('user_id', user.id).where('period', period).firstOrFail()
}

/** The customer's invoices in the sandbox (newest first). */
export async function stripeInvoicesOf(user: User) {
  const listed = await stripeClient().invoices.list({
    customer: user.stripeCustomerId!,
    limit: 100,
  })
  return listed.data
}

/** The customer's successful charges in the sandbox. */
export async function chargesOf(user: User) {
  const listed = await stripeClient().charges.list({ customer: user.stripeCustomerId!, limit: 100 })
  return listed.data.filter((charge) => charge.status === 'succeeded')
}

export async function ledgerOf(user: User) {
  return db.from('credit_ledger_entries').where('user_id', user.id).orderBy('id').select('*')
}

export async function earningsOf(usageInvoiceId: number) {
  const rows = await db
    .from('marketplace_transactions')
    .where('source_type', 'usage_invoice')
    .where('source_id', String(usageInvoiceId))
    .orderBy('agent_id')
    .select('*')
  return rows.map((row) => ({
    agentId: Number(row.agent_id),
    kind: row.kind as string,
    grossCents: Number(row.gross_cents),
    creatorCents: Number(row.creator_cents),
    platformCents: Number(row.platform_cents),
    stripeChargeId: row.stripe_charge_id as string | null,
  }))
}

/**
 * A gateway whose `method` of `invoices` (create, pay, ...) runs in Stripe and
 * then "crashes" before the caller sees the answer (the process dying between
 * the Stripe call and recording it). Counts the calls.
 */
export async function swapInCrashingGateway(
  method: 'create' | 'pay' | 'finalizeInvoice',
  times = 1
) {
  const { default: stripeConfig } = await import('#config/stripe')
  const calls = { count: 0 }
  let left = times
  app.container.swap(StripeGateway, () => {
    const gateway = new StripeGateway(stripeConfig)
    const resource = gateway.client.invoices
    const original = (resource[method] as (...args: unknown[]) => Promise<unknown>).bind(resource)
    ;(resource as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      calls.count += 1
      const made = await original(...args)
      if (left-- > 0) throw new Error(`simulated crash after invoices.${method}`)
      return made
    }
    return gateway
  })
  return calls
}

/** A gateway counting `invoices.create` calls (and otherwise untouched). */
export async function swapInCountingGateway() {
  const { default: stripeConfig } = await import('#config/stripe')
  const calls = { create: 0, pay: 0 }
  app.container.swap(StripeGateway, () => {
    const gateway = new StripeGateway(stripeConfig)
    const resource = gateway.client.invoices
    const create = resource.create.bind(resource)
    const pay = resource.pay.bind(resource)
    resource.create = ((...args: Parameters<typeof create>) => {
      calls.create += 1
      return create(...args)
    }) as typeof create
    resource.pay = ((...args: Parameters<typeof pay>) => {
      calls.pay += 1
      return pay(...args)
    }) as typeof pay
    return gateway
  })
  return calls
}

/** The amounts of the customer's successful charges. */
export async function chargeAmounts(user: User) {
  const charges = await chargesOf(user)
  return charges.map((charge) => charge.amount)
}

export async function chargeCount(user: User) {
  const charges = await chargesOf(user)
  return charges.length
}

export async function stripeInvoiceCount(user: User) {
  const invoices = await stripeInvoicesOf(user)
  return invoices.length
}

export async function statusOf(user: User, period = '2026-10') {
  const invoice = await invoiceOf(user, period)
  return invoice.status
}

export async function balanceOf(user: User) {
  const fresh = await User.findOrFail(user.id)
  return fresh.creditsBalanceCents
}

/** The user's ledger as [kind, cents] pairs, oldest first. */
export async function ledgerEntries(user: User) {
  const rows = await ledgerOf(user)
  return rows.map((row) => [row.kind as string, Number(row.amount_cents)])
}

export async function ledgerAmounts(user: User) {
  const rows = await ledgerOf(user)
  return rows.map((row) => Number(row.amount_cents))
}
