import { test } from '@japa/runner'
import type Stripe from 'stripe'
import { checkShape, explainStore } from '../../../sandbox/stripe/fidelity.js'
import { createDispute } from '../../../sandbox/stripe/resources/disputes.js'
import { type StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import { connectedAccount, eventsDuring, simPost, stripeError, useSandbox } from './helpers.js'

const DAY = 86_400

function amounts(balance: Stripe.Balance) {
  return {
    available: balance.available.map(({ amount }) => amount),
    pending: balance.pending.map(({ amount }) => amount),
  }
}

test.group('Stripe sandbox: refunds', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(group, (started, client) => {
    sandbox = started
    stripe = client
  })

  async function pay(amount: number, customer?: string) {
    return stripe.paymentIntents.create({
      amount,
      currency: 'usd',
      customer,
      payment_method: 'pm_card_visa',
      confirm: true,
    })
  }

  test('partial then full refunds, events and the ledger', async ({ assert }) => {
    const customer = await stripe.customers.create({})
    const intent = await pay(2000, customer.id)
    const chargeId = String(intent.latest_charge)

    let refund: Stripe.Response<Stripe.Refund> | undefined
    const events = await eventsDuring(sandbox, async () => {
      refund = await stripe.refunds.create(
        {
          payment_intent: intent.id,
          amount: 500,
          reason: 'requested_by_customer',
          metadata: { ticket: 'T-1' },
        },
        { idempotencyKey: 'refund-1' }
      )
    })
    if (!refund) return assert.fail('no refund')
    assert.match(refund.id, /^re_/)
    assert.equal(refund.object, 'refund')
    assert.equal(refund.amount, 500)
    assert.equal(refund.currency, 'usd')
    assert.equal(refund.status, 'succeeded')
    assert.equal(refund.charge, chargeId)
    assert.equal(refund.payment_intent, intent.id)
    assert.equal(refund.customer, customer.id)
    assert.equal(refund.payment_method, intent.payment_method)
    assert.equal(refund.reason, 'requested_by_customer')
    assert.deepEqual(refund.metadata, { ticket: 'T-1' })
    assert.isNull(refund.transfer_reversal)
    assert.equal(refund.destination_details?.type, 'card')
    assert.deepEqual(
      events.map((event) => event.type),
      ['charge.refunded', 'refund.created']
    )
    for (const event of events) {
      assert.deepEqual(event.request, {
        id: refund.lastResponse.requestId,
        idempotency_key: 'refund-1',
      })
    }
    const refundedCharge = events[0].data.object as Stripe.Charge
    assert.equal(refundedCharge.amount_refunded, 500)
    assert.isFalse(refundedCharge.refunded)
    assert.deepEqual(events[0].data.previous_attributes, { amount_refunded: 0 })

    const txn = await stripe.balanceTransactions.retrieve(String(refund.balance_transaction))
    assert.equal(txn.type, 'refund')
    assert.equal(txn.amount, -500)
    assert.equal(txn.fee, 0)
    assert.equal(txn.net, -500)
    assert.equal(txn.source, refund.id)
    assert.equal(txn.status, 'available')

    const over = await stripeError(stripe.refunds.create({ charge: chargeId, amount: 1600 }))
    assert.equal(over.statusCode, 400)
    assert.equal(over.type, 'StripeInvalidRequestError')
    assert.equal(over.param, 'amount')
    assert.equal(
      over.message,
      'Refund amount ($16.00) is greater than unrefunded amount on charge ($15.00)'
    )

    const rest = await stripe.refunds.create({ charge: chargeId })
    assert.equal(rest.amount, 1500)
    const charge = await stripe.charges.retrieve(chargeId, { expand: ['refunds'] })
    assert.equal(charge.amount_refunded, 2000)
    assert.isTrue(charge.refunded)
    assert.deepEqual(
      charge.refunds?.data.map((item) => item.amount),
      [1500, 500]
    )
    assert.equal(charge.refunds?.url, `/v1/charges/${chargeId}/refunds`)

    const again = await stripeError(stripe.refunds.create({ payment_intent: intent.id }))
    assert.equal(again.statusCode, 400)
    assert.equal(again.code, 'charge_already_refunded')
    assert.equal(again.message, `Charge ${chargeId} has already been refunded.`)

    // Stripe keeps its fee: +2000 - 88 pending, -2000 available.
    assert.deepEqual(amounts(await stripe.balance.retrieve()), {
      available: [-2000],
      pending: [1912],
    })
  })

  test('refund errors and lists', async ({ assert }) => {
    const first = await pay(2000)
    const second = await pay(3000)
    const tooMuch = await stripeError(
      stripe.refunds.create({ payment_intent: first.id, amount: 2500 })
    )
    assert.equal(tooMuch.message, 'Refund amount ($25.00) is greater than charge amount ($20.00)')
    const none = await stripeError(stripe.refunds.create({}))
    assert.equal(none.statusCode, 400)
    assert.equal(
      none.message,
      'One of the following params should be provided for this request: payment_intent or charge.'
    )
    const unknownCharge = await stripeError(stripe.refunds.create({ charge: 'ch_missing' }))
    assert.equal(unknownCharge.code, 'resource_missing')
    assert.equal(unknownCharge.param, 'charge')
    const unknownIntent = await stripeError(stripe.refunds.create({ payment_intent: 'pi_missing' }))
    assert.equal(unknownIntent.param, 'payment_intent')
    const unpaid = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' })
    const nothing = await stripeError(stripe.refunds.create({ payment_intent: unpaid.id }))
    assert.equal(nothing.param, 'payment_intent')
    const noTransfer = await stripeError(
      stripe.refunds.create({ payment_intent: first.id, reverse_transfer: true })
    )
    assert.equal(noTransfer.param, 'reverse_transfer')
    const missing = await stripeError(stripe.refunds.retrieve('re_missing'))
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.message, "No such refund: 're_missing'")

    const r1 = await stripe.refunds.create({ payment_intent: first.id, amount: 100 })
    const r2 = await stripe.refunds.create({ payment_intent: second.id, amount: 200 })
    const r3 = await stripe.refunds.create({ payment_intent: first.id, amount: 300 })
    const all = await stripe.refunds.list({ limit: 2 })
    assert.equal(all.url, '/v1/refunds')
    assert.deepEqual(
      all.data.map((item) => item.id),
      [r3.id, r2.id]
    )
    assert.isTrue(all.has_more)
    const forFirst = await stripe.refunds.list({ payment_intent: first.id })
    assert.deepEqual(
      forFirst.data.map((item) => item.id),
      [r3.id, r1.id]
    )
    const forCharge = await stripe.refunds.list({ charge: String(second.latest_charge) })
    assert.deepEqual(
      forCharge.data.map((item) => item.id),
      [r2.id]
    )
    const expanded = await stripe.refunds.retrieve(r1.id, {
      expand: ['charge', 'balance_transaction'],
    })
    assert.equal((expanded.charge as Stripe.Charge).amount_refunded, 400)
    assert.equal((expanded.balance_transaction as Stripe.BalanceTransaction).amount, -100)

    const events = await eventsDuring(sandbox, () =>
      stripe.refunds.update(r1.id, { metadata: { note: 'x' } })
    )
    assert.deepEqual(
      events.map((event) => event.type),
      ['refund.updated']
    )
    assert.deepEqual(events[0].data.previous_attributes, { metadata: { note: null } })
  })

  test('reverse_transfer and refund_application_fee on a destination charge', async ({
    assert,
  }) => {
    const account = await connectedAccount(stripe, sandbox, true, {
      type: 'express',
      capabilities: { transfers: { requested: true } },
    })
    const intent = await stripe.paymentIntents.create({
      amount: 10000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      application_fee_amount: 1000,
      transfer_data: { destination: account },
    })
    const chargeId = String(intent.latest_charge)
    let refund: Stripe.Refund | undefined
    const events = await eventsDuring(sandbox, async () => {
      refund = await stripe.refunds.create({
        charge: chargeId,
        amount: 5000,
        reverse_transfer: true,
        refund_application_fee: true,
      })
    })
    if (!refund) return assert.fail('no refund')
    assert.deepEqual(
      events.map((event) => event.type),
      [
        'charge.refunded',
        'refund.created',
        'transfer.reversed',
        'transfer.updated',
        'application_fee.refunded',
      ]
    )
    assert.match(String(refund.transfer_reversal), /^trr_/)
    const charge = await stripe.charges.retrieve(chargeId, {
      expand: ['transfer', 'application_fee'],
    })
    const transfer = charge.transfer as Stripe.Transfer
    assert.equal(transfer.amount_reversed, 5000)
    assert.isFalse(transfer.reversed)
    assert.equal(transfer.reversals.data[0].id, refund.transfer_reversal)
    assert.equal(transfer.reversals.data[0].source_refund, refund.id)
    const fee = charge.application_fee as Stripe.ApplicationFee
    assert.equal(fee.amount_refunded, 500)
    assert.isFalse(fee.refunded)
    assert.equal(fee.refunds.data[0].amount, 500)
    assert.match(fee.refunds.data[0].id, /^fr_/)
    const feeRefunds = await stripe.applicationFees.listRefunds(fee.id)
    assert.deepEqual(
      feeRefunds.data.map((item) => item.amount),
      [500]
    )

    // Platform: 680 pending (see transfers.spec); refund -5000, reversal +5000, fee refund -500.
    assert.deepEqual(amounts(await stripe.balance.retrieve()), {
      available: [-500],
      pending: [680],
    })
    // Connected account: 9000 pending; payment refund -5000, fee refund +500.
    assert.deepEqual(amounts(await stripe.balance.retrieve({}, { stripeAccount: account })), {
      available: [-4500],
      pending: [9000],
    })

    // Refunding the rest reverses the rest of the transfer and the fee.
    await stripe.refunds.create({
      charge: chargeId,
      reverse_transfer: true,
      refund_application_fee: true,
    })
    const after = await stripe.transfers.retrieve(transfer.id)
    assert.equal(after.amount_reversed, 10000)
    assert.isTrue(after.reversed)
    const feeAfter = await stripe.applicationFees.retrieve(fee.id)
    assert.equal(feeAfter.amount_refunded, 1000)
    assert.isTrue(feeAfter.refunded)
    // Platform: the charge fee (320) is what remains lost; everything else nets out.
    assert.deepEqual(amounts(await stripe.balance.retrieve()), {
      available: [-1000],
      pending: [680],
    })
  })
})

test.group('Stripe sandbox: disputes', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(group, (started, client) => {
    sandbox = started
    stripe = client
  })

  async function paidCharge(amount = 2000): Promise<string> {
    const intent = await stripe.paymentIntents.create({
      amount,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
    })
    return String(intent.latest_charge)
  }

  test('the sim opens a dispute: funds withdrawn with the fee, refunds refused', async ({
    assert,
  }) => {
    const chargeId = await paidCharge(2000)
    const before = new Set(sandbox.eventLog().map((event) => event.id))
    const opened = await simPost(sandbox, `/_sim/charges/${chargeId}/dispute`, {
      reason: 'fraudulent',
    })
    assert.equal(opened.status, 200)
    const disputeId = String(opened.body.id)
    assert.match(disputeId, /^dp_/)
    const events = sandbox
      .eventLog()
      .filter((event) => !before.has(event.id))
      .reverse()
    assert.deepEqual(
      events.map((event) => event.type),
      ['charge.dispute.created', 'charge.dispute.funds_withdrawn']
    )
    for (const event of events) assert.deepEqual(event.request, { id: null, idempotency_key: null })

    const dispute = await stripe.disputes.retrieve(disputeId, { expand: ['charge'] })
    assert.equal(dispute.object, 'dispute')
    assert.equal(dispute.status, 'needs_response')
    assert.equal(dispute.reason, 'fraudulent')
    assert.equal(dispute.amount, 2000)
    assert.equal(dispute.currency, 'usd')
    assert.isFalse(dispute.is_charge_refundable)
    assert.equal(dispute.evidence_details.due_by, dispute.created + 7 * DAY)
    assert.isFalse(dispute.evidence_details.has_evidence)
    assert.equal(dispute.evidence_details.submission_count, 0)
    assert.isNull(dispute.evidence.customer_name)
    assert.equal(dispute.payment_method_details?.card?.brand, 'visa')
    assert.equal(dispute.payment_method_details?.card?.case_type, 'chargeback')
    const charge = dispute.charge as Stripe.Charge
    assert.equal(charge.id, chargeId)
    assert.isTrue(charge.disputed)
    assert.lengthOf(dispute.balance_transactions, 1)
    const [withdrawal] = dispute.balance_transactions
    assert.equal(withdrawal.type, 'adjustment')
    assert.equal(withdrawal.reporting_category, 'dispute')
    assert.equal(withdrawal.amount, -2000)
    assert.equal(withdrawal.fee, 1500)
    assert.equal(withdrawal.net, -3500)

    const refund = await stripeError(stripe.refunds.create({ charge: chargeId }))
    assert.equal(refund.statusCode, 400)
    assert.equal(refund.code, 'charge_disputed')

    const twice = await simPost(sandbox, `/_sim/charges/${chargeId}/dispute`)
    assert.equal(twice.status, 400)
    const unknown = await simPost(sandbox, '/_sim/charges/ch_missing/dispute')
    assert.equal(unknown.status, 400)
    assert.equal(
      (unknown.body.error as { message: string }).message,
      "No such charge: 'ch_missing'"
    )

    // 2000 - 88 pending; -3500 available.
    assert.deepEqual(amounts(await stripe.balance.retrieve()), {
      available: [-3500],
      pending: [1912],
    })
  })

  test('evidence, submission and a won dispute reinstate the funds', async ({ assert }) => {
    const chargeId = await paidCharge(2000)
    const dispute = createDispute(sandbox.context, chargeId, { reason: 'product_not_received' })
    assert.equal(dispute.reason, 'product_not_received')

    const events = await eventsDuring(sandbox, () =>
      stripe.disputes.update(dispute.id, {
        evidence: { customer_name: 'Ada', uncategorized_text: 'Delivered on time' },
        metadata: { case: '7' },
      })
    )
    assert.deepEqual(
      events.map((event) => event.type),
      ['charge.dispute.updated']
    )
    assert.deepEqual(events[0].data.previous_attributes, {
      evidence: { customer_name: null, uncategorized_text: null },
      evidence_details: { has_evidence: false },
      metadata: { case: null },
    })
    const submitted = await stripe.disputes.update(dispute.id, { submit: true })
    assert.equal(submitted.status, 'under_review')
    assert.equal(submitted.evidence_details.submission_count, 1)
    assert.equal(submitted.evidence.customer_name, 'Ada')
    const locked = await stripeError(
      stripe.disputes.update(dispute.id, { evidence: { customer_name: 'Eve' } })
    )
    assert.equal(locked.statusCode, 400)

    const won = await simPost(sandbox, `/_sim/disputes/${dispute.id}/close`, { outcome: 'won' })
    assert.equal(won.status, 200)
    assert.equal(won.body.status, 'won')
    const closing = sandbox.eventLog().slice(0, 2).reverse()
    assert.deepEqual(
      closing.map((event) => event.type),
      ['charge.dispute.closed', 'charge.dispute.funds_reinstated']
    )
    assert.equal(
      (closing[0].data.previous_attributes as { status?: string } | undefined)?.status,
      'under_review'
    )
    const closed = await stripe.disputes.retrieve(dispute.id)
    assert.deepEqual(
      closed.balance_transactions.map((txn) => [txn.amount, txn.fee, txn.net]),
      [
        [-2000, 1500, -3500],
        [2000, -1500, 3500],
      ]
    )
    assert.deepEqual(amounts(await stripe.balance.retrieve()), { available: [0], pending: [1912] })

    const badOutcome = await simPost(sandbox, `/_sim/disputes/${dispute.id}/close`, {
      outcome: 'maybe',
    })
    assert.equal(badOutcome.status, 400)
    const closeAgain = await stripeError(stripe.disputes.close(dispute.id))
    assert.equal(closeAgain.statusCode, 400)
    // A won dispute no longer blocks refunds.
    const refund = await stripe.refunds.create({ charge: chargeId, amount: 100 })
    assert.equal(refund.status, 'succeeded')
  })

  test('a 4000000000000259 payment is disputed right after it succeeds', async ({ assert }) => {
    let intent: Stripe.PaymentIntent | undefined
    const events = await eventsDuring(sandbox, async () => {
      intent = await stripe.paymentIntents.create({
        amount: 4200,
        currency: 'usd',
        payment_method: 'pm_card_createDispute',
        confirm: true,
      })
    })
    assert.equal(intent?.status, 'succeeded')
    assert.deepEqual(
      events.map((event) => event.type),
      [
        'payment_intent.created',
        'charge.succeeded',
        'payment_intent.succeeded',
        'charge.dispute.created',
        'charge.dispute.funds_withdrawn',
      ]
    )
    const disputes = await stripe.disputes.list({ charge: String(intent?.latest_charge) })
    assert.lengthOf(disputes.data, 1)
    assert.equal(disputes.data[0].reason, 'fraudulent')
    assert.equal(disputes.data[0].amount, 4200)
    const charge = await stripe.charges.retrieve(String(intent?.latest_charge))
    assert.isTrue(charge.disputed)
  })

  test('closing through the API accepts the loss; unanswered disputes are lost when due', async ({
    assert,
  }) => {
    const first = createDispute(sandbox.context, await paidCharge(1000))
    let closed: Stripe.Response<Stripe.Dispute> | undefined
    const events = await eventsDuring(sandbox, async () => {
      closed = await stripe.disputes.close(first.id)
    })
    assert.equal(closed?.status, 'lost')
    assert.deepEqual(
      events.map((event) => event.type),
      ['charge.dispute.closed']
    )
    assert.equal(events[0].request?.id, closed?.lastResponse.requestId)
    assert.lengthOf(closed?.balance_transactions ?? [], 1)

    const second = createDispute(sandbox.context, await paidCharge(3000), { reason: 'general' })
    const third = createDispute(sandbox.context, await paidCharge(4000))
    await stripe.disputes.update(third.id, { submit: true })
    const later = await eventsDuring(sandbox, () => sandbox.advanceClock(8 * DAY))
    const closedLater = later.filter((event) => event.type === 'charge.dispute.closed')
    assert.lengthOf(closedLater, 1)
    const lost = closedLater[0].data.object as Stripe.Dispute
    assert.equal(lost.id, second.id)
    assert.equal(lost.status, 'lost')
    assert.isTrue(lost.evidence_details.past_due)
    assert.deepEqual(closedLater[0].request, { id: null, idempotency_key: null })
    const stillUnderReview = await stripe.disputes.retrieve(third.id)
    assert.equal(stillUnderReview.status, 'under_review')

    const list = await stripe.disputes.list({ limit: 2 })
    assert.equal(list.url, '/v1/disputes')
    assert.deepEqual(
      list.data.map((item) => item.id),
      [third.id, second.id]
    )
    assert.isTrue(list.has_more)
    const byCharge = await stripe.disputes.list({ charge: String(first.charge) })
    assert.deepEqual(
      byCharge.data.map((item) => item.id),
      [first.id]
    )
    const missing = await stripeError(stripe.disputes.retrieve('dp_missing'))
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.message, "No such dispute: 'dp_missing'")
  })
})

test.group('Stripe sandbox: money objects match Stripe shapes', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(
    group,
    (started, client) => {
      sandbox = started
      stripe = client
    },
    { reset: false }
  )

  test('every stored object and event of a full money flow passes the fidelity sweep', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'shape@example.com' })
    const account = await connectedAccount(stripe, sandbox, true, {
      type: 'express',
      capabilities: { transfers: { requested: true } },
    })
    const intent = await stripe.paymentIntents.create({
      amount: 10000,
      currency: 'usd',
      customer: customer.id,
      payment_method: 'pm_card_visa',
      confirm: true,
      application_fee_amount: 1000,
      transfer_data: { destination: account },
      setup_future_usage: 'off_session',
    })
    await stripe.refunds.create({
      payment_intent: intent.id,
      amount: 2000,
      reverse_transfer: true,
      refund_application_fee: true,
    })
    await stripeError(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_chargeDeclined',
        confirm: true,
      })
    )
    const plain = await stripe.paymentIntents.create({
      amount: 3000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
    })
    const transfer = await stripe.transfers.create({
      amount: 1000,
      currency: 'usd',
      destination: account,
      source_transaction: String(plain.latest_charge),
    })
    await stripe.transfers.createReversal(transfer.id, { amount: 100 })
    const dispute = createDispute(sandbox.context, String(plain.latest_charge))
    await simPost(sandbox, `/_sim/disputes/${dispute.id}/close`, { outcome: 'won' })
    await sandbox.advanceClock(3 * DAY)

    const report = explainStore(sandbox)
    assert.deepEqual(report.problems, [])
    for (const type of [
      'payment_method',
      'payment_intent',
      'charge',
      'refund',
      'dispute',
      'balance_transaction',
      'transfer',
      'transfer_reversal',
      'application_fee',
      'fee_refund',
      'event',
    ]) {
      assert.include(report.checked, type)
    }
    const expanded = await stripe.charges.retrieve(String(intent.latest_charge), {
      expand: ['refunds', 'balance_transaction', 'transfer', 'application_fee'],
    })
    assert.deepEqual(checkShape(expanded), [])
    assert.deepEqual(checkShape(await stripe.balance.retrieve()), [])
  })
})
