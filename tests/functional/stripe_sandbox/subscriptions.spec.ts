import { test } from '@japa/runner'
import Stripe from 'stripe'
import { startSubscription } from '../../../sandbox/stripe/billing.js'
import { checkShape } from '../../../sandbox/stripe/fidelity.js'
import { type StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import {
  addMonths,
  customerWithCard,
  eventsSince,
  markOf,
  recurringPrice,
  statusOf,
  useSandbox,
} from './helpers.js'

test.group('Stripe sandbox: subscriptions', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe
  let monthly: Stripe.Price
  let yearly: Stripe.Price

  useSandbox(
    group,
    async (started, client) => {
      sandbox = started
      stripe = client
      monthly = await recurringPrice(stripe, 2000, 'Studio Pro')
      yearly = await recurringPrice(stripe, 20000, 'Studio Pro yearly', { interval: 'year' })
    },
    { reset: false }
  )

  test('creates an active subscription, pays its first invoice and emits the events in order', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'sub@example.com' })
    const mark = markOf(sandbox)
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id, quantity: 2, metadata: { seat: 'a' } }],
      default_payment_method: 'pm_card_visa',
      metadata: { studio_id: '7' },
      description: 'Pro plan',
      expand: ['latest_invoice.payments'],
    })
    assert.match(sub.id, /^sub_/)
    assert.equal(sub.object, 'subscription')
    assert.equal(sub.status, 'active')
    assert.equal(sub.customer, customer.id)
    assert.deepEqual(sub.metadata, { studio_id: '7' })
    assert.equal(sub.description, 'Pro plan')
    assert.equal(sub.collection_method, 'charge_automatically')
    assert.equal(sub.currency, 'usd')
    assert.isFalse(sub.cancel_at_period_end)
    assert.isNull(sub.cancel_at)
    assert.isNull(sub.ended_at)
    assert.deepEqual(sub.billing_mode, { flexible: null, type: 'classic' })
    assert.equal(sub.billing_cycle_anchor, sub.created)
    assert.equal(sub.start_date, sub.created)
    assert.match(String(sub.default_payment_method), /^pm_/)
    assert.notProperty(sub, 'current_period_end')
    assert.deepEqual(checkShape(sub, { expansions: sandbox.expansions }), [])

    assert.equal(sub.items.url, `/v1/subscription_items?subscription=${sub.id}`)
    assert.lengthOf(sub.items.data, 1)
    const item = sub.items.data[0]
    assert.match(item.id, /^si_/)
    assert.equal(item.quantity, 2)
    assert.equal(item.price.id, monthly.id)
    assert.equal(item.plan.id, monthly.id)
    assert.equal(item.plan.amount, 2000)
    assert.deepEqual(item.metadata, { seat: 'a' })
    assert.equal(item.current_period_start, sub.created)
    assert.equal(item.current_period_end, addMonths(sub.created, 1))

    const invoice = sub.latest_invoice as Stripe.Invoice
    assert.equal(invoice.status, 'paid')
    assert.equal(invoice.billing_reason, 'subscription_create')
    assert.equal(invoice.amount_due, 4000)
    assert.equal(invoice.amount_paid, 4000)
    assert.equal(invoice.amount_remaining, 0)
    assert.equal(invoice.total, 4000)
    assert.deepEqual(invoice.parent, {
      quote_details: null,
      subscription_details: { metadata: { studio_id: '7' }, subscription: sub.id },
      type: 'subscription_details',
    })
    assert.equal(
      invoice.lines.data[0].parent?.subscription_item_details?.subscription_item,
      item.id
    )
    assert.equal(invoice.payments?.data.length, 1)
    assert.equal(invoice.payments?.data[0].status, 'paid')
    assert.equal(invoice.payments?.data[0].amount_paid, 4000)

    const events = eventsSince(sandbox, mark, { balance: true })
    assert.deepEqual(
      events.map((event) => event.type),
      [
        'payment_method.attached',
        'customer.subscription.created',
        'invoice.created',
        'invoice.finalized',
        'payment_intent.created',
        'charge.succeeded',
        'payment_intent.succeeded',
        'invoice.paid',
        'invoice.payment_succeeded',
        'invoice_payment.paid',
        'customer.subscription.updated',
      ]
    )
    const created = events[1].data.object as Stripe.Subscription
    assert.equal(created.status, 'incomplete')
    assert.equal(created.latest_invoice, invoice.id)
    const updated = events[events.length - 1]
    assert.deepEqual(updated.data.previous_attributes, { status: 'incomplete' })
    assert.isNotNull(updated.request?.id ?? null)
    const pi = events[6].data.object as Stripe.PaymentIntent
    assert.equal(pi.amount, 4000)
    assert.equal(pi.description, 'Subscription creation')

    const fetched = await stripe.subscriptions.retrieve(sub.id)
    assert.equal(fetched.latest_invoice, invoice.id)
    assert.equal(fetched.status, 'active')
  })

  test("uses the customer's default payment method and price_data items", async ({ assert }) => {
    const { customer, pm } = await customerWithCard(
      stripe,
      { email: 'default-pm@example.com' },
      { number: '5555555555554444', exp_month: 12, exp_year: 2040, cvc: '123' }
    )
    const product = await stripe.products.create({ name: 'Add-on' })
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [
        { price: monthly.id },
        {
          price_data: {
            currency: 'usd',
            product: product.id,
            unit_amount: 550,
            recurring: { interval: 'month' },
          },
          quantity: 3,
        },
      ],
      expand: ['latest_invoice'],
    })
    assert.equal(sub.status, 'active')
    assert.isNull(sub.default_payment_method)
    const invoice = sub.latest_invoice as Stripe.Invoice
    assert.equal(invoice.total, 2000 + 1650)
    assert.deepEqual(
      invoice.lines.data.map((line) => line.amount),
      [2000, 1650]
    )
    assert.equal(invoice.lines.data[1].pricing?.price_details?.product, product.id)
    const payments = await stripe.invoicePayments.list({ invoice: invoice.id })
    const intent = await stripe.paymentIntents.retrieve(
      String(payments.data[0].payment.payment_intent)
    )
    assert.equal(intent.payment_method, pm.id)
    assert.equal(intent.amount, 3650)
  })

  test('a declined first payment leaves the subscription incomplete (allow_incomplete)', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'declined@example.com' })
    const mark = markOf(sandbox)
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      default_payment_method: 'pm_card_chargeDeclined',
      expand: ['latest_invoice'],
    })
    assert.equal(sub.status, 'incomplete')
    const invoice = sub.latest_invoice as Stripe.Invoice
    assert.equal(invoice.status, 'open')
    assert.equal(invoice.attempt_count, 1)
    assert.isTrue(invoice.attempted)
    assert.isNull(invoice.next_payment_attempt)
    assert.equal(invoice.amount_remaining, 2000)
    const types = eventsSince(sandbox, mark, { balance: true }).map((event) => event.type)
    assert.includeMembers(types, ['charge.failed', 'invoice.payment_failed'])
    assert.notInclude(types, 'invoice.paid')
    assert.notInclude(types, 'customer.subscription.updated')

    // Paying the open invoice with another card activates the subscription.
    const paid = await stripe.invoices.pay(invoice.id, { payment_method: 'pm_card_visa' })
    assert.equal(paid.status, 'paid')
    assert.equal(paid.attempt_count, 2)
    assert.equal(await statusOf(stripe, sub.id), 'active')
  })

  test('error_if_incomplete declines with 402 and creates nothing; default_incomplete does not charge', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'strict@example.com' })
    const error = await stripe.subscriptions
      .create({
        customer: customer.id,
        items: [{ price: monthly.id }],
        default_payment_method: 'pm_card_chargeDeclinedInsufficientFunds',
        payment_behavior: 'error_if_incomplete',
      })
      .catch((caught: unknown) => caught)
    assert.instanceOf(error, Stripe.errors.StripeCardError)
    const cardError = error as Stripe.errors.StripeCardError
    assert.equal(cardError.statusCode, 402)
    assert.equal(cardError.code, 'card_declined')
    assert.equal(cardError.decline_code, 'insufficient_funds')
    const none = await stripe.subscriptions.list({ customer: customer.id, status: 'all' })
    assert.lengthOf(none.data, 0)

    const pending = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      payment_behavior: 'default_incomplete',
      expand: ['latest_invoice'],
    })
    assert.equal(pending.status, 'incomplete')
    const invoice = pending.latest_invoice as Stripe.Invoice
    assert.equal(invoice.status, 'open')
    assert.equal(invoice.attempt_count, 0)
    assert.isNull(invoice.next_payment_attempt)

    const noMethod = await stripe.subscriptions
      .create({ customer: customer.id, items: [{ price: monthly.id }] })
      .catch((caught: unknown) => caught)
    assert.instanceOf(noMethod, Stripe.errors.StripeInvalidRequestError)
    assert.match(
      (noMethod as Error).message,
      /no attached payment source or default payment method/
    )
  })

  test('validates params before creating anything', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'invalid@example.com' })
    const oneTime = await stripe.prices.create({
      currency: 'usd',
      unit_amount: 100,
      product_data: { name: 'One-off' },
    })
    const cases: Array<[Stripe.SubscriptionCreateParams, number, string | undefined, RegExp]> = [
      [
        { customer: 'cus_missing', items: [{ price: monthly.id }] },
        400,
        'customer',
        /No such customer: 'cus_missing'/,
      ],
      [
        { customer: customer.id, items: [{ price: 'price_missing' }] },
        400,
        'items[0][price]',
        /No such price/,
      ],
      [{ customer: customer.id, items: [{ price: oneTime.id }] }, 400, undefined, /type=recurring/],
      [
        { customer: customer.id, items: [{ price: monthly.id }, { price: yearly.id }] },
        400,
        undefined,
        /interval fields must match/,
      ],
      [{ customer: customer.id }, 400, 'items', /Missing required param: items/],
      [
        {
          customer: customer.id,
          items: [{ price: monthly.id }],
          default_payment_method: 'pm_nope',
        },
        400,
        'default_payment_method',
        /No such PaymentMethod/,
      ],
    ]
    const before = sandbox.eventLog('customer.subscription.created').length
    for (const [params, status, param, message] of cases) {
      const error = (await stripe.subscriptions
        .create(params)
        .catch((e: unknown) => e)) as Stripe.errors.StripeError
      assert.instanceOf(error, Stripe.errors.StripeError)
      assert.equal(error.statusCode, status)
      if (param) assert.equal(error.param, param)
      assert.match(error.message, message)
    }
    assert.lengthOf(sandbox.eventLog('customer.subscription.created'), before)
    const missing = (await stripe.subscriptions
      .retrieve('sub_missing')
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.code, 'resource_missing')
  })

  test('a trial starts trialing with a $0 paid invoice', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'trial@example.com' })
    const mark = markOf(sandbox)
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      default_payment_method: 'pm_card_visa',
      trial_period_days: 14,
      expand: ['latest_invoice'],
    })
    assert.equal(sub.status, 'trialing')
    assert.equal(sub.trial_start, sub.created)
    assert.equal(sub.trial_end, sub.created + 14 * 86400)
    assert.equal(sub.items.data[0].current_period_end, sub.trial_end)
    assert.equal(sub.billing_cycle_anchor, sub.trial_end)
    const invoice = sub.latest_invoice as Stripe.Invoice
    assert.equal(invoice.status, 'paid')
    assert.equal(invoice.amount_due, 0)
    assert.equal(invoice.amount_paid, 0)
    assert.deepEqual(
      eventsSince(sandbox, mark, { balance: true }).map((event) => event.type),
      [
        'payment_method.attached',
        'customer.subscription.created',
        'invoice.created',
        'invoice.finalized',
        'invoice.paid',
        'invoice.payment_succeeded',
      ]
    )
  })

  test('schedules and undoes a cancellation at period end with previous_attributes', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'cancel-later@example.com' })
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      default_payment_method: 'pm_card_visa',
    })
    const end = sub.items.data[0].current_period_end
    const mark = markOf(sandbox)
    const scheduled = await stripe.subscriptions.update(sub.id, {
      cancel_at_period_end: true,
      cancellation_details: { comment: 'Too pricey', feedback: 'too_expensive' },
    })
    assert.isTrue(scheduled.cancel_at_period_end)
    assert.equal(scheduled.cancel_at, end)
    assert.closeTo(Number(scheduled.canceled_at), sandbox.now(), 2)
    assert.equal(scheduled.status, 'active')
    assert.deepEqual(scheduled.cancellation_details, {
      comment: 'Too pricey',
      feedback: 'too_expensive',
      feedback_option: null,
      reason: 'cancellation_requested',
    })
    const [event] = eventsSince(sandbox, mark, { balance: true })
    assert.equal(event.type, 'customer.subscription.updated')
    assert.deepEqual(event.data.previous_attributes, {
      cancel_at: null,
      cancel_at_period_end: false,
      canceled_at: null,
      cancellation_details: { comment: null, feedback: null, reason: null },
    })
    assert.equal(event.request?.idempotency_key?.startsWith('stripe-node-retry-'), true)

    const undone = await stripe.subscriptions.update(sub.id, { cancel_at_period_end: false })
    assert.isFalse(undone.cancel_at_period_end)
    assert.isNull(undone.cancel_at)
    assert.isNull(undone.canceled_at)
    assert.isNull(undone.cancellation_details?.reason)

    const both = (await stripe.subscriptions
      .update(sub.id, { cancel_at_period_end: true, cancel_at: end - 10 })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(both.statusCode, 400)
    assert.match(
      both.message,
      /only specify one of these parameters: cancel_at, cancel_at_period_end/
    )

    const at = await stripe.subscriptions.update(sub.id, { cancel_at: end - 86400 })
    assert.equal(at.cancel_at, end - 86400)
    assert.isFalse(at.cancel_at_period_end)
  })

  test('updates metadata, description, payment method and item quantities', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'update@example.com' })
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id, quantity: 1 }],
      default_payment_method: 'pm_card_visa',
      metadata: { keep: '1', drop: '2' },
    })
    const item = sub.items.data[0]
    const mark = markOf(sandbox)
    const updated = await stripe.subscriptions.update(sub.id, {
      metadata: { drop: '', added: '3' },
      description: 'Renamed',
      items: [{ id: item.id, quantity: 5 }],
      proration_behavior: 'none',
    })
    assert.deepEqual(updated.metadata, { keep: '1', added: '3' })
    assert.equal(updated.description, 'Renamed')
    assert.equal(updated.items.data[0].quantity, 5)
    assert.equal(updated.items.data[0].id, item.id)
    const [event] = eventsSince(sandbox, mark, { balance: true })
    assert.equal(event.type, 'customer.subscription.updated')
    const previous = event.data.previous_attributes as Record<string, unknown>
    assert.deepEqual(previous.metadata, { added: null, drop: '2' })
    assert.equal(previous.description, null)
    const previousItems = previous.items as { data: Stripe.SubscriptionItem[] }
    assert.equal(previousItems.data[0].quantity, 1)

    const listed = await stripe.subscriptionItems.retrieve(item.id)
    assert.equal(listed.quantity, 5)

    const pm = await stripe.paymentMethods.create({
      type: 'card',
      card: { number: '4242424242424242', exp_month: 1, exp_year: 2041 },
    })
    await stripe.paymentMethods.attach(pm.id, { customer: customer.id })
    const withPm = await stripe.subscriptions.update(sub.id, { default_payment_method: pm.id })
    assert.equal(withPm.default_payment_method, pm.id)

    const badItem = (await stripe.subscriptions
      .update(sub.id, { items: [{ id: 'si_nope', quantity: 2 }] })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(badItem.statusCode, 400)
    assert.equal(badItem.param, 'items[0][id]')
  })

  test('cancels now with cancellation details; a canceled subscription only takes metadata', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'cancel-now@example.com' })
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      default_payment_method: 'pm_card_visa',
    })
    const mark = markOf(sandbox)
    const canceled = await stripe.subscriptions.cancel(sub.id, {
      cancellation_details: { comment: 'Closing the studio', feedback: 'unused' },
    })
    assert.equal(canceled.status, 'canceled')
    assert.closeTo(Number(canceled.ended_at), sandbox.now(), 2)
    assert.equal(canceled.canceled_at, canceled.ended_at)
    assert.deepEqual(canceled.cancellation_details, {
      comment: 'Closing the studio',
      feedback: 'unused',
      feedback_option: null,
      reason: 'cancellation_requested',
    })
    const events = eventsSince(sandbox, mark, { balance: true })
    assert.deepEqual(
      events.map((event) => event.type),
      ['customer.subscription.deleted']
    )
    assert.equal((events[0].data.object as Stripe.Subscription).status, 'canceled')

    const update = (await stripe.subscriptions
      .update(sub.id, { description: 'nope' })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(update.statusCode, 400)
    assert.equal(
      update.message,
      'A canceled subscription can only update its cancellation_details and metadata.'
    )
    const meta = await stripe.subscriptions.update(sub.id, { metadata: { archived: 'yes' } })
    assert.deepEqual(meta.metadata, { archived: 'yes' })
    const again = (await stripe.subscriptions
      .cancel(sub.id)
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(again.statusCode, 400)
  })

  test('resume is only for paused subscriptions; a paused one resumes and is invoiced', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'pause@example.com' })
    const active = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      default_payment_method: 'pm_card_visa',
    })
    const error = (await stripe.subscriptions
      .resume(active.id)
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(error.statusCode, 400)
    assert.match(error.message, /Only a paused subscription can be resumed/)

    const trial = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      trial_period_days: 1,
      trial_settings: { end_behavior: { missing_payment_method: 'pause' } },
      payment_behavior: 'default_incomplete',
    })
    assert.equal(trial.status, 'trialing')
    const mark = markOf(sandbox)
    await sandbox.advanceClock(86400 + 60)
    const paused = await stripe.subscriptions.retrieve(trial.id)
    assert.equal(paused.status, 'paused')
    // (Other tests' subscriptions live in the same sandbox: keep this one's events.)
    assert.deepEqual(
      eventsSince(sandbox, mark, { balance: true })
        .filter((event) => (event.data.object as { id?: string }).id === trial.id)
        .map((event) => event.type),
      ['customer.subscription.updated', 'customer.subscription.paused']
    )

    await stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: String(active.default_payment_method) },
    })
    const resumed = await stripe.subscriptions.resume(trial.id, { expand: ['latest_invoice'] })
    assert.equal(resumed.status, 'active')
    assert.equal(resumed.billing_cycle_anchor, resumed.items.data[0].current_period_start)
    const invoice = resumed.latest_invoice as Stripe.Invoice
    assert.equal(invoice.billing_reason, 'subscription_update')
    assert.equal(invoice.status, 'paid')
    assert.lengthOf(sandbox.eventLog('customer.subscription.resumed'), 1)
  })

  test('lists by customer, price, status (default, all, ended) and created', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'list@example.com' })
    const a = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      default_payment_method: 'pm_card_visa',
    })
    const b = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: yearly.id }],
      default_payment_method: 'pm_card_visa',
    })
    await stripe.subscriptions.cancel(a.id)
    const byDefault = await stripe.subscriptions.list({ customer: customer.id })
    assert.deepEqual(
      byDefault.data.map((sub) => sub.id),
      [b.id]
    )
    assert.equal(byDefault.url, '/v1/subscriptions')
    const all = await stripe.subscriptions.list({ customer: customer.id, status: 'all' })
    assert.deepEqual(
      all.data.map((sub) => sub.id),
      [b.id, a.id]
    )
    const ended = await stripe.subscriptions.list({ customer: customer.id, status: 'ended' })
    assert.deepEqual(
      ended.data.map((sub) => sub.id),
      [a.id]
    )
    const byPrice = await stripe.subscriptions.list({ price: yearly.id, status: 'all' })
    assert.isTrue(byPrice.data.every((sub) => sub.items.data[0].price.id === yearly.id))
    assert.include(
      byPrice.data.map((sub) => sub.id),
      b.id
    )
    const future = await stripe.subscriptions.list({
      customer: customer.id,
      status: 'all',
      created: { gt: b.created + 1000 },
    })
    assert.lengthOf(future.data, 0)
    const withCustomer = await stripe.customers.retrieve(customer.id, { expand: ['subscriptions'] })
    assert.deepEqual(
      (withCustomer as Stripe.Customer).subscriptions?.data.map((sub) => sub.id),
      [b.id]
    )
  })

  test('subscription items: list, retrieve, update quantity and metadata', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'items@example.com' })
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      default_payment_method: 'pm_card_visa',
    })
    const list = await stripe.subscriptionItems.list({ subscription: sub.id })
    assert.equal(list.url, '/v1/subscription_items')
    assert.deepEqual(
      list.data.map((item) => item.id),
      [sub.items.data[0].id]
    )
    assert.deepEqual(checkShape(list.data[0], { expansions: sandbox.expansions }), [])
    const mark = markOf(sandbox)
    const updated = await stripe.subscriptionItems.update(sub.items.data[0].id, {
      quantity: 4,
      metadata: { note: 'grew' },
    })
    assert.equal(updated.quantity, 4)
    assert.deepEqual(updated.metadata, { note: 'grew' })
    const events = eventsSince(sandbox, mark, { balance: true })
    assert.deepEqual(
      events.map((event) => event.type),
      ['customer.subscription.updated']
    )
    assert.equal((events[0].data.object as Stripe.Subscription).items.data[0].quantity, 4)

    const missing = (await stripe.subscriptionItems
      .list({ subscription: 'sub_missing' })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(missing.statusCode, 400)
    assert.equal(missing.param, 'subscription')
    const noItem = (await stripe.subscriptionItems
      .retrieve('si_missing')
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(noItem.statusCode, 404)
  })

  test('startSubscription (the Checkout contract) charges on-session and returns the result', async ({
    assert,
  }) => {
    const { customer, pm } = await customerWithCard(
      stripe,
      { email: 'checkout@example.com' },
      { number: '4000000000000341', exp_month: 12, exp_year: 2040 },
      { makeDefault: false }
    )
    const result = startSubscription(sandbox.context, {
      customer: customer.id,
      items: [{ price: monthly.id, quantity: 1 }],
      metadata: { plan: 'pro' },
      defaultPaymentMethod: pm.id,
      offSession: false,
      origin: null,
    })
    assert.equal(result.subscription.status, 'active')
    assert.equal(result.invoice.status, 'paid')
    assert.isTrue(result.payment?.succeeded)
    assert.equal(result.payment?.paymentIntent.amount, 2000)
    assert.equal(result.subscription.latest_invoice, result.invoice.id)
    assert.deepEqual(result.subscription.metadata, { plan: 'pro' })
    const event = sandbox.eventLog('customer.subscription.created')[0]
    assert.isNull(event.request?.id)

    const offSession = startSubscription(sandbox.context, {
      customer: customer.id,
      items: [{ price: monthly.id, quantity: 1 }],
      metadata: {},
      defaultPaymentMethod: pm.id,
      offSession: true,
      origin: null,
    })
    assert.equal(offSession.subscription.status, 'incomplete')
    assert.equal(offSession.invoice.status, 'open')
    assert.isFalse(offSession.payment?.succeeded)
    assert.equal(offSession.payment?.error?.status, 402)
  })

  test('application_fee_percent and transfer_data make destination charges', async ({ assert }) => {
    const account = await stripe.accounts.create({
      country: 'US',
      email: 'studio@example.com',
      controller: {
        stripe_dashboard: { type: 'express' },
        fees: { payer: 'application' },
        losses: { payments: 'application' },
        requirement_collection: 'stripe',
      },
      capabilities: { transfers: { requested: true }, card_payments: { requested: true } },
    })
    const onboard = await fetch(`${sandbox.url}/_sim/accounts/${account.id}/onboard`, {
      method: 'POST',
    })
    assert.equal(onboard.status, 200)
    const customer = await stripe.customers.create({ email: 'connect@example.com' })
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      default_payment_method: 'pm_card_visa',
      application_fee_percent: 10,
      transfer_data: { destination: account.id },
      expand: ['latest_invoice.payments.data.payment.payment_intent'],
    })
    assert.equal(sub.application_fee_percent, 10)
    assert.deepEqual(sub.transfer_data, { amount_percent: null, destination: account.id })
    const invoice = sub.latest_invoice as Stripe.Invoice
    const intent = invoice.payments?.data[0].payment.payment_intent as Stripe.PaymentIntent
    assert.equal(intent.application_fee_amount, 200)
    assert.equal(intent.transfer_data?.destination, account.id)

    const both = (await stripe.subscriptions
      .create({
        customer: customer.id,
        items: [{ price: monthly.id }],
        default_payment_method: 'pm_card_visa',
        application_fee_percent: 10,
        transfer_data: { destination: account.id, amount_percent: 80 },
      })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(both.statusCode, 400)

    // Connect scoping: billing objects live on the platform; a connected account sees none.
    const asAccount = { stripeAccount: account.id }
    const hidden = (await stripe.subscriptions
      .retrieve(sub.id, {}, asAccount)
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(hidden.statusCode, 404)
    assert.equal(hidden.code, 'resource_missing')
    const scopedList = await stripe.subscriptions.list({ status: 'all' }, asAccount)
    assert.lengthOf(scopedList.data, 0)
    const scopedInvoices = await stripe.invoices.list({}, asAccount)
    assert.lengthOf(scopedInvoices.data, 0)
    const platformInvoices = await stripe.invoices.list({ subscription: sub.id })
    assert.lengthOf(platformInvoices.data, 1)
    const refused = (await stripe.subscriptions
      .create({ customer: customer.id, items: [{ price: monthly.id }] }, asAccount)
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(refused.statusCode, 400)
    assert.match(refused.message, /connected accounts/)
  })

  test('transfer_data[destination] without an active transfers capability is refused (create and update)', async ({
    assert,
  }) => {
    const account = await stripe.accounts.create({
      country: 'US',
      controller: {
        stripe_dashboard: { type: 'express' },
        fees: { payer: 'application' },
        losses: { payments: 'application' },
        requirement_collection: 'stripe',
      },
      capabilities: { transfers: { requested: true }, card_payments: { requested: true } },
    })
    const customer = await stripe.customers.create({ email: 'nocap@example.com' })
    const before = await stripe.subscriptions.list({ customer: customer.id, status: 'all' })
    const refused = (await stripe.subscriptions
      .create({
        customer: customer.id,
        items: [{ price: monthly.id }],
        default_payment_method: 'pm_card_visa',
        transfer_data: { destination: account.id },
      })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.instanceOf(refused, Stripe.errors.StripeError)
    assert.equal(refused.statusCode, 400)
    assert.equal(refused.code, 'insufficient_capabilities_for_transfer')
    assert.equal(refused.param, 'transfer_data[destination]')
    const after = await stripe.subscriptions.list({ customer: customer.id, status: 'all' })
    assert.lengthOf(after.data, before.data.length)
    assert.lengthOf(after.data, 0)

    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      default_payment_method: 'pm_card_visa',
    })
    const onUpdate = (await stripe.subscriptions
      .update(sub.id, { transfer_data: { destination: account.id } })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(onUpdate.statusCode, 400)
    assert.equal(onUpdate.code, 'insufficient_capabilities_for_transfer')
    const unchanged = await stripe.subscriptions.retrieve(sub.id)
    assert.isNull(unchanged.transfer_data)
    const unknown = (await stripe.subscriptions
      .update(sub.id, { transfer_data: { destination: 'acct_1NoSuchAccount00' } })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(unknown.statusCode, 400)
    assert.equal(unknown.code, 'resource_missing')
    assert.equal(unknown.param, 'transfer_data[destination]')
  })

  test('line descriptions format amounts in the currency (zero-decimal jpy)', async ({
    assert,
  }) => {
    const yen = await recurringPrice(stripe, 500, 'Yen plan', { currency: 'jpy' })
    const dollars = await recurringPrice(stripe, 1250, 'Dollar plan')
    const customer = await stripe.customers.create({ email: 'yen@example.com' })
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: yen.id, quantity: 2 }],
      default_payment_method: 'pm_card_visa',
      expand: ['latest_invoice'],
    })
    const invoice = sub.latest_invoice as Stripe.Invoice
    assert.equal(invoice.amount_due, 1000)
    assert.equal(invoice.lines.data[0].description, '2 × Yen plan (at ¥500 / month)')
    const other = await stripe.customers.create({ email: 'usd@example.com' })
    const usd = await stripe.subscriptions.create({
      customer: other.id,
      items: [{ price: dollars.id }],
      default_payment_method: 'pm_card_visa',
      expand: ['latest_invoice'],
    })
    assert.equal(
      (usd.latest_invoice as Stripe.Invoice).lines.data[0].description,
      '1 × Dollar plan (at $12.50 / month)'
    )
  })

  test('startSubscription takes trialEnd and onBehalfOf', async ({ assert }) => {
    const account = await stripe.accounts.create({
      country: 'US',
      controller: {
        stripe_dashboard: { type: 'express' },
        fees: { payer: 'application' },
        losses: { payments: 'application' },
        requirement_collection: 'stripe',
      },
      capabilities: { transfers: { requested: true }, card_payments: { requested: true } },
    })
    const customer = await stripe.customers.create({ email: 'trialend@example.com' })
    const trialEnd = sandbox.now() + 10 * 86_400
    const result = startSubscription(sandbox.context, {
      customer: customer.id,
      items: [{ price: monthly.id, quantity: 1 }],
      metadata: {},
      defaultPaymentMethod: 'pm_card_visa',
      trialEnd,
      trialPeriodDays: 3,
      onBehalfOf: account.id,
      offSession: false,
      origin: null,
    })
    assert.equal(result.subscription.status, 'trialing')
    assert.equal(result.subscription.trial_end, trialEnd)
    assert.equal(result.subscription.items.data[0].current_period_end, trialEnd)
    assert.equal(result.invoice.amount_due, 0)
    const retrieved = await stripe.subscriptions.retrieve(result.subscription.id)
    assert.equal(retrieved.on_behalf_of, account.id)
    assert.equal(retrieved.trial_end, trialEnd)

    const plain = startSubscription(sandbox.context, {
      customer: customer.id,
      items: [{ price: monthly.id, quantity: 1 }],
      metadata: {},
      defaultPaymentMethod: 'pm_card_visa',
      trialPeriodDays: 3,
      offSession: false,
      origin: null,
    })
    assert.equal(plain.subscription.trial_end, sandbox.now() + 3 * 86_400)
    assert.isNull(plain.subscription.on_behalf_of)
  })

  test('deleting the customer cancels their subscriptions', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'leaving@example.com' })
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      default_payment_method: 'pm_card_visa',
    })
    const deletedCustomer = await stripe.customers.del(customer.id)
    assert.isTrue(deletedCustomer.deleted)
    const canceled = await stripe.subscriptions.retrieve(sub.id)
    assert.equal(canceled.status, 'canceled')
    const [event] = sandbox.eventLog('customer.subscription.deleted')
    assert.equal((event.data.object as Stripe.Subscription).id, sub.id)
    assert.equal(event.request?.id, deletedCustomer.lastResponse.requestId)
    // Nothing renews for it later.
    await sandbox.advanceClock(40 * 86400)
    const invoices = await stripe.invoices.list({ subscription: sub.id })
    assert.lengthOf(invoices.data, 1)
  })

  test('price changes: same interval applies next period; a new interval starts a new cycle now', async ({
    assert,
  }) => {
    const premium = await recurringPrice(stripe, 3500, 'Studio Premium')
    const customer = await stripe.customers.create({ email: 'upgrade@example.com' })
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      default_payment_method: 'pm_card_visa',
    })
    const item = sub.items.data[0]
    const swapped = await stripe.subscriptions.update(sub.id, {
      items: [{ id: item.id, price: premium.id }],
      proration_behavior: 'none',
    })
    assert.equal(swapped.items.data[0].id, item.id)
    assert.equal(swapped.items.data[0].price.id, premium.id)
    assert.equal(swapped.items.data[0].plan.amount, 3500)
    assert.equal(swapped.items.data[0].current_period_end, item.current_period_end)
    assert.equal(swapped.latest_invoice, sub.latest_invoice)

    const mark = markOf(sandbox)
    const yearlyNow = await stripe.subscriptions.update(sub.id, {
      items: [{ id: item.id, price: yearly.id }],
      expand: ['latest_invoice'],
    })
    const now = sandbox.now()
    assert.closeTo(yearlyNow.billing_cycle_anchor, now, 2)
    assert.equal(yearlyNow.items.data[0].current_period_start, yearlyNow.billing_cycle_anchor)
    assert.equal(
      yearlyNow.items.data[0].current_period_end,
      addMonths(yearlyNow.billing_cycle_anchor, 12)
    )
    const invoice = yearlyNow.latest_invoice as Stripe.Invoice
    assert.equal(invoice.billing_reason, 'subscription_update')
    assert.equal(invoice.amount_paid, 20000)
    assert.equal(invoice.status, 'paid')
    const types = eventsSince(sandbox, mark, { balance: true }).map((event) => event.type)
    assert.equal(types[0], 'customer.subscription.updated')
    assert.includeMembers(types, ['invoice.created', 'invoice.paid'])

    const mismatch = (await stripe.subscriptions
      .update(sub.id, { items: [{ price: monthly.id }] })
      .catch((e: unknown) => e)) as Stripe.errors.StripeError
    assert.equal(mismatch.statusCode, 400)
    assert.match(mismatch.message, /interval fields must match/)
  })

  test('trial_end=now ends a trial at once and charges; send_invoice subscriptions start active', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'trial-now@example.com' })
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      default_payment_method: 'pm_card_visa',
      trial_period_days: 30,
    })
    const ended = await stripe.subscriptions.update(sub.id, {
      trial_end: 'now',
      expand: ['latest_invoice'],
    })
    assert.equal(ended.status, 'active')
    assert.closeTo(Number(ended.trial_end), sandbox.now(), 2)
    const invoice = ended.latest_invoice as Stripe.Invoice
    assert.equal(invoice.amount_paid, 2000)
    assert.equal(invoice.billing_reason, 'subscription_update')

    const invoiced = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      collection_method: 'send_invoice',
      days_until_due: 10,
      expand: ['latest_invoice'],
    })
    assert.equal(invoiced.status, 'active')
    assert.equal(invoiced.days_until_due, 10)
    const open = invoiced.latest_invoice as Stripe.Invoice
    assert.equal(open.status, 'open')
    assert.equal(open.collection_method, 'send_invoice')
    assert.equal(open.due_date, open.created + 10 * 86400)
    assert.equal(open.attempt_count, 0)
  })
})
