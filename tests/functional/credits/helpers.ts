import type { ApiClient } from '@japa/api-client'
import type { Assert } from '@japa/assert'
import db from '@adonisjs/lucid/services/db'
import type Stripe from 'stripe'
import User from '#models/user'
import { UserFactory } from '#database/factories/user_factory'
import { truncate } from '#tests/support/database'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import {
  completeCheckoutSession,
  settleAsyncCheckout,
} from '../../../sandbox/stripe/resources/checkout_sessions.js'

export const CARD = { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' }
export const DISPUTED_CARD = { ...CARD, number: '4000000000000259' }

/*
| These tests need real transactions (concurrent fulfilments must serialize on
| the user's row lock, which one global transaction would hide), so tables are
| truncated instead. User ids start in a fresh range per test: the Stripe
| customer's idempotency key is derived from the user, and the sandbox lives
| for the whole run.
*/
let idRange = 0
export async function resetData() {
  await stripeSandbox().waitForIdle(20_000)
  stripeSandbox().holdWebhooks(false)
  stripeSandbox().clearFaults()
  await truncate('users', 'stripe_events')
  idRange += 1
  await db.rawQuery(`SELECT setval(pg_get_serial_sequence('users', 'id'), ?, false)`, [
    50_000 + idRange * 1000,
  ])
}

export async function buyer() {
  const user = await UserFactory.create()
  return user
}

/** Starts a credit pack Checkout through the API; returns the session id. */
export async function startCredits(client: ApiClient, user: User, pack = 'medium') {
  const response = await client
    .post('/api/billing/credits/purchase')
    .json({ package: pack })
    .loginAs(user)
    .withCsrfToken()
  response.assertStatus(201)
  return response.body().data.id as string
}

export async function startSlot(client: ApiClient, user: User) {
  const response = await client
    .post('/api/projects/deployment/purchase-slot')
    .json({})
    .loginAs(user)
    .withCsrfToken()
  response.assertStatus(201)
  return response.body().data.id as string
}

/** Pays on the hosted page (what the customer does), then lets the webhooks arrive. */
export async function pay(
  sessionId: string,
  options: { card?: typeof CARD; async?: 'pending'; wait?: boolean } = {}
) {
  const { error, session: completed } = completeCheckoutSession(
    stripeSandbox().context,
    sessionId,
    {
      card: options.card ?? CARD,
      async: options.async ?? null,
    }
  )
  if (error) throw error
  if (options.wait !== false) await stripeSandbox().waitForIdle(20_000)
  return completed
}

export async function settle(sessionId: string, outcome: 'succeeded' | 'failed') {
  settleAsyncCheckout(stripeSandbox().context, sessionId, outcome)
  await stripeSandbox().waitForIdle(20_000)
}

export function session(id: string): Promise<Stripe.Checkout.Session> {
  return stripeClient().checkout.sessions.retrieve(id)
}

/** Events of a type about one object (newest first). */
export function eventsFor(type: string, objectId: string) {
  return stripeSandbox()
    .eventLog(type)
    .filter((event) => (event.data.object as { id?: string }).id === objectId)
}

export async function ledger(user: User) {
  const rows = await db
    .from('credit_ledger_entries')
    .where('user_id', user.id)
    .orderBy('id', 'asc')
    .select('*')
  return rows.map((row) => ({
    kind: row.kind as string,
    amountCents: Number(row.amount_cents),
    balanceAfterCents: Number(row.balance_after_cents),
    idempotencyKey: row.idempotency_key as string,
    description: row.description as string | null,
    createdBy: row.created_by as string,
  }))
}

/** Invariant 2: the cached balance equals the ledger sum (and the last balance_after). */
export async function assertBalance(assert: Assert, user: User, expected: number) {
  const fresh = await User.findOrFail(user.id)
  const rows = await ledger(user)
  const sum = rows.reduce((total, row) => total + row.amountCents, 0)
  assert.equal(fresh.creditsBalanceCents, expected, 'cached balance')
  assert.equal(sum, expected, 'ledger sum')
  assert.equal(rows.at(-1)?.balanceAfterCents ?? 0, expected, 'last balance_after')
}

export async function creditPurchases(user: User) {
  return db.from('credit_purchases').where('user_id', user.id).orderBy('id').select('*')
}

export async function stripeEvent(stripeEventId: string) {
  return db.from('stripe_events').where('stripe_event_id', stripeEventId).first()
}

/** The status our inbox gave an event. */
export async function eventStatus(stripeEventId: string): Promise<string | undefined> {
  const row = await stripeEvent(stripeEventId)
  return row?.status
}

/** Status of the user's first credit purchase. */
export async function purchaseStatus(user: User): Promise<string | undefined> {
  const [first] = await creditPurchases(user)
  return first?.status
}

export async function sessionCount() {
  const listed = await stripeClient().checkout.sessions.list({ limit: 100 })
  return listed.data.length
}
