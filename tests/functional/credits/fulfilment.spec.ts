import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import billingConfig from '#config/billing'
import CheckoutService from '#services/checkout_service'
import CheckoutMismatchException from '#exceptions/checkout_mismatch_exception'
import { UserFactory } from '#database/factories/user_factory'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import {
  assertBalance,
  buyer,
  creditPurchases,
  eventsFor,
  ledger,
  pay,
  resetData,
  session,
  settle,
  startCredits,
  stripeEvent,
  eventStatus,
  purchaseStatus,
} from './helpers.js'

const medium = billingConfig.creditPackages[1]

test.group('Credits: Checkout fulfilment', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('a paid credit pack is granted once by the signed webhook', async ({ client, assert }) => {
    const user = await buyer()
    const id = await startCredits(client, user, medium.key)
    await assertBalance(assert, user, 0)
    await pay(id)

    const [completed] = eventsFor('checkout.session.completed', id)
    assert.equal(await eventStatus(completed.id), 'processed')
    const [purchase] = await creditPurchases(user)
    assert.equal(purchase.status, 'paid')
    assert.equal(Number(purchase.credits_cents), medium.amountCents)
    assert.equal(purchase.stripe_checkout_session_id, id)
    assert.match(purchase.stripe_payment_intent_id, /^pi_/)
    assert.isNotNull(purchase.paid_at)
    const entries = await ledger(user)
    assert.lengthOf(entries, 1)
    assert.deepInclude(entries[0], {
      kind: 'purchase',
      amountCents: medium.amountCents,
      idempotencyKey: `checkout:${id}`,
      createdBy: 'webhook',
    })
    await assertBalance(assert, user, medium.amountCents)

    // Every event of the payment (payment_intent.succeeded, charge.succeeded, …) was handled or ignored.
    const unhandled = await db.from('stripe_events').whereNotIn('status', ['processed', 'ignored'])
    assert.deepEqual(unhandled, [])

    const api = await client.get('/api/billing/credits').loginAs(user)
    api.assertStatus(200)
    assert.equal(api.body().data.balanceCents, medium.amountCents)
    assert.deepEqual(
      api.body().data.packages.map((pack: { key: string }) => pack.key),
      ['small', 'medium', 'large']
    )
  })

  test('exactly one grant: webhook twice, concurrently, 20 parallel fulfils and the success page racing', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const id = await startCredits(client, user, medium.key)
    stripeSandbox().holdWebhooks()
    await pay(id, { wait: false })
    const paid = await session(id)
    assert.equal(paid.payment_status, 'paid')
    const [completed] = eventsFor('checkout.session.completed', id)

    const checkout = await app.container.make(CheckoutService)
    const results = await Promise.all([
      stripeSandbox().releaseWebhooks('shuffle'),
      stripeSandbox().duplicateEvent(completed.id),
      stripeSandbox().duplicateEvent(completed.id),
      client.get(`/billing/checkout/success?session_id=${id}`).loginAs(user).withInertia(),
      ...Array.from({ length: 20 }, () => checkout.fulfil(paid)),
    ])
    await stripeSandbox().waitForIdle(20_000)

    const statuses = results.slice(4).map((result) => (result as { status: string }).status)
    assert.isTrue(statuses.every((status) => status === 'fulfilled' || status === 'already'))
    assert.isAtMost(statuses.filter((status) => status === 'fulfilled').length, 1)
    assert.lengthOf(await creditPurchases(user), 1)
    assert.lengthOf(await ledger(user), 1)
    await assertBalance(assert, user, medium.amountCents)
    assert.equal(await eventStatus(completed.id), 'processed')

    // Afterwards the page says it is done, and fulfil answers "already".
    const page = await client
      .get(`/billing/checkout/success?session_id=${id}`)
      .loginAs(user)
      .withInertia()
    page.assertInertiaComponent('billing/success')
    assert.deepEqual(page.inertiaProps.fulfilment, { status: 'already', message: null })
    assert.deepEqual(await checkout.fulfil(paid), { kind: 'credits', status: 'already' })
  })

  test('the success page fulfils before the webhook arrives; the webhook then changes nothing', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const id = await startCredits(client, user, 'small')
    stripeSandbox().holdWebhooks()
    await pay(id, { wait: false })
    const page = await client
      .get(`/billing/checkout/success?session_id=${id}`)
      .loginAs(user)
      .withInertia()
    page.assertStatus(200)
    assert.deepEqual(page.inertiaProps.fulfilment, { status: 'fulfilled', message: null })
    await assertBalance(assert, user, billingConfig.creditPackages[0].amountCents)
    const [first] = await ledger(user)
    assert.equal(first.createdBy, 'success_page')

    await stripeSandbox().releaseWebhooks()
    await stripeSandbox().waitForIdle(20_000)
    const [completed] = eventsFor('checkout.session.completed', id)
    assert.equal(await eventStatus(completed.id), 'processed')
    assert.lengthOf(await ledger(user), 1)
    await assertBalance(assert, user, billingConfig.creditPackages[0].amountCents)
  })

  test('a tampered session (amount, package, customer) grants nothing and the event keeps the error', async ({
    client,
    assert,
  }) => {
    const [user, victim] = await UserFactory.createMany(2)
    await startCredits(client, user, 'small') // gives the user a Stripe customer
    await user.refresh()
    const stripe = stripeClient()
    const line = (amount: number) => [
      {
        quantity: 1,
        price_data: { currency: 'usd', unit_amount: amount, product_data: { name: 'Credits' } },
      },
    ]
    const base = {
      mode: 'payment' as const,
      customer: user.stripeCustomerId!,
      success_url: 'http://127.0.0.1/success',
    }
    // 1. The large package at a 1-dollar price.
    const cheap = await stripe.checkout.sessions.create({
      ...base,
      line_items: line(100),
      metadata: { kind: 'credits', user_id: String(user.id), package_key: 'large' },
    })
    // 2. An unknown package.
    const unknown = await stripe.checkout.sessions.create({
      ...base,
      line_items: line(500),
      metadata: { kind: 'credits', user_id: String(user.id), package_key: 'gigantic' },
    })
    // 3. Paid by this user's customer, claiming to be for another user.
    const foreign = await stripe.checkout.sessions.create({
      ...base,
      line_items: line(500),
      metadata: { kind: 'credits', user_id: String(victim.id), package_key: 'small' },
    })
    for (const created of [cheap, unknown, foreign]) await pay(created.id)

    for (const created of [cheap, unknown, foreign]) {
      const [completed] = eventsFor('checkout.session.completed', created.id)
      const row = await stripeEvent(completed.id)
      assert.equal(row?.status, 'failed', created.id)
      assert.match(row?.last_error ?? '', /was refused: .*Nothing was granted/)
    }
    const [completedCheap] = eventsFor('checkout.session.completed', cheap.id)
    const cheapRow = await stripeEvent(completedCheap.id)
    assert.match(cheapRow?.last_error, /amount 100 \(expected 5000\)/)

    const checkout = await app.container.make(CheckoutService)
    await assert.rejects(() => checkout.fulfil(cheap), CheckoutMismatchException as never)
    await assert.rejects(() => checkout.fulfil(foreign), /is not user/)
    assert.lengthOf(await db.from('credit_purchases'), 0)
    assert.lengthOf(await db.from('credit_ledger_entries'), 0)
    await assertBalance(assert, user, 0)
    await assertBalance(assert, victim, 0)

    // The success page says so instead of granting.
    const page = await client
      .get(`/billing/checkout/success?session_id=${cheap.id}`)
      .loginAs(user)
      .withInertia()
    assert.equal(page.inertiaProps.fulfilment.status, 'refused')
    assert.match(page.inertiaProps.fulfilment.message, /Nothing was granted/)
  })

  test('a price changed while a Checkout is open: the quoted price is honoured, a session off its quote is refused', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const quoted = medium.amountCents
    const id = await startCredits(client, user, 'medium')
    // The operator raises the price while the user is on Stripe's page.
    medium.amountCents = quoted + 700
    try {
      await pay(id)
      const [purchase] = await creditPurchases(user)
      assert.equal(purchase.status, 'paid')
      assert.equal(Number(purchase.amount_cents), quoted)
      assert.equal(Number(purchase.credits_cents), quoted)
      await assertBalance(assert, user, quoted)

      // A session whose amount is not the price quoted in its metadata is refused.
      await user.refresh()
      const stripe = stripeClient()
      const offQuote = await stripe.checkout.sessions.create({
        mode: 'payment',
        customer: user.stripeCustomerId!,
        success_url: 'http://127.0.0.1/success',
        line_items: [
          {
            quantity: 1,
            price_data: { currency: 'usd', unit_amount: 300, product_data: { name: 'Credits' } },
          },
        ],
        metadata: {
          kind: 'credits',
          user_id: String(user.id),
          package_key: 'medium',
          price_cents: String(quoted),
        },
      })
      await pay(offQuote.id)
      const [completed] = eventsFor('checkout.session.completed', offQuote.id)
      const row = await stripeEvent(completed.id)
      assert.equal(row?.status, 'failed')
      assert.match(row?.last_error ?? '', new RegExp(`amount 300 \\(expected ${quoted}\\)`))
      assert.lengthOf(await creditPurchases(user), 1)
      await assertBalance(assert, user, quoted)
    } finally {
      medium.amountCents = quoted
    }
  })

  test('an unpaid or open session grants nothing', async ({ client, assert }) => {
    const user = await buyer()
    const id = await startCredits(client, user, 'small')
    const checkout = await app.container.make(CheckoutService)
    assert.deepEqual(await checkout.fulfil(await session(id)), {
      kind: 'credits',
      status: 'pending',
    })
    // A forged "paid" copy of the open session is refused too: status must be complete.
    const forged = { ...(await session(id)), payment_status: 'paid' as const }
    const forgedResult = await checkout.fulfil(forged)
    assert.equal(forgedResult.status, 'pending')
    assert.lengthOf(await creditPurchases(user), 0)
    await assertBalance(assert, user, 0)
  })

  test('an asynchronous payment: pending until it succeeds, then granted once', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const id = await startCredits(client, user, medium.key)
    await pay(id, { async: 'pending' })
    const [pending] = await creditPurchases(user)
    assert.equal(pending.status, 'pending')
    assert.isNull(pending.paid_at)
    await assertBalance(assert, user, 0)

    const page = await client
      .get(`/billing/checkout/success?session_id=${id}`)
      .loginAs(user)
      .withInertia()
    assert.equal(page.inertiaProps.fulfilment.status, 'pending')

    await settle(id, 'succeeded')
    const [succeeded] = eventsFor('checkout.session.async_payment_succeeded', id)
    assert.equal(await eventStatus(succeeded.id), 'processed')
    await stripeSandbox().duplicateEvent(succeeded.id)
    await stripeSandbox().waitForIdle(20_000)
    const [paid] = await creditPurchases(user)
    assert.equal(paid.status, 'paid')
    assert.lengthOf(await ledger(user), 1)
    await assertBalance(assert, user, medium.amountCents)
  })

  test('an asynchronous payment that fails marks the purchase failed and grants nothing', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const id = await startCredits(client, user, medium.key)
    await pay(id, { async: 'pending' })
    await settle(id, 'failed')
    const [failedEvent] = eventsFor('checkout.session.async_payment_failed', id)
    assert.equal(await eventStatus(failedEvent.id), 'processed')
    const [purchase] = await creditPurchases(user)
    assert.equal(purchase.status, 'failed')
    await assertBalance(assert, user, 0)

    // The late "completed" event replayed afterwards does not make it pending again.
    const [completed] = eventsFor('checkout.session.completed', id)
    await db
      .from('stripe_events')
      .where('stripe_event_id', completed.id)
      .update({ status: 'failed' })
    const { default: StripeEventService } = await import('#services/stripe_event_service')
    const events = await app.container.make(StripeEventService)
    await events.process(completed.id)
    assert.equal(await purchaseStatus(user), 'failed')
    const page = await client
      .get(`/billing/checkout/success?session_id=${id}`)
      .loginAs(user)
      .withInertia()
    assert.equal(page.inertiaProps.fulfilment.status, 'failed')
    await assertBalance(assert, user, 0)
  })

  test('Premium: the success page and the webhook fulfil through SubscriptionService, once', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const started = await client
      .post('/api/billing/checkout')
      .json({ kind: 'premium' })
      .loginAs(user)
      .withCsrfToken()
    started.assertStatus(201)
    const id = started.body().data.id as string
    stripeSandbox().holdWebhooks()
    await pay(id, { wait: false })
    const paid = await session(id)
    const checkout = await app.container.make(CheckoutService)
    const results = await Promise.all([
      client.get(`/billing/checkout/success?session_id=${id}`).loginAs(user).withInertia(),
      ...Array.from({ length: 5 }, () => checkout.fulfil(paid)),
    ])
    const statuses = results.slice(1).map((result) => (result as { status: string }).status)
    assert.isTrue(statuses.every((status) => status === 'fulfilled' || status === 'already'))
    await user.refresh()
    assert.equal(user.plan, 'premium')
    await stripeSandbox().releaseWebhooks('shuffle')
    await stripeSandbox().waitForIdle(20_000)
    const rows = await db.from('subscriptions').where('user_id', user.id)
    assert.lengthOf(rows, 1)
    assert.equal(rows[0].stripe_subscription_id, paid.subscription)
    await user.refresh()
    assert.equal(user.plan, 'premium')
    await assertBalance(assert, user, 0)
  })
})
