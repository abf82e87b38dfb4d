import Stripe from 'stripe'
import db from '@adonisjs/lucid/services/db'
import StripeEvent from '#models/stripe_event'
import { UserFactory } from '#database/factories/user_factory'
import { appWebhookEndpoint, stripeClient, stripeSandbox } from '#tests/support/stripe'

/** The recorded event, waiting a little for a delivery still in flight. */
export async function waitForEvent(stripeEventId: string, timeoutMs = 5000): Promise<StripeEvent> {
  const deadline = Date.now() + timeoutMs
  while (true) {
    const row = await StripeEvent.findBy('stripeEventId', stripeEventId)
    if (row) return row
    if (Date.now() > deadline) throw new Error(`Event ${stripeEventId} was never recorded`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Removes the events a test recorded (they are committed by the app's own requests). */
export async function deleteEvents(stripeEventIds: string[]) {
  if (stripeEventIds.length === 0) return
  await db.from('stripe_events').whereIn('stripe_event_id', stripeEventIds).delete()
}

/**
 * POSTs bytes to the app's webhook route over real HTTP (as Stripe does),
 * exactly as given. `signature` null sends no Stripe-Signature header.
 */
export async function postWebhook(body: string, signature: string | null) {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' }
  if (signature !== null) headers['stripe-signature'] = signature
  const response = await fetch(appWebhookEndpoint().url, { method: 'POST', headers, body })
  const text = await response.text()
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text)
  } catch {}
  return { status: response.status, text, json }
}

/** A Stripe-Signature header for `payload`, signed now (or `timestamp`) with the app's secret. */
export function signed(payload: string, timestamp?: number) {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: appWebhookEndpoint().secret,
    timestamp,
  })
}

/**
 * A user whose Stripe customer (in the sandbox) is renamed to `name`: the
 * customer.updated event that follows is what the test handlers apply.
 * Its delivery to the app goes as the sandbox decides (hold it first to keep it).
 */
export async function renamedCustomer(name: string) {
  const stripe = stripeClient()
  const customer = await stripe.customers.create({
    email: `hook-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@studio.test`,
    name: 'Before',
  })
  const user = await UserFactory.merge({
    stripeCustomerId: customer.id,
    fullName: 'Before',
  }).create()
  await stripe.customers.update(customer.id, { name })
  const event = stripeSandbox()
    .eventLog('customer.updated')
    .filter((candidate) => (candidate.data.object as Stripe.Customer).id === customer.id)
    .at(-1)
  if (!event) throw new Error(`No customer.updated event for ${customer.id}`)
  const created = stripeSandbox()
    .eventLog('customer.created')
    .filter((candidate) => (candidate.data.object as Stripe.Customer).id === customer.id)
  return { user, customer, event, eventIds: [event.id, ...created.map((e) => e.id)] }
}

/** The exact bytes the sandbox signs for an event (what Stripe sends). */
export function eventBytes(event: Stripe.Event) {
  return JSON.stringify(event, null, 2)
}
