import type { ApiClient } from '@japa/api-client'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import type User from '#models/user'
import Subscription from '#models/subscription'
import { truncate } from '#tests/support/database'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { completeCheckoutSession } from '../../../sandbox/stripe/resources/checkout_sessions.js'

export const CARD = { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' }
/** Succeeds in Checkout, declined off-session: the renewal fails. */
export const FAILS_ON_RENEWAL = { ...CARD, number: '4000000000000341' }

/*
| Webhooks are processed by the app's own HTTP server in their own
| transactions, so these tests use real transactions and truncate between
| tests. User ids start in a fresh range per test: the Stripe customer's
| idempotency key is derived from the user, and the sandbox lives for the run.
*/
let idRange = 0
export async function resetData() {
  await stripeSandbox().waitForIdle(20_000)
  stripeSandbox().holdWebhooks(false)
  stripeSandbox().clearFaults()
  stripeSandbox().clearWebhookRules()
  await truncate('users', 'stripe_events', 'locks')
  idRange += 1
  await db.rawQuery(`SELECT setval(pg_get_serial_sequence('users', 'id'), ?, false)`, [
    70_000 + idRange * 1000,
  ])
}

/** Lets every webhook in flight arrive and be processed. */
export function settle() {
  return stripeSandbox().waitForIdle(20_000)
}

/** Starts a Premium Checkout through the API; returns the session id. */
export async function startPremium(client: ApiClient, user: User) {
  const response = await client
    .post('/api/billing/subscribe')
    .json({})
    .loginAs(user)
    .withCsrfToken()
  response.assertStatus(201)
  return response.body().data.id as string
}

/** Pays a Checkout the way the hosted page does. */
export function pay(sessionId: string, card = CARD) {
  const { error, session } = completeCheckoutSession(stripeSandbox().context, sessionId, { card })
  if (error) throw error
  return session!
}

/** Subscribes through the API and Checkout; returns the Stripe subscription id once the webhooks are in. */
export async function subscribe(client: ApiClient, user: User, card = CARD) {
  const session = pay(await startPremium(client, user), card)
  await settle()
  const subscription = session.subscription
  return typeof subscription === 'string' ? subscription : subscription!.id
}

export function row(stripeSubscriptionId: string) {
  return Subscription.findByOrFail('stripe_subscription_id', stripeSubscriptionId)
}

/** The status our mirror holds. */
export async function statusOf(stripeSubscriptionId: string) {
  const mirrored = await row(stripeSubscriptionId)
  return mirrored.status
}

/** The subscription as Stripe (the sandbox) holds it. */
export function remote(stripeSubscriptionId: string) {
  return stripeClient().subscriptions.retrieve(stripeSubscriptionId)
}

/** Moves the sandbox clock just past the subscription's period end (renewal, scheduled cancel). */
export async function advancePeriod(stripeSubscriptionId: string) {
  const response = await fetch(
    `${stripeSandbox().url}/_sim/subscriptions/${stripeSubscriptionId}/advance_period`,
    { method: 'POST' }
  )
  if (!response.ok) throw new Error(`advance_period: ${response.status} ${await response.text()}`)
  await settle()
}

/** The sandbox's clock (it runs ahead of the wall clock once advanced). */
export function stripeNow() {
  return DateTime.fromSeconds(stripeSandbox().now(), { zone: 'utc' })
}

export { stripeClient, stripeSandbox }
