import { test } from '@japa/runner'
import Stripe from 'stripe'
import type { ApiClient } from '@japa/api-client'
import db from '@adonisjs/lucid/services/db'
import stripeConfig from '#config/stripe'
import type User from '#models/user'
import StripeEvent from '#models/stripe_event'
import { appWebhookEndpoint, stripeSandbox } from '#tests/support/stripe'
import { completeCheckoutSession } from '../../../sandbox/stripe/resources/checkout_sessions.js'
import { isolate, world } from './helpers.js'

/*
| Webhooks: forged signatures, timestamps outside the tolerance and replayed
| deliveries. Covered elsewhere and not repeated here: the sandbox's own
| wrong-secret and stale deliveries, a missing header, unparsable bodies and
| whitespace changed after signing (webhooks/receive.spec.ts); the same event
| delivered twice and in parallel (webhooks/processing.spec.ts); a credit
| pack's webhook racing the success page (credits/fulfilment.spec.ts).
*/

const CARD = { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' }

/** POSTs exact bytes to the webhook route (as Stripe does, over HTTP). */
async function post(body: string, signature: string | null) {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' }
  if (signature !== null) headers['stripe-signature'] = signature
  const response = await fetch(appWebhookEndpoint().url, { method: 'POST', headers, body })
  const text = await response.text()
  return { status: response.status, text }
}

function sign(payload: string, options: { secret?: string; timestamp?: number } = {}) {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? appWebhookEndpoint().secret,
    timestamp: options.timestamp,
  })
}

const now = () => Math.floor(Date.now() / 1000)

/** A paid credit pack: the checkout.session.completed event the sandbox delivered for it. */
async function paidCredits(client: ApiClient, user: User) {
  const started = await client
    .post('/api/billing/credits/purchase')
    .json({ package: 'small' })
    .loginAs(user)
    .withCsrfToken()
  started.assertStatus(201)
  const sessionId = started.body().data.id as string
  const { error } = completeCheckoutSession(stripeSandbox().context, sessionId, { card: CARD })
  if (error) throw error
  await stripeSandbox().waitForIdle(20_000)
  const event = stripeSandbox()
    .eventLog('checkout.session.completed')
    .find((candidate) => (candidate.data.object as { id: string }).id === sessionId)!
  return { sessionId, event, bytes: JSON.stringify(event, null, 2) }
}

async function balance(user: User) {
  const row = await db.from('users').where('id', user.id).first()
  const ledger = await db.from('credit_ledger_entries').where('user_id', user.id)
  return { cached: Number(row.credits_balance_cents), entries: ledger.length }
}

/** A credit-granting event of our own making (never sent by Stripe). */
function forgedEvent(user: User, amountCents: number) {
  return JSON.stringify({
    id: `evt_forged_${user.id}_${Date.now()}`,
    object: 'event',
    type: 'checkout.session.completed',
    created: now(),
    data: {
      object: {
        id: `cs_test_forged_${user.id}`,
        object: 'checkout.session',
        mode: 'payment',
        status: 'complete',
        payment_status: 'paid',
        amount_total: amountCents,
        currency: 'usd',
        customer: user.stripeCustomerId,
        metadata: { kind: 'credits', user_id: String(user.id), package_key: 'large' },
      },
    },
  })
}

test.group('Security: webhook forgery, staleness and replays', (group) => {
  group.each.setup(() => isolate())
  group.each.timeout(60_000)

  test('forged signatures of every kind are refused with 400, nothing recorded or granted', async ({
    assert,
  }) => {
    const { alice } = await world()
    const payload = forgedEvent(alice, 5000)
    const eventId = JSON.parse(payload).id as string
    const genuine = sign(payload)
    const [timestampPart, signaturePart] = genuine.split(',')
    const attempts: Record<string, [string, string | null]> = {
      'signed with another secret': [payload, sign(payload, { secret: 'whsec_attacker' })],
      'body tampered after signing': [
        payload.replace('"amount_total":5000', '"amount_total":500000'),
        genuine,
      ],
      'no Stripe-Signature header': [payload, null],
      'an empty header': [payload, ''],
      'a timestamp without a signature': [payload, timestampPart],
      'a signature without a timestamp': [payload, signaturePart],
      'a v0 (test-mode scheme) signature only': [payload, genuine.replace('v1=', 'v0=')],
      'the signature moved to another timestamp': [payload, `t=${now() - 5},${signaturePart}`],
      'a signature of the empty body': [payload, sign('')],
    }
    for (const [label, [body, signature]] of Object.entries(attempts)) {
      const response = await post(body, signature)
      assert.equal(response.status, 400, `${label}: ${response.text}`)
    }
    assert.isNull(await StripeEvent.findBy('stripeEventId', eventId))
    assert.deepEqual(await balance(alice), { cached: 0, entries: 0 })
  })

  test('signatures older or further in the future than the tolerance are refused', async ({
    assert,
  }) => {
    const { alice } = await world()
    const tolerance = stripeConfig.webhookToleranceSeconds
    assert.isAbove(tolerance, 0)
    for (const [label, timestamp] of [
      ['stale', now() - tolerance - 5],
      ['a day old', now() - 86_400],
      ['future-dated', now() + tolerance + 60],
      ['a year ahead', now() + 365 * 86_400],
    ] as const) {
      const payload = forgedEvent(alice, 500)
      const response = await post(payload, sign(payload, { timestamp }))
      assert.equal(response.status, 400, `${label}: ${response.text}`)
      assert.match(response.text, /timestamp/i, label)
      assert.isNull(await StripeEvent.findBy('stripeEventId', JSON.parse(payload).id))
    }
    // A little clock skew either way is fine (an unknown event type: recorded, ignored).
    const skewed = JSON.stringify({
      id: `evt_skew_${alice.id}`,
      object: 'event',
      type: 'security.skew_probe',
      created: now(),
      data: { object: {} },
    })
    const ahead = await post(skewed, sign(skewed, { timestamp: now() + 30 }))
    assert.equal(ahead.status, 200, ahead.text)
  })

  test('a replayed genuine delivery changes nothing: credits are granted once', async ({
    client,
    assert,
  }) => {
    const { alice } = await world()
    const { event, bytes } = await paidCredits(client, alice)
    const granted = await balance(alice)
    assert.equal(granted.entries, 1)
    // The same bytes, freshly signed (a capture inside the tolerance), three times.
    const signature = sign(bytes)
    for (let replay = 0; replay < 3; replay++) {
      const response = await post(bytes, signature)
      assert.equal(response.status, 200, response.text)
      assert.equal(JSON.parse(response.text).outcome, 'already')
    }
    // And through the sandbox, as Stripe's own redelivery.
    await stripeSandbox().duplicateEvent(event.id)
    await stripeSandbox().waitForIdle(20_000)
    assert.deepEqual(await balance(alice), granted)
    const rows = await db.from('stripe_events').where('stripe_event_id', event.id)
    assert.lengthOf(rows, 1)
  })
})
