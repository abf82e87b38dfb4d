import { test } from '@japa/runner'
import Stripe from 'stripe'
import { checkShape } from '../../../sandbox/stripe/fidelity.js'
import { type StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import {
  customerWithCard,
  eventsSince,
  markOf,
  recurringPrice,
  stripeError,
  useSandbox,
} from './helpers.js'

test.group('Stripe sandbox: invoices', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe
  let oneTime: Stripe.Price

  useSandbox(
    group,
    async (started, client) => {
      sandbox = started
      stripe = client
      oneTime = await stripe.prices.create({
        currency: 'usd',
        unit_amount: 1250,
        product_data: { name: 'Workshop seat' },
      })
    },
    { reset: false }
  )

  test('pending invoice items, a manual invoice, finalize with numbering, pay with payments', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({
      email: 'manual@example.com',
      name: 'Ada',
      invoice_prefix: 'ADA1',
    })
    const mark = markOf(sandbox)
    const custom = await stripe.invoiceItems.create({
      customer: customer.id,
      amount: 500,
      currency: 'usd',
      description: 'Setup fee',
      metadata: { kind: 'setup' },
    })
    assert.match(custom.id, /^ii_/)
    assert.equal(custom.object, 'invoiceitem')
    assert.isNull(custom.invoice)
    assert.equal(custom.amount, 500)
    assert.equal(custom.quantity, 1)
    assert.deepEqual(checkShape(custom, { expansions: sandbox.expansions }), [])
    const priced = await stripe.invoiceItems.create({
      customer: customer.id,
      pricing: { price: oneTime.id },
      quantity: 2,
    })
    assert.equal(priced.amount, 2500)
    assert.equal(priced.pricing?.price_details?.price, oneTime.id)
    const product = await stripe.products.create({ name: 'Materials' })
    const fromData = await stripe.invoiceItems.create({
      customer: customer.id,
      price_data: { currency: 'usd', product: product.id, unit_amount: 333 },
      quantity: 3,
    })
    assert.equal(fromData.amount, 999)

    const invoice = await stripe.invoices.create({
      customer: customer.id,
      pending_invoice_items_behavior: 'include',
      description: 'March workshop',
      metadata: { order: '42' },
    })
    assert.match(invoice.id, /^in_/)
    assert.equal(invoice.status, 'draft')
    assert.isNull(invoice.number)
    assert.isFalse(invoice.auto_advance)
    assert.equal(invoice.billing_reason, 'manual')
    assert.isNull(invoice.parent)
    assert.equal(invoice.subtotal, 500 + 2500 + 999)
    assert.equal(invoice.total, 3999)
    assert.equal(invoice.amount_due, 3999)
    assert.equal(invoice.customer_email, 'manual@example.com')
    assert.equal(invoice.lines.url, `/v1/invoices/${invoice.id}/lines`)
    assert.deepEqual(
      invoice.lines.data.map((line) => [
        line.parent?.invoice_item_details?.invoice_item,
        line.amount,
      ]),
      [
        [custom.id, 500],
        [priced.id, 2500],
        [fromData.id, 999],
      ]
    )
    assert.equal(invoice.lines.data[0].parent?.type, 'invoice_item_details')
    assert.deepEqual(checkShape(invoice, { expansions: sandbox.expansions }), [])
    const customNow = await stripe.invoiceItems.retrieve(custom.id)
    assert.equal(customNow.invoice, invoice.id)

    const finalized = await stripe.invoices.finalizeInvoice(invoice.id)
    assert.equal(finalized.status, 'open')
    assert.equal(finalized.number, 'ADA1-0001')
    assert.equal(finalized.hosted_invoice_url, `${sandbox.url}/i/${invoice.id}`)
    assert.closeTo(Number(finalized.status_transitions.finalized_at), sandbox.now(), 2)
    assert.equal(finalized.amount_remaining, 3999)
    assert.equal(finalized.ending_balance, 0)

    const paid = await stripe.invoices.pay(invoice.id, {
      payment_method: 'pm_card_visa',
      expand: ['payments'],
    })
    assert.equal(paid.status, 'paid')
    assert.equal(paid.amount_paid, 3999)
    assert.equal(paid.amount_remaining, 0)
    assert.equal(paid.attempt_count, 1)
    assert.isTrue(paid.attempted)
    const inpay = paid.payments?.data[0]
    assert.match(String(inpay?.id), /^inpay_/)
    assert.equal(inpay?.amount_paid, 3999)
    assert.equal(inpay?.amount_requested, 3999)
    assert.equal(inpay?.status, 'paid')
    assert.equal(inpay?.payment.type, 'payment_intent')
    assert.isTrue(inpay?.is_default)
    assert.deepEqual(checkShape(inpay, { expansions: sandbox.expansions }), [])

    const byIntent = await stripe.invoicePayments.list({
      payment: { type: 'payment_intent', payment_intent: String(inpay?.payment.payment_intent) },
    })
    assert.deepEqual(
      byIntent.data.map((payment) => payment.invoice),
      [invoice.id]
    )
    const retrievedPayment = await stripe.invoicePayments.retrieve(String(inpay?.id))
    assert.equal(retrievedPayment.invoice, invoice.id)

    assert.deepEqual(
      eventsSince(sandbox, mark).map((event) => event.type),
      [
        'invoiceitem.created',
        'invoiceitem.created',
        'product.created',
        'price.created',
        'invoiceitem.created',
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

    const second = await stripe.invoices.create({ customer: customer.id })
    await stripe.invoiceItems.create({
      customer: customer.id,
      invoice: second.id,
      amount: 100,
      currency: 'usd',
    })
    const secondFinal = await stripe.invoices.finalizeInvoice(second.id)
    assert.equal(secondFinal.number, 'ADA1-0002')
    assert.equal(secondFinal.total, 100)
  })

  test('pending items are excluded by default; items on drafts can be updated and deleted', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'exclude@example.com' })
    const pending = await stripe.invoiceItems.create({
      customer: customer.id,
      amount: 700,
      currency: 'usd',
    })
    const draft = await stripe.invoices.create({ customer: customer.id })
    assert.lengthOf(draft.lines.data, 0)
    assert.equal(draft.total, 0)
    const stillPending = await stripe.invoiceItems.list({ customer: customer.id, pending: true })
    assert.deepEqual(
      stillPending.data.map((item) => item.id),
      [pending.id]
    )

    const attached = await stripe.invoiceItems.create({
      customer: customer.id,
      invoice: draft.id,
      amount: 400,
      currency: 'usd',
    })
    assert.equal(attached.invoice, draft.id)
    const withItem = await stripe.invoices.retrieve(draft.id)
    assert.equal(withItem.total, 400)
    await stripe.invoiceItems.update(attached.id, { amount: 450, description: 'Adjusted' })
    let refreshed = await stripe.invoices.retrieve(draft.id)
    assert.equal(refreshed.total, 450)
    assert.equal(refreshed.lines.data[0].description, 'Adjusted')

    const mark = markOf(sandbox)
    const deleted = await stripe.invoiceItems.del(attached.id)
    assert.deepEqual({ ...deleted }, { id: attached.id, object: 'invoiceitem', deleted: true })
    refreshed = await stripe.invoices.retrieve(draft.id)
    assert.equal(refreshed.total, 0)
    assert.lengthOf(refreshed.lines.data, 0)
    assert.deepEqual(
      eventsSince(sandbox, mark).map((event) => event.type),
      ['invoiceitem.deleted']
    )

    const noCurrency = await stripeError(
      stripe.invoiceItems.create({ customer: customer.id, amount: 100 })
    )
    assert.equal(noCurrency.param, 'currency')
    const recurring = await recurringPrice(stripe, 100, 'Monthly')
    const wrongType = await stripeError(
      stripe.invoiceItems.create({ customer: customer.id, pricing: { price: recurring.id } })
    )
    assert.equal(wrongType.statusCode, 400)
    assert.match(wrongType.message, /type=one_time/)
  })

  test("finalization applies the customer's credit balance", async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'credit@example.com', balance: -500 })
    const invoice = await stripe.invoices.create({ customer: customer.id })
    await stripe.invoiceItems.create({
      customer: customer.id,
      invoice: invoice.id,
      amount: 1200,
      currency: 'usd',
    })
    const mark = markOf(sandbox)
    const finalized = await stripe.invoices.finalizeInvoice(invoice.id)
    assert.equal(finalized.total, 1200)
    assert.equal(finalized.starting_balance, -500)
    assert.equal(finalized.ending_balance, 0)
    assert.equal(finalized.amount_due, 700)
    assert.equal(finalized.amount_remaining, 700)
    const events = eventsSince(sandbox, mark)
    assert.deepEqual(
      events.map((event) => event.type),
      ['customer.updated', 'invoice.finalized']
    )
    assert.deepEqual(events[0].data.previous_attributes, { balance: -500 })
    assert.equal(((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).balance, 0)

    // A credit bigger than the total pays the invoice by itself.
    const rich = await stripe.customers.create({ email: 'rich@example.com', balance: -5000 })
    const small = await stripe.invoices.create({ customer: rich.id })
    await stripe.invoiceItems.create({
      customer: rich.id,
      invoice: small.id,
      amount: 800,
      currency: 'usd',
    })
    const covered = await stripe.invoices.finalizeInvoice(small.id)
    assert.equal(covered.status, 'paid')
    assert.equal(covered.amount_due, 0)
    assert.equal(covered.starting_balance, -5000)
    assert.equal(covered.ending_balance, -4200)
  })

  test('starting_balance is the balance before finalization, not the part applied', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'credit2@example.com', balance: -1000 })
    const invoice = await stripe.invoices.create({ customer: customer.id })
    await stripe.invoiceItems.create({
      customer: customer.id,
      invoice: invoice.id,
      amount: 600,
      currency: 'usd',
    })
    const mark = markOf(sandbox)
    const finalized = await stripe.invoices.finalizeInvoice(invoice.id)
    assert.equal(finalized.total, 600)
    assert.equal(finalized.starting_balance, -1000)
    assert.equal(finalized.ending_balance, -400)
    assert.equal(finalized.amount_due, 0)
    assert.equal(finalized.status, 'paid')
    const events = eventsSince(sandbox, mark)
    assert.equal(events[0].type, 'customer.updated')
    assert.deepEqual(events[0].data.previous_attributes, { balance: -1000 })
    assert.equal(((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).balance, -400)

    // A debit is added in full: starting_balance is the debit, ending_balance 0.
    const owing = await stripe.customers.create({ email: 'debit@example.com', balance: 300 })
    const debitInvoice = await stripe.invoices.create({ customer: owing.id })
    await stripe.invoiceItems.create({
      customer: owing.id,
      invoice: debitInvoice.id,
      amount: 600,
      currency: 'usd',
    })
    const debited = await stripe.invoices.finalizeInvoice(debitInvoice.id)
    assert.equal(debited.starting_balance, 300)
    assert.equal(debited.ending_balance, 0)
    assert.equal(debited.amount_due, 900)
  })

  test('an invoice item in another currency than its invoice is refused before any price is created', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'currency@example.com' })
    const invoice = await stripe.invoices.create({ customer: customer.id, currency: 'usd' })
    const product = await stripe.products.create({ name: 'Euro workshop' })
    const pricesBefore = sandbox.context.store.list('price').length
    const eventsBefore = sandbox.eventLog().length
    const error = await stripeError(
      stripe.invoiceItems.create({
        customer: customer.id,
        invoice: invoice.id,
        price_data: { currency: 'eur', product: product.id, unit_amount: 900 },
      })
    )
    assert.equal(error.statusCode, 400)
    assert.equal(error.type, 'StripeInvalidRequestError')
    assert.equal(error.param, 'currency')
    assert.include(error.message, '(eur)')
    assert.equal(sandbox.context.store.list('price').length, pricesBefore)
    assert.equal(sandbox.eventLog().length, eventsBefore)
    const amountError = await stripeError(
      stripe.invoiceItems.create({
        customer: customer.id,
        invoice: invoice.id,
        amount: 900,
        currency: 'eur',
      })
    )
    assert.equal(amountError.statusCode, 400)
    assert.equal(amountError.param, 'currency')
    const draft = await stripe.invoices.retrieve(invoice.id)
    assert.lengthOf(draft.lines.data, 0)
    assert.lengthOf(
      sandbox.context.store.list('invoiceitem').filter((ii) => ii.customer === customer.id),
      0
    )
  })

  test('transfer_data[destination] needs an active transfers capability', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'dest@example.com' })
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
    const inactive = await stripeError(
      stripe.invoices.create({ customer: customer.id, transfer_data: { destination: account.id } })
    )
    assert.equal(inactive.statusCode, 400)
    assert.equal(inactive.code, 'insufficient_capabilities_for_transfer')
    assert.equal(inactive.param, 'transfer_data[destination]')
    const missing = await stripeError(
      stripe.invoices.create({
        customer: customer.id,
        transfer_data: { destination: 'acct_1NoSuchAccount00' },
      })
    )
    assert.equal(missing.statusCode, 400)
    assert.equal(missing.code, 'resource_missing')
    assert.equal(missing.param, 'transfer_data[destination]')
    const draft = await stripe.invoices.create({ customer: customer.id })
    const onUpdate = await stripeError(
      stripe.invoices.update(draft.id, { transfer_data: { destination: account.id } })
    )
    assert.equal(onUpdate.code, 'insufficient_capabilities_for_transfer')
    const onboard = await fetch(`${sandbox.url}/_sim/accounts/${account.id}/onboard`, {
      method: 'POST',
    })
    assert.equal(onboard.status, 200)
    const accepted = await stripe.invoices.update(draft.id, {
      transfer_data: { destination: account.id },
    })
    assert.equal(accepted.id, draft.id)
    // Invoice has no transfer_data field in this API version: the engine keeps it.
    assert.equal(
      sandbox.context.store.get('billing.invoice_state', draft.id)?.transferData?.destination,
      account.id
    )
  })

  test('a declined pay is a 402; the invoice stays open and counts the attempt', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'decline@example.com' })
    const invoice = await stripe.invoices.create({ customer: customer.id, auto_advance: true })
    await stripe.invoiceItems.create({
      customer: customer.id,
      invoice: invoice.id,
      amount: 900,
      currency: 'usd',
    })
    await stripe.invoices.finalizeInvoice(invoice.id)
    const mark = markOf(sandbox)
    const error = await stripeError(
      stripe.invoices.pay(invoice.id, { payment_method: 'pm_card_chargeDeclined' })
    )
    assert.instanceOf(error, Stripe.errors.StripeCardError)
    assert.equal(error.statusCode, 402)
    assert.equal(error.code, 'card_declined')
    assert.equal(error.decline_code, 'generic_decline')
    const after = await stripe.invoices.retrieve(invoice.id)
    assert.equal(after.status, 'open')
    assert.equal(after.attempt_count, 1)
    assert.isTrue(after.attempted)
    const failedAt = sandbox.now()
    assert.closeTo(Number(after.next_payment_attempt), failedAt + 3 * 86400, 3)
    const types = eventsSince(sandbox, mark).map((event) => event.type)
    assert.deepEqual(types.slice(-1), ['invoice.payment_failed'])
    const payments = await stripe.invoicePayments.list({ invoice: invoice.id })
    assert.equal(payments.data[0].status, 'open')
    assert.isNull(payments.data[0].amount_paid)

    const paid = await stripe.invoices.pay(invoice.id, { payment_method: 'pm_card_visa' })
    assert.equal(paid.status, 'paid')
    assert.equal(paid.attempt_count, 2)
    const again = await stripe.invoicePayments.list({ invoice: invoice.id })
    assert.lengthOf(again.data, 1)
    assert.equal(again.data[0].status, 'paid')
  })

  test('state errors: pay void, finalize twice, void paid, delete open, locked updates', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'states@example.com' })
    const invoice = await stripe.invoices.create({ customer: customer.id })
    await stripe.invoiceItems.create({
      customer: customer.id,
      invoice: invoice.id,
      amount: 300,
      currency: 'usd',
    })
    const draftUpdate = await stripe.invoices.update(invoice.id, {
      description: 'Draft note',
      collection_method: 'send_invoice',
      days_until_due: 14,
    })
    assert.equal(draftUpdate.collection_method, 'send_invoice')
    assert.equal(draftUpdate.due_date, draftUpdate.created + 14 * 86400)
    const updatedEvent = sandbox.eventLog('invoice.updated')[0]
    assert.deepEqual(updatedEvent.data.previous_attributes, {
      collection_method: 'charge_automatically',
      description: null,
      due_date: null,
    })

    await stripe.invoices.finalizeInvoice(invoice.id)
    const twice = await stripeError(stripe.invoices.finalizeInvoice(invoice.id))
    assert.equal(twice.statusCode, 400)
    assert.equal(
      twice.message,
      "This invoice is already finalized, you can't re-finalize a non-draft invoice."
    )
    const locked = await stripeError(
      stripe.invoices.update(invoice.id, { collection_method: 'charge_automatically' })
    )
    assert.equal(locked.statusCode, 400)
    assert.equal(locked.param, 'collection_method')
    const meta = await stripe.invoices.update(invoice.id, { metadata: { ok: 'yes' } })
    assert.deepEqual(meta.metadata, { ok: 'yes' })
    const deleteOpen = await stripeError(stripe.invoices.del(invoice.id))
    assert.equal(deleteOpen.statusCode, 400)
    await stripe.invoices.sendInvoice(invoice.id)
    assert.equal((sandbox.eventLog('invoice.sent')[0].data.object as Stripe.Invoice).id, invoice.id)

    const mark = markOf(sandbox)
    const voided = await stripe.invoices.voidInvoice(invoice.id)
    assert.equal(voided.status, 'void')
    assert.equal(voided.amount_remaining, 0)
    assert.closeTo(Number(voided.status_transitions.voided_at), sandbox.now(), 2)
    assert.deepEqual(
      eventsSince(sandbox, mark).map((event) => event.type),
      ['invoice.voided']
    )
    const payVoid = await stripeError(
      stripe.invoices.pay(invoice.id, { payment_method: 'pm_card_visa' })
    )
    assert.equal(payVoid.statusCode, 400)
    assert.match(payVoid.message, /voided/)
    const voidTwice = await stripeError(stripe.invoices.voidInvoice(invoice.id))
    assert.equal(voidTwice.statusCode, 400)

    const paidOne = await stripe.invoices.create({ customer: customer.id })
    await stripe.invoiceItems.create({
      customer: customer.id,
      invoice: paidOne.id,
      amount: 300,
      currency: 'usd',
    })
    const outOfBand = await stripe.invoices.pay(paidOne.id, { paid_out_of_band: true })
    assert.equal(outOfBand.status, 'paid')
    assert.equal(outOfBand.amount_paid, 300)
    assert.equal(outOfBand.amount_paid_off_stripe, 300)
    const voidPaid = await stripeError(stripe.invoices.voidInvoice(paidOne.id))
    assert.equal(voidPaid.statusCode, 400)
    const payPaid = await stripeError(stripe.invoices.pay(paidOne.id))
    assert.equal(payPaid.message, 'Invoice is already paid')
    const outOfBandEvents = sandbox
      .eventLog()
      .filter((event) => (event.data.object as { id?: string }).id === paidOne.id)
      .map((event) => event.type)
      .reverse()
    assert.deepEqual(outOfBandEvents, ['invoice.created', 'invoice.finalized', 'invoice.paid'])

    const missing = await stripeError(stripe.invoices.retrieve('in_missing'))
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.code, 'resource_missing')
  })

  test('mark_uncollectible, delete a draft, list filters', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'list-inv@example.com' })
    const open = await stripe.invoices.create({ customer: customer.id })
    await stripe.invoiceItems.create({
      customer: customer.id,
      invoice: open.id,
      amount: 200,
      currency: 'usd',
    })
    await stripe.invoices.finalizeInvoice(open.id)
    const bad = await stripe.invoices.markUncollectible(open.id)
    assert.equal(bad.status, 'uncollectible')
    assert.isNotNull(bad.status_transitions.marked_uncollectible_at)
    assert.equal(
      (sandbox.eventLog('invoice.marked_uncollectible')[0].data.object as Stripe.Invoice).id,
      open.id
    )

    const draft = await stripe.invoices.create({ customer: customer.id })
    const item = await stripe.invoiceItems.create({
      customer: customer.id,
      invoice: draft.id,
      amount: 50,
      currency: 'usd',
    })
    const deleted = await stripe.invoices.del(draft.id)
    assert.deepEqual({ ...deleted }, { id: draft.id, object: 'invoice', deleted: true })
    assert.equal(
      (sandbox.eventLog('invoice.deleted')[0].data.object as Stripe.Invoice).id,
      draft.id
    )
    const released = await stripe.invoiceItems.retrieve(item.id)
    assert.isNull(released.invoice)
    const gone = await stripe.invoices.retrieve(draft.id)
    assert.isTrue((gone as unknown as Stripe.DeletedInvoice).deleted)

    const keep = await stripe.invoices.create({ customer: customer.id })
    const drafts = await stripe.invoices.list({ customer: customer.id, status: 'draft' })
    assert.deepEqual(
      drafts.data.map((invoice) => invoice.id),
      [keep.id]
    )
    const all = await stripe.invoices.list({ customer: customer.id })
    assert.deepEqual(
      all.data.map((invoice) => invoice.id),
      [keep.id, open.id]
    )
    assert.equal(all.url, '/v1/invoices')
  })

  test('invoice lines paginate; invoices for a subscription list by subscription', async ({
    assert,
  }) => {
    const customer = await stripe.customers.create({ email: 'lines@example.com' })
    const invoice = await stripe.invoices.create({ customer: customer.id })
    const ids: string[] = []
    for (const amount of [100, 200, 300]) {
      const item = await stripe.invoiceItems.create({
        customer: customer.id,
        invoice: invoice.id,
        amount,
        currency: 'usd',
      })
      ids.push(item.id)
    }
    const page1 = await stripe.invoices.listLineItems(invoice.id, { limit: 2 })
    assert.equal(page1.url, `/v1/invoices/${invoice.id}/lines`)
    assert.isTrue(page1.has_more)
    assert.deepEqual(
      page1.data.map((line) => line.amount),
      [100, 200]
    )
    const page2 = await stripe.invoices.listLineItems(invoice.id, {
      limit: 2,
      starting_after: page1.data[1].id,
    })
    assert.isFalse(page2.has_more)
    assert.deepEqual(
      page2.data.map((line) => line.parent?.invoice_item_details?.invoice_item),
      [ids[2]]
    )

    const price = await recurringPrice(stripe, 900, 'Basic')
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      default_payment_method: 'pm_card_visa',
    })
    const bySub = await stripe.invoices.list({ subscription: sub.id })
    assert.deepEqual(
      bySub.data.map((inv) => inv.id),
      [sub.latest_invoice]
    )
    const line = bySub.data[0].lines.data[0]
    assert.equal(line.parent?.type, 'subscription_item_details')
    assert.equal(line.pricing?.price_details?.price, price.id)
    assert.equal(String(line.pricing?.unit_amount_decimal), '900')
    assert.equal(line.description, '1 × Basic (at $9.00 / month)')
  })

  test('an auto-advancing invoice is charged automatically about an hour after finalizing', async ({
    assert,
  }) => {
    const { customer } = await customerWithCard(
      stripe,
      { email: 'auto@example.com' },
      { number: '4242424242424242', exp_month: 10, exp_year: 2042 }
    )
    const invoice = await stripe.invoices.create({ customer: customer.id, auto_advance: true })
    await stripe.invoiceItems.create({
      customer: customer.id,
      invoice: invoice.id,
      amount: 4200,
      currency: 'usd',
    })
    const finalized = await stripe.invoices.finalizeInvoice(invoice.id)
    assert.equal(finalized.status, 'open')
    assert.closeTo(Number(finalized.next_payment_attempt), sandbox.now() + 3600, 3)
    await sandbox.advanceClock(3700)
    const paid = await stripe.invoices.retrieve(invoice.id)
    assert.equal(paid.status, 'paid')
    assert.equal(paid.amount_paid, 4200)
    assert.equal(sandbox.eventLog('invoice.paid')[0].request?.id, null)
  })

  test('the hosted invoice page shows the invoice', async ({ assert }) => {
    const customer = await stripe.customers.create({
      email: 'hosted@example.com',
      invoice_prefix: 'HOST',
    })
    const invoice = await stripe.invoices.create({ customer: customer.id })
    await stripe.invoiceItems.create({
      customer: customer.id,
      invoice: invoice.id,
      amount: 1999,
      currency: 'usd',
      description: 'Consulting',
    })
    const finalized = await stripe.invoices.finalizeInvoice(invoice.id)
    const response = await fetch(String(finalized.hosted_invoice_url))
    assert.equal(response.status, 200)
    const body = await response.text()
    assert.include(body, 'HOST-0001')
    assert.include(body, '$19.99')
    assert.include(body, 'Consulting')
    const draft = await stripe.invoices.create({ customer: customer.id })
    const draftPage = await fetch(`${sandbox.url}/i/${draft.id}`)
    assert.equal(draftPage.status, 404)
  })

  test('create_preview: the next invoice of a subscription, with item changes and pending items', async ({
    assert,
  }) => {
    const price = await recurringPrice(stripe, 1500, 'Team')
    const bigger = await recurringPrice(stripe, 4000, 'Team XL')
    const customer = await stripe.customers.create({ email: 'preview@example.com' })
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id, quantity: 2 }],
      default_payment_method: 'pm_card_visa',
    })
    await stripe.invoiceItems.create({ customer: customer.id, amount: 250, currency: 'usd' })
    const before = await stripe.invoices.list({ customer: customer.id })
    const end = sub.items.data[0].current_period_end

    const preview = await stripe.invoices.createPreview({
      customer: customer.id,
      subscription: sub.id,
    })
    assert.match(preview.id, /^upcoming_in_/)
    assert.equal(preview.billing_reason, 'upcoming')
    assert.equal(preview.status, 'draft')
    assert.equal(preview.total, 3000 + 250)
    assert.equal(preview.amount_due, 3250)
    assert.equal(preview.next_payment_attempt, end)
    const period = preview.lines.data[0].period
    assert.equal(period.start, end)
    assert.isAtLeast(period.end - end, 28 * 86400)
    assert.isAtMost(period.end - end, 31 * 86400)
    assert.equal(preview.parent?.subscription_details?.subscription, sub.id)

    const changed = await stripe.invoices.createPreview({
      customer: customer.id,
      subscription: sub.id,
      subscription_details: {
        items: [{ id: sub.items.data[0].id, price: bigger.id, quantity: 1 }],
        proration_behavior: 'none',
      },
    })
    assert.equal(changed.total, 4000 + 250)

    const fresh = await stripe.invoices.createPreview({
      customer: customer.id,
      subscription_details: { items: [{ price: price.id, quantity: 3 }] },
    })
    assert.equal(fresh.lines.data[0].amount, 4500)
    assert.isNull(fresh.parent)

    // Nothing was stored.
    const after = await stripe.invoices.list({ customer: customer.id })
    assert.deepEqual(
      after.data.map((invoice) => invoice.id),
      before.data.map((invoice) => invoice.id)
    )
    const nothing = await stripeError(stripe.invoices.createPreview({ customer: customer.id }))
    assert.equal(nothing.statusCode, 400)
    await stripe.subscriptions.update(sub.id, { cancel_at_period_end: true })
    const none = await stripeError(
      stripe.invoices.createPreview({ customer: customer.id, subscription: sub.id })
    )
    assert.equal(none.code, 'invoice_upcoming_none')
  })
})
