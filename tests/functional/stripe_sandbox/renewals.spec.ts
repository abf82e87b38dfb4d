import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '@japa/runner'
import type Stripe from 'stripe'
import { sweepStore } from '../../../sandbox/stripe/fidelity.js'
import { StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import {
  WebhookReceiver,
  addMonths,
  eventsSince,
  markOf,
  recurringPrice,
  sdk,
  statusOf,
} from './helpers.js'

const DAY = 86_400

async function subscribe(
  stripe: Stripe,
  paymentMethod: string,
  extra: Partial<Stripe.SubscriptionCreateParams> = {}
) {
  const price = await recurringPrice(stripe, 2000, 'Studio Pro')
  const customer = await stripe.customers.create({ email: 'renew@example.com' })
  const subscription = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    default_payment_method: paymentMethod,
    ...extra,
  })
  return { price, customer, subscription }
}

async function invoicesOf(stripe: Stripe, subscription: string): Promise<Stripe.Invoice[]> {
  const list = await stripe.invoices.list({ subscription, limit: 100 })
  return list.data.slice().reverse()
}

test.group('Stripe sandbox: renewals over time', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  group.each.setup(async () => {
    sandbox = await StripeSandbox.start({ port: 0 })
    stripe = sdk(sandbox)
    return () => sandbox.stop()
  })

  test('renews at period end: periods advance and a subscription_cycle invoice is paid off-session', async ({
    assert,
  }) => {
    const { subscription: sub } = await subscribe(stripe, 'pm_card_visa')
    const firstInvoice = String(sub.latest_invoice)
    const end = sub.items.data[0].current_period_end
    const mark = markOf(sandbox)
    await sandbox.advanceClock(end - sandbox.now() + 10)

    const renewed = await stripe.subscriptions.retrieve(sub.id)
    assert.equal(renewed.status, 'active')
    assert.equal(renewed.items.data[0].current_period_start, end)
    assert.equal(renewed.items.data[0].current_period_end, addMonths(sub.created, 2))
    assert.notEqual(renewed.latest_invoice, firstInvoice)

    const [first, second] = await invoicesOf(stripe, sub.id)
    assert.equal(first.id, firstInvoice)
    assert.equal(second.billing_reason, 'subscription_cycle')
    assert.equal(second.status, 'paid')
    assert.equal(second.amount_due, 2000)
    assert.equal(second.amount_paid, 2000)
    assert.equal(second.amount_remaining, 0)
    assert.equal(second.created, end)
    assert.equal(second.period_start, sub.created)
    assert.equal(second.period_end, end)
    assert.equal(second.status_transitions.paid_at, end)
    assert.deepEqual(second.lines.data[0].period, { start: end, end: addMonths(sub.created, 2) })
    assert.equal(second.number?.replace(/^.*-/, ''), '0002')
    assert.equal(first.number?.replace(/^.*-/, ''), '0001')
    assert.equal(second.number?.split('-')[0], first.number?.split('-')[0])

    const events = eventsSince(sandbox, mark)
    assert.deepEqual(
      events.map((event) => event.type),
      [
        'customer.subscription.updated',
        'invoice.created',
        'invoice.finalized',
        'payment_intent.created',
        'charge.succeeded',
        'payment_intent.succeeded',
        'invoice.paid',
        'invoice.payment_succeeded',
        'invoice_payment.paid',
      ]
    )
    assert.isTrue(events.every((event) => event.request?.id === null))
    const previous = events[0].data.previous_attributes as {
      items: { data: Stripe.SubscriptionItem[] }
      latest_invoice: string
    }
    assert.equal(previous.items.data[0].current_period_end, end)
    assert.equal(previous.items.data[0].current_period_start, sub.created)
    assert.equal(previous.latest_invoice, firstInvoice)
    const intent = events[5].data.object as Stripe.PaymentIntent
    assert.equal(intent.description, 'Subscription update')
    assert.equal(intent.amount, 2000)
  })

  test('0341 card: renewal fails, past_due, retries on the schedule, then canceled', async ({
    assert,
  }) => {
    // On-session creation succeeds with the 0341 card; off-session renewals fail.
    const { subscription: sub } = await subscribe(stripe, 'pm_card_chargeCustomerFail')
    assert.equal(sub.status, 'active')
    const end = sub.items.data[0].current_period_end

    let mark = markOf(sandbox)
    await sandbox.advanceClock(end - sandbox.now() + 10)
    let events = eventsSince(sandbox, mark)
    assert.deepEqual(
      events.map((event) => event.type),
      [
        'customer.subscription.updated',
        'invoice.created',
        'invoice.finalized',
        'payment_intent.created',
        'charge.failed',
        'payment_intent.payment_failed',
        'invoice.payment_failed',
        'customer.subscription.updated',
      ]
    )
    assert.deepEqual(events[7].data.previous_attributes, { status: 'active' })
    assert.equal((events[7].data.object as Stripe.Subscription).status, 'past_due')
    let [, invoice] = await invoicesOf(stripe, sub.id)
    assert.equal(invoice.status, 'open')
    assert.equal(invoice.attempt_count, 1)
    assert.equal(invoice.next_payment_attempt, end + 3 * DAY)
    assert.equal((events[6].data.object as Stripe.Invoice).attempt_count, 1)
    assert.equal(await statusOf(stripe, sub.id), 'past_due')
    const payments = await stripe.invoicePayments.list({ invoice: invoice.id })
    assert.lengthOf(payments.data, 1)
    assert.equal(payments.data[0].status, 'open')
    const intentId = String(payments.data[0].payment.payment_intent)
    const intent = await stripe.paymentIntents.retrieve(intentId)
    assert.equal(intent.status, 'requires_payment_method')
    assert.equal(intent.last_payment_error?.code, 'card_declined')

    // Retry 1 (day 3) and 2 (day 5).
    for (const [attempt, next] of [
      [2, end + 5 * DAY],
      [3, end + 7 * DAY],
    ] as const) {
      mark = markOf(sandbox)
      await sandbox.advanceClock(Number(invoice.next_payment_attempt) - sandbox.now() + 10)
      invoice = await stripe.invoices.retrieve(invoice.id)
      assert.equal(invoice.attempt_count, attempt)
      assert.equal(invoice.next_payment_attempt, next)
      assert.equal(invoice.status, 'open')
      events = eventsSince(sandbox, mark)
      assert.deepEqual(
        events.map((event) => event.type),
        ['charge.failed', 'payment_intent.payment_failed', 'invoice.payment_failed']
      )
      assert.equal((events[1].data.object as Stripe.PaymentIntent).id, intentId)
    }

    // Last retry (day 7) fails: afterFinalFailure 'cancel' (the default).
    mark = markOf(sandbox)
    await sandbox.advanceClock(Number(invoice.next_payment_attempt) - sandbox.now() + 10)
    events = eventsSince(sandbox, mark)
    assert.deepEqual(
      events.map((event) => event.type),
      [
        'charge.failed',
        'payment_intent.payment_failed',
        'invoice.payment_failed',
        'customer.subscription.deleted',
        'invoice.updated',
      ]
    )
    // The canceled subscription's open invoice is no longer collected automatically.
    assert.deepEqual(events[4].data.previous_attributes, { auto_advance: true })
    assert.isFalse((events[4].data.object as Stripe.Invoice).auto_advance)
    assert.isNull((events[2].data.object as Stripe.Invoice).next_payment_attempt)
    assert.equal((events[2].data.object as Stripe.Invoice).attempt_count, 4)
    const canceled = await stripe.subscriptions.retrieve(sub.id)
    assert.equal(canceled.status, 'canceled')
    assert.equal(canceled.ended_at, end + 7 * DAY)
    assert.equal(canceled.cancellation_details?.reason, 'payment_failed')
    invoice = await stripe.invoices.retrieve(invoice.id)
    assert.equal(invoice.status, 'open')
    assert.isNull(invoice.next_payment_attempt)

    // Nothing more happens to a canceled subscription.
    mark = markOf(sandbox)
    await sandbox.advanceClock(60 * DAY)
    assert.lengthOf(
      eventsSince(sandbox, mark).filter((event) => event.type.startsWith('invoice.')),
      0
    )
  })

  test('cancelling a past_due subscription stops its retries (auto_advance false, invoice.updated)', async ({
    assert,
  }) => {
    const { subscription: sub } = await subscribe(stripe, 'pm_card_chargeCustomerFail')
    const end = sub.items.data[0].current_period_end
    await sandbox.advanceClock(end - sandbox.now() + 10)
    assert.equal(await statusOf(stripe, sub.id), 'past_due')
    let [, invoice] = await invoicesOf(stripe, sub.id)
    assert.equal(invoice.status, 'open')
    assert.equal(invoice.attempt_count, 1)
    assert.equal(invoice.next_payment_attempt, end + 3 * DAY)
    assert.isTrue(invoice.auto_advance)

    let mark = markOf(sandbox)
    const canceled = await stripe.subscriptions.cancel(sub.id)
    assert.equal(canceled.status, 'canceled')
    const events = eventsSince(sandbox, mark)
    assert.deepEqual(
      events.map((event) => event.type),
      ['customer.subscription.deleted', 'invoice.updated']
    )
    assert.equal((events[1].data.object as Stripe.Invoice).id, invoice.id)
    assert.deepEqual(events[1].data.previous_attributes, {
      auto_advance: true,
      next_payment_attempt: end + 3 * DAY,
    })
    assert.isNotNull(events[1].request?.id)
    invoice = await stripe.invoices.retrieve(invoice.id)
    assert.equal(invoice.status, 'open')
    assert.isFalse(invoice.auto_advance)
    assert.isNull(invoice.next_payment_attempt)

    // Past every retry day (3, 5, 7) and the next period: no further charge attempts.
    mark = markOf(sandbox)
    await sandbox.advanceClock(40 * DAY)
    const later = eventsSince(sandbox, mark).map((event) => event.type)
    assert.deepEqual(
      later.filter(
        (type) =>
          type.startsWith('charge.') ||
          type.startsWith('payment_intent.') ||
          type.startsWith('invoice.')
      ),
      []
    )
    invoice = await stripe.invoices.retrieve(invoice.id)
    assert.equal(invoice.attempt_count, 1)
    assert.equal(invoice.status, 'open')
    assert.lengthOf(await invoicesOf(stripe, sub.id), 2)
  })

  test('afterFinalFailure mark_unpaid: unpaid, and later invoices stay drafts', async ({
    assert,
  }) => {
    sandbox.settings.billing.retryScheduleDays = [1]
    sandbox.settings.billing.afterFinalFailure = 'mark_unpaid'
    const { subscription: sub } = await subscribe(stripe, 'pm_card_chargeCustomerFail')
    const end = sub.items.data[0].current_period_end
    await sandbox.advanceClock(end - sandbox.now() + 10)
    const mark = markOf(sandbox)
    await sandbox.advanceClock(DAY)
    const events = eventsSince(sandbox, mark)
    assert.deepEqual(events.map((event) => event.type).slice(-2), [
      'invoice.payment_failed',
      'customer.subscription.updated',
    ])
    assert.deepEqual(events[events.length - 1].data.previous_attributes, { status: 'past_due' })
    const unpaid = await stripe.subscriptions.retrieve(sub.id)
    assert.equal(unpaid.status, 'unpaid')

    const next = unpaid.items.data[0].current_period_end
    await sandbox.advanceClock(next - sandbox.now() + 10)
    const invoices = await invoicesOf(stripe, sub.id)
    assert.lengthOf(invoices, 3)
    assert.equal(invoices[2].status, 'draft')
    assert.isFalse(invoices[2].auto_advance)
    assert.equal(invoices[2].billing_reason, 'subscription_cycle')
    assert.equal(await statusOf(stripe, sub.id), 'unpaid')
  })

  test('afterFinalFailure leave_past_due keeps the subscription past_due', async ({ assert }) => {
    sandbox.settings.billing.retryScheduleDays = [2]
    sandbox.settings.billing.afterFinalFailure = 'leave_past_due'
    const { subscription: sub } = await subscribe(stripe, 'pm_card_chargeCustomerFail')
    const end = sub.items.data[0].current_period_end
    await sandbox.advanceClock(end - sandbox.now() + 3 * DAY)
    const after = await stripe.subscriptions.retrieve(sub.id)
    assert.equal(after.status, 'past_due')
    const [, invoice] = await invoicesOf(stripe, sub.id)
    assert.equal(invoice.attempt_count, 2)
    assert.isNull(invoice.next_payment_attempt)
    assert.equal(invoice.status, 'open')
  })

  test('a retry succeeds after the payment method is fixed: paid and active again', async ({
    assert,
  }) => {
    const { subscription: sub } = await subscribe(stripe, 'pm_card_chargeCustomerFail')
    const end = sub.items.data[0].current_period_end
    await sandbox.advanceClock(end - sandbox.now() + 10)
    assert.equal(await statusOf(stripe, sub.id), 'past_due')
    await stripe.subscriptions.update(sub.id, { default_payment_method: 'pm_card_visa' })

    const mark = markOf(sandbox)
    await sandbox.advanceClock(3 * DAY)
    const events = eventsSince(sandbox, mark)
    assert.deepEqual(
      events.map((event) => event.type),
      [
        'charge.succeeded',
        'payment_intent.succeeded',
        'invoice.paid',
        'invoice.payment_succeeded',
        'invoice_payment.paid',
        'customer.subscription.updated',
      ]
    )
    assert.deepEqual(events[5].data.previous_attributes, { status: 'past_due' })
    const [, invoice] = await invoicesOf(stripe, sub.id)
    assert.equal(invoice.status, 'paid')
    assert.equal(invoice.attempt_count, 2)
    assert.equal(invoice.amount_paid, 2000)
    assert.isNull(invoice.next_payment_attempt)
    assert.equal(await statusOf(stripe, sub.id), 'active')
  })

  test('cancel_at_period_end: deleted at period end, no renewal invoice', async ({ assert }) => {
    const { subscription: sub } = await subscribe(stripe, 'pm_card_visa')
    const end = sub.items.data[0].current_period_end
    await stripe.subscriptions.update(sub.id, { cancel_at_period_end: true })
    const mark = markOf(sandbox)
    await sandbox.advanceClock(end - sandbox.now() - 60)
    assert.equal(await statusOf(stripe, sub.id), 'active')
    await sandbox.advanceClock(120)
    const events = eventsSince(sandbox, mark)
    assert.deepEqual(
      events.map((event) => event.type),
      ['customer.subscription.deleted']
    )
    assert.isNull(events[0].request?.id)
    const ended = await stripe.subscriptions.retrieve(sub.id)
    assert.equal(ended.status, 'canceled')
    assert.equal(ended.ended_at, end)
    assert.equal(ended.cancellation_details?.reason, 'cancellation_requested')
    assert.lengthOf(await invoicesOf(stripe, sub.id), 1)
  })

  test('cancel_at in the middle of a period ends the subscription then', async ({ assert }) => {
    const { subscription: sub } = await subscribe(stripe, 'pm_card_visa')
    const cancelAt = sandbox.now() + 10 * DAY
    await stripe.subscriptions.update(sub.id, { cancel_at: cancelAt })
    await sandbox.advanceClock(11 * DAY)
    const ended = await stripe.subscriptions.retrieve(sub.id)
    assert.equal(ended.status, 'canceled')
    assert.equal(ended.ended_at, cancelAt)
    assert.lengthOf(sandbox.eventLog('customer.subscription.deleted'), 1)
  })

  test('a jump over several periods renews each one in order', async ({ assert }) => {
    const { subscription: sub } = await subscribe(stripe, 'pm_card_visa')
    const created = sub.created
    const mark = markOf(sandbox)
    await sandbox.advanceClock(addMonths(created, 3) - sandbox.now() + 3600)
    const invoices = await invoicesOf(stripe, sub.id)
    assert.lengthOf(invoices, 4)
    assert.deepEqual(
      invoices.map((invoice) => invoice.created),
      [created, addMonths(created, 1), addMonths(created, 2), addMonths(created, 3)]
    )
    assert.deepEqual(
      invoices.map((invoice) => invoice.number?.replace(/^.*-/, '')),
      ['0001', '0002', '0003', '0004']
    )
    assert.isTrue(invoices.every((invoice) => invoice.status === 'paid'))
    for (let i = 1; i < 4; i++) {
      assert.deepEqual(invoices[i].lines.data[0].period, {
        start: addMonths(created, i),
        end: addMonths(created, i + 1),
      })
    }
    const renewed = await stripe.subscriptions.retrieve(sub.id)
    assert.equal(renewed.items.data[0].current_period_end, addMonths(created, 4))
    assert.equal(renewed.latest_invoice, invoices[3].id)
    const createdEvents = eventsSince(sandbox, mark).filter(
      (event) => event.type === 'invoice.created'
    )
    assert.deepEqual(
      createdEvents.map((event) => (event.data.object as Stripe.Invoice).id),
      invoices.slice(1).map((invoice) => invoice.id)
    )
  })

  test('a long jump with a failing card processes renewal and every retry in time order', async ({
    assert,
  }) => {
    const { subscription: sub } = await subscribe(stripe, 'pm_card_chargeCustomerFail')
    const end = sub.items.data[0].current_period_end
    const mark = markOf(sandbox)
    await sandbox.advanceClock(end - sandbox.now() + 10 * DAY)
    const types = eventsSince(sandbox, mark)
      .map((event) => event.type)
      .filter(
        (type) => type.startsWith('invoice.payment') || type.startsWith('customer.subscription')
      )
    assert.deepEqual(types, [
      'customer.subscription.updated',
      'invoice.payment_failed',
      'customer.subscription.updated',
      'invoice.payment_failed',
      'invoice.payment_failed',
      'invoice.payment_failed',
      'customer.subscription.deleted',
    ])
    const failures = sandbox
      .eventLog('invoice.payment_failed')
      .reverse()
      .map((event) => (event.data.object as Stripe.Invoice).attempt_count)
    assert.deepEqual(failures, [1, 2, 3, 4])
    const canceled = await stripe.subscriptions.retrieve(sub.id)
    assert.equal(canceled.status, 'canceled')
    assert.equal(canceled.ended_at, end + 7 * DAY)
  })

  test('a trial ends with its first paid invoice; trial_will_end comes 3 days before', async ({
    assert,
  }) => {
    const { subscription: sub } = await subscribe(stripe, 'pm_card_visa', { trial_period_days: 7 })
    const trialEnd = Number(sub.trial_end)
    assert.equal(sub.status, 'trialing')
    await sandbox.advanceClock(4 * DAY + 10)
    const warnings = sandbox.eventLog('customer.subscription.trial_will_end')
    assert.lengthOf(warnings, 1)
    assert.equal((warnings[0].data.object as Stripe.Subscription).id, sub.id)

    const mark = markOf(sandbox)
    await sandbox.advanceClock(trialEnd - sandbox.now() + 10)
    const events = eventsSince(sandbox, mark)
    assert.equal(events[0].type, 'customer.subscription.updated')
    const previous = events[0].data.previous_attributes as Record<string, unknown>
    assert.equal(previous.status, 'trialing')
    const active = await stripe.subscriptions.retrieve(sub.id)
    assert.equal(active.status, 'active')
    assert.equal(active.items.data[0].current_period_start, trialEnd)
    assert.equal(active.items.data[0].current_period_end, addMonths(trialEnd, 1))
    const invoices = await invoicesOf(stripe, sub.id)
    assert.deepEqual(
      invoices.map((invoice) => [invoice.billing_reason, invoice.amount_paid, invoice.status]),
      [
        ['subscription_create', 0, 'paid'],
        ['subscription_cycle', 2000, 'paid'],
      ]
    )
    assert.lengthOf(sandbox.eventLog('customer.subscription.trial_will_end'), 1)
  })

  test('an incomplete subscription expires after 23 hours', async ({ assert }) => {
    const { subscription: sub } = await subscribe(stripe, 'pm_card_chargeDeclined')
    assert.equal(sub.status, 'incomplete')
    await sandbox.advanceClock(22 * 3600)
    assert.equal(await statusOf(stripe, sub.id), 'incomplete')
    const mark = markOf(sandbox)
    await sandbox.advanceClock(3600 + 10)
    assert.deepEqual(
      eventsSince(sandbox, mark).map((event) => event.type),
      ['invoice.voided', 'customer.subscription.deleted']
    )
    const expired = await stripe.subscriptions.retrieve(sub.id)
    assert.equal(expired.status, 'incomplete_expired')
    const invoice = await stripe.invoices.retrieve(String(sub.latest_invoice))
    assert.equal(invoice.status, 'void')
  })

  test('renewal events reach webhooks signed, with request.id null', async ({ assert }) => {
    const receiver = await WebhookReceiver.start()
    try {
      const { secret } = sandbox.addWebhookEndpoint({ url: receiver.url })
      const { subscription: sub } = await subscribe(stripe, 'pm_card_visa')
      await sandbox.waitForIdle()
      receiver.reset()
      await sandbox.advanceClock(sub.items.data[0].current_period_end - sandbox.now() + 10)
      await sandbox.waitForIdle()
      const events = receiver.received.map((hook) =>
        stripe.webhooks.constructEvent(hook.raw, String(hook.headers['stripe-signature']), secret)
      )
      const types = events.map((event) => event.type)
      assert.includeMembers(types, [
        'customer.subscription.updated',
        'invoice.created',
        'invoice.finalized',
        'invoice.paid',
        'invoice.payment_succeeded',
      ])
      const paid = events.find((event) => event.type === 'invoice.paid')
      assert.isNull(paid?.request?.id)
      assert.equal((paid?.data.object as Stripe.Invoice).billing_reason, 'subscription_cycle')
    } finally {
      await receiver.stop()
    }
  })

  test('sim controls (settings, advance_period) and the shapes of every stored billing object', async ({
    assert,
  }) => {
    const post = (path: string, body: Record<string, unknown> = {}) =>
      fetch(`${sandbox.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      })
    const set = await post('/_sim/billing/settings', {
      retry_schedule_days: '1,2',
      after_final_failure: 'mark_unpaid',
    })
    assert.equal(set.status, 200)
    assert.deepEqual(await set.json(), {
      retryScheduleDays: [1, 2],
      afterFinalFailure: 'mark_unpaid',
    })
    const bad = await post('/_sim/billing/settings', { after_final_failure: 'explode' })
    assert.equal(bad.status, 400)
    assert.equal(sandbox.settings.billing.afterFinalFailure, 'mark_unpaid')

    const { customer, subscription: sub } = await subscribe(stripe, 'pm_card_chargeCustomerFail')
    await stripe.invoiceItems.create({
      customer: customer.id,
      amount: 150,
      currency: 'usd',
      subscription: sub.id,
      description: 'Extra seat',
    })
    const advanced = await post(`/_sim/subscriptions/${sub.id}/advance_period`)
    assert.equal(advanced.status, 200)
    const result = (await advanced.json()) as { now: number; subscription: Stripe.Subscription }
    assert.equal(result.subscription.status, 'past_due')
    assert.equal(result.now, sub.items.data[0].current_period_end + 1)
    const [, renewal] = await invoicesOf(stripe, sub.id)
    assert.equal(renewal.total, 2150)
    assert.deepEqual(
      renewal.lines.data.map((line) => line.parent?.type),
      ['subscription_item_details', 'invoice_item_details']
    )
    assert.equal(
      renewal.next_payment_attempt,
      result.subscription.items.data[0].current_period_start + DAY
    )
    await sandbox.advanceClock(2 * DAY + 10)
    assert.equal(await statusOf(stripe, sub.id), 'unpaid')
    const missing = await post('/_sim/subscriptions/sub_missing/advance_period')
    assert.equal(missing.status, 404)

    await stripe.billingPortal.sessions.create({ customer: customer.id })
    const problems = sweepStore(sandbox).filter((problem) =>
      /subscription|invoice|line_item|billing_portal|plan/.test(problem)
    )
    assert.deepEqual(problems, [])
  })
})

test.group('Stripe sandbox: renewals survive a restart', () => {
  test('a subscription persisted to the data file renews after a restart (retry state too)', async ({
    assert,
  }) => {
    const dir = await mkdtemp(join(tmpdir(), 'stripe-billing-'))
    try {
      const dataFile = join(dir, 'stripe.json')
      const first = await StripeSandbox.start({ port: 0, dataFile })
      const { subscription: sub } = await subscribe(sdk(first), 'pm_card_chargeCustomerFail')
      const end = sub.items.data[0].current_period_end
      await first.advanceClock(end - first.now() + 10)
      await first.stop()

      const second = await StripeSandbox.start({ port: 0, dataFile })
      try {
        const stripe = sdk(second)
        const pastDue = await stripe.subscriptions.retrieve(sub.id)
        assert.equal(pastDue.status, 'past_due')
        await second.advanceClock(3 * DAY)
        const invoice = await stripe.invoices.retrieve(String(pastDue.latest_invoice))
        assert.equal(invoice.attempt_count, 2)
        assert.equal(invoice.next_payment_attempt, end + 5 * DAY)
      } finally {
        await second.stop()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
