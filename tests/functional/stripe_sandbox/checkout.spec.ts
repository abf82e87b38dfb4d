import { test } from '@japa/runner'
import Stripe from 'stripe'
import {
  completeCheckoutSession,
  expireCheckoutSession,
  settleAsyncCheckout,
} from '../../../sandbox/stripe/resources/checkout_sessions.js'
import { completeOnboarding } from '../../../sandbox/stripe/resources/accounts.js'
import { explainShape, sweepStore } from '../../../sandbox/stripe/fidelity.js'
import { type StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import { WebhookReceiver, useSandbox } from './helpers.js'

const VISA = { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' }
const DECLINE = { ...VISA, number: '4000000000000002' }
const INSUFFICIENT = { ...VISA, number: '4000000000009995' }
const FAIL_OFF_SESSION = { ...VISA, number: '4000000000000341' }

/** Event types in the order they happened. */
function chronological(sandbox: StripeSandbox): string[] {
  return sandbox
    .eventLog()
    .slice()
    .reverse()
    .map((event) => event.type)
}

async function expectStripeError(
  assert: { fail(message: string): void; instanceOf(a: unknown, b: unknown): void },
  promise: Promise<unknown>
): Promise<Stripe.errors.StripeError> {
  try {
    await promise
  } catch (error) {
    assert.instanceOf(error, Stripe.errors.StripeError)
    return error as Stripe.errors.StripeError
  }
  assert.fail('expected a Stripe error')
  throw new Error('unreachable')
}

/** The HTML of a hosted page. */
async function pageText(url: string): Promise<string> {
  const response = await fetch(url)
  return response.text()
}

/** Form body of the hosted page. */
function form(fields: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  }
}

const GOOD_FORM = {
  email: 'page@example.com',
  cardNumber: '4242 4242 4242 4242',
  cardExpiry: '12 / 34',
  cardCvc: '123',
  billingName: 'Page Payer',
  billingCountry: 'GB',
  billingPostalCode: 'SW1A 1AA',
}

test.group('Stripe sandbox: checkout sessions', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe
  let oneTime: Stripe.Price
  let monthly: Stripe.Price

  useSandbox(
    group,
    (started, client) => {
      sandbox = started
      stripe = client
    },
    { reset: false }
  )

  group.each.setup(async () => {
    sandbox.reset()
    const product = await stripe.products.create({ name: 'Studio Pass' })
    oneTime = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 500 })
    const plan = await stripe.products.create({ name: 'Pro plan' })
    monthly = await stripe.prices.create({
      product: plan.id,
      currency: 'usd',
      unit_amount: 1200,
      recurring: { interval: 'month' },
    })
  })

  const paymentSession = (extra: Partial<Stripe.Checkout.SessionCreateParams> = {}) =>
    stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price: oneTime.id, quantity: 2 }],
      success_url: 'https://app.example.com/done?session_id={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://app.example.com/cancel',
      ...extra,
    })

  const subscriptionSession = (extra: Partial<Stripe.Checkout.SessionCreateParams> = {}) =>
    stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: monthly.id, quantity: 1 }],
      success_url: 'https://app.example.com/welcome?session_id={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://app.example.com/pricing',
      ...extra,
    })

  test('creates a payment-mode session with a price and price_data (endive shape)', async ({
    assert,
  }) => {
    const before = sandbox.eventLog().length
    const session = await paymentSession({
      line_items: [
        { price: oneTime.id, quantity: 2 },
        {
          price_data: {
            currency: 'usd',
            product_data: { name: 'Gift wrap' },
            unit_amount: 250,
          },
          quantity: 1,
        },
      ],
      client_reference_id: 'user_42',
      metadata: { order: 'o_1' },
      customer_email: 'buyer@example.com',
      locale: 'fr',
      allow_promotion_codes: true,
      billing_address_collection: 'required',
      allowed_payment_method_types: ['card'],
    })
    const now = sandbox.now()
    assert.match(session.id, /^cs_test_[0-9A-Za-z]{58}$/)
    assert.equal(session.object, 'checkout.session')
    assert.equal(session.mode, 'payment')
    assert.equal(session.status, 'open')
    assert.equal(session.payment_status, 'unpaid')
    assert.equal(session.amount_subtotal, 1250)
    assert.equal(session.amount_total, 1250)
    assert.equal(session.currency, 'usd')
    assert.isNull(session.customer)
    assert.isNull(session.customer_details)
    assert.equal(session.customer_email, 'buyer@example.com')
    assert.equal(session.customer_creation, 'if_required')
    assert.isNull(session.payment_intent)
    assert.isNull(session.subscription)
    assert.isNull(session.invoice)
    assert.isNull(session.client_secret)
    assert.isNull(session.setup_intent)
    assert.equal(session.client_reference_id, 'user_42')
    assert.deepEqual(session.metadata, { order: 'o_1' })
    assert.equal(session.locale, 'fr')
    assert.isTrue(session.allow_promotion_codes)
    assert.equal(session.billing_address_collection, 'required')
    assert.deepEqual(session.allowed_payment_method_types, ['card'])
    assert.deepEqual(session.payment_method_types, ['card'])
    assert.equal(session.ui_mode, 'hosted_page')
    assert.equal(session.url, `${sandbox.url}/c/pay/${session.id}`)
    assert.equal(
      session.success_url,
      'https://app.example.com/done?session_id={CHECKOUT_SESSION_ID}'
    )
    assert.equal(session.cancel_url, 'https://app.example.com/cancel')
    assert.closeTo(session.expires_at, now + 86_400, 5)
    assert.closeTo(session.created, now, 5)
    assert.deepEqual(session.total_details, {
      amount_discount: 0,
      amount_shipping: 0,
      amount_tax: 0,
    })
    assert.isFalse(session.livemode)
    assert.notProperty(session, 'line_items')
    assert.deepEqual(session.invoice_creation?.enabled, false)
    assert.deepEqual(session.automatic_tax, {
      enabled: false,
      liability: null,
      provider: null,
      status: null,
    })

    // price_data made an inactive Price and its Product; the session itself emits nothing.
    const created = chronological(sandbox).slice(before)
    assert.deepEqual(created, ['product.created', 'price.created'])
    const inline = sandbox.eventLog('price.created')[0].data.object as Stripe.Price
    assert.isFalse(inline.active)
    assert.equal(inline.unit_amount, 250)

    const fetched = await stripe.checkout.sessions.retrieve(session.id)
    assert.deepEqual({ ...fetched }, { ...session })
  })

  test('expands line_items and lists them with cursors', async ({ assert }) => {
    const session = await paymentSession({
      line_items: [
        { price: oneTime.id, quantity: 2 },
        {
          price_data: {
            currency: 'usd',
            product_data: { name: 'Sticker' },
            unit_amount_decimal: Stripe.Decimal.from('99.5'),
          },
          quantity: 2,
        },
        { price: oneTime.id, quantity: 1 },
      ],
    })
    assert.equal(session.amount_total, 1000 + 199 + 500)

    const expanded = await stripe.checkout.sessions.retrieve(session.id, {
      expand: ['line_items', 'line_items.data.price.product'],
    })
    const items = expanded.line_items
    assert.exists(items)
    if (!items) return
    assert.equal(items.object, 'list')
    assert.equal(items.url, `/v1/checkout/sessions/${session.id}/line_items`)
    assert.lengthOf(items.data, 3)
    const [first, second] = items.data
    assert.match(first.id, /^li_/)
    assert.equal(first.object, 'item')
    assert.equal(first.description, 'Studio Pass')
    assert.equal(first.quantity, 2)
    assert.equal(first.amount_subtotal, 1000)
    assert.equal(first.amount_total, 1000)
    assert.equal(first.currency, 'usd')
    assert.equal(first.price?.id, oneTime.id)
    assert.equal((first.price?.product as Stripe.Product).name, 'Studio Pass')
    assert.equal(second.description, 'Sticker')
    assert.equal(second.amount_subtotal, 199)

    const page1 = await stripe.checkout.sessions.listLineItems(session.id, { limit: 2 })
    assert.deepEqual(
      page1.data.map((item) => item.id),
      items.data.slice(0, 2).map((item) => item.id)
    )
    assert.isTrue(page1.has_more)
    assert.isString(page1.data[0].price?.product)
    const page2 = await stripe.checkout.sessions.listLineItems(session.id, {
      limit: 2,
      starting_after: page1.data[1].id,
    })
    assert.deepEqual(
      page2.data.map((item) => item.id),
      [items.data[2].id]
    )
    assert.isFalse(page2.has_more)

    const missing = await expectStripeError(
      assert,
      stripe.checkout.sessions.listLineItems('cs_test_nope')
    )
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.code, 'resource_missing')
    assert.equal(missing.message, "No such checkout.session: 'cs_test_nope'")
  })

  test('rejects bad params with Stripe errors and stores nothing', async ({ assert }) => {
    const before = sandbox.eventLog().length
    const cases: Array<{
      params: Record<string, unknown>
      status: number
      code?: string
      param?: string
      message?: RegExp
    }> = [
      {
        params: { payment_method_types: ['card'] },
        status: 400,
        code: 'parameter_unknown',
        param: 'payment_method_types',
      },
      {
        params: { success_url: undefined },
        status: 400,
        code: 'parameter_missing',
        param: 'success_url',
      },
      {
        params: { line_items: [{ price: monthly.id, quantity: 1 }] },
        status: 400,
        param: 'line_items[0][price]',
        message: /You specified `payment` mode but passed a recurring price/,
      },
      {
        params: { mode: 'subscription' },
        status: 400,
        param: 'line_items',
        message: /at least one recurring price in `subscription` mode/,
      },
      {
        params: { line_items: [{ price: 'price_missing', quantity: 1 }] },
        status: 400,
        code: 'resource_missing',
        param: 'line_items[0][price]',
        message: /No such price: 'price_missing'/,
      },
      {
        params: {
          line_items: [
            {
              price_data: { currency: 'usd', product_data: { name: 'X' }, unit_amount: 900 },
              quantity: 1,
            },
            { price: 'price_missing', quantity: 1 },
          ],
        },
        status: 400,
        code: 'resource_missing',
        param: 'line_items[1][price]',
      },
      {
        params: { customer: 'cus_missing' },
        status: 400,
        code: 'resource_missing',
        param: 'customer',
      },
      {
        params: {
          payment_intent_data: { transfer_data: { destination: 'acct_missing' } },
        },
        status: 400,
        code: 'resource_missing',
        param: 'payment_intent_data[transfer_data][destination]',
      },
      {
        params: { line_items: [{ price: oneTime.id }] },
        status: 400,
        code: 'parameter_missing',
        param: 'line_items[0][quantity]',
      },
      { params: { mode: undefined }, status: 400, code: 'parameter_missing', param: 'mode' },
      { params: { mode: 'setup' }, status: 400, param: 'mode', message: /mode=setup/ },
      { params: { ui_mode: 'embedded_page' }, status: 400, param: 'ui_mode' },
      {
        params: { expires_at: Math.floor(Date.now() / 1000) + 600 },
        status: 400,
        param: 'expires_at',
        message: /at least 30 minutes/,
      },
      {
        params: { expires_at: Math.floor(Date.now() / 1000) + 2 * 86_400 },
        status: 400,
        param: 'expires_at',
        message: /less than 24 hours/,
      },
      {
        params: { payment_intent_data: { application_fee_amount: 100 } },
        status: 400,
        param: 'payment_intent_data[application_fee_amount]',
        message: /Can only apply an application_fee_amount/,
      },
      {
        params: { customer_email: 'a@example.com', customer: 'cus_x' },
        status: 400,
        message: /only specify one of these parameters: customer, customer_email/,
      },
      {
        params: { subscription_data: { metadata: { a: 'b' } } },
        status: 400,
        param: 'subscription_data',
        message: /You can not pass `subscription_data` in `payment` mode/,
      },
      {
        params: { line_items: [{ price: oneTime.id, quantity: 0 }] },
        status: 400,
        param: 'line_items',
        message: /at least 50 usd/,
      },
    ]
    for (const entry of cases) {
      const params = {
        mode: 'payment',
        line_items: [{ price: oneTime.id, quantity: 1 }],
        success_url: 'https://app.example.com/ok',
        ...entry.params,
      } as Stripe.Checkout.SessionCreateParams
      const error = await expectStripeError(assert, stripe.checkout.sessions.create(params))
      assert.equal(error.statusCode, entry.status, JSON.stringify(entry.params))
      assert.equal(error.type, 'StripeInvalidRequestError')
      if (entry.code) assert.equal(error.code, entry.code, JSON.stringify(entry.params))
      if (entry.param) assert.equal(error.param, entry.param, JSON.stringify(entry.params))
      if (entry.message) assert.match(error.message, entry.message)
    }
    const list = await stripe.checkout.sessions.list()
    assert.lengthOf(list.data, 0)
    assert.lengthOf(sandbox.eventLog(), before, 'no product/price was created by a failed call')
  })

  test('completes a payment with 4242: PaymentIntent, events in order, completed last', async ({
    assert,
  }) => {
    const session = await paymentSession({
      client_reference_id: 'cart_7',
      metadata: { cart: '7' },
      payment_intent_data: {
        metadata: { order_id: 'ord_9' },
        description: 'Two studio passes',
        receipt_email: 'receipt@example.com',
      },
    })
    const before = sandbox.eventLog().length
    const { session: done, error } = completeCheckoutSession(sandbox.context, session.id, {
      card: VISA,
      email: 'payer@example.com',
      name: 'Pat Payer',
    })
    assert.isNull(error)
    assert.equal(done.status, 'complete')
    assert.equal(done.payment_status, 'paid')
    assert.isNull(done.url)
    assert.isNull(done.customer, 'customer_creation if_required: no customer')
    assert.deepEqual(done.customer_details, {
      address: {
        city: null,
        country: 'US',
        line1: null,
        line2: null,
        postal_code: null,
        state: null,
      },
      business_name: null,
      email: 'payer@example.com',
      individual_name: null,
      name: 'Pat Payer',
      phone: null,
      tax_exempt: 'none',
      tax_ids: [],
    })
    assert.match(String(done.payment_intent), /^pi_/)

    const fetched = await stripe.checkout.sessions.retrieve(session.id, {
      expand: ['payment_intent'],
    })
    const intent = fetched.payment_intent as Stripe.PaymentIntent
    assert.equal(intent.status, 'succeeded')
    assert.equal(intent.amount, 1000)
    assert.equal(intent.currency, 'usd')
    assert.deepEqual(intent.metadata, { order_id: 'ord_9' })
    assert.equal(intent.description, 'Two studio passes')
    assert.equal(intent.receipt_email, 'receipt@example.com')
    assert.deepEqual(fetched.metadata, { cart: '7' }, 'session metadata stays on the session')

    const types = chronological(sandbox).slice(before)
    assert.includeMembers(types, [
      'payment_intent.created',
      'charge.succeeded',
      'payment_intent.succeeded',
      'checkout.session.completed',
    ])
    assert.isBelow(types.indexOf('payment_intent.created'), types.indexOf('charge.succeeded'))
    assert.isBelow(types.indexOf('charge.succeeded'), types.indexOf('payment_intent.succeeded'))
    assert.equal(types[types.length - 1], 'checkout.session.completed')
    const completed = sandbox.eventLog('checkout.session.completed')[0]
    assert.isNull(completed.request?.id)
    const payload = completed.data.object as Stripe.Checkout.Session
    assert.equal(payload.id, session.id)
    assert.equal(payload.client_reference_id, 'cart_7')
    assert.equal(payload.payment_intent, intent.id)
    assert.notProperty(payload, 'line_items')

    // Keys match Stripe's fixture / the SDK types, expanded and as stored.
    const withItems = await stripe.checkout.sessions.retrieve(session.id, {
      expand: ['line_items'],
    })
    const shape = explainShape(JSON.parse(JSON.stringify(withItems)), {
      expansions: sandbox.expansions,
    })
    assert.deepEqual(shape.problems, [])
    assert.includeMembers(shape.checked, ['checkout.session', 'item', 'price'])
    assert.deepEqual(
      sweepStore(sandbox).filter((problem) => problem.includes('checkout.session')),
      []
    )

    const again = (() => {
      try {
        completeCheckoutSession(sandbox.context, session.id, { card: VISA })
        return null
      } catch (caught) {
        return caught as { status: number; message: string }
      }
    })()
    assert.equal(again?.status, 400)
    assert.match(again?.message ?? '', /already been completed/)
  })

  test('a declined card leaves the session open; retrying with 4242 reuses the PaymentIntent', async ({
    assert,
  }) => {
    const session = await paymentSession()
    const first = completeCheckoutSession(sandbox.context, session.id, { card: DECLINE })
    assert.equal(first.error?.status, 402)
    assert.equal(first.error?.type, 'card_error')
    assert.equal(first.error?.message, 'Your card was declined.')
    assert.equal(first.session.status, 'open')
    assert.equal(first.session.payment_status, 'unpaid')
    assert.isNull(first.session.payment_intent)
    assert.lengthOf(sandbox.eventLog('checkout.session.completed'), 0)
    const failed = sandbox.eventLog('payment_intent.payment_failed')
    assert.lengthOf(failed, 1)
    const failedIntent = failed[0].data.object as Stripe.PaymentIntent
    assert.equal(failedIntent.last_payment_error?.decline_code, 'generic_decline')

    const second = completeCheckoutSession(sandbox.context, session.id, { card: INSUFFICIENT })
    assert.equal(second.error?.message, 'Your card has insufficient funds.')
    assert.equal(second.session.status, 'open')

    const third = completeCheckoutSession(sandbox.context, session.id, { card: VISA })
    assert.isNull(third.error)
    assert.equal(third.session.status, 'complete')
    assert.equal(third.session.payment_intent, failedIntent.id)
    const intent = await stripe.paymentIntents.retrieve(failedIntent.id)
    assert.equal(intent.status, 'succeeded')
    assert.lengthOf(sandbox.eventLog('checkout.session.completed'), 1)
  })

  test('customer handling: customer_creation always, existing customer, prefilled email', async ({
    assert,
  }) => {
    const always = await paymentSession({ customer_creation: 'always' })
    assert.equal(always.customer_creation, 'always')
    const done = completeCheckoutSession(sandbox.context, always.id, {
      card: VISA,
      email: 'new@example.com',
      name: 'New Buyer',
      country: 'GB',
    })
    assert.match(String(done.session.customer), /^cus_/)
    const created = await stripe.customers.retrieve(String(done.session.customer))
    assert.equal((created as Stripe.Customer).email, 'new@example.com')
    assert.equal((created as Stripe.Customer).name, 'New Buyer')
    assert.equal((created as Stripe.Customer).address?.country, 'GB')
    const intent = await stripe.paymentIntents.retrieve(String(done.session.payment_intent))
    assert.equal(intent.customer, created.id)
    const types = chronological(sandbox)
    assert.isBelow(types.indexOf('customer.created'), types.indexOf('payment_intent.created'))

    // setup_future_usage needs a Customer: one is created and the card saved to it.
    const saving = await paymentSession({
      payment_intent_data: { setup_future_usage: 'off_session' },
    })
    const saved = completeCheckoutSession(sandbox.context, saving.id, {
      card: VISA,
      email: 'saver@example.com',
    })
    assert.match(String(saved.session.customer), /^cus_/)
    const savedIntent = await stripe.paymentIntents.retrieve(String(saved.session.payment_intent))
    assert.equal(savedIntent.setup_future_usage, 'off_session')
    assert.equal(savedIntent.customer, saved.session.customer)
    const attached = sandbox.eventLog('payment_method.attached')
    assert.lengthOf(attached, 1)
    assert.equal((attached[0].data.object as Stripe.PaymentMethod).customer, saved.session.customer)

    const existing = await stripe.customers.create({ email: 'known@example.com', name: 'Known' })
    const withCustomer = await paymentSession({ customer: existing.id })
    assert.equal(withCustomer.customer, existing.id)
    assert.isNull(withCustomer.customer_creation)
    const paid = completeCheckoutSession(sandbox.context, withCustomer.id, { card: VISA })
    assert.equal(paid.session.customer, existing.id)
    assert.equal(paid.session.customer_details?.email, 'known@example.com')
    const listed = await stripe.checkout.sessions.list({ customer: existing.id })
    assert.deepEqual(
      listed.data.map((s) => s.id),
      [withCustomer.id]
    )
    const expanded = await stripe.checkout.sessions.retrieve(withCustomer.id, {
      expand: ['customer'],
    })
    assert.equal((expanded.customer as Stripe.Customer).email, 'known@example.com')
  })

  test('subscription mode: creates customer and subscription, subscription_data propagates', async ({
    assert,
  }) => {
    const session = await subscriptionSession({
      customer_email: 'sub@example.com',
      client_reference_id: 'team_3',
      subscription_data: { metadata: { team: '3' }, description: 'Pro for team 3' },
      metadata: { source: 'pricing' },
    })
    assert.equal(session.mode, 'subscription')
    assert.equal(session.amount_total, 1200)
    assert.isNull(session.customer_creation)
    assert.isNull(session.invoice_creation)
    assert.equal(session.payment_method_collection, 'always')

    const before = sandbox.eventLog().length
    const { session: done, error } = completeCheckoutSession(sandbox.context, session.id, {
      card: VISA,
      name: 'Sub Scriber',
    })
    assert.isNull(error)
    assert.equal(done.status, 'complete')
    assert.equal(done.payment_status, 'paid')
    assert.isNull(done.payment_intent)
    assert.match(String(done.subscription), /^sub_/)
    assert.match(String(done.invoice), /^in_/)
    assert.match(String(done.customer), /^cus_/)
    assert.equal(done.customer_details?.email, 'sub@example.com')

    const fetched = await stripe.checkout.sessions.retrieve(session.id, {
      expand: ['subscription', 'invoice', 'customer'],
    })
    const subscription = fetched.subscription as Stripe.Subscription
    assert.equal(subscription.status, 'active')
    assert.deepEqual(subscription.metadata, { team: '3' })
    assert.equal(subscription.description, 'Pro for team 3')
    assert.equal(subscription.customer, done.customer)
    assert.equal(subscription.items.data[0].price.id, monthly.id)
    const pm = subscription.default_payment_method
    assert.isString(pm)
    const method = await stripe.paymentMethods.retrieve(String(pm))
    assert.equal(method.customer, done.customer)
    assert.equal((fetched.invoice as Stripe.Invoice).status, 'paid')
    assert.equal((fetched.customer as Stripe.Customer).email, 'sub@example.com')

    const types = chronological(sandbox).slice(before)
    assert.equal(types[0], 'customer.created')
    assert.include(types, 'customer.subscription.created')
    assert.include(types, 'invoice.paid')
    assert.isBelow(types.indexOf('customer.subscription.created'), types.indexOf('invoice.paid'))
    assert.equal(types[types.length - 1], 'checkout.session.completed')

    const bySubscription = await stripe.checkout.sessions.list({ subscription: subscription.id })
    assert.deepEqual(
      bySubscription.data.map((s) => s.id),
      [session.id]
    )
  })

  test('subscription mode with each test card: 0002 declines then 4242, 0341 pays now', async ({
    assert,
  }) => {
    const session = await subscriptionSession()
    const declined = completeCheckoutSession(sandbox.context, session.id, { card: DECLINE })
    assert.equal(declined.error?.message, 'Your card was declined.')
    assert.equal(declined.session.status, 'open')
    assert.isNull(declined.session.subscription)
    assert.lengthOf(sandbox.eventLog('customer.subscription.created'), 0)
    assert.lengthOf(sandbox.eventLog('customer.created'), 0)

    const ok = completeCheckoutSession(sandbox.context, session.id, { card: VISA })
    assert.isNull(ok.error)
    assert.equal(ok.session.status, 'complete')
    assert.lengthOf(sandbox.eventLog('customer.subscription.created'), 1)

    const renewalFails = await subscriptionSession()
    const paidNow = completeCheckoutSession(sandbox.context, renewalFails.id, {
      card: FAIL_OFF_SESSION,
    })
    assert.isNull(paidNow.error)
    assert.equal(paidNow.session.payment_status, 'paid')
    const sub = await stripe.subscriptions.retrieve(String(paidNow.session.subscription))
    assert.equal(sub.status, 'active')
  })

  test('a free trial: nothing due today, no_payment_required, trialing', async ({ assert }) => {
    const session = await subscriptionSession({ subscription_data: { trial_period_days: 14 } })
    assert.equal(session.amount_total, 0)
    const trialPage = await pageText(String(session.url))
    assert.include(trialPage, '14 days free')
    assert.match(trialPage, /Then \$12\.00\s+per month/)
    assert.include(trialPage, 'Total due today: $0.00')
    const { session: done } = completeCheckoutSession(sandbox.context, session.id, { card: VISA })
    assert.equal(done.payment_status, 'no_payment_required')
    const sub = await stripe.subscriptions.retrieve(String(done.subscription))
    assert.equal(sub.status, 'trialing')
    assert.isNotNull(sub.trial_end)
  })

  test('destination charges: application fee and transfer from payment_intent_data and subscription_data', async ({
    assert,
  }) => {
    const account = await stripe.accounts.create({
      controller: {
        stripe_dashboard: { type: 'express' },
        fees: { payer: 'application' },
        losses: { payments: 'application' },
      },
      country: 'US',
      email: 'seller@example.com',
      capabilities: { transfers: { requested: true }, card_payments: { requested: true } },
      business_profile: { name: 'Seller Studio' },
    })
    completeOnboarding(sandbox.context, account.id, 'complete')

    const session = await paymentSession({
      payment_intent_data: {
        application_fee_amount: 150,
        transfer_data: { destination: account.id },
        metadata: { listing: 'l_1' },
      },
    })
    const done = completeCheckoutSession(sandbox.context, session.id, { card: VISA })
    assert.isNull(done.error)
    const intent = await stripe.paymentIntents.retrieve(String(done.session.payment_intent))
    assert.equal(intent.application_fee_amount, 150)
    assert.equal(intent.transfer_data?.destination, account.id)
    assert.deepEqual(intent.metadata, { listing: 'l_1' })
    const types = chronological(sandbox)
    assert.include(types, 'transfer.created')
    assert.include(types, 'application_fee.created')
    assert.equal(types[types.length - 1], 'checkout.session.completed')
    const transfers = await stripe.transfers.list({ destination: account.id })
    assert.lengthOf(transfers.data, 1)
    assert.equal(transfers.data[0].amount, 1000)

    // The page shows the platform name, or the account paid on behalf of.
    const page = await pageText(String(session.url))
    assert.include(page, 'Studio Billing (sandbox)')
    const onBehalf = await paymentSession({
      payment_intent_data: {
        on_behalf_of: account.id,
        transfer_data: { destination: account.id },
      },
    })
    assert.include(await pageText(String(onBehalf.url)), 'Seller Studio')

    const subscription = await subscriptionSession({
      subscription_data: {
        application_fee_percent: 10,
        transfer_data: { destination: account.id },
        metadata: { seller: account.id },
      },
    })
    const subDone = completeCheckoutSession(sandbox.context, subscription.id, { card: VISA })
    assert.isNull(subDone.error)
    const sub = await stripe.subscriptions.retrieve(String(subDone.session.subscription))
    assert.equal(sub.application_fee_percent, 10)
    assert.equal(sub.transfer_data?.destination, account.id)
    assert.deepEqual(sub.metadata, { seller: account.id })
  })

  test('lists sessions newest first with filters and cursors', async ({ assert }) => {
    const created: Stripe.Checkout.Session[] = []
    for (let i = 0; i < 4; i++) created.push(await paymentSession())
    const sub = await subscriptionSession()
    const paid = completeCheckoutSession(sandbox.context, created[1].id, { card: VISA }).session
    expireCheckoutSession(sandbox.context, created[2].id, null)

    const all = await stripe.checkout.sessions.list({ limit: 2 })
    assert.deepEqual(
      all.data.map((s) => s.id),
      [sub.id, created[3].id]
    )
    assert.isTrue(all.has_more)
    assert.equal(all.url, '/v1/checkout/sessions')
    const ids: string[] = []
    for await (const session of stripe.checkout.sessions.list({ limit: 2 })) ids.push(session.id)
    assert.deepEqual(ids, [sub.id, ...created.map((s) => s.id).reverse()])
    const back = await stripe.checkout.sessions.list({ ending_before: created[1].id, limit: 10 })
    assert.deepEqual(
      back.data.map((s) => s.id),
      [sub.id, created[3].id, created[2].id]
    )

    const open = await stripe.checkout.sessions.list({ status: 'open' })
    assert.deepEqual(
      open.data.map((s) => s.id),
      [sub.id, created[3].id, created[0].id]
    )
    const complete = await stripe.checkout.sessions.list({ status: 'complete' })
    assert.deepEqual(
      complete.data.map((s) => s.id),
      [created[1].id]
    )
    const expired = await stripe.checkout.sessions.list({ status: 'expired' })
    assert.deepEqual(
      expired.data.map((s) => s.id),
      [created[2].id]
    )
    const byIntent = await stripe.checkout.sessions.list({
      payment_intent: String(paid.payment_intent),
    })
    assert.deepEqual(
      byIntent.data.map((s) => s.id),
      [created[1].id]
    )
    const byEmail = await stripe.checkout.sessions.list({
      customer_details: { email: 'customer@example.com' },
    })
    assert.deepEqual(
      byEmail.data.map((s) => s.id),
      [created[1].id]
    )
    const future = await stripe.checkout.sessions.list({
      created: { gt: sandbox.now() + 60 },
    })
    assert.lengthOf(future.data, 0)
    const recent = await stripe.checkout.sessions.list({
      created: { gte: sandbox.now() - 60 },
      limit: 100,
    })
    assert.lengthOf(recent.data, 5)

    const expandedList = await stripe.checkout.sessions.list({
      status: 'complete',
      expand: ['data.payment_intent'],
    })
    assert.equal((expandedList.data[0].payment_intent as Stripe.PaymentIntent).status, 'succeeded')
  })

  test('expires through the API and by the clock', async ({ assert }) => {
    const session = await paymentSession()
    const expired = await stripe.checkout.sessions.expire(session.id)
    assert.equal(expired.status, 'expired')
    assert.isNull(expired.url)
    assert.equal(expired.payment_status, 'unpaid')
    const event = sandbox.eventLog('checkout.session.expired')[0]
    assert.equal(event.request?.id, expired.lastResponse.requestId)
    assert.equal((event.data.object as Stripe.Checkout.Session).status, 'expired')

    const again = await expectStripeError(assert, stripe.checkout.sessions.expire(session.id))
    assert.equal(again.statusCode, 400)
    assert.match(again.message, /Only Checkout Sessions with a status in \["open"\] can be expired/)
    assert.throws(
      () => completeCheckoutSession(sandbox.context, session.id, { card: VISA }),
      /no longer active/
    )
    const unknown = await expectStripeError(assert, stripe.checkout.sessions.expire('cs_test_x'))
    assert.equal(unknown.statusCode, 404)

    const soon = await paymentSession({ expires_at: sandbox.now() + 1_800 })
    const later = await paymentSession({ expires_at: sandbox.now() + 7_200 })
    await sandbox.advanceClock(1_801)
    const soonNow = await stripe.checkout.sessions.retrieve(soon.id)
    const laterNow = await stripe.checkout.sessions.retrieve(later.id)
    assert.equal(soonNow.status, 'expired')
    assert.equal(laterNow.status, 'open')
    const clockEvent = sandbox.eventLog('checkout.session.expired')[0]
    assert.equal((clockEvent.data.object as Stripe.Checkout.Session).id, soon.id)
    assert.isNull(clockEvent.request?.id)

    await sandbox.advanceClock(86_400)
    const laterAfter = await stripe.checkout.sessions.retrieve(later.id)
    assert.equal(laterAfter.status, 'expired')
    assert.lengthOf(sandbox.eventLog('checkout.session.expired'), 3)
  })

  test('accepts and echoes the optional settings', async ({ assert }) => {
    const expiresAt = sandbox.now() + 3_600
    const session = await paymentSession({
      expires_at: expiresAt,
      excluded_payment_method_types: ['klarna'],
      submit_type: 'donate',
      phone_number_collection: { enabled: true },
      invoice_creation: {
        enabled: true,
        invoice_data: { description: 'Thanks', metadata: { k: 'v' }, footer: 'Footer' },
      },
      saved_payment_method_options: { payment_method_save: 'enabled' },
      consent_collection: { terms_of_service: 'required', promotions: 'auto' },
    })
    assert.equal(session.expires_at, expiresAt)
    assert.deepEqual(session.excluded_payment_method_types, ['klarna'])
    assert.equal(session.submit_type, 'donate')
    assert.deepEqual(session.phone_number_collection, { enabled: true })
    assert.isTrue(session.invoice_creation?.enabled)
    assert.equal(session.invoice_creation?.invoice_data.description, 'Thanks')
    assert.deepEqual(session.invoice_creation?.invoice_data.metadata, { k: 'v' })
    assert.equal(session.invoice_creation?.invoice_data.footer, 'Footer')
    assert.deepEqual(session.saved_payment_method_options, {
      allow_redisplay_filters: null,
      payment_method_remove: null,
      payment_method_save: 'enabled',
    })
    assert.deepEqual(session.consent_collection, {
      payment_method_reuse_agreement: null,
      promotions: 'auto',
      terms_of_service: 'required',
    })
    assert.isNull(session.consent)
    const done = completeCheckoutSession(sandbox.context, session.id, { card: VISA })
    assert.deepEqual(done.session.consent, { promotions: null, terms_of_service: 'accepted' })

    const rejected = await expectStripeError(
      assert,
      paymentSession({ allowed_payment_method_types: ['klarna'] })
    )
    assert.equal(rejected.param, 'allowed_payment_method_types[0]')
    const card = await expectStripeError(
      assert,
      paymentSession({ excluded_payment_method_types: ['card'] })
    )
    assert.equal(card.param, 'excluded_payment_method_types[0]')
  })

  test('idempotent create replays the same session and creates price_data once', async ({
    assert,
  }) => {
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: 'payment',
      line_items: [
        {
          price_data: { currency: 'eur', product_data: { name: 'Once' }, unit_amount: 800 },
          quantity: 1,
        },
      ],
      success_url: 'https://app.example.com/ok',
    }
    const first = await stripe.checkout.sessions.create(params, { idempotencyKey: 'cs-key-1' })
    const second = await stripe.checkout.sessions.create(params, { idempotencyKey: 'cs-key-1' })
    assert.equal(second.id, first.id)
    assert.equal(second.currency, 'eur')
    assert.lengthOf(
      sandbox
        .eventLog('price.created')
        .filter((e) => (e.data.object as Stripe.Price).currency === 'eur'),
      1
    )
    const list = await stripe.checkout.sessions.list()
    assert.lengthOf(list.data, 1)
  })

  test('Stripe-Account: creating a session on a connected account is refused, nothing stored', async ({
    assert,
  }) => {
    const account = await stripe.accounts.create({ country: 'US', type: 'express' })
    completeOnboarding(sandbox.context, account.id, 'complete')
    const scoped = { stripeAccount: account.id }
    const price = await stripe.prices.create(
      { currency: 'usd', unit_amount: 900, product_data: { name: 'Their item' } },
      scoped
    )
    const platformError = await expectStripeError(
      assert,
      paymentSession({ line_items: [{ price: price.id, quantity: 1 }] })
    )
    assert.equal(platformError.code, 'resource_missing')
    assert.equal(platformError.param, 'line_items[0][price]')

    const productsBefore = sandbox.eventLog('product.created').length
    const refused = await expectStripeError(
      assert,
      stripe.checkout.sessions.create(
        {
          mode: 'payment',
          line_items: [
            { price: price.id, quantity: 1 },
            {
              price_data: { currency: 'usd', unit_amount: 300, product_data: { name: 'Extra' } },
              quantity: 1,
            },
          ],
          success_url: 'https://seller.example.com/ok',
        },
        scoped
      )
    )
    assert.equal(refused.statusCode, 400)
    assert.equal(refused.type, 'StripeInvalidRequestError')
    assert.include(refused.message, 'does not support Checkout Sessions on connected accounts')
    assert.lengthOf(sandbox.context.store.list('checkout.session'), 0)
    assert.lengthOf(sandbox.eventLog('product.created'), productsBefore, 'no price_data product')

    // Reads stay scoped: a platform session is invisible with the header, and vice versa.
    const platform = await paymentSession()
    const hidden = await expectStripeError(
      assert,
      stripe.checkout.sessions.retrieve(platform.id, {}, scoped)
    )
    assert.equal(hidden.statusCode, 404)
    const accountList = await stripe.checkout.sessions.list({}, scoped)
    assert.lengthOf(accountList.data, 0)
    const platformList = await stripe.checkout.sessions.list()
    assert.deepEqual(
      platformList.data.map((s) => s.id),
      [platform.id]
    )
    const expireScoped = await expectStripeError(
      assert,
      stripe.checkout.sessions.expire(platform.id, {}, scoped)
    )
    assert.equal(expireScoped.statusCode, 404)
  })

  test('async payment: completes unpaid with a processing PaymentIntent, settles succeeded', async ({
    assert,
  }) => {
    const session = await paymentSession({ customer_creation: 'always' })
    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${sandbox.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      })
      return { status: response.status, body: (await response.json()) as Record<string, unknown> }
    }
    const before = sandbox.eventLog().length
    const completed = await post(`/_sim/checkout/sessions/${session.id}/complete`, {
      async: 'pending',
      email: 'slow@example.com',
    })
    assert.equal(completed.status, 200)
    const pending = completed.body.session as Stripe.Checkout.Session
    assert.isNull(completed.body.error)
    assert.equal(pending.status, 'complete')
    assert.equal(pending.payment_status, 'unpaid')
    const intentId = String(pending.payment_intent)
    assert.match(intentId, /^pi_/)
    const processing = await stripe.paymentIntents.retrieve(intentId)
    assert.equal(processing.status, 'processing')
    assert.isNull(processing.latest_charge)
    assert.equal(processing.customer, pending.customer)
    assert.deepEqual(chronological(sandbox).slice(before), [
      'customer.created',
      'payment_intent.created',
      'payment_intent.processing',
      'checkout.session.completed',
    ])
    assert.include(await pageText(String(session.url)), 'Your payment is processing.')
    const completedEvent = sandbox.eventLog('checkout.session.completed')[0]
    assert.equal((completedEvent.data.object as Stripe.Checkout.Session).payment_status, 'unpaid')

    const middle = sandbox.eventLog().length
    const settled = await post(`/_sim/checkout/sessions/${session.id}/settle`, {
      outcome: 'succeeded',
    })
    assert.equal(settled.status, 200)
    assert.equal((settled.body as unknown as Stripe.Checkout.Session).payment_status, 'paid')
    assert.deepEqual(chronological(sandbox).slice(middle), [
      'charge.succeeded',
      'payment_intent.succeeded',
      'checkout.session.async_payment_succeeded',
    ])
    const event = sandbox.eventLog('checkout.session.async_payment_succeeded')[0]
    assert.isNull(event.request?.id ?? null)
    const eventSession = event.data.object as Stripe.Checkout.Session
    assert.equal(eventSession.id, session.id)
    assert.equal(eventSession.payment_status, 'paid')
    assert.equal(eventSession.status, 'complete')
    const retrieved = await stripe.checkout.sessions.retrieve(session.id)
    assert.equal(retrieved.payment_status, 'paid')
    assert.include(await pageText(String(session.url)), 'Your payment is complete.')
    const paid = await stripe.paymentIntents.retrieve(intentId)
    assert.equal(paid.status, 'succeeded')
    assert.equal(paid.amount_received, 1000)
    const charge = await stripe.charges.retrieve(String(paid.latest_charge))
    assert.equal(charge.status, 'succeeded')
    assert.equal(charge.customer, pending.customer)

    // Once settled (or for a card completion) there is nothing left to settle.
    const again = await post(`/_sim/checkout/sessions/${session.id}/settle`, {
      outcome: 'failed',
    })
    assert.equal(again.status, 400)
    const badOutcome = await post(`/_sim/checkout/sessions/${session.id}/settle`, {
      outcome: 'maybe',
    })
    assert.equal(badOutcome.status, 400)
    assert.lengthOf(sandbox.eventLog('checkout.session.async_payment_failed'), 0)
  })

  test('async payment: settles failed, emits async_payment_failed, stays unpaid', async ({
    assert,
  }) => {
    const session = await paymentSession()
    const done = completeCheckoutSession(sandbox.context, session.id, {
      card: VISA,
      async: 'pending',
    })
    assert.isNull(done.error)
    assert.equal(done.session.payment_status, 'unpaid')
    const before = sandbox.eventLog().length
    const failed = settleAsyncCheckout(sandbox.context, session.id, 'failed')
    assert.equal(failed.status, 'complete')
    assert.equal(failed.payment_status, 'unpaid')
    assert.deepEqual(chronological(sandbox).slice(before), [
      'charge.failed',
      'payment_intent.payment_failed',
      'checkout.session.async_payment_failed',
    ])
    const event = sandbox.eventLog('checkout.session.async_payment_failed')[0]
    assert.isNull(event.request?.id ?? null)
    assert.equal((event.data.object as Stripe.Checkout.Session).payment_status, 'unpaid')
    const intent = await stripe.paymentIntents.retrieve(String(done.session.payment_intent))
    assert.equal(intent.status, 'requires_payment_method')
    assert.equal(intent.amount_received, 0)
    assert.isNotNull(intent.last_payment_error)
    assert.lengthOf(sandbox.eventLog('checkout.session.async_payment_succeeded'), 0)
    assert.throws(() => settleAsyncCheckout(sandbox.context, session.id, 'succeeded'))

    // A card completion has nothing to settle; subscription mode has no async option.
    const card = await paymentSession()
    completeCheckoutSession(sandbox.context, card.id, { card: VISA })
    assert.throws(() => settleAsyncCheckout(sandbox.context, card.id, 'succeeded'))
    const subscription = await subscriptionSession()
    assert.throws(() =>
      completeCheckoutSession(sandbox.context, subscription.id, { card: VISA, async: 'pending' })
    )
    const untouched = await stripe.checkout.sessions.retrieve(subscription.id)
    assert.equal(untouched.status, 'open')
  })

  test('customer_creation=always: decline then success puts the Customer on the reused PaymentIntent', async ({
    assert,
  }) => {
    const session = await paymentSession({ customer_creation: 'always' })
    const first = completeCheckoutSession(sandbox.context, session.id, { card: DECLINE })
    assert.equal(first.error?.type, 'card_error')
    const declined = sandbox.eventLog('payment_intent.payment_failed')[0].data
      .object as Stripe.PaymentIntent
    assert.isNull(declined.customer)
    assert.lengthOf(sandbox.eventLog('customer.created'), 0)

    const second = completeCheckoutSession(sandbox.context, session.id, {
      card: VISA,
      email: 'retry@example.com',
    })
    assert.isNull(second.error)
    const customer = String(second.session.customer)
    assert.match(customer, /^cus_/)
    assert.equal(second.session.payment_intent, declined.id)
    const intent = await stripe.paymentIntents.retrieve(declined.id)
    assert.equal(intent.customer, customer)
    const charge = await stripe.charges.retrieve(String(intent.latest_charge))
    assert.equal(charge.customer, customer)
    const succeeded = sandbox.eventLog('payment_intent.succeeded')[0].data
      .object as Stripe.PaymentIntent
    assert.equal(succeeded.customer, customer)
  })

  test('a completion refused for a bad destination creates no customer and no payment method', async ({
    assert,
  }) => {
    const seller = await stripe.accounts.create({
      country: 'US',
      type: 'express',
      capabilities: { transfers: { requested: true }, card_payments: { requested: true } },
    })
    completeOnboarding(sandbox.context, seller.id, 'complete')
    const payment = await paymentSession({
      customer_creation: 'always',
      payment_intent_data: { transfer_data: { destination: seller.id } },
    })
    const subscription = await subscriptionSession({
      subscription_data: { transfer_data: { destination: seller.id } },
    })
    await stripe.accounts.del(seller.id)
    const before = sandbox.eventLog().length
    for (let attempt = 0; attempt < 2; attempt++) {
      for (const [id, param] of [
        [payment.id, 'transfer_data[destination]'],
        [subscription.id, 'subscription_data[transfer_data][destination]'],
      ]) {
        try {
          completeCheckoutSession(sandbox.context, id, { card: VISA, email: 'x@example.com' })
          assert.fail('expected the completion to be refused')
        } catch (error) {
          const apiError = error as { status: number; code: string; param: string }
          assert.equal(apiError.status, 400)
          assert.equal(apiError.code, 'resource_missing')
          assert.equal(apiError.param, param)
        }
      }
    }
    assert.lengthOf(sandbox.context.store.list('customer'), 0)
    assert.lengthOf(sandbox.context.store.list('payment_method'), 0)
    assert.lengthOf(sandbox.context.store.list('payment_intent'), 0)
    assert.deepEqual(chronological(sandbox).slice(before), [])
    for (const id of [payment.id, subscription.id]) {
      const stillOpen = await stripe.checkout.sessions.retrieve(id)
      assert.equal(stillOpen.status, 'open')
    }
  })

  test('subscription_data.trial_end: at least 48 hours away, becomes the trial', async ({
    assert,
  }) => {
    const now = sandbox.context.clock.now()
    const trialEnd = now + 5 * 24 * 60 * 60
    const session = await subscriptionSession({ subscription_data: { trial_end: trialEnd } })
    assert.equal(session.amount_total, 0)
    const page = await pageText(String(session.url))
    assert.include(page, '5 days free')
    const done = completeCheckoutSession(sandbox.context, session.id, { card: VISA })
    assert.isNull(done.error)
    assert.equal(done.session.payment_status, 'no_payment_required')
    const sub = await stripe.subscriptions.retrieve(String(done.session.subscription))
    assert.equal(sub.status, 'trialing')
    assert.equal(sub.trial_end, trialEnd)

    const tooSoon = await expectStripeError(
      assert,
      subscriptionSession({ subscription_data: { trial_end: now + 47 * 60 * 60 } })
    )
    assert.equal(tooSoon.statusCode, 400)
    assert.equal(tooSoon.param, 'subscription_data[trial_end]')
    assert.include(tooSoon.message, '48 hours')
    const both = await expectStripeError(
      assert,
      subscriptionSession({ subscription_data: { trial_end: trialEnd, trial_period_days: 7 } })
    )
    assert.equal(both.param, 'subscription_data[trial_end]')
    const tooFar = await expectStripeError(
      assert,
      subscriptionSession({ subscription_data: { trial_end: now + 731 * 24 * 60 * 60 } })
    )
    assert.equal(tooFar.param, 'subscription_data[trial_end]')
    assert.lengthOf(sandbox.context.store.list('checkout.session'), 1)
  })

  test('update sets session metadata only', async ({ assert }) => {
    const session = await paymentSession({ metadata: { a: '1' } })
    const updated = await stripe.checkout.sessions.update(session.id, {
      metadata: { a: '', b: '2' },
    })
    assert.deepEqual(updated.metadata, { b: '2' })
    const error = await expectStripeError(
      assert,
      stripe.checkout.sessions.update(session.id, { success_url: 'https://x.example' } as never)
    )
    assert.equal(error.code, 'parameter_unknown')
  })

  test('sim routes complete and expire a session', async ({ assert }) => {
    const session = await paymentSession()
    const post = (path: string, body: unknown) =>
      fetch(`${sandbox.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      })
    const declined = await post(`/_sim/checkout/sessions/${session.id}/complete`, {
      card: '4000000000009995',
    })
    assert.equal(declined.status, 200)
    const declinedBody = (await declined.json()) as {
      session: Stripe.Checkout.Session
      error: { type: string; decline_code: string; message: string } | null
    }
    assert.equal(declinedBody.session.status, 'open')
    assert.equal(declinedBody.error?.type, 'card_error')
    assert.equal(declinedBody.error?.decline_code, 'insufficient_funds')

    const ok = await post(`/_sim/checkout/sessions/${session.id}/complete`, {
      email: 'sim@example.com',
      name: 'Sim',
    })
    const okBody = (await ok.json()) as { session: Stripe.Checkout.Session; error: null }
    assert.isNull(okBody.error)
    assert.equal(okBody.session.status, 'complete')
    assert.equal(okBody.session.customer_details?.email, 'sim@example.com')

    const twice = await post(`/_sim/checkout/sessions/${session.id}/complete`, {})
    assert.equal(twice.status, 400)

    const other = await paymentSession()
    const expired = await post(`/_sim/checkout/sessions/${other.id}/expire`, {})
    assert.equal(expired.status, 200)
    const expiredBody = (await expired.json()) as Stripe.Checkout.Session
    assert.equal(expiredBody.status, 'expired')
    const missing = await post('/_sim/checkout/sessions/cs_test_none/expire', {})
    assert.equal(missing.status, 404)
  })

  test('webhooks carry the completion, checkout.session.completed last', async ({ assert }) => {
    const receiver = await WebhookReceiver.start()
    try {
      sandbox.addWebhookEndpoint({ url: receiver.url })
      sandbox.holdWebhooks(true)
      const session = await paymentSession({ customer_creation: 'always' })
      const before = sandbox.eventLog().length
      completeCheckoutSession(sandbox.context, session.id, { card: VISA })
      // Held, then sent one by one in creation order: what the endpoint sees is the emit order.
      await sandbox.flush('fifo')
      const types = receiver.types()
      assert.deepEqual(types, chronological(sandbox).slice(before))
      assert.deepEqual(types.slice(0, 2), ['customer.created', 'payment_intent.created'])
      assert.include(types, 'payment_intent.succeeded')
      assert.equal(types[types.length - 1], 'checkout.session.completed')
      const last = JSON.parse(receiver.received[receiver.received.length - 1].raw) as Stripe.Event
      assert.equal((last.data.object as Stripe.Checkout.Session).id, session.id)
    } finally {
      sandbox.holdWebhooks(false)
      await receiver.stop()
    }
  })
})

test.group('Stripe sandbox: hosted Checkout page', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe
  let price: Stripe.Price
  let monthly: Stripe.Price

  useSandbox(
    group,
    (started, client) => {
      sandbox = started
      stripe = client
    },
    { reset: false }
  )

  group.each.setup(async () => {
    sandbox.reset()
    const product = await stripe.products.create({ name: 'Print <Bundle>' })
    price = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 600 })
    const plan = await stripe.products.create({ name: 'Studio Pro' })
    monthly = await stripe.prices.create({
      product: plan.id,
      currency: 'usd',
      unit_amount: 500,
      recurring: { interval: 'month' },
    })
  })

  const create = (extra: Partial<Stripe.Checkout.SessionCreateParams> = {}) =>
    stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price: price.id, quantity: 2 }],
      success_url: 'https://app.example.com/done?session_id={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://app.example.com/cart',
      ...extra,
    })

  test('GET shows the summary and the card form', async ({ assert }) => {
    const session = await create({ customer_email: 'prefill@example.com' })
    const response = await fetch(String(session.url))
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/)
    const body = await response.text()
    assert.include(body, 'Studio Billing (sandbox)')
    assert.include(body, 'Print &lt;Bundle&gt;', 'product name escaped')
    assert.include(body, '$12.00')
    assert.include(body, 'Qty 2')
    assert.include(body, '$6.00 each')
    assert.match(body, /<input[^>]*id="email"[^>]*value="prefill@example.com"/s)
    for (const id of ['cardNumber', 'cardExpiry', 'cardCvc', 'billingName', 'billingCountry']) {
      assert.match(body, new RegExp(`id="${id}"`), id)
    }
    assert.include(body, 'placeholder="MM / YY"')
    assert.match(body, /<button type="submit" data-testid="submit">Pay \$12\.00<\/button>/)
    assert.match(
      body,
      /<a class="back" id="back" href="https:\/\/app.example.com\/cart">← back<\/a>/
    )
    assert.include(body, '4242 4242 4242 4242')
    assert.include(body, '4000 0000 0000 0002')
  })

  test('a subscription page says per month and Subscribe', async ({ assert }) => {
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: monthly.id, quantity: 1 }],
      success_url: 'https://app.example.com/welcome',
    })
    const body = await pageText(String(session.url))
    assert.include(body, 'Subscribe to Studio Pro')
    assert.include(body, '$5.00')
    assert.include(body, 'per month')
    assert.match(body, /data-testid="submit">Subscribe<\/button>/)
    assert.notInclude(body, 'id="back"', 'no cancel_url, no back link')

    const response = await fetch(String(session.url), form(GOOD_FORM))
    assert.equal(response.status, 303)
    assert.equal(response.headers.get('location'), 'https://app.example.com/welcome')
    const done = await stripe.checkout.sessions.retrieve(session.id)
    assert.equal(done.status, 'complete')
    assert.isString(done.subscription)
    assert.equal(done.customer_details?.name, 'Page Payer')
    assert.equal(done.customer_details?.address?.country, 'GB')
    assert.equal(done.customer_details?.address?.postal_code, 'SW1A 1AA')
  })

  test('POST validates the form fields (400 with the field error)', async ({ assert }) => {
    const session = await create()
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ email: '' }, 'email', 'Your email is incomplete.'],
      [{ email: 'nope' }, 'email', 'Your email address is invalid.'],
      [{ cardNumber: '4242 4242 4242 4241' }, 'cardNumber', 'Your card number is invalid.'],
      [{ cardNumber: '4242' }, 'cardNumber', 'Your card number is incomplete.'],
      [{ cardExpiry: '01 / 20' }, 'cardExpiry', "Your card's expiration year is in the past."],
      [{ cardExpiry: '13 / 40' }, 'cardExpiry', "Your card's expiration date is invalid."],
      [{ cardExpiry: '' }, 'cardExpiry', "Your card's expiration date is incomplete."],
      [{ cardCvc: '1' }, 'cardCvc', "Your card's security code is incomplete."],
    ]
    for (const [override, field, message] of cases) {
      const response = await fetch(String(session.url), form({ ...GOOD_FORM, ...override }))
      assert.equal(response.status, 400, field)
      const body = await response.text()
      assert.include(body, `id="${field}-error"`, field)
      assert.include(body, message.replace(/'/g, '&#39;'), field)
    }
    const stillOpen = await stripe.checkout.sessions.retrieve(session.id)
    assert.equal(stillOpen.status, 'open')
    assert.lengthOf(sandbox.eventLog('payment_intent.created'), 0)
  })

  test('POST: decline re-renders with 402, then 4242 redirects 303 to success_url', async ({
    assert,
  }) => {
    const session = await create()
    const declined = await fetch(
      String(session.url),
      form({ ...GOOD_FORM, cardNumber: '4000 0000 0000 0002' })
    )
    assert.equal(declined.status, 402)
    const declinedBody = await declined.text()
    assert.match(declinedBody, /data-testid="form-error"[^>]*>Your card was declined\.<\/p>/)
    assert.include(declinedBody, 'value="page@example.com"', 'form values kept')

    const poor = await fetch(
      String(session.url),
      form({ ...GOOD_FORM, cardNumber: '4000000000009995' })
    )
    assert.equal(poor.status, 402)
    assert.include(await poor.text(), 'Your card has insufficient funds.')

    const ok = await fetch(String(session.url), form(GOOD_FORM))
    assert.equal(ok.status, 303)
    assert.equal(
      ok.headers.get('location'),
      `https://app.example.com/done?session_id=${session.id}`
    )
    const done = await stripe.checkout.sessions.retrieve(session.id)
    assert.equal(done.status, 'complete')
    assert.equal(done.customer_details?.email, 'page@example.com')
    assert.equal(done.customer_details?.name, 'Page Payer')

    // Afterwards the page says it is paid and links to the success page.
    const after = await fetch(String(session.url))
    assert.equal(after.status, 200)
    const afterBody = await after.text()
    assert.include(afterBody, 'This checkout session is already paid')
    assert.include(afterBody, `href="https://app.example.com/done?session_id=${session.id}"`)
    const repost = await fetch(String(session.url), form(GOOD_FORM))
    assert.equal(repost.status, 400)
    assert.lengthOf(sandbox.eventLog('checkout.session.completed'), 1)
  })

  test('expired and unknown sessions show a clear page', async ({ assert }) => {
    const session = await create()
    await stripe.checkout.sessions.expire(session.id)
    const expired = await fetch(String(session.url))
    assert.equal(expired.status, 200)
    const body = await expired.text()
    assert.include(body, 'This checkout session has expired')
    assert.include(body, 'href="https://app.example.com/cart"')
    assert.notInclude(body, 'data-testid="submit"')

    const byClock = await create({ expires_at: sandbox.now() + 1_800 })
    await sandbox.advanceClock(1_900)
    const clockPage = await pageText(String(byClock.url))
    assert.include(clockPage, 'This checkout session has expired')

    const missing = await fetch(`${sandbox.url}/c/pay/cs_test_unknown`)
    assert.equal(missing.status, 404)
    assert.include(await missing.text(), "No such checkout session: 'cs_test_unknown'")
  })

  test('an existing customer prefills and locks the email', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'locked@example.com', name: 'Lock' })
    const session = await create({ customer: customer.id })
    const body = await pageText(String(session.url))
    assert.match(body, /id="email"[^>]*value="locked@example.com"[^>]*readonly/s)
    const response = await fetch(
      String(session.url),
      form({ ...GOOD_FORM, email: 'other@example.com' })
    )
    assert.equal(response.status, 303)
    const done = await stripe.checkout.sessions.retrieve(session.id)
    assert.equal(done.customer, customer.id)
    assert.equal(done.customer_details?.email, 'locked@example.com')
  })
})
