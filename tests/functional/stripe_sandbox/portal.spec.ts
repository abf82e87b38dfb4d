import { test } from '@japa/runner'
import type Stripe from 'stripe'
import { checkShape } from '../../../sandbox/stripe/fidelity.js'
import { portalUpdatePaymentMethod } from '../../../sandbox/stripe/resources/billing_portal.js'
import { StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import { eventsSince, markOf, recurringPrice, sdk, statusOf, stripeError } from './helpers.js'

/** POSTs a portal form without following the redirect: returns the 303's Location. */
async function submit(url: string, fields: Record<string, string>): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  })
  if (response.status !== 303) throw new Error(`expected 303, got ${response.status}`)
  return String(response.headers.get('location'))
}

async function getPage(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url)
  return { status: response.status, body: await response.text() }
}

test.group('Stripe sandbox: customer portal', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe
  let price: Stripe.Price

  group.each.setup(async () => {
    sandbox = await StripeSandbox.start({ port: 0 })
    stripe = sdk(sandbox)
    price = await recurringPrice(stripe, 2000, 'Studio Pro')
    return () => sandbox.stop()
  })

  async function subscribed(card = 'pm_card_visa', email = 'portal@example.com') {
    const customer = await stripe.customers.create({ email })
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      default_payment_method: card,
    })
    return { customer, subscription }
  }

  test('sessions: shape, default configuration created on first use, errors', async ({
    assert,
  }) => {
    const { customer } = await subscribed()
    const mark = markOf(sandbox)
    const session = await stripe.billingPortal.sessions.create({
      customer: customer.id,
      return_url: 'https://studio.example/account',
      locale: 'fr',
    })
    assert.match(session.id, /^bps_/)
    assert.equal(session.object, 'billing_portal.session')
    assert.equal(session.url, `${sandbox.url}/p/session/${session.id}`)
    assert.equal(session.return_url, 'https://studio.example/account')
    assert.equal(session.customer, customer.id)
    assert.equal(session.locale, 'fr')
    assert.isNull(session.flow)
    assert.isNull(session.on_behalf_of)
    assert.isFalse(session.livemode)
    assert.match(String(session.configuration), /^bpc_/)
    assert.deepEqual(checkShape(session, { expansions: sandbox.expansions }), [])
    assert.deepEqual(
      eventsSince(sandbox, mark).map((event) => event.type),
      ['billing_portal.configuration.created', 'billing_portal.session.created']
    )
    const config = await stripe.billingPortal.configurations.retrieve(String(session.configuration))
    assert.isTrue(config.is_default)
    assert.isTrue(config.features.subscription_cancel.enabled)
    assert.equal(config.features.subscription_cancel.mode, 'at_period_end')
    assert.isTrue(config.features.payment_method_update.enabled)
    assert.deepEqual(checkShape(config, { expansions: sandbox.expansions }), [])
    const again = await stripe.billingPortal.sessions.create({ customer: customer.id })
    assert.equal(again.configuration, session.configuration)
    assert.isNull(again.return_url)

    const unknown = await stripeError(
      stripe.billingPortal.sessions.create({ customer: 'cus_missing' })
    )
    assert.equal(unknown.statusCode, 400)
    assert.equal(unknown.param, 'customer')
    const badConfig = await stripeError(
      stripe.billingPortal.sessions.create({ customer: customer.id, configuration: 'bpc_missing' })
    )
    assert.equal(badConfig.param, 'configuration')
    const other = await subscribed('pm_card_visa', 'other@example.com')
    const foreign = await stripeError(
      stripe.billingPortal.sessions.create({
        customer: customer.id,
        flow_data: {
          type: 'subscription_cancel',
          subscription_cancel: { subscription: other.subscription.id },
        },
      })
    )
    assert.equal(foreign.statusCode, 400)
    assert.equal(foreign.param, 'flow_data[subscription_cancel][subscription]')
  })

  test('configurations: create, retrieve, update, list', async ({ assert }) => {
    const created = await stripe.billingPortal.configurations.create({
      business_profile: { headline: 'Studio Billing' },
      default_return_url: 'https://studio.example/billing',
      features: {
        invoice_history: { enabled: true },
        subscription_cancel: {
          enabled: true,
          mode: 'immediately',
          cancellation_reason: { enabled: true, options: ['too_expensive', 'other'] },
        },
      },
      metadata: { env: 'test' },
    })
    assert.match(created.id, /^bpc_/)
    assert.isFalse(created.is_default)
    assert.equal(created.features.subscription_cancel.mode, 'immediately')
    assert.deepEqual(created.features.subscription_cancel.cancellation_reason.options, [
      'too_expensive',
      'other',
    ])
    assert.isFalse(created.features.payment_method_update.enabled)
    assert.equal(created.business_profile.headline, 'Studio Billing')
    assert.deepEqual(checkShape(created, { expansions: sandbox.expansions }), [])

    const mark = markOf(sandbox)
    const updated = await stripe.billingPortal.configurations.update(created.id, {
      features: { payment_method_update: { enabled: true } },
      name: 'Main',
    })
    assert.isTrue(updated.features.payment_method_update.enabled)
    assert.equal(updated.name, 'Main')
    const [event] = eventsSince(sandbox, mark)
    assert.equal(event.type, 'billing_portal.configuration.updated')
    assert.deepEqual(event.data.previous_attributes, {
      features: { payment_method_update: { enabled: false } },
      name: null,
    })

    const list = await stripe.billingPortal.configurations.list()
    assert.equal(list.url, '/v1/billing_portal/configurations')
    assert.includeMembers(
      list.data.map((config) => config.id),
      [created.id]
    )
    const defaults = await stripe.billingPortal.configurations.list({ is_default: true })
    assert.lengthOf(defaults.data, 1)
    const cantDeactivate = await stripeError(
      stripe.billingPortal.configurations.update(defaults.data[0].id, { active: false })
    )
    assert.equal(cantDeactivate.statusCode, 400)

    const someone = await stripe.customers.create({})
    const session = await stripe.billingPortal.sessions.create({
      customer: someone.id,
      configuration: created.id,
    })
    assert.equal(session.return_url, 'https://studio.example/billing')
  })

  test('the portal page lists subscriptions, payment method and invoices', async ({ assert }) => {
    const { customer, subscription } = await subscribed()
    const session = await stripe.billingPortal.sessions.create({
      customer: customer.id,
      return_url: 'https://studio.example/account',
    })
    const { status, body } = await getPage(session.url)
    assert.equal(status, 200)
    assert.include(body, 'Studio Pro')
    assert.include(body, '$20.00 per month')
    assert.include(body, 'Renews on')
    assert.include(body, 'Visa •••• 4242')
    const invoice = await stripe.invoices.retrieve(String(subscription.latest_invoice))
    assert.include(body, String(invoice.number))
    assert.include(body, 'href="https://studio.example/account"')
    assert.include(body, 'Return to https://studio.example/account')
    assert.include(body, 'Cancel plan')
    assert.include(body, 'Cancel immediately')
    assert.include(body, 'Update payment method')
    assert.include(body, `data-subscription="${subscription.id}"`)
    const missing = await getPage(`${sandbox.url}/p/session/bps_missing`)
    assert.equal(missing.status, 404)
  })

  test('Cancel plan (at period end, with reason) then Renew plan, with the API events', async ({
    assert,
  }) => {
    const { customer, subscription } = await subscribed()
    const session = await stripe.billingPortal.sessions.create({ customer: customer.id })
    const end = subscription.items.data[0].current_period_end
    let mark = markOf(sandbox)
    const location = await submit(`${session.url}/cancel`, {
      subscription: subscription.id,
      reason: 'too_expensive',
    })
    assert.match(location, new RegExp(`^/p/session/${session.id}\\?notice=`))
    const page = await getPage(`${sandbox.url}${location}`)
    assert.include(page.body, 'Your plan will be canceled on')
    assert.include(page.body, 'Cancels on')
    assert.include(page.body, 'Renew plan')
    const canceled = await stripe.subscriptions.retrieve(subscription.id)
    assert.isTrue(canceled.cancel_at_period_end)
    assert.equal(canceled.cancel_at, end)
    assert.equal(canceled.status, 'active')
    assert.equal(canceled.cancellation_details?.reason, 'cancellation_requested')
    assert.equal(canceled.cancellation_details?.feedback, 'too_expensive')
    let events = eventsSince(sandbox, mark)
    assert.deepEqual(
      events.map((event) => event.type),
      ['customer.subscription.updated']
    )
    assert.isNull(events[0].request?.id)
    assert.deepEqual(events[0].data.previous_attributes, {
      cancel_at: null,
      cancel_at_period_end: false,
      canceled_at: null,
      cancellation_details: { feedback: null, reason: null },
    })

    mark = markOf(sandbox)
    const renewed = await submit(`${session.url}/renew`, { subscription: subscription.id })
    assert.include(decodeURIComponent(renewed), 'Your plan has been renewed')
    const active = await stripe.subscriptions.retrieve(subscription.id)
    assert.isFalse(active.cancel_at_period_end)
    assert.isNull(active.cancel_at)
    events = eventsSince(sandbox, mark)
    assert.deepEqual(
      events.map((event) => event.type),
      ['customer.subscription.updated']
    )
    assert.deepEqual(
      (events[0].data.previous_attributes as { cancel_at_period_end: boolean })
        .cancel_at_period_end,
      true
    )

    // At period end the scheduled cancellation happens (once re-requested).
    await submit(`${session.url}/cancel`, { subscription: subscription.id })
    await sandbox.advanceClock(end - sandbox.now() + 10)
    assert.equal(await statusOf(stripe, subscription.id), 'canceled')
  })

  test('Cancel immediately ends the subscription (customer.subscription.deleted)', async ({
    assert,
  }) => {
    const { customer, subscription } = await subscribed()
    const session = await stripe.billingPortal.sessions.create({ customer: customer.id })
    const mark = markOf(sandbox)
    const location = await submit(`${session.url}/cancel_now`, {
      subscription: subscription.id,
      reason: 'unused',
    })
    assert.include(decodeURIComponent(location), 'Your plan has been canceled.')
    const canceled = await stripe.subscriptions.retrieve(subscription.id)
    assert.equal(canceled.status, 'canceled')
    assert.equal(canceled.cancellation_details?.feedback, 'unused')
    assert.deepEqual(
      eventsSince(sandbox, mark).map((event) => event.type),
      ['customer.subscription.deleted']
    )
    const page = await getPage(`${sandbox.url}${location}`)
    assert.include(page.body, 'No active subscriptions.')

    // Someone else's subscription: an error notice, nothing changes.
    const other = await subscribed('pm_card_visa', 'someone@example.com')
    const denied = await submit(`${session.url}/cancel_now`, {
      subscription: other.subscription.id,
    })
    assert.include(denied, '?error=')
    assert.equal(await statusOf(stripe, other.subscription.id), 'active')
  })

  test('Cancel immediately on a past_due subscription stops retrying its open invoice', async ({
    assert,
  }) => {
    const { customer, subscription } = await subscribed('pm_card_chargeCustomerFail')
    const end = subscription.items.data[0].current_period_end
    await sandbox.advanceClock(end - sandbox.now() + 10)
    assert.equal(await statusOf(stripe, subscription.id), 'past_due')
    const openList = await stripe.invoices.list({ subscription: subscription.id, status: 'open' })
    const open = openList.data[0]
    assert.equal(open.next_payment_attempt, end + 3 * 86_400)
    const session = await stripe.billingPortal.sessions.create({ customer: customer.id })
    let mark = markOf(sandbox)
    await submit(`${session.url}/cancel_now`, { subscription: subscription.id })
    const events = eventsSince(sandbox, mark)
    assert.deepEqual(
      events.map((event) => event.type),
      ['customer.subscription.deleted', 'invoice.updated']
    )
    assert.deepEqual(events[1].data.previous_attributes, {
      auto_advance: true,
      next_payment_attempt: end + 3 * 86_400,
    })
    assert.isNull(events[1].request?.id)
    mark = markOf(sandbox)
    await sandbox.advanceClock(10 * 86_400)
    assert.deepEqual(
      eventsSince(sandbox, mark)
        .map((event) => event.type)
        .filter((type) => type.startsWith('charge.') || type.startsWith('invoice.')),
      []
    )
    const after = await stripe.invoices.retrieve(open.id)
    assert.equal(after.attempt_count, 1)
    assert.isFalse(after.auto_advance)
  })

  test('Update payment method: new default card, subscriptions updated, past-due invoice retried', async ({
    assert,
  }) => {
    const { customer, subscription } = await subscribed('pm_card_chargeCustomerFail')
    await sandbox.advanceClock(subscription.items.data[0].current_period_end - sandbox.now() + 10)
    assert.equal(await statusOf(stripe, subscription.id), 'past_due')
    const session = await stripe.billingPortal.sessions.create({ customer: customer.id })

    const bad = await submit(`${session.url}/payment_method`, {
      card_number: '4242424242424241',
      expiry: '12 / 34',
      cvc: '123',
    })
    assert.include(decodeURIComponent(bad), 'error=Your card number is incorrect.')

    const mark = markOf(sandbox)
    const location = await submit(`${session.url}/payment_method`, {
      card_number: '4242 4242 4242 4242',
      expiry: '12 / 34',
      cvc: '123',
    })
    assert.include(decodeURIComponent(location), 'outstanding invoice has been paid')
    const types = eventsSince(sandbox, mark).map((event) => event.type)
    assert.deepEqual(types.slice(0, 3), [
      'payment_method.attached',
      'customer.updated',
      'customer.subscription.updated',
    ])
    assert.includeMembers(types, ['invoice.paid', 'invoice.payment_succeeded'])
    assert.equal(types[types.length - 1], 'customer.subscription.updated')

    const updated = (await stripe.customers.retrieve(customer.id)) as Stripe.Customer
    const pm = String(updated.invoice_settings.default_payment_method)
    assert.match(pm, /^pm_/)
    const sub = await stripe.subscriptions.retrieve(subscription.id)
    assert.equal(sub.default_payment_method, pm)
    assert.equal(sub.status, 'active')
    const invoice = await stripe.invoices.retrieve(String(sub.latest_invoice))
    assert.equal(invoice.status, 'paid')
    const page = await getPage(`${sandbox.url}${location}`)
    assert.include(page.body, 'Visa •••• 4242')

    // Exported for tests: the same action without a browser, with a declining card.
    const direct = portalUpdatePaymentMethod(
      sandbox.context,
      await stripe.billingPortal.sessions.create({ customer: customer.id }),
      { number: '4000000000000002', exp_month: 1, exp_year: 2040, cvc: '123' }
    )
    assert.isNull(direct.error)
    assert.lengthOf(direct.retried, 0)
    assert.equal(direct.paymentMethod.card?.last4, '0002')
  })

  test('the URL is valid for 5 minutes; an opened visit stays usable', async ({ assert }) => {
    const { customer, subscription } = await subscribed()
    const unopened = await stripe.billingPortal.sessions.create({
      customer: customer.id,
      return_url: 'https://studio.example/account',
    })
    const opened = await stripe.billingPortal.sessions.create({ customer: customer.id })
    const first = await getPage(opened.url)
    assert.equal(first.status, 200)
    await sandbox.advanceClock(6 * 60)
    const expired = await getPage(unopened.url)
    assert.equal(expired.status, 410)
    assert.include(expired.body, 'This link has expired')
    assert.include(expired.body, 'https://studio.example/account')
    const expiredPost = await fetch(`${unopened.url}/cancel`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `subscription=${subscription.id}`,
      redirect: 'manual',
    })
    assert.equal(expiredPost.status, 410)
    const untouched = await stripe.subscriptions.retrieve(subscription.id)
    assert.isFalse(untouched.cancel_at_period_end)
    const stillOpen = await getPage(opened.url)
    assert.equal(stillOpen.status, 200)
    await sandbox.advanceClock(3600)
    const visitOver = await getPage(opened.url)
    assert.equal(visitOver.status, 410)
  })

  test('flow subscription_cancel: confirmation page, then after_completion redirect', async ({
    assert,
  }) => {
    const { customer, subscription } = await subscribed()
    const session = await stripe.billingPortal.sessions.create({
      customer: customer.id,
      return_url: 'https://studio.example/account',
      flow_data: {
        type: 'subscription_cancel',
        subscription_cancel: { subscription: subscription.id },
        after_completion: {
          type: 'redirect',
          redirect: { return_url: 'https://studio.example/canceled' },
        },
      },
    })
    assert.deepEqual(session.flow, {
      after_completion: {
        hosted_confirmation: null,
        redirect: { return_url: 'https://studio.example/canceled' },
        type: 'redirect',
      },
      customer_update: null,
      subscription_cancel: { retention: null, subscription: subscription.id },
      subscription_pause: null,
      subscription_update: null,
      subscription_update_confirm: null,
      type: 'subscription_cancel',
    })
    const page = await getPage(session.url)
    assert.include(page.body, 'Cancel your plan')
    assert.match(page.body, /name="flow"\s+value="1"/)
    const location = await submit(`${session.url}/cancel`, {
      subscription: subscription.id,
      flow: '1',
      reason: 'switched_service',
    })
    assert.equal(location, 'https://studio.example/canceled')
    const sub = await stripe.subscriptions.retrieve(subscription.id)
    assert.isTrue(sub.cancel_at_period_end)
    assert.equal(sub.cancellation_details?.feedback, 'switched_service')

    const canceled = await stripe.subscriptions.cancel(subscription.id)
    const late = await stripeError(
      stripe.billingPortal.sessions.create({
        customer: customer.id,
        flow_data: {
          type: 'subscription_cancel',
          subscription_cancel: { subscription: canceled.id },
        },
      })
    )
    assert.equal(late.statusCode, 400)
  })
})
