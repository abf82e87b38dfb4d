import { test } from '@japa/runner'
import type Stripe from 'stripe'
import { completeOnboarding } from '../../../sandbox/stripe/resources/accounts.js'
import { type StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import { connectedAccount, eventsDuring, stripeError, useSandbox } from './helpers.js'

const DAY = 86_400

function amounts(balance: Stripe.Balance) {
  return {
    available: balance.available.map(({ amount, currency }) => ({ amount, currency })),
    pending: balance.pending.map(({ amount, currency }) => ({ amount, currency })),
  }
}

test.group('Stripe sandbox: destination charges', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(group, (started, client) => {
    sandbox = started
    stripe = client
  })

  test('application_fee_amount: transfer, py_ payment, fee and both ledgers', async ({
    assert,
  }) => {
    const account = await connectedAccount(stripe, sandbox)
    let intent: Stripe.PaymentIntent | undefined
    const events = await eventsDuring(sandbox, async () => {
      intent = await stripe.paymentIntents.create({
        amount: 10000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        application_fee_amount: 1000,
        transfer_data: { destination: account },
      })
    })
    if (!intent) return assert.fail('no intent')
    assert.equal(intent.status, 'succeeded')
    assert.equal(intent.application_fee_amount, 1000)
    assert.deepEqual(intent.transfer_data, { destination: account })
    assert.deepEqual(
      events.map((event) => event.type),
      [
        'payment_intent.created',
        'charge.succeeded',
        'payment_intent.succeeded',
        'transfer.created',
        'application_fee.created',
      ]
    )
    for (const event of events) assert.notProperty(event, 'account')

    const charge = await stripe.charges.retrieve(String(intent.latest_charge), {
      expand: ['transfer', 'application_fee'],
    })
    assert.deepEqual(charge.transfer_data, { amount: null, destination: account })
    assert.equal(charge.transfer_group, `group_${intent.id}`)
    const transfer = charge.transfer as Stripe.Transfer
    assert.match(transfer.id, /^tr_/)
    assert.equal(transfer.amount, 10000)
    assert.equal(transfer.amount_reversed, 0)
    assert.isFalse(transfer.reversed)
    assert.equal(transfer.destination, account)
    assert.equal(transfer.source_transaction, charge.id)
    assert.equal(transfer.transfer_group, `group_${intent.id}`)
    assert.deepEqual(transfer.reversals, {
      object: 'list',
      data: [],
      has_more: false,
      url: `/v1/transfers/${transfer.id}/reversals`,
    })
    const fee = charge.application_fee as Stripe.ApplicationFee
    assert.match(fee.id, /^fee_/)
    assert.equal(fee.amount, 1000)
    assert.equal(fee.account, account)
    assert.equal(fee.charge, transfer.destination_payment)
    assert.equal(fee.originating_transaction, charge.id)
    assert.isFalse(fee.refunded)
    assert.deepEqual(await stripe.applicationFees.retrieve(fee.id), fee)
    const fees = await stripe.applicationFees.list({ charge: charge.id })
    assert.deepEqual(
      fees.data.map((item) => item.id),
      [fee.id]
    )

    // The py_ payment lives on the connected account.
    const expanded = await stripe.transfers.retrieve(transfer.id, {
      expand: ['destination_payment.balance_transaction'],
    })
    const payment = expanded.destination_payment as Stripe.Charge
    assert.match(payment.id, /^py_/)
    assert.equal(payment.amount, 10000)
    assert.equal(payment.source_transfer, transfer.id)
    assert.equal(payment.application_fee, fee.id)
    const paymentTxn = payment.balance_transaction as Stripe.BalanceTransaction
    assert.equal(paymentTxn.type, 'payment')
    assert.equal(paymentTxn.fee, 1000)
    assert.equal(paymentTxn.net, 9000)
    assert.equal(paymentTxn.fee_details[0].type, 'application_fee')
    const onAccount = await stripe.charges.retrieve(payment.id, {}, { stripeAccount: account })
    assert.equal(onAccount.id, payment.id)
    const hidden = await stripeError(stripe.charges.retrieve(payment.id))
    assert.equal(hidden.statusCode, 404)
    const notTheirs = await stripeError(
      stripe.charges.retrieve(charge.id, {}, { stripeAccount: account })
    )
    assert.equal(notTheirs.statusCode, 404)

    // Platform: +10000 charge (fee 320), -10000 transfer, +1000 application fee, all pending.
    const platform = await stripe.balance.retrieve()
    assert.deepEqual(amounts(platform), {
      available: [{ amount: 0, currency: 'usd' }],
      pending: [{ amount: 680, currency: 'usd' }],
    })
    const platformTxns = await stripe.balanceTransactions.list()
    assert.deepEqual(
      platformTxns.data.map((txn) => [txn.type, txn.amount, txn.fee, txn.net]),
      [
        ['application_fee', 1000, 0, 1000],
        ['transfer', -10000, 0, -10000],
        ['charge', 10000, 320, 9680],
      ]
    )
    const connected = await stripe.balance.retrieve({}, { stripeAccount: account })
    assert.deepEqual(amounts(connected), {
      available: [{ amount: 0, currency: 'usd' }],
      pending: [{ amount: 9000, currency: 'usd' }],
    })
    const accountTxns = await stripe.balanceTransactions.list({}, { stripeAccount: account })
    assert.deepEqual(
      accountTxns.data.map((txn) => [txn.type, txn.source]),
      [['payment', payment.id]]
    )

    // Two days later everything is available, and balance.available fires for both ledgers.
    const later = await eventsDuring(sandbox, () => sandbox.advanceClock(2 * DAY + 1))
    assert.deepEqual(
      later.map((event) => [event.type, event.account ?? null]),
      [
        ['balance.available', null],
        ['balance.available', account],
      ]
    )
    assert.deepEqual(amounts(await stripe.balance.retrieve()), {
      available: [{ amount: 680, currency: 'usd' }],
      pending: [{ amount: 0, currency: 'usd' }],
    })
    const txn = await stripe.balanceTransactions.retrieve(String(charge.balance_transaction))
    assert.equal(txn.status, 'available')
  })

  test('transfer_data[amount] moves only that amount and takes no fee object', async ({
    assert,
  }) => {
    const account = await connectedAccount(stripe, sandbox)
    const intent = await stripe.paymentIntents.create({
      amount: 10000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      transfer_data: { destination: account, amount: 8000 },
      transfer_group: 'order_77',
    })
    const charge = await stripe.charges.retrieve(String(intent.latest_charge))
    assert.deepEqual(charge.transfer_data, { amount: 8000, destination: account })
    assert.isNull(charge.application_fee)
    assert.equal(charge.transfer_group, 'order_77')
    const transfers = await stripe.transfers.list({ transfer_group: 'order_77' })
    assert.deepEqual(
      transfers.data.map((transfer) => transfer.amount),
      [8000]
    )
    assert.deepEqual(amounts(await stripe.balance.retrieve()).pending, [
      { amount: 1680, currency: 'usd' },
    ])
    assert.deepEqual(
      amounts(await stripe.balance.retrieve({}, { stripeAccount: account })).pending,
      [{ amount: 8000, currency: 'usd' }]
    )
    const fees = await stripe.applicationFees.list()
    assert.lengthOf(fees.data, 0)
  })

  test('destination errors: unknown account, inactive transfers, fee rules', async ({ assert }) => {
    const missing = await stripeError(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        transfer_data: { destination: 'acct_missing' },
      })
    )
    assert.equal(missing.statusCode, 400)
    assert.equal(missing.code, 'resource_missing')
    assert.equal(missing.param, 'transfer_data[destination]')
    assert.equal(missing.message, "No such account: 'acct_missing'")

    const pendingAccount = await connectedAccount(stripe, sandbox, false)
    const inactive = await stripeError(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        transfer_data: { destination: pendingAccount },
      })
    )
    assert.equal(inactive.statusCode, 400)
    assert.equal(
      inactive.message,
      'Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments'
    )
    const account = await connectedAccount(stripe, sandbox)
    const both = await stripeError(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        application_fee_amount: 100,
        transfer_data: { destination: account, amount: 500 },
      })
    )
    assert.equal(both.param, 'application_fee_amount')
    const tooMuch = await stripeError(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        transfer_data: { destination: account, amount: 5000 },
      })
    )
    assert.equal(tooMuch.param, 'transfer_data[amount]')
    assert.lengthOf(sandbox.store.list('payment_intent'), 0)
    assert.lengthOf(sandbox.store.list('charge'), 0)
  })

  test('Checkout and transfers share one destination check; its 400 is not replayed', async ({
    assert,
  }) => {
    const pendingAccount = await connectedAccount(stripe, sandbox, false)
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: 'payment',
      line_items: [
        {
          price_data: { currency: 'usd', unit_amount: 2000, product_data: { name: 'Kit' } },
          quantity: 1,
        },
      ],
      success_url: 'https://app.example.com/ok',
      payment_intent_data: { transfer_data: { destination: pendingAccount } },
    }
    const key = 'checkout-destination-1'
    const inactive = await stripeError(
      stripe.checkout.sessions.create(params, { idempotencyKey: key })
    )
    assert.equal(inactive.statusCode, 400)
    assert.equal(inactive.code, 'insufficient_capabilities_for_transfer')
    assert.equal(inactive.param, 'payment_intent_data[transfer_data][destination]')
    assert.equal(
      inactive.message,
      'Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments'
    )
    const transfer = await stripeError(
      stripe.transfers.create({ amount: 100, currency: 'usd', destination: pendingAccount })
    )
    assert.equal(transfer.code, inactive.code)
    assert.equal(transfer.message, inactive.message)
    const missing = await stripeError(
      stripe.checkout.sessions.create({
        ...params,
        payment_intent_data: { transfer_data: { destination: 'acct_gone' } },
      })
    )
    assert.equal(missing.message, "No such account: 'acct_gone'")
    assert.lengthOf(sandbox.store.list('checkout.session'), 0)

    // A validation error is not saved under the idempotency key: once the account can
    // receive transfers, the same request succeeds.
    completeOnboarding(sandbox.context, pendingAccount, 'complete')
    const session = await stripe.checkout.sessions.create(params, { idempotencyKey: key })
    assert.equal(session.status, 'open')
    assert.equal(session.amount_total, 2000)
  })
})

test.group('Stripe sandbox: transfers and reversals', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(group, (started, client) => {
    sandbox = started
    stripe = client
  })

  async function charge(amount: number, pm = 'pm_card_visa'): Promise<Stripe.Charge> {
    const intent = await stripe.paymentIntents.create({
      amount,
      currency: 'usd',
      payment_method: pm,
      confirm: true,
    })
    return stripe.charges.retrieve(String(intent.latest_charge))
  }

  test('transfers from a charge with source_transaction, up to what is left', async ({
    assert,
  }) => {
    const account = await connectedAccount(stripe, sandbox)
    const source = await charge(5000)
    let transfer: Stripe.Response<Stripe.Transfer> | undefined
    const events = await eventsDuring(sandbox, async () => {
      transfer = await stripe.transfers.create(
        {
          amount: 3000,
          currency: 'usd',
          destination: account,
          source_transaction: source.id,
          transfer_group: 'order_1',
          description: 'Seller payout',
          metadata: { order: '1' },
        },
        { idempotencyKey: 'tr-1' }
      )
    })
    if (!transfer) return assert.fail('no transfer')
    assert.match(transfer.id, /^tr_/)
    assert.equal(transfer.object, 'transfer')
    assert.equal(transfer.amount, 3000)
    assert.equal(transfer.currency, 'usd')
    assert.equal(transfer.destination, account)
    assert.equal(transfer.source_transaction, source.id)
    assert.equal(transfer.transfer_group, 'order_1')
    assert.equal(transfer.description, 'Seller payout')
    assert.deepEqual(transfer.metadata, { order: '1' })
    assert.equal(transfer.source_type, 'card')
    assert.match(String(transfer.destination_payment), /^py_/)
    assert.deepEqual(
      events.map((event) => event.type),
      ['transfer.created']
    )
    assert.deepEqual(events[0].request, {
      id: transfer.lastResponse.requestId,
      idempotency_key: 'tr-1',
    })
    // Funds from a pending charge stay pending on both sides until the charge's are available.
    const txn = await stripe.balanceTransactions.retrieve(String(transfer.balance_transaction))
    assert.equal(txn.type, 'transfer')
    assert.equal(txn.amount, -3000)
    assert.equal(txn.status, 'pending')
    const sourceTxn = await stripe.balanceTransactions.retrieve(String(source.balance_transaction))
    assert.equal(txn.available_on, sourceTxn.available_on)

    const over = await stripeError(
      stripe.transfers.create({
        amount: 2001,
        currency: 'usd',
        destination: account,
        source_transaction: source.id,
      })
    )
    assert.equal(over.statusCode, 400)
    assert.equal(over.param, 'amount')
    assert.match(over.message, /\$20\.00/)
    const rest = await stripe.transfers.create({
      amount: 2000,
      currency: 'usd',
      destination: account,
      source_transaction: source.id,
    })
    assert.equal(rest.amount, 2000)

    const other = await charge(1000)
    const currency = await stripeError(
      stripe.transfers.create({
        amount: 100,
        currency: 'eur',
        destination: account,
        source_transaction: other.id,
      })
    )
    assert.equal(currency.param, 'currency')
    const failed = await stripeError(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_chargeDeclined',
        confirm: true,
      })
    )
    const fromFailed = await stripeError(
      stripe.transfers.create({
        amount: 100,
        currency: 'usd',
        destination: account,
        source_transaction: String(failed.charge),
      })
    )
    assert.equal(fromFailed.param, 'source_transaction')
    const unknownSource = await stripeError(
      stripe.transfers.create({
        amount: 100,
        currency: 'usd',
        destination: account,
        source_transaction: 'ch_missing',
      })
    )
    assert.equal(unknownSource.code, 'resource_missing')
    assert.equal(unknownSource.param, 'source_transaction')

    // Connected account: both py_ payments, pending.
    assert.deepEqual(amounts(await stripe.balance.retrieve({}, { stripeAccount: account })), {
      available: [{ amount: 0, currency: 'usd' }],
      pending: [{ amount: 5000, currency: 'usd' }],
    })
    const payments = await stripe.charges.list({}, { stripeAccount: account })
    assert.deepEqual(
      payments.data.map((payment) => [payment.amount, payment.source_transfer]),
      [
        [2000, rest.id],
        [3000, transfer.id],
      ]
    )
  })

  test('without source_transaction the available balance must cover it', async ({ assert }) => {
    const account = await connectedAccount(stripe, sandbox)
    await charge(5000) // pending only
    const insufficient = await stripeError(
      stripe.transfers.create({ amount: 1000, currency: 'usd', destination: account })
    )
    assert.equal(insufficient.statusCode, 400)
    assert.equal(insufficient.type, 'StripeInvalidRequestError')
    assert.equal(insufficient.code, 'balance_insufficient')
    assert.match(
      insufficient.message,
      /^You have insufficient available funds in your Stripe account/
    )

    // 4000000000000077 lands in the available balance at once: 10000 - 320 = 9680.
    await charge(10000, 'pm_card_bypassPending')
    assert.deepEqual(amounts(await stripe.balance.retrieve()), {
      available: [{ amount: 9680, currency: 'usd' }],
      pending: [{ amount: 4825, currency: 'usd' }],
    })
    const transfer = await stripe.transfers.create({
      amount: 9680,
      currency: 'usd',
      destination: account,
    })
    assert.isNull(transfer.source_transaction)
    assert.deepEqual(amounts(await stripe.balance.retrieve()).available, [
      { amount: 0, currency: 'usd' },
    ])
    assert.deepEqual(
      amounts(await stripe.balance.retrieve({}, { stripeAccount: account })).available,
      [{ amount: 9680, currency: 'usd' }]
    )
    const more = await stripeError(
      stripe.transfers.create({ amount: 1, currency: 'usd', destination: account })
    )
    assert.equal(more.code, 'balance_insufficient')

    const unknown = await stripeError(
      stripe.transfers.create({ amount: 100, currency: 'usd', destination: 'acct_nope' })
    )
    assert.equal(unknown.statusCode, 400)
    assert.equal(unknown.code, 'resource_missing')
    assert.equal(unknown.param, 'destination')
    const inactive = await stripeError(
      stripe.transfers.create({
        amount: 100,
        currency: 'usd',
        destination: await connectedAccount(stripe, sandbox, false),
      })
    )
    assert.equal(inactive.param, 'destination')
    assert.match(inactive.message, /^Your destination account needs to have at least one/)
    const missingParam = await stripeError(
      stripe.transfers.create({ amount: 100, currency: 'usd' } as Stripe.TransferCreateParams)
    )
    assert.equal(missingParam.code, 'parameter_missing')
    assert.equal(missingParam.param, 'destination')
  })

  test('reversals: partial then full, over-reversal refused, both ledgers move', async ({
    assert,
  }) => {
    const account = await connectedAccount(stripe, sandbox)
    const source = await charge(5000)
    const transfer = await stripe.transfers.create({
      amount: 3000,
      currency: 'usd',
      destination: account,
      source_transaction: source.id,
    })
    let reversal: Stripe.TransferReversal | undefined
    const events = await eventsDuring(sandbox, async () => {
      reversal = await stripe.transfers.createReversal(transfer.id, {
        amount: 1000,
        metadata: { reason: 'partial' },
      })
    })
    if (!reversal) return assert.fail('no reversal')
    assert.match(reversal.id, /^trr_/)
    assert.equal(reversal.object, 'transfer_reversal')
    assert.equal(reversal.amount, 1000)
    assert.equal(reversal.transfer, transfer.id)
    assert.isNull(reversal.source_refund)
    assert.match(String(reversal.destination_payment_refund), /^pyr_/)
    assert.deepEqual(reversal.metadata, { reason: 'partial' })
    assert.deepEqual(
      events.map((event) => event.type),
      ['transfer.reversed', 'transfer.updated']
    )
    const updated = events[1].data.object as Stripe.Transfer
    assert.equal(updated.amount_reversed, 1000)
    assert.isFalse(updated.reversed)
    assert.equal(updated.reversals.data[0].id, reversal.id)
    const previous = events[1].data.previous_attributes as Record<string, unknown>
    assert.equal(previous.amount_reversed, 0)
    assert.deepEqual(previous.reversals, { data: [] })

    const over = await stripeError(stripe.transfers.createReversal(transfer.id, { amount: 2001 }))
    assert.equal(over.statusCode, 400)
    assert.equal(over.param, 'amount')
    const rest = await stripe.transfers.createReversal(transfer.id)
    assert.equal(rest.amount, 2000)
    const full = await stripe.transfers.retrieve(transfer.id)
    assert.equal(full.amount_reversed, 3000)
    assert.isTrue(full.reversed)
    const again = await stripeError(stripe.transfers.createReversal(transfer.id, { amount: 1 }))
    assert.equal(again.statusCode, 400)

    const listed = await stripe.transfers.listReversals(transfer.id, { limit: 1 })
    assert.equal(listed.url, `/v1/transfers/${transfer.id}/reversals`)
    assert.deepEqual(
      listed.data.map((item) => item.id),
      [rest.id]
    )
    assert.isTrue(listed.has_more)
    const fetched = await stripe.transfers.retrieveReversal(transfer.id, reversal.id)
    assert.equal(fetched.amount, 1000)
    const wrongTransfer = await stripeError(
      stripe.transfers.retrieveReversal('tr_missing', reversal.id)
    )
    assert.equal(wrongTransfer.statusCode, 404)

    // Platform: charge net 4825 pending, transfer -3000 pending, reversals +3000 available.
    assert.deepEqual(amounts(await stripe.balance.retrieve()), {
      available: [{ amount: 3000, currency: 'usd' }],
      pending: [{ amount: 1825, currency: 'usd' }],
    })
    // Connected account: +3000 pending payment, -3000 refunds of it available now.
    assert.deepEqual(amounts(await stripe.balance.retrieve({}, { stripeAccount: account })), {
      available: [{ amount: -3000, currency: 'usd' }],
      pending: [{ amount: 3000, currency: 'usd' }],
    })
    const payment = await stripe.charges.retrieve(
      String(transfer.destination_payment),
      {},
      { stripeAccount: account }
    )
    assert.equal(payment.amount_refunded, 3000)
    assert.isTrue(payment.refunded)
    const refundTxns = await stripe.balanceTransactions.list(
      { type: 'payment_refund' },
      { stripeAccount: account }
    )
    assert.deepEqual(
      refundTxns.data.map((txn) => txn.amount),
      [-2000, -1000]
    )
    const platformTxns = await stripe.balanceTransactions.list({ type: 'transfer_refund' })
    assert.deepEqual(
      platformTxns.data.map((txn) => txn.source),
      [rest.id, reversal.id]
    )
  })

  test('list filters, update, expand and 404s', async ({ assert }) => {
    const a = await connectedAccount(stripe, sandbox)
    const b = await connectedAccount(stripe, sandbox)
    const source = await charge(10000)
    const t1 = await stripe.transfers.create({
      amount: 1000,
      currency: 'usd',
      destination: a,
      source_transaction: source.id,
      transfer_group: 'g1',
    })
    const t2 = await stripe.transfers.create({
      amount: 2000,
      currency: 'usd',
      destination: b,
      source_transaction: source.id,
    })
    const t3 = await stripe.transfers.create({
      amount: 3000,
      currency: 'usd',
      destination: a,
      source_transaction: source.id,
    })
    const toA = await stripe.transfers.list({ destination: a })
    assert.equal(toA.url, '/v1/transfers')
    assert.deepEqual(
      toA.data.map((item) => item.id),
      [t3.id, t1.id]
    )
    const grouped = await stripe.transfers.list({ transfer_group: 'g1' })
    assert.deepEqual(
      grouped.data.map((item) => item.id),
      [t1.id]
    )
    const page = await stripe.transfers.list({ limit: 2, ending_before: t1.id })
    assert.deepEqual(
      page.data.map((item) => item.id),
      [t3.id, t2.id]
    )

    const events = await eventsDuring(sandbox, () =>
      stripe.transfers.update(t2.id, { description: 'Updated', metadata: { k: 'v' } })
    )
    assert.deepEqual(
      events.map((event) => event.type),
      ['transfer.updated']
    )
    assert.deepEqual(events[0].data.previous_attributes, {
      description: null,
      metadata: { k: null },
    })

    const expanded = await stripe.transfers.retrieve(t1.id, {
      expand: ['destination', 'source_transaction', 'balance_transaction'],
    })
    assert.equal((expanded.destination as Stripe.Account).id, a)
    assert.equal((expanded.source_transaction as Stripe.Charge).id, source.id)
    assert.equal((expanded.balance_transaction as Stripe.BalanceTransaction).amount, -1000)

    const missing = await stripeError(stripe.transfers.retrieve('tr_missing'))
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.code, 'resource_missing')
    assert.equal(missing.message, "No such transfer: 'tr_missing'")
    const txnMissing = await stripeError(stripe.balanceTransactions.retrieve('txn_missing'))
    assert.equal(txnMissing.statusCode, 404)

    const bySource = await stripe.balanceTransactions.list({ source: source.id })
    assert.deepEqual(
      bySource.data.map((txn) => txn.type),
      ['charge']
    )
    const byType = await stripe.balanceTransactions.list({ type: 'transfer', limit: 2 })
    assert.deepEqual(
      byType.data.map((txn) => txn.amount),
      [-3000, -2000]
    )
    assert.isTrue(byType.has_more)
    const withSource = await stripe.balanceTransactions.list({
      type: 'charge',
      expand: ['data.source'],
    })
    assert.equal((withSource.data[0].source as Stripe.Charge).id, source.id)
  })
})

test.group('Stripe sandbox: direct charges with Stripe-Account', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(group, (started, client) => {
    sandbox = started
    stripe = client
  })

  test('objects, ledger and events live on the connected account', async ({ assert }) => {
    const account = await connectedAccount(stripe, sandbox)
    const scoped = { stripeAccount: account }
    let intent: Stripe.PaymentIntent | undefined
    const events = await eventsDuring(sandbox, async () => {
      intent = await stripe.paymentIntents.create(
        {
          amount: 5000,
          currency: 'usd',
          payment_method: 'pm_card_visa',
          confirm: true,
          application_fee_amount: 500,
        },
        scoped
      )
    })
    if (!intent) return assert.fail('no intent')
    assert.equal(intent.status, 'succeeded')
    assert.deepEqual(
      events.map((event) => [event.type, event.account ?? null]),
      [
        ['payment_intent.created', account],
        ['charge.succeeded', account],
        ['payment_intent.succeeded', account],
        ['application_fee.created', null],
      ]
    )
    // Only visible with the header.
    const hidden = await stripeError(stripe.paymentIntents.retrieve(intent.id))
    assert.equal(hidden.statusCode, 404)
    const seen = await stripe.paymentIntents.retrieve(intent.id, {}, scoped)
    assert.equal(seen.id, intent.id)
    const pm = await stripeError(stripe.paymentMethods.retrieve(String(intent.payment_method)))
    assert.equal(pm.statusCode, 404)
    const platformIntents = await stripe.paymentIntents.list()
    assert.lengthOf(platformIntents.data, 0)
    const accountIntents = await stripe.paymentIntents.list({}, scoped)
    assert.lengthOf(accountIntents.data, 1)

    const charge = await stripe.charges.retrieve(String(intent.latest_charge), {}, scoped)
    const fee = await stripe.applicationFees.retrieve(String(charge.application_fee))
    assert.equal(fee.amount, 500)
    assert.equal(fee.account, account)
    assert.equal(fee.charge, charge.id)
    assert.isNull(fee.originating_transaction)
    // Connected: 5000 - 175 Stripe fee - 500 application fee; platform: +500.
    assert.deepEqual(amounts(await stripe.balance.retrieve({}, scoped)).pending, [
      { amount: 4325, currency: 'usd' },
    ])
    assert.deepEqual(amounts(await stripe.balance.retrieve()).pending, [
      { amount: 500, currency: 'usd' },
    ])

    const refund = await stripe.refunds.create(
      { payment_intent: intent.id, amount: 1000, refund_application_fee: true },
      scoped
    )
    assert.equal(refund.amount, 1000)
    const hiddenRefund = await stripeError(stripe.refunds.retrieve(refund.id))
    assert.equal(hiddenRefund.statusCode, 404)
    assert.deepEqual(amounts(await stripe.balance.retrieve({}, scoped)).available, [
      { amount: -900, currency: 'usd' },
    ])
    const platformCharges = await stripe.charges.list()
    assert.lengthOf(platformCharges.data, 0)
  })
})
