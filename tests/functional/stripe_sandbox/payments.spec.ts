import { test } from '@japa/runner'
import Stripe from 'stripe'
import {
  beginProcessingPayment,
  checkCard,
  collectPayment,
  createCardPaymentMethod,
  declineFor,
  minimumChargeAmount,
  parseExpiry,
  settleProcessingPayment,
} from '../../../sandbox/stripe/payments.js'
import { type StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import { customerWithCard, eventsDuring, stripeError, useSandbox } from './helpers.js'

const YEAR = new Date().getUTCFullYear() + 2

test.group('Stripe sandbox: payment methods', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(group, (started, client) => {
    sandbox = started
    stripe = client
  })

  test('creates a card PaymentMethod from a test card number', async ({ assert }) => {
    const pm = await stripe.paymentMethods.create({
      type: 'card',
      card: { number: '4242 4242 4242 4242', exp_month: 8, exp_year: YEAR, cvc: '123' },
      billing_details: {
        name: 'Ada Lovelace',
        email: 'ada@example.com',
        address: { postal_code: '10001' },
      },
      metadata: { source: 'test' },
    })
    assert.match(pm.id, /^pm_[0-9A-Za-z]{24}$/)
    assert.equal(pm.object, 'payment_method')
    assert.equal(pm.type, 'card')
    assert.isNull(pm.customer)
    assert.isFalse(pm.livemode)
    assert.deepEqual(pm.metadata, { source: 'test' })
    assert.equal(pm.billing_details.name, 'Ada Lovelace')
    assert.equal(pm.billing_details.email, 'ada@example.com')
    assert.deepEqual(pm.billing_details.address, {
      city: null,
      country: null,
      line1: null,
      line2: null,
      postal_code: '10001',
      state: null,
    })
    assert.equal(pm.card?.brand, 'visa')
    assert.equal(pm.card?.display_brand, 'visa')
    assert.equal(pm.card?.last4, '4242')
    assert.equal(pm.card?.exp_month, 8)
    assert.equal(pm.card?.exp_year, YEAR)
    assert.equal(pm.card?.funding, 'credit')
    assert.equal(pm.card?.country, 'US')
    assert.deepEqual(pm.card?.checks, {
      address_line1_check: null,
      address_postal_code_check: 'pass',
      cvc_check: 'pass',
    })
    assert.deepEqual(pm.card?.networks, { available: ['visa'], preferred: null })

    const again = await stripe.paymentMethods.create({
      type: 'card',
      card: { number: '4242424242424242', exp_month: 1, exp_year: YEAR },
    })
    assert.equal(again.card?.fingerprint, pm.card?.fingerprint)
    const master = await stripe.paymentMethods.create({
      type: 'card',
      card: { number: '5555555555554444', exp_month: 1, exp_year: YEAR },
    })
    assert.equal(master.card?.brand, 'mastercard')
    assert.equal(master.card?.last4, '4444')
    assert.notEqual(master.card?.fingerprint, pm.card?.fingerprint)

    const fetched = await stripe.paymentMethods.retrieve(pm.id)
    assert.deepEqual({ ...fetched }, { ...pm })
  })

  test('rejects bad card numbers and expiries with 402 card errors', async ({ assert }) => {
    const bad = await stripeError(
      stripe.paymentMethods.create({
        type: 'card',
        card: { number: '4242424242424241', exp_month: 1, exp_year: YEAR },
      })
    )
    assert.instanceOf(bad, Stripe.errors.StripeCardError)
    assert.equal(bad.statusCode, 402)
    assert.equal(bad.type, 'StripeCardError')
    assert.equal(bad.code, 'incorrect_number')
    assert.equal(bad.param, 'card[number]')
    assert.equal(bad.message, 'Your card number is incorrect.')

    const expired = await stripeError(
      stripe.paymentMethods.create({
        type: 'card',
        card: { number: '4242424242424242', exp_month: 1, exp_year: 2020 },
      })
    )
    assert.equal(expired.code, 'invalid_expiry_year')
    assert.equal(expired.param, 'card[exp_year]')

    const month = await stripeError(
      stripe.paymentMethods.create({
        type: 'card',
        card: { number: '4242424242424242', exp_month: 13, exp_year: YEAR },
      })
    )
    assert.equal(month.code, 'invalid_expiry_month')

    const cvc = await stripeError(
      stripe.paymentMethods.create({
        type: 'card',
        card: { number: '4242424242424242', exp_month: 1, exp_year: YEAR, cvc: '1x' },
      })
    )
    assert.equal(cvc.code, 'invalid_cvc')

    const missing = await stripeError(stripe.paymentMethods.retrieve('pm_missing'))
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.code, 'resource_missing')
    assert.equal(missing.message, "No such PaymentMethod: 'pm_missing'")
    // Nothing was stored by the failed creations.
    assert.lengthOf(sandbox.store.list('payment_method'), 0)
  })

  test('attaches, lists and detaches with events', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'pm@example.com' })
    const other = await stripe.customers.create({ email: 'other@example.com' })
    const pm = await stripe.paymentMethods.create({
      type: 'card',
      card: { number: '4242424242424242', exp_month: 1, exp_year: YEAR },
    })

    let attached: Stripe.Response<Stripe.PaymentMethod> | undefined
    const attachEvents = await eventsDuring(sandbox, async () => {
      attached = await stripe.paymentMethods.attach(pm.id, { customer: customer.id })
    })
    assert.equal(attached?.customer, customer.id)
    assert.deepEqual(
      attachEvents.map((event) => event.type),
      ['payment_method.attached']
    )
    assert.equal((attachEvents[0].data.object as Stripe.PaymentMethod).customer, customer.id)
    assert.equal(attachEvents[0].request?.id, attached?.lastResponse.requestId)

    // Magic test ids resolve to a fresh PaymentMethod.
    const magic = await stripe.paymentMethods.attach('pm_card_mastercard', {
      customer: customer.id,
    })
    assert.match(magic.id, /^pm_[0-9A-Za-z]{24}$/)
    assert.equal(magic.card?.brand, 'mastercard')

    const listed = await stripe.customers.listPaymentMethods(customer.id, { limit: 1 })
    assert.equal(listed.url, `/v1/customers/${customer.id}/payment_methods`)
    assert.deepEqual(
      listed.data.map((item) => item.id),
      [magic.id]
    )
    assert.isTrue(listed.has_more)
    const page2 = await stripe.customers.listPaymentMethods(customer.id, {
      limit: 1,
      starting_after: magic.id,
    })
    assert.deepEqual(
      page2.data.map((item) => item.id),
      [pm.id]
    )
    assert.isFalse(page2.has_more)
    const viaQuery = await stripe.paymentMethods.list({ customer: customer.id, type: 'card' })
    assert.deepEqual(
      viaQuery.data.map((item) => item.id),
      [magic.id, pm.id]
    )
    const one = await stripe.customers.retrievePaymentMethod(customer.id, pm.id)
    assert.equal(one.id, pm.id)
    const notTheirs = await stripeError(stripe.customers.retrievePaymentMethod(other.id, pm.id))
    assert.equal(notTheirs.statusCode, 404)

    const taken = await stripeError(stripe.paymentMethods.attach(pm.id, { customer: other.id }))
    assert.equal(taken.statusCode, 400)
    assert.equal(
      taken.message,
      'The payment method you provided has already been attached to a customer.'
    )
    const noCustomer = await stripeError(stripe.paymentMethods.attach(pm.id, { customer: 'cus_x' }))
    assert.equal(noCustomer.code, 'resource_missing')
    assert.equal(noCustomer.param, 'customer')

    await stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: pm.id },
    })
    let detached: Stripe.PaymentMethod | undefined
    const detachEvents = await eventsDuring(sandbox, async () => {
      detached = await stripe.paymentMethods.detach(pm.id)
    })
    assert.isNull(detached?.customer)
    assert.deepEqual(
      detachEvents.map((event) => event.type),
      ['payment_method.detached', 'customer.updated']
    )
    assert.deepEqual(detachEvents[0].data.previous_attributes, { customer: customer.id })
    assert.deepEqual(detachEvents[1].data.previous_attributes, {
      invoice_settings: { default_payment_method: pm.id },
    })
    const refreshed = await stripe.customers.retrieve(customer.id)
    if (refreshed.deleted) return assert.fail('customer deleted')
    assert.isNull(refreshed.invoice_settings.default_payment_method)

    const again = await stripeError(stripe.paymentMethods.detach(pm.id))
    assert.equal(again.statusCode, 400)
    assert.match(again.message, /not attached to a customer/)
  })

  test('updates an attached PaymentMethod with payment_method.updated', async ({ assert }) => {
    const customer = await stripe.customers.create({})
    const loose = await stripe.paymentMethods.create({
      type: 'card',
      card: { number: '4242424242424242', exp_month: 1, exp_year: YEAR },
    })
    const refused = await stripeError(
      stripe.paymentMethods.update(loose.id, { metadata: { a: '1' } })
    )
    assert.equal(refused.statusCode, 400)

    const pm = await stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id })
    const events = await eventsDuring(sandbox, () =>
      stripe.paymentMethods.update(pm.id, {
        billing_details: { name: 'New Name' },
        card: { exp_month: 11 },
        metadata: { a: '1' },
      })
    )
    assert.deepEqual(
      events.map((event) => event.type),
      ['payment_method.updated']
    )
    const updated = events[0].data.object as Stripe.PaymentMethod
    assert.equal(updated.billing_details.name, 'New Name')
    assert.equal(updated.card?.exp_month, 11)
    assert.deepEqual(events[0].data.previous_attributes, {
      billing_details: { name: null },
      card: { exp_month: 12 },
      metadata: { a: null },
    })
  })
})

test.group('Stripe sandbox: payment intents and charges', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(group, (started, client) => {
    sandbox = started
    stripe = client
  })

  test('a confirmed PaymentIntent succeeds with a full charge', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'payer@example.com' })
    let intent: Stripe.Response<Stripe.PaymentIntent> | undefined
    const events = await eventsDuring(sandbox, async () => {
      intent = await stripe.paymentIntents.create(
        {
          amount: 2000,
          currency: 'usd',
          customer: customer.id,
          payment_method: 'pm_card_visa',
          confirm: true,
          description: 'Pro plan',
          metadata: { order: '42' },
          receipt_email: 'payer@example.com',
        },
        { idempotencyKey: 'pay-1' }
      )
    })
    if (!intent) return assert.fail('no intent')
    assert.match(intent.id, /^pi_[0-9A-Za-z]{24}$/)
    assert.match(intent.client_secret ?? '', new RegExp(`^${intent.id}_secret_[0-9A-Za-z]+$`))
    assert.equal(intent.status, 'succeeded')
    assert.equal(intent.amount, 2000)
    assert.equal(intent.amount_received, 2000)
    assert.equal(intent.currency, 'usd')
    assert.equal(intent.customer, customer.id)
    assert.equal(intent.description, 'Pro plan')
    assert.deepEqual(intent.metadata, { order: '42' })
    assert.isNull(intent.last_payment_error)
    assert.equal(intent.capture_method, 'automatic_async')
    assert.deepEqual(intent.payment_method_types, ['card'])
    assert.match(String(intent.payment_method), /^pm_/)
    assert.match(String(intent.latest_charge), /^ch_/)

    assert.deepEqual(
      events.map((event) => event.type),
      ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']
    )
    for (const event of events) {
      assert.deepEqual(event.request, {
        id: intent.lastResponse.requestId,
        idempotency_key: 'pay-1',
      })
    }
    const createdSnapshot = events[0].data.object as Stripe.PaymentIntent
    assert.equal(createdSnapshot.status, 'requires_confirmation')
    assert.deepEqual(events[2].data.object, { ...intent })

    const charge = await stripe.charges.retrieve(String(intent.latest_charge), {
      expand: ['balance_transaction'],
    })
    assert.equal(charge.status, 'succeeded')
    assert.isTrue(charge.paid)
    assert.isTrue(charge.captured)
    assert.equal(charge.amount, 2000)
    assert.equal(charge.amount_captured, 2000)
    assert.equal(charge.amount_refunded, 0)
    assert.isFalse(charge.refunded)
    assert.isFalse(charge.disputed)
    assert.equal(charge.payment_intent, intent.id)
    assert.equal(charge.payment_method, intent.payment_method)
    assert.equal(charge.customer, customer.id)
    assert.equal(charge.receipt_email, 'payer@example.com')
    assert.deepEqual(charge.metadata, { order: '42' })
    assert.isNull(charge.failure_code)
    assert.equal(charge.outcome?.type, 'authorized')
    assert.equal(charge.outcome?.network_status, 'approved_by_network')
    assert.equal(charge.outcome?.seller_message, 'Payment complete.')
    assert.equal(charge.payment_method_details?.type, 'card')
    assert.equal(charge.payment_method_details?.card?.brand, 'visa')
    assert.equal(charge.payment_method_details?.card?.last4, '4242')
    assert.equal(charge.payment_method_details?.card?.exp_month, 12)
    assert.equal(charge.payment_method_details?.card?.amount_authorized, 2000)
    assert.notProperty(charge, 'refunds')
    assert.equal(charge.receipt_url, `${sandbox.url}/receipts/payment/${charge.id}`)
    const receipt = await fetch(String(charge.receipt_url))
    assert.equal(receipt.status, 200)
    const receiptHtml = await receipt.text()
    assert.include(receiptHtml, '$20.00')
    assert.include(receiptHtml, 'visa •••• 4242')
    assert.include(receiptHtml, 'Pro plan')
    const noReceipt = await fetch(`${sandbox.url}/receipts/payment/ch_missing`)
    assert.equal(noReceipt.status, 404)
    const txn = charge.balance_transaction as Stripe.BalanceTransaction
    assert.match(txn.id, /^txn_/)
    assert.equal(txn.type, 'charge')
    assert.equal(txn.amount, 2000)
    assert.equal(txn.fee, 88) // 2.9% of 20.00 = 0.58, + 0.30
    assert.equal(txn.net, 1912)
    assert.equal(txn.status, 'pending')
    assert.equal(txn.available_on, txn.created + 2 * 86400)
    assert.equal(txn.source, charge.id)
    assert.deepEqual(txn.fee_details, [
      {
        amount: 88,
        application: null,
        currency: 'usd',
        description: 'Stripe processing fees',
        type: 'stripe_fee',
      },
    ])

    const expanded = await stripe.paymentIntents.retrieve(intent.id, {
      expand: ['latest_charge.balance_transaction', 'customer'],
    })
    const latest = expanded.latest_charge as Stripe.Charge
    assert.equal(latest.id, charge.id)
    assert.equal((latest.balance_transaction as Stripe.BalanceTransaction).id, txn.id)
    assert.equal((expanded.customer as Stripe.Customer).email, 'payer@example.com')

    // The idempotent replay returns the same PaymentIntent without a second charge.
    const replay = await stripe.paymentIntents.create(
      {
        amount: 2000,
        currency: 'usd',
        customer: customer.id,
        payment_method: 'pm_card_visa',
        confirm: true,
        description: 'Pro plan',
        metadata: { order: '42' },
        receipt_email: 'payer@example.com',
      },
      { idempotencyKey: 'pay-1' }
    )
    assert.equal(replay.id, intent.id)
    const charges = await stripe.charges.list()
    assert.lengthOf(charges.data, 1)
  })

  test('a declined card answers 402 and leaves requires_payment_method', async ({ assert }) => {
    const customer = await stripe.customers.create({})
    let error: Stripe.errors.StripeError | undefined
    const events = await eventsDuring(sandbox, async () => {
      error = await stripeError(
        stripe.paymentIntents.create({
          amount: 1500,
          currency: 'usd',
          customer: customer.id,
          payment_method: 'pm_card_chargeDeclined',
          confirm: true,
        })
      )
    })
    if (!error) return assert.fail('expected a decline')
    assert.instanceOf(error, Stripe.errors.StripeCardError)
    assert.equal(error.statusCode, 402)
    assert.equal(error.type, 'StripeCardError')
    assert.equal(error.code, 'card_declined')
    assert.equal(error.decline_code, 'generic_decline')
    assert.equal(error.message, 'Your card was declined.')
    assert.equal(error.doc_url, 'https://stripe.com/docs/error-codes/card-declined')
    assert.match(String(error.charge), /^ch_/)
    const failedIntent = error.payment_intent
    if (!failedIntent) return assert.fail('payment_intent missing from the error')
    assert.equal(failedIntent.status, 'requires_payment_method')
    assert.isNull(failedIntent.payment_method)
    assert.equal(failedIntent.latest_charge, error.charge)
    assert.equal(failedIntent.last_payment_error?.code, 'card_declined')
    assert.equal(failedIntent.last_payment_error?.decline_code, 'generic_decline')
    assert.equal(failedIntent.last_payment_error?.type, 'card_error')
    assert.equal(failedIntent.last_payment_error?.charge, error.charge)
    assert.equal(failedIntent.last_payment_error?.payment_method?.card?.last4, '0002')
    assert.equal(error.payment_method?.card?.last4, '0002')

    assert.deepEqual(
      events.map((event) => event.type),
      ['payment_intent.created', 'charge.failed', 'payment_intent.payment_failed']
    )
    const charge = await stripe.charges.retrieve(String(error.charge))
    assert.equal(charge.status, 'failed')
    assert.isFalse(charge.paid)
    assert.isFalse(charge.captured)
    assert.equal(charge.amount_captured, 0)
    assert.isNull(charge.balance_transaction)
    assert.equal(charge.failure_code, 'card_declined')
    assert.equal(charge.failure_message, 'Your card was declined.')
    assert.equal(charge.outcome?.type, 'issuer_declined')
    assert.equal(charge.outcome?.reason, 'generic_decline')
    assert.equal(charge.outcome?.network_status, 'declined_by_network')
    // No money moved.
    const balance = await stripe.balance.retrieve()
    assert.deepEqual(balance.pending, [{ amount: 0, currency: 'usd', source_types: { card: 0 } }])

    // A decline is a result, not a validation error: the same key replays it.
    const keyed = await stripeError(
      stripe.paymentIntents.create(
        { amount: 900, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true },
        { idempotencyKey: 'declined-once' }
      )
    )
    const replayed = await stripeError(
      stripe.paymentIntents.create(
        { amount: 900, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true },
        { idempotencyKey: 'declined-once' }
      )
    )
    assert.equal(replayed.statusCode, 402)
    assert.equal(replayed.charge, keyed.charge)
    assert.equal(replayed.headers?.['idempotent-replayed'], 'true')
    const attempts = await stripe.charges.list({ limit: 100 })
    assert.lengthOf(attempts.data, 2)

    // Retrying the same PaymentIntent with a good card succeeds (second charge).
    const retried = await stripe.paymentIntents.confirm(failedIntent.id, {
      payment_method: 'pm_card_visa',
    })
    assert.equal(retried.status, 'succeeded')
    assert.isNull(retried.last_payment_error)
    assert.notEqual(retried.latest_charge, error.charge)
    const charges = await stripe.charges.list({ payment_intent: failedIntent.id })
    assert.deepEqual(
      charges.data.map((item) => item.status),
      ['succeeded', 'failed']
    )
  })

  test('insufficient funds carries its decline code', async ({ assert }) => {
    const error = await stripeError(
      stripe.paymentIntents.create({
        amount: 1500,
        currency: 'usd',
        payment_method: 'pm_card_chargeDeclinedInsufficientFunds',
        confirm: true,
      })
    )
    assert.equal(error.statusCode, 402)
    assert.equal(error.code, 'card_declined')
    assert.equal(error.decline_code, 'insufficient_funds')
    assert.equal(error.message, 'Your card has insufficient funds.')
    const charge = await stripe.charges.retrieve(String(error.charge))
    assert.equal(charge.outcome?.reason, 'insufficient_funds')
    assert.equal(charge.outcome?.network_decline_code, '51')
  })

  test('the other decline test cards carry their own codes', async ({ assert }) => {
    const cases: Array<[string, string, string, string]> = [
      [
        'pm_card_chargeDeclinedExpiredCard',
        'expired_card',
        'expired_card',
        'Your card has expired.',
      ],
      [
        'pm_card_chargeDeclinedIncorrectCvc',
        'incorrect_cvc',
        'incorrect_cvc',
        "Your card's security code is incorrect.",
      ],
      [
        'pm_card_chargeDeclinedProcessingError',
        'processing_error',
        'processing_error',
        'An error occurred while processing your card. Try again in a little bit.',
      ],
      ['pm_card_chargeDeclinedLostCard', 'card_declined', 'lost_card', 'Your card was declined.'],
      [
        'pm_card_chargeDeclinedStolenCard',
        'card_declined',
        'stolen_card',
        'Your card was declined.',
      ],
    ]
    for (const [pm, code, declineCode, message] of cases) {
      const error = await stripeError(
        stripe.paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          payment_method: pm,
          confirm: true,
        })
      )
      assert.equal(error.statusCode, 402, pm)
      assert.equal(error.code, code, pm)
      assert.equal(error.decline_code, declineCode, pm)
      assert.equal(error.message, message, pm)
      assert.equal(error.payment_intent?.last_payment_error?.code, code, pm)
    }
  })

  test('a ...0341 card succeeds on-session and fails off-session', async ({ assert }) => {
    const { customer, pm } = await customerWithCard(
      stripe,
      {},
      { number: '4000000000000341', exp_month: 1, exp_year: YEAR },
      { makeDefault: false }
    )
    const onSession = await stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      customer: customer.id,
      payment_method: pm.id,
      confirm: true,
    })
    assert.equal(onSession.status, 'succeeded')

    const offSession = await stripeError(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        customer: customer.id,
        payment_method: pm.id,
        confirm: true,
        off_session: true,
      })
    )
    assert.equal(offSession.statusCode, 402)
    assert.equal(offSession.decline_code, 'generic_decline')

    const context = sandbox.context
    assert.isNull(declineFor(context, pm.id, false))
    assert.deepEqual(declineFor(context, pm.id, true), {
      code: 'card_declined',
      decline_code: 'generic_decline',
      message: 'Your card was declined.',
    })
    assert.isNull(declineFor(context, 'pm_card_visa', true))
  })

  test('two-step flow: create, update, confirm, and state errors', async ({ assert }) => {
    const customer = await stripe.customers.create({})
    const draft = await stripe.paymentIntents.create({
      amount: 1000,
      currency: 'USD',
      customer: customer.id,
    })
    assert.equal(draft.status, 'requires_payment_method')
    assert.equal(draft.currency, 'usd')
    assert.isNull(draft.latest_charge)
    assert.deepEqual(draft.automatic_payment_methods, { allow_redirects: 'always', enabled: true })

    const missingPm = await stripeError(stripe.paymentIntents.confirm(draft.id))
    assert.equal(missingPm.statusCode, 400)
    assert.equal(missingPm.code, 'payment_intent_unexpected_state')

    const updated = await stripe.paymentIntents.update(draft.id, {
      amount: 1250,
      payment_method: 'pm_card_mastercard',
      metadata: { step: 'two' },
    })
    assert.equal(updated.amount, 1250)
    assert.equal(updated.status, 'requires_confirmation')
    assert.deepEqual(updated.metadata, { step: 'two' })

    const confirmed = await stripe.paymentIntents.confirm(draft.id)
    assert.equal(confirmed.status, 'succeeded')
    assert.equal(confirmed.amount_received, 1250)
    const charge = await stripe.charges.retrieve(String(confirmed.latest_charge))
    assert.equal(charge.payment_method_details?.card?.brand, 'mastercard')

    const twice = await stripeError(stripe.paymentIntents.confirm(draft.id))
    assert.equal(twice.statusCode, 400)
    assert.equal(twice.code, 'payment_intent_unexpected_state')
    assert.equal(
      twice.message,
      'You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.'
    )
    const lateUpdate = await stripeError(stripe.paymentIntents.update(draft.id, { amount: 5000 }))
    assert.equal(lateUpdate.code, 'payment_intent_unexpected_state')
    // Metadata stays editable.
    const tagged = await stripe.paymentIntents.update(draft.id, { metadata: { after: 'yes' } })
    assert.deepEqual(tagged.metadata, { step: 'two', after: 'yes' })

    const cancelSucceeded = await stripeError(stripe.paymentIntents.cancel(draft.id))
    assert.equal(cancelSucceeded.code, 'payment_intent_unexpected_state')
    assert.match(cancelSucceeded.message, /status of succeeded/)

    const other = await stripe.paymentIntents.create({ amount: 700, currency: 'usd' })
    const events = await eventsDuring(sandbox, () =>
      stripe.paymentIntents.cancel(other.id, { cancellation_reason: 'abandoned' })
    )
    assert.deepEqual(
      events.map((event) => event.type),
      ['payment_intent.canceled']
    )
    const canceled = events[0].data.object as Stripe.PaymentIntent
    assert.equal(canceled.status, 'canceled')
    assert.equal(canceled.cancellation_reason, 'abandoned')
    assert.isNumber(canceled.canceled_at)
    const confirmCanceled = await stripeError(
      stripe.paymentIntents.confirm(other.id, { payment_method: 'pm_card_visa' })
    )
    assert.equal(confirmCanceled.code, 'payment_intent_unexpected_state')
  })

  test('validation errors are Stripe-shaped and write nothing', async ({ assert }) => {
    const small = await stripeError(
      stripe.paymentIntents.create({ amount: 20, currency: 'usd', payment_method: 'pm_card_visa' })
    )
    assert.equal(small.statusCode, 400)
    assert.equal(small.code, 'amount_too_small')
    assert.equal(small.param, 'amount')
    assert.equal(small.message, 'Amount must be at least $0.50 usd')

    const customer = await stripeError(
      stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: 'cus_nope' })
    )
    assert.equal(customer.code, 'resource_missing')
    assert.equal(customer.param, 'customer')
    assert.equal(customer.message, "No such customer: 'cus_nope'")

    const pm = await stripeError(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_nope',
        confirm: true,
      })
    )
    assert.equal(pm.statusCode, 400)
    assert.equal(pm.code, 'resource_missing')
    assert.equal(pm.param, 'payment_method')

    const fee = await stripeError(
      stripe.paymentIntents.create({ amount: 1000, currency: 'usd', application_fee_amount: 100 })
    )
    assert.equal(fee.param, 'application_fee_amount')

    const offSession = await stripeError(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        off_session: true,
      })
    )
    assert.equal(offSession.param, 'off_session')

    const missing = await stripeError(stripe.paymentIntents.retrieve('pi_missing'))
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.message, "No such payment_intent: 'pi_missing'")
    const missingCharge = await stripeError(stripe.charges.retrieve('ch_missing'))
    assert.equal(missingCharge.statusCode, 404)
    assert.equal(missingCharge.message, "No such charge: 'ch_missing'")

    assert.lengthOf(sandbox.store.list('payment_intent'), 0)
    assert.lengthOf(sandbox.store.list('payment_method'), 0)
    assert.lengthOf(sandbox.eventLog(), 0)
  })

  test('lists filter by customer and paginate; charge updates emit charge.updated', async ({
    assert,
  }) => {
    const a = await stripe.customers.create({ email: 'a@example.com' })
    const b = await stripe.customers.create({ email: 'b@example.com' })
    const paid: string[] = []
    for (const amount of [1000, 2000, 3000]) {
      const intent = await stripe.paymentIntents.create({
        amount,
        currency: 'usd',
        customer: a.id,
        payment_method: 'pm_card_visa',
        confirm: true,
      })
      paid.push(String(intent.latest_charge))
    }
    await stripe.paymentIntents.create({
      amount: 900,
      currency: 'usd',
      customer: b.id,
      payment_method: 'pm_card_visa',
      confirm: true,
    })
    const first = await stripe.charges.list({ customer: a.id, limit: 2 })
    assert.equal(first.url, '/v1/charges')
    assert.deepEqual(
      first.data.map((charge) => charge.amount),
      [3000, 2000]
    )
    assert.isTrue(first.has_more)
    const second = await stripe.charges.list({
      customer: a.id,
      limit: 2,
      starting_after: first.data[1].id,
    })
    assert.deepEqual(
      second.data.map((charge) => charge.amount),
      [1000]
    )
    assert.isFalse(second.has_more)
    const all: number[] = []
    for await (const charge of stripe.charges.list({ limit: 1 })) all.push(charge.amount)
    assert.deepEqual(all, [900, 3000, 2000, 1000])

    const intents = await stripe.paymentIntents.list({ customer: b.id })
    assert.equal(intents.url, '/v1/payment_intents')
    assert.deepEqual(
      intents.data.map((intent) => intent.amount),
      [900]
    )
    const withCharges = await stripe.paymentIntents.list({
      customer: a.id,
      limit: 1,
      expand: ['data.latest_charge'],
    })
    assert.equal((withCharges.data[0].latest_charge as Stripe.Charge).amount, 3000)

    const events = await eventsDuring(sandbox, () =>
      stripe.charges.update(paid[0], { metadata: { note: 'vip' }, description: 'First' })
    )
    assert.deepEqual(
      events.map((event) => event.type),
      ['charge.updated']
    )
    assert.deepEqual(events[0].data.previous_attributes, {
      metadata: { note: null },
      description: null,
    })
    const badExpand = await stripeError(stripe.charges.retrieve(paid[0], { expand: ['nonsense'] }))
    assert.equal(badExpand.statusCode, 400)
    assert.equal(badExpand.param, 'expand')
  })

  test('collectPayment and createCardPaymentMethod (contract for Billing/Checkout)', async ({
    assert,
  }) => {
    const context = sandbox.context
    const customer = await stripe.customers.create({})
    const pm = createCardPaymentMethod(
      context,
      {
        number: '4000000000000341',
        exp_month: 3,
        exp_year: YEAR,
        name: 'Renewal Card',
        email: 'r@example.com',
      },
      { customer: customer.id, origin: null }
    )
    assert.equal(pm.customer, customer.id)
    assert.equal(pm.billing_details.name, 'Renewal Card')
    assert.deepEqual(
      sandbox.eventLog().map((event) => event.type),
      ['payment_method.attached', 'customer.created']
    )

    const failed = collectPayment(context, {
      amount: 4900,
      currency: 'usd',
      customer: customer.id,
      paymentMethod: pm.id,
      offSession: true,
      description: 'Renewal',
      metadata: { invoice: 'in_1' },
      origin: null,
    })
    assert.isFalse(failed.succeeded)
    assert.equal(failed.paymentIntent.status, 'requires_payment_method')
    assert.equal(failed.charge.status, 'failed')
    assert.equal(failed.error?.status, 402)
    assert.equal(failed.error?.code, 'card_declined')
    const failEvents = sandbox.eventLog().slice(0, 3).reverse()
    assert.deepEqual(
      failEvents.map((event) => event.type),
      ['payment_intent.created', 'charge.failed', 'payment_intent.payment_failed']
    )
    for (const event of failEvents)
      assert.deepEqual(event.request, { id: null, idempotency_key: null })

    // Retry on the same PaymentIntent, this time on-session: it succeeds.
    const retried = collectPayment(context, {
      amount: 4900,
      currency: 'usd',
      customer: customer.id,
      paymentMethod: pm.id,
      offSession: false,
      paymentIntent: failed.paymentIntent.id,
      origin: null,
    })
    assert.isTrue(retried.succeeded)
    assert.isNull(retried.error)
    assert.equal(retried.paymentIntent.id, failed.paymentIntent.id)
    assert.equal(retried.paymentIntent.status, 'succeeded')
    assert.deepEqual(retried.paymentIntent.metadata, { invoice: 'in_1' })
    assert.equal(retried.charge.status, 'succeeded')
    assert.deepEqual(
      sandbox
        .eventLog()
        .slice(0, 2)
        .reverse()
        .map((event) => event.type),
      ['charge.succeeded', 'payment_intent.succeeded']
    )

    // setup_future_usage attaches the card to the customer once the payment succeeds.
    const other = await stripe.customers.create({})
    const saved = collectPayment(context, {
      amount: 1000,
      currency: 'usd',
      customer: other.id,
      paymentMethod: 'pm_card_visa',
      offSession: false,
      setupFutureUsage: 'off_session',
      origin: null,
    })
    assert.isTrue(saved.succeeded)
    const attached = await stripe.paymentMethods.retrieve(
      String(saved.paymentIntent.payment_method)
    )
    assert.equal(attached.customer, other.id)

    assert.throws(
      () =>
        collectPayment(context, {
          amount: 1000,
          currency: 'usd',
          customer: 'cus_unknown',
          paymentMethod: 'pm_card_visa',
          offSession: false,
          origin: null,
        }),
      "No such customer: 'cus_unknown'"
    )
  })

  test('a retry on an existing PaymentIntent takes the customer the retry brings', async ({
    assert,
  }) => {
    const context = sandbox.context
    const declined = collectPayment(context, {
      amount: 2500,
      currency: 'usd',
      customer: null,
      paymentMethod: 'pm_card_chargeDeclined',
      offSession: false,
      origin: null,
    })
    assert.isFalse(declined.succeeded)
    assert.isNull(declined.paymentIntent.customer)
    const customer = await stripe.customers.create({ email: 'later@example.com' })
    const retried = collectPayment(context, {
      amount: 2500,
      currency: 'usd',
      customer: customer.id,
      paymentMethod: 'pm_card_visa',
      offSession: false,
      paymentIntent: declined.paymentIntent.id,
      origin: null,
    })
    assert.isTrue(retried.succeeded)
    assert.equal(retried.paymentIntent.id, declined.paymentIntent.id)
    assert.equal(retried.paymentIntent.customer, customer.id)
    assert.equal(retried.charge.customer, customer.id)
    const stored = await stripe.paymentIntents.retrieve(declined.paymentIntent.id)
    assert.equal(stored.customer, customer.id)

    // Without a customer the retry keeps the intent's own.
    const owned = collectPayment(context, {
      amount: 2500,
      currency: 'usd',
      customer: customer.id,
      paymentMethod: 'pm_card_chargeDeclined',
      offSession: false,
      origin: null,
    })
    const kept = collectPayment(context, {
      amount: 2500,
      currency: 'usd',
      customer: null,
      paymentMethod: 'pm_card_visa',
      offSession: false,
      paymentIntent: owned.paymentIntent.id,
      origin: null,
    })
    assert.equal(kept.paymentIntent.customer, customer.id)
  })

  test('a processing payment settles succeeded or failed (async payment methods)', async ({
    assert,
  }) => {
    const context = sandbox.context
    const events = await eventsDuring(sandbox, async () => {
      const intent = beginProcessingPayment(context, {
        amount: 3000,
        currency: 'usd',
        customer: null,
        paymentMethod: 'pm_card_visa',
        offSession: false,
        origin: null,
      })
      assert.equal(intent.status, 'processing')
      assert.match(String(intent.payment_method), /^pm_/)
      assert.isNull(intent.latest_charge)
      assert.throws(
        () => settleProcessingPayment(context, 'pi_missing', 'succeeded', null),
        "No such payment_intent: 'pi_missing'"
      )
      const paid = settleProcessingPayment(context, intent.id, 'succeeded', null)
      assert.isTrue(paid.succeeded)
      assert.equal(paid.paymentIntent.status, 'succeeded')
      assert.equal(paid.charge.amount_captured, 3000)
      assert.throws(
        () => settleProcessingPayment(context, intent.id, 'failed', null),
        /not processing/
      )
    })
    assert.deepEqual(
      events.map((event) => event.type),
      [
        'payment_intent.created',
        'payment_intent.processing',
        'charge.succeeded',
        'payment_intent.succeeded',
      ]
    )

    // Even a card that would succeed fails when the settlement says so.
    const intent = beginProcessingPayment(context, {
      amount: 3000,
      currency: 'usd',
      customer: null,
      paymentMethod: 'pm_card_visa',
      offSession: false,
      origin: null,
    })
    const failed = settleProcessingPayment(context, intent.id, 'failed', null)
    assert.isFalse(failed.succeeded)
    assert.equal(failed.charge.status, 'failed')
    assert.equal(failed.paymentIntent.status, 'requires_payment_method')
    assert.equal(failed.error?.status, 402)
    assert.throws(
      () =>
        beginProcessingPayment(context, {
          amount: 10,
          currency: 'usd',
          customer: null,
          paymentMethod: 'pm_card_visa',
          offSession: false,
          origin: null,
        }),
      /Amount must be at least/
    )
  })

  test('shared card helpers: checkCard, parseExpiry, minimumChargeAmount', ({ assert }) => {
    const now = Date.UTC(2026, 5, 15) / 1000
    const good = { number: '4242 4242 4242 4242', exp_month: 12, exp_year: 2030, cvc: '123' }
    assert.isNull(checkCard(good, now))
    assert.equal(checkCard({ ...good, number: '4242424242424241' }, now)?.code, 'incorrect_number')
    assert.equal(checkCard({ ...good, exp_month: 13 }, now)?.reason, 'month_invalid')
    assert.equal(checkCard({ ...good, exp_year: 2025 }, now)?.reason, 'year_past')
    assert.equal(checkCard({ ...good, exp_year: 26, exp_month: 5 }, now)?.reason, 'month_past')
    assert.equal(checkCard({ ...good, exp_year: 2090 }, now)?.code, 'invalid_expiry_year')
    assert.equal(checkCard({ ...good, cvc: '12' }, now)?.field, 'cvc')
    assert.deepEqual(parseExpiry('04 / 29'), { exp_month: 4, exp_year: 2029 })
    assert.deepEqual(parseExpiry('4/2031'), { exp_month: 4, exp_year: 2031 })
    assert.isNull(parseExpiry('0429'))
    assert.isNull(parseExpiry(''))
    assert.equal(minimumChargeAmount('usd'), 50)
    assert.equal(minimumChargeAmount('GBP'), 30)
    assert.equal(minimumChargeAmount('mxn'), 1000)
    assert.equal(minimumChargeAmount('xyz'), 50)
  })
})
