import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import type Stripe from 'stripe'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { postWebhook, signed } from '../webhooks/helpers.js'
import {
  CARD_OFF_SESSION_DECLINE,
  CARD_OK,
  apiAgent,
  chargeAmounts,
  chargesOf,
  customer,
  earningsOf,
  generate,
  invoiceOf,
  resetData,
  service,
  setDefaultCard,
  settle,
  usage,
} from './helpers.js'

function eventsFor(type: string, stripeInvoiceId: string) {
  return stripeSandbox()
    .eventLog(type)
    .filter((event) => (event.data.object as Stripe.Invoice).id === stripeInvoiceId)
}

async function eventStatus(stripeEventId: string) {
  const row = await db.from('stripe_events').where('stripe_event_id', stripeEventId).first()
  return row?.status as string | undefined
}

test.group('Usage invoices: invoice.paid and invoice.payment_failed', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('a declined charge is failed and past due; Stripe succeeding later marks it paid, duplicates change nothing', async ({
    assert,
  }) => {
    const ada = await customer({ card: CARD_OFF_SESSION_DECLINE })
    const jenny = await customer()
    const bot = await apiAgent(jenny, 'usage-bot-one')
    await usage(ada, [1_000_000], { agent: bot })
    await usage(ada, [500_000])

    const result = await generate('2026-10')
    assert.equal(result.failed, 1)
    assert.equal(result.unpaidCents, 150)
    assert.match(result.outcomes[0].reason!, /declined/i)
    await settle()

    let invoice = await invoiceOf(ada)
    assert.equal(invoice.status, 'failed')
    assert.match(invoice.failureReason!, /declined/i)
    assert.isNotNull(invoice.paymentFailedAt)
    // Stripe keeps the invoice open and retries it (auto_advance after finalize).
    assert.isNotNull(invoice.nextPaymentAttemptAt)
    const [failedEvent] = eventsFor('invoice.payment_failed', invoice.stripeInvoiceId!)
    assert.equal(await eventStatus(failedEvent.id), 'processed')
    const invoices = await service()
    const pastDue = await invoices.pastDue(ada.id)
    assert.deepEqual(
      pastDue.map((row) => row.id),
      [invoice.id]
    )
    assert.lengthOf(await earningsOf(invoice.id), 0, 'no creator share before the money is in')

    // The same event again: recorded once, nothing moves.
    const before = invoice.serialize()
    await stripeSandbox().duplicateEvent(failedEvent.id)
    await settle()
    invoice = await invoiceOf(ada)
    assert.deepEqual(invoice.serialize(), before)

    // A rerun does not charge a declined invoice again: Stripe's retries do.
    const rerun = await generate('2026-10')
    assert.equal(rerun.users, 0)

    // The user fixes the card; Stripe's next attempt succeeds.
    await setDefaultCard(ada.stripeCustomerId!, CARD_OK)
    await stripeClient().invoices.pay(invoice.stripeInvoiceId!)
    await settle()
    invoice = await invoiceOf(ada)
    assert.equal(invoice.status, 'paid')
    assert.isNull(invoice.nextPaymentAttemptAt)
    const [charge] = await chargesOf(ada)
    assert.equal(charge.amount, 150)
    assert.equal(invoice.stripeChargeId, charge.id)
    const [paidEvent] = eventsFor('invoice.paid', invoice.stripeInvoiceId!)
    assert.equal(await eventStatus(paidEvent.id), 'processed')
    assert.deepEqual(await earningsOf(invoice.id), [
      {
        agentId: bot.id,
        kind: 'usage',
        grossCents: 100,
        creatorCents: 90,
        platformCents: 10,
        stripeChargeId: charge.id,
      },
    ])
    assert.lengthOf(await invoices.pastDue(ada.id), 0)

    // invoice.paid twice, and a payment_failed (a new event id) arriving after it: still paid, one earning.
    await stripeSandbox().duplicateEvent(paidEvent.id)
    const late = { ...failedEvent, id: `evt_late_${Date.now()}`, created: paidEvent.created + 60 }
    const body = JSON.stringify(late, null, 2)
    const response = await postWebhook(body, signed(body))
    assert.equal(response.status, 200)
    await settle()
    invoice = await invoiceOf(ada)
    assert.equal(invoice.status, 'paid')
    assert.equal(await eventStatus(late.id), 'processed')
    assert.lengthOf(await earningsOf(invoice.id), 1)
  })

  test('a customer without a payment method: failed with the reason, retried once a card is added', async ({
    assert,
  }) => {
    const ada = await customer({ card: null })
    await usage(ada, [700_000])
    const result = await generate('2026-10')
    assert.equal(result.failed, 1)
    let invoice = await invoiceOf(ada)
    assert.equal(invoice.status, 'failed')
    assert.match(invoice.failureReason!, /payment method/i)

    await setDefaultCard(ada.stripeCustomerId!, CARD_OK)
    await stripeClient().invoices.pay(invoice.stripeInvoiceId!)
    await settle()
    invoice = await invoiceOf(ada)
    assert.equal(invoice.status, 'paid')
    assert.deepEqual(await chargeAmounts(ada), [70])
  })

  test('invoice.paid webhooks of a usage invoice are applied even when generate never saw the answer', async ({
    assert,
  }) => {
    const ada = await customer()
    await usage(ada, [800_000])
    // The run's own pay answer is not needed: the webhook alone marks it paid.
    stripeSandbox().holdWebhooks(true)
    const result = await generate('2026-10')
    assert.equal(result.paid, 1)
    const invoice = await invoiceOf(ada)
    await db
      .from('usage_invoices')
      .where('id', invoice.id)
      .update({ status: 'open', paid_at: null })
    stripeSandbox().releaseWebhooks()
    await settle()
    const after = await invoiceOf(ada)
    assert.equal(after.status, 'paid')
    assert.isNotNull(after.paidAt)
  })
})
