import { test } from '@japa/runner'
import type { ApiClient } from '@japa/api-client'
import db from '@adonisjs/lucid/services/db'
import type User from '#models/user'
import billingConfig from '#config/billing'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { completeCheckoutSession } from '../../../sandbox/stripe/resources/checkout_sessions.js'
import { isolate, world } from './helpers.js'

/*
| A Checkout Session presented to fulfil something it did not pay for: another
| user's session on the return page, a credits session where a deploy slot is
| expected, sessions whose metadata disagree with what was paid. Only what the
| session paid for, for the user it was made for, is granted, once.
| Tampered amounts, packages and customers through the webhook:
| credits/fulfilment.spec.ts ("a tampered session ... grants nothing").
*/

const CARD = { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' }

async function pay(sessionId: string) {
  const { error } = completeCheckoutSession(stripeSandbox().context, sessionId, { card: CARD })
  if (error) throw error
  await stripeSandbox().waitForIdle(20_000)
}

async function start(client: ApiClient, user: User, body: Record<string, unknown>) {
  const response = await client
    .post('/api/billing/checkout')
    .json(body)
    .loginAs(user)
    .withCsrfToken()
  response.assertStatus(201)
  return response.body().data.id as string
}

async function count(table: string, user: User) {
  const rows = await db.from(table).where('user_id', user.id)
  return rows.length
}

async function holdings(user: User) {
  const fresh = await db.from('users').where('id', user.id).first()
  return {
    creditsCents: Number(fresh.credits_balance_cents),
    plan: fresh.plan as string,
    slots: await count('deploy_slot_purchases', user),
    creditPurchases: await count('credit_purchases', user),
  }
}

test.group('Security: a checkout session fulfils only what it paid for', (group) => {
  group.each.setup(() => isolate())
  group.each.timeout(60_000)

  test('another user’s paid session on the return page grants the presenter nothing', async ({
    client,
    assert,
  }) => {
    const { alice, bob } = await world()
    const sessionId = await start(client, alice, { kind: 'deploy_slot' })
    await pay(sessionId)
    const bobBefore = await holdings(bob)
    const page = await client
      .get(`/billing/checkout/success?session_id=${sessionId}`)
      .loginAs(bob)
      .redirects(0)
    page.assertHeader('location', '/billing')
    assert.deepEqual(await holdings(bob), bobBefore)
    // Alice has her one slot (from the webhook), once.
    const aliceNow = await holdings(alice)
    assert.equal(aliceNow.slots, 1)
  })

  test('a paid credits session grants credits, never a deploy slot, and only once', async ({
    client,
    assert,
  }) => {
    const { alice } = await world()
    const sessionId = await start(client, alice, { kind: 'credits', packageKey: 'small' })
    await pay(sessionId)
    const small = billingConfig.creditPackages.find((pack) => pack.key === 'small')!.amountCents
    for (let visit = 0; visit < 2; visit++) {
      const page = await client
        .get(`/billing/checkout/success?session_id=${sessionId}`)
        .loginAs(alice)
        .withInertia()
      page.assertStatus(200)
      assert.equal(page.inertiaProps.checkout.kind, 'credits')
      assert.include(['already', 'fulfilled'], page.inertiaProps.fulfilment.status)
    }
    assert.deepEqual(await holdings(alice), {
      creditsCents: small,
      plan: 'free',
      slots: 0,
      creditPurchases: 1,
    })
  })

  test('sessions whose metadata disagree with what was paid are refused and grant nothing', async ({
    client,
    assert,
  }) => {
    const { alice, bob } = await world()
    // Gives Alice her Stripe customer.
    await start(client, alice, { kind: 'credits', packageKey: 'small' })
    await alice.refresh()
    const small = billingConfig.creditPackages.find((pack) => pack.key === 'small')!.amountCents
    const line = (amount: number) => [
      {
        quantity: 1,
        price_data: { currency: 'usd', unit_amount: amount, product_data: { name: 'Swap' } },
      },
    ]
    const base = {
      mode: 'payment' as const,
      customer: alice.stripeCustomerId!,
      success_url: 'http://127.0.0.1/success',
    }
    const stripe = stripeClient()
    const swaps = {
      // A credits-priced payment labelled as a deploy slot.
      slotAtCreditsPrice: await stripe.checkout.sessions.create({
        ...base,
        line_items: line(small),
        metadata: { kind: 'deploy_slot', user_id: String(alice.id) },
      }),
      // A slot whose quote says one price and whose payment says another.
      slotOffQuote: await stripe.checkout.sessions.create({
        ...base,
        line_items: line(100),
        metadata: {
          kind: 'deploy_slot',
          user_id: String(alice.id),
          price_cents: String(billingConfig.deploySlot.priceCents),
        },
      }),
      // Premium sold as a one-off payment (Premium is a subscription).
      premiumAsPayment: await stripe.checkout.sessions.create({
        ...base,
        line_items: line(billingConfig.premium.priceCents),
        metadata: { kind: 'premium', user_id: String(alice.id) },
      }),
      // Alice pays; the metadata name Bob.
      forBob: await stripe.checkout.sessions.create({
        ...base,
        line_items: line(billingConfig.deploySlot.priceCents),
        metadata: { kind: 'deploy_slot', user_id: String(bob.id) },
      }),
      // No kind of ours.
      unknownKind: await stripe.checkout.sessions.create({
        ...base,
        line_items: line(small),
        metadata: { kind: 'gift', user_id: String(alice.id) },
      }),
    }
    const aliceBefore = await holdings(alice)
    const bobBefore = await holdings(bob)
    for (const session of Object.values(swaps)) await pay(session.id)

    for (const [name, session] of Object.entries(swaps)) {
      const page = await client
        .get(`/billing/checkout/success?session_id=${session.id}`)
        .loginAs(alice)
        .withInertia()
        .redirects(0)
      if (name === 'forBob') {
        // Not Alice's (by our metadata): not found for her; Bob never paid it.
        page.assertStatus(302)
        continue
      }
      page.assertStatus(200)
      assert.include(['refused', 'pending'], page.inertiaProps.fulfilment.status, name)
    }
    assert.deepEqual(await holdings(alice), aliceBefore)
    assert.deepEqual(await holdings(bob), bobBefore)
  })
})
