import { test } from '@japa/runner'
import Stripe from 'stripe'
import { type StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import {
  TEST_ACCOUNT_NUMBER,
  TEST_ROUTING_NUMBER,
  completeOnboarding,
  findAccount,
} from '../../../sandbox/stripe/resources/accounts.js'
import { TEST_KEY, WebhookReceiver, stripeError, useSandbox } from './helpers.js'

function parsed(receiver: WebhookReceiver): Stripe.Event[] {
  return receiver.received.map((hook) => JSON.parse(hook.raw) as Stripe.Event)
}

/** GET without following redirects. */
function get(url: string): Promise<Response> {
  return fetch(url, { redirect: 'manual' })
}

/** POSTs the onboarding form like a browser (urlencoded), without following the 303. */
function submit(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  })
}

const RETURN_URL = 'https://platform.example.com/connect/return'
const REFRESH_URL = 'https://platform.example.com/connect/refresh'

test.group('Stripe sandbox: Connect accounts', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(group, (started, client) => {
    sandbox = started
    stripe = client
  })

  test('a new Express account is not onboarded and has realistic requirements', async ({
    assert,
  }) => {
    const account = await stripe.accounts.create({
      type: 'express',
      email: 'creator@example.com',
      capabilities: { transfers: { requested: true }, card_payments: { requested: true } },
      metadata: { user_id: '7' },
      business_profile: { name: 'Jenny Studio', url: 'https://jenny.example.com' },
    })
    assert.match(account.id, /^acct_[0-9A-Za-z]{16}$/)
    assert.equal(account.object, 'account')
    assert.equal(account.type, 'express')
    assert.equal(account.country, 'US')
    assert.equal(account.default_currency, 'usd')
    assert.equal(account.email, 'creator@example.com')
    assert.deepEqual(account.metadata, { user_id: '7' })
    assert.equal(account.business_profile?.name, 'Jenny Studio')
    assert.isFalse(account.details_submitted)
    assert.isFalse(account.charges_enabled)
    assert.isFalse(account.payouts_enabled)
    assert.deepEqual(account.capabilities, { transfers: 'inactive', card_payments: 'inactive' })
    assert.deepEqual(account.controller, {
      type: 'application',
      is_controller: true,
      fees: { payer: 'application_express' },
      losses: { payments: 'application' },
      requirement_collection: 'stripe',
      stripe_dashboard: { type: 'express' },
    })
    const due = account.requirements?.currently_due ?? []
    for (const field of [
      'business_type',
      'external_account',
      'individual.first_name',
      'individual.last_name',
      'individual.dob.day',
      'tos_acceptance.date',
      'tos_acceptance.ip',
      'business_profile.mcc',
    ]) {
      assert.include(due, field)
    }
    // Given at creation, so not due.
    assert.notInclude(due, 'business_profile.url')
    assert.deepEqual(account.requirements?.eventually_due, due)
    assert.equal(account.requirements?.disabled_reason, 'requirements.past_due')
    assert.deepEqual(account.external_accounts?.data, [])
    assert.deepEqual(account.tos_acceptance, { date: null, ip: null, user_agent: null })
    assert.closeTo(account.created ?? 0, sandbox.now(), 5)
    // Stripe sends no account.created event.
    assert.lengthOf(sandbox.eventLog(), 0)

    const fetched = await stripe.accounts.retrieve(account.id)
    assert.deepEqual({ ...fetched }, { ...account })

    const company = await stripe.accounts.create({
      type: 'express',
      business_type: 'company',
      capabilities: { transfers: { requested: true } },
    })
    assert.include(company.requirements?.currently_due ?? [], 'company.tax_id')
    assert.notInclude(company.requirements?.currently_due ?? [], 'business_type')
    assert.notInclude(company.requirements?.currently_due ?? [], 'individual.first_name')
  })

  test('controller properties map to the v1 type and are validated', async ({ assert }) => {
    const express = await stripe.accounts.create({
      controller: {
        stripe_dashboard: { type: 'express' },
        fees: { payer: 'application' },
        losses: { payments: 'application' },
        requirement_collection: 'stripe',
      },
      country: 'FR',
      capabilities: { transfers: { requested: true } },
    })
    assert.equal(express.type, 'express')
    assert.equal(express.country, 'FR')
    assert.equal(express.default_currency, 'eur')
    assert.deepEqual(express.controller?.fees, { payer: 'application' })
    assert.equal(express.controller?.stripe_dashboard?.type, 'express')

    const standard = await stripe.accounts.create({
      controller: { stripe_dashboard: { type: 'full' } },
    })
    assert.equal(standard.type, 'standard')
    assert.deepEqual(standard.controller?.fees, { payer: 'account' })
    assert.deepEqual(standard.controller?.losses, { payments: 'stripe' })
    assert.equal(standard.controller?.stripe_dashboard?.type, 'full')

    const losses = await stripeError(
      stripe.accounts.create({ controller: { losses: { payments: 'application' } } })
    )
    assert.equal(losses.statusCode, 400)
    assert.equal(losses.param, 'controller[fees][payer]')

    const both = await stripeError(
      stripe.accounts.create({
        type: 'express',
        controller: { stripe_dashboard: { type: 'express' } },
      })
    )
    assert.equal(both.statusCode, 400)
    assert.match(both.message, /both `type` and `controller`/)

    const neither = await stripeError(stripe.accounts.create({}))
    assert.equal(neither.code, 'parameter_missing')

    const cards = await stripeError(
      stripe.accounts.create({
        type: 'express',
        capabilities: { card_payments: { requested: true } },
      })
    )
    assert.equal(cards.param, 'capabilities')
    assert.match(cards.message, /transfers/)

    const country = await stripeError(stripe.accounts.create({ type: 'express', country: 'XX' }))
    assert.equal(country.param, 'country')
    const list = await stripe.accounts.list()
    assert.lengthOf(list.data, 2)
  })

  test('GET /v1/account is the platform, or the Stripe-Account one', async ({ assert }) => {
    const platform = await stripe.accounts.retrieveCurrent()
    assert.match(platform.id, /^acct_/)
    assert.isTrue(platform.charges_enabled)
    assert.equal(platform.settings?.dashboard.display_name, 'Studio Billing')
    const again = await stripe.accounts.retrieve(null)
    assert.equal(again.id, platform.id)

    const connected = await stripe.accounts.create({ type: 'express' })
    const asConnected = await stripe.accounts.retrieveCurrent(undefined, {
      stripeAccount: connected.id,
    })
    assert.equal(asConnected.id, connected.id)
    assert.equal(asConnected.lastResponse.stripeAccount, connected.id)
    // The platform is not one of its connected accounts.
    const list = await stripe.accounts.list()
    assert.deepEqual(
      list.data.map((a) => a.id),
      [connected.id]
    )
  })

  test('updates emit account.updated to Connect endpoints only', async ({ assert }) => {
    const connectReceiver = await WebhookReceiver.start()
    const platformReceiver = await WebhookReceiver.start()
    try {
      sandbox.addWebhookEndpoint({ url: connectReceiver.url, connect: true })
      sandbox.addWebhookEndpoint({ url: platformReceiver.url })
      const account = await stripe.accounts.create({
        type: 'express',
        metadata: { a: '1' },
        capabilities: { transfers: { requested: true } },
      })
      const updated = await stripe.accounts.update(account.id, {
        email: 'new@example.com',
        metadata: { a: '', b: '2' },
        business_profile: { support_email: 'help@example.com' },
      })
      assert.equal(updated.email, 'new@example.com')
      assert.deepEqual(updated.metadata, { b: '2' })
      assert.equal(updated.business_profile?.support_email, 'help@example.com')
      await sandbox.waitForIdle()

      const events = parsed(connectReceiver)
      assert.deepEqual(
        events.map((e) => e.type),
        ['account.updated']
      )
      const [event] = events
      assert.equal(event.account, account.id)
      assert.equal(event.request?.id, updated.lastResponse.requestId)
      assert.deepEqual(event.data.previous_attributes, {
        email: null,
        metadata: { a: '1', b: null },
        business_profile: { support_email: null },
      })
      assert.lengthOf(platformReceiver.received, 0)

      // The event lives on the connected account.
      const platformEvents = await stripe.events.list()
      assert.lengthOf(platformEvents.data, 0)
      const accountEvents = await stripe.events.list(undefined, { stripeAccount: account.id })
      assert.deepEqual(
        accountEvents.data.map((e) => e.id),
        [event.id]
      )
    } finally {
      await connectReceiver.stop()
      await platformReceiver.stop()
    }
  })

  test('lists with cursors and deletes', async ({ assert }) => {
    const a = await stripe.accounts.create({ type: 'express' })
    const b = await stripe.accounts.create({ type: 'standard' })
    const c = await stripe.accounts.create({ type: 'custom' })
    assert.equal(c.controller?.requirement_collection, 'application')
    const page = await stripe.accounts.list({ limit: 2 })
    assert.deepEqual(
      page.data.map((x) => x.id),
      [c.id, b.id]
    )
    assert.isTrue(page.has_more)
    const next = await stripe.accounts.list({ starting_after: b.id })
    assert.deepEqual(
      next.data.map((x) => x.id),
      [a.id]
    )
    const deleted = await stripe.accounts.del(b.id)
    assert.deepEqual({ ...deleted }, { id: b.id, object: 'account', deleted: true })
    const after = await stripe.accounts.list()
    assert.deepEqual(
      after.data.map((x) => x.id),
      [c.id, a.id]
    )
    const gone = await stripeError(stripe.accounts.retrieve(b.id))
    assert.instanceOf(gone, Stripe.errors.StripePermissionError)
    assert.equal(gone.statusCode, 403)
  })

  test('a deleted account is gone for transfers and destination charges too', async ({
    assert,
  }) => {
    const account = await stripe.accounts.create({
      type: 'express',
      country: 'US',
      capabilities: { transfers: { requested: true } },
    })
    completeOnboarding(sandbox.context, account.id, 'complete')
    assert.equal(findAccount(sandbox.context, account.id)?.id, account.id)
    await stripe.accounts.del(account.id)
    assert.isUndefined(findAccount(sandbox.context, account.id))
    const transfer = await stripeError(
      stripe.transfers.create({ amount: 100, currency: 'usd', destination: account.id })
    )
    assert.equal(transfer.statusCode, 400)
    assert.equal(transfer.code, 'resource_missing')
    assert.equal(transfer.param, 'destination')
    const charge = await stripeError(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        transfer_data: { destination: account.id },
      })
    )
    assert.equal(charge.param, 'transfer_data[destination]')
    assert.equal(charge.message, `No such account: '${account.id}'`)
  })

  test('an unknown Stripe-Account or account id is a 403 account_invalid', async ({ assert }) => {
    const error = await stripeError(
      stripe.customers.list(undefined, { stripeAccount: 'acct_doesnotexist' })
    )
    assert.instanceOf(error, Stripe.errors.StripePermissionError)
    assert.equal(error.statusCode, 403)
    assert.equal(error.rawType, 'invalid_request_error')
    assert.equal(error.code, 'account_invalid')
    assert.equal(
      error.message,
      `The provided key 'sk_test_****${TEST_KEY.slice(-4)}' does not have access to account 'acct_doesnotexist' (or that account does not exist). Application access may have been revoked.`
    )
    const post = await stripeError(
      stripe.customers.create({ email: 'x@example.com' }, { stripeAccount: 'acct_doesnotexist' })
    )
    assert.equal(post.statusCode, 403)
    const byId = await stripeError(stripe.accounts.retrieve('acct_nope'))
    assert.instanceOf(byId, Stripe.errors.StripePermissionError)
    assert.equal(byId.code, 'account_invalid')
    const update = await stripeError(stripe.accounts.update('acct_nope', { email: 'a@b.co' }))
    assert.equal(update.statusCode, 403)
    assert.lengthOf(sandbox.eventLog(), 0)
  })
})

test.group('Stripe sandbox: Connect onboarding', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(group, (started, client) => {
    sandbox = started
    stripe = client
  })

  async function expressAccount() {
    return stripe.accounts.create({
      type: 'express',
      email: 'jenny@example.com',
      capabilities: { transfers: { requested: true }, card_payments: { requested: true } },
    })
  }

  async function onboardingLink(account: string) {
    return stripe.accountLinks.create({
      account,
      type: 'account_onboarding',
      refresh_url: REFRESH_URL,
      return_url: RETURN_URL,
    })
  }

  test('account links: shape, errors', async ({ assert }) => {
    const account = await expressAccount()
    const link = await onboardingLink(account.id)
    assert.equal(link.object, 'account_link')
    assert.closeTo(link.created, sandbox.now(), 5)
    assert.equal(link.expires_at, link.created + 300)
    assert.match(
      link.url,
      new RegExp(`^${sandbox.url}/setup/e/${account.id}/[0-9A-Za-z]{24}$`.replaceAll('.', '\\.'))
    )
    assert.notProperty(link, 'id')

    const update = await stripeError(
      stripe.accountLinks.create({
        account: account.id,
        type: 'account_update',
        refresh_url: REFRESH_URL,
        return_url: RETURN_URL,
      })
    )
    assert.equal(update.statusCode, 400)
    assert.equal(update.param, 'type')
    assert.match(update.message, /account_update/)

    const custom = await stripe.accounts.create({ type: 'custom' })
    const customLink = await stripe.accountLinks.create({
      account: custom.id,
      type: 'account_update',
      refresh_url: REFRESH_URL,
      return_url: RETURN_URL,
    })
    assert.equal(customLink.object, 'account_link')

    const missing = await stripeError(
      stripe.accountLinks.create({ account: 'acct_nope', type: 'account_onboarding' })
    )
    assert.equal(missing.statusCode, 400)
    assert.equal(missing.code, 'resource_missing')
    assert.equal(missing.param, 'account')

    const badUrl = await stripeError(
      stripe.accountLinks.create({
        account: account.id,
        type: 'account_onboarding',
        return_url: 'not a url',
      })
    )
    assert.equal(badUrl.param, 'return_url')
  })

  test('the hosted page completes onboarding and redirects to return_url', async ({ assert }) => {
    const connectReceiver = await WebhookReceiver.start()
    const platformReceiver = await WebhookReceiver.start()
    try {
      sandbox.addWebhookEndpoint({ url: connectReceiver.url, connect: true })
      sandbox.addWebhookEndpoint({ url: platformReceiver.url })
      const account = await expressAccount()
      const link = await onboardingLink(account.id)

      const pageResponse = await get(link.url)
      assert.equal(pageResponse.status, 200)
      assert.match(pageResponse.headers.get('content-type') ?? '', /text\/html/)
      const body = await pageResponse.text()
      assert.include(body, 'Set up payouts for Studio Billing')
      assert.include(body, 'name="routing_number"')
      assert.include(body, TEST_ROUTING_NUMBER)
      assert.include(body, 'Agree and submit')
      assert.include(body, 'Save and leave requirements due')
      assert.include(body, `action="/setup/e/${account.id}/`)

      const posted = await submit(link.url, {
        country: 'US',
        business_type: 'individual',
        first_name: 'Jenny',
        last_name: 'Rosen',
        email: 'jenny@example.com',
        routing_number: TEST_ROUTING_NUMBER,
        account_number: TEST_ACCOUNT_NUMBER,
        outcome: 'complete',
      })
      assert.equal(posted.status, 303)
      assert.equal(posted.headers.get('location'), RETURN_URL)

      const done = await stripe.accounts.retrieve(account.id)
      assert.isTrue(done.details_submitted)
      assert.isTrue(done.charges_enabled)
      assert.isTrue(done.payouts_enabled)
      assert.deepEqual(done.capabilities, { transfers: 'active', card_payments: 'active' })
      assert.deepEqual(done.requirements?.currently_due, [])
      assert.deepEqual(done.requirements?.eventually_due, [])
      assert.isNull(done.requirements?.disabled_reason)
      assert.equal(done.business_type, 'individual')
      assert.isNumber(done.tos_acceptance?.date)
      const [bank] = done.external_accounts?.data ?? []
      assert.equal(bank.object, 'bank_account')
      if (bank.object === 'bank_account') {
        assert.equal(bank.last4, '6789')
        assert.equal(bank.routing_number, TEST_ROUTING_NUMBER)
        assert.equal(bank.bank_name, 'STRIPE TEST BANK')
        assert.equal(bank.account_holder_name, 'Jenny Rosen')
        assert.equal(bank.currency, 'usd')
      }

      await sandbox.waitForIdle()
      const events = parsed(connectReceiver)
      assert.deepEqual(
        events.map((e) => e.type),
        [
          'account.external_account.created',
          'capability.updated',
          'capability.updated',
          'account.updated',
        ]
      )
      for (const event of events) assert.equal(event.account, account.id)
      const capabilityEvents = events.filter((e) => e.type === 'capability.updated')
      assert.deepEqual(
        capabilityEvents.map((e) => {
          const capability = e.data.object as Stripe.Capability
          return [capability.id, capability.status, e.data.previous_attributes]
        }),
        [
          ['card_payments', 'active', { status: 'inactive' }],
          ['transfers', 'active', { status: 'inactive' }],
        ]
      )
      const updated = events[3]
      assert.equal(updated.account, account.id)
      assert.isNull(updated.request?.id)
      const previous = updated.data.previous_attributes as Record<string, unknown>
      assert.equal(previous.details_submitted, false)
      assert.equal(previous.charges_enabled, false)
      assert.equal(previous.payouts_enabled, false)
      assert.deepEqual(previous.capabilities, { transfers: 'inactive', card_payments: 'inactive' })
      assert.include(
        (previous.requirements as { currently_due: string[] }).currently_due,
        'external_account'
      )
      assert.lengthOf(platformReceiver.received, 0)

      const capabilities = await stripe.accounts.listCapabilities(account.id)
      assert.deepEqual(
        capabilities.data.map((c) => [c.id, c.status, c.requested]),
        [
          ['card_payments', 'active', true],
          ['transfers', 'active', true],
        ]
      )
      const transfers = await stripe.accounts.retrieveCapability(account.id, 'transfers')
      assert.equal(transfers.object, 'capability')
      assert.equal(transfers.account, account.id)
      assert.deepEqual(transfers.requirements?.currently_due, [])
      const unrequested = await stripeError(
        stripe.accounts.retrieveCapability(account.id, 'sofort_payments')
      )
      assert.equal(unrequested.statusCode, 404)

      // Single use: both the page and the form now send the user to refresh_url.
      const reused = await get(link.url)
      assert.equal(reused.status, 303)
      assert.equal(reused.headers.get('location'), REFRESH_URL)
      const reposted = await submit(link.url, { outcome: 'complete' })
      assert.equal(reposted.status, 303)
      assert.equal(reposted.headers.get('location'), REFRESH_URL)
      assert.lengthOf(sandbox.eventLog('account.updated'), 1)
    } finally {
      await connectReceiver.stop()
      await platformReceiver.stop()
    }
  })

  test('"Save and leave requirements due" keeps external_account due', async ({ assert }) => {
    const account = await expressAccount()
    const link = await onboardingLink(account.id)
    const posted = await submit(link.url, { outcome: 'requirements_due', country: 'US' })
    assert.equal(posted.status, 303)
    assert.equal(posted.headers.get('location'), RETURN_URL)
    const after = await stripe.accounts.retrieve(account.id)
    assert.isTrue(after.details_submitted)
    assert.isFalse(after.payouts_enabled)
    assert.deepEqual(after.requirements?.currently_due, ['external_account'])
    assert.deepEqual(after.requirements?.past_due, ['external_account'])
    assert.equal(after.capabilities?.transfers, 'inactive')
    assert.equal(after.capabilities?.card_payments, 'active')
    assert.isTrue(after.charges_enabled)
    const transfers = await stripe.accounts.retrieveCapability(account.id, 'transfers')
    assert.deepEqual(transfers.requirements?.currently_due, ['external_account'])
    assert.equal(transfers.requirements?.disabled_reason, 'requirements.fields_needed')
    assert.deepEqual(after.external_accounts?.data, [])
    const [event] = sandbox.eventLog('account.updated')
    assert.equal(event.account, account.id)
    assert.deepEqual(sandbox.eventLog('account.external_account.created'), [])

    // A fresh link finishes the job.
    const second = await onboardingLink(account.id)
    const finished = await submit(second.url, { outcome: 'complete' })
    assert.equal(finished.status, 303)
    const complete = await stripe.accounts.retrieve(account.id)
    assert.isTrue(complete.payouts_enabled)
    assert.deepEqual(complete.requirements?.currently_due, [])
  })

  test('an invalid bank account re-renders the form; the link stays usable', async ({ assert }) => {
    const account = await expressAccount()
    const link = await onboardingLink(account.id)
    const bad = await submit(link.url, {
      outcome: 'complete',
      routing_number: '12',
      account_number: TEST_ACCOUNT_NUMBER,
    })
    assert.equal(bad.status, 400)
    assert.include(await bad.text(), 'Routing number must have 9 digits.')
    const unchanged = await stripe.accounts.retrieve(account.id)
    assert.isFalse(unchanged.details_submitted)
    assert.lengthOf(sandbox.eventLog(), 0)
    const good = await submit(link.url, { outcome: 'complete' })
    assert.equal(good.status, 303)
    assert.equal(good.headers.get('location'), RETURN_URL)
  })

  test('an expired link redirects to refresh_url', async ({ assert }) => {
    const account = await expressAccount()
    const link = await onboardingLink(account.id)
    await sandbox.advanceClock(301)
    const expired = await get(link.url)
    assert.equal(expired.status, 303)
    assert.equal(expired.headers.get('location'), REFRESH_URL)
    const posted = await submit(link.url, { outcome: 'complete' })
    assert.equal(posted.headers.get('location'), REFRESH_URL)
    const still = await stripe.accounts.retrieve(account.id)
    assert.isFalse(still.details_submitted)
    const unknown = await get(`${sandbox.url}/setup/e/${account.id}/nottoken`)
    assert.equal(unknown.status, 404)
  })

  test('login links: Express only, after onboarding; the dashboard page', async ({ assert }) => {
    const account = await expressAccount()
    const early = await stripeError(stripe.accounts.createLoginLink(account.id))
    assert.equal(early.statusCode, 400)
    assert.match(early.message, /not completed onboarding/)

    const standard = await stripe.accounts.create({ type: 'standard' })
    const notExpress = await stripeError(stripe.accounts.createLoginLink(standard.id))
    assert.equal(notExpress.statusCode, 400)
    assert.match(notExpress.message, /not an Express account/)

    const unknown = await stripeError(stripe.accounts.createLoginLink('acct_nope'))
    assert.equal(unknown.statusCode, 403)

    completeOnboarding(sandbox.context, account.id, 'complete')
    const login = await stripe.accounts.createLoginLink(account.id)
    assert.equal(login.object, 'login_link')
    assert.closeTo(login.created, sandbox.now(), 5)
    assert.match(login.url, new RegExp(`/express/${account.id}/[0-9A-Za-z]{24}$`))
    assert.isTrue(login.url.startsWith(sandbox.url))

    const dashboard = await get(login.url)
    assert.equal(dashboard.status, 200)
    const body = await dashboard.text()
    assert.include(body, account.id)
    assert.include(body, 'Payouts')
    assert.include(body, 'Enabled')
    assert.include(body, '••••6789')
    assert.include(body, 'Available balance')
    assert.include(body, '$0.00')
    const reused = await get(login.url)
    assert.equal(reused.status, 404)
  })

  test('sim controls: onboard and make requirements due later', async ({ assert }) => {
    const account = await expressAccount()
    const onboard = await fetch(`${sandbox.url}/_sim/accounts/${account.id}/onboard`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ outcome: 'complete' }),
    })
    assert.equal(onboard.status, 200)
    const onboarded = (await onboard.json()) as Stripe.Account
    assert.isTrue(onboarded.payouts_enabled)

    const due = await fetch(`${sandbox.url}/_sim/accounts/${account.id}/requirements`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ currently_due: ['individual.verification.document'] }),
    })
    assert.equal(due.status, 200)
    const restricted = await stripe.accounts.retrieve(account.id)
    assert.isFalse(restricted.payouts_enabled)
    assert.deepEqual(restricted.requirements?.currently_due, ['individual.verification.document'])
    assert.equal(restricted.requirements?.disabled_reason, 'requirements.past_due')
    const [event] = sandbox.eventLog('account.updated')
    assert.equal(event.account, account.id)
    const previous = event.data.previous_attributes as Record<string, unknown>
    assert.equal(previous.payouts_enabled, true)
    assert.deepEqual((previous.requirements as { currently_due: string[] }).currently_due, [])

    const cleared = await fetch(`${sandbox.url}/_sim/accounts/${account.id}/requirements`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ currently_due: [] }),
    })
    assert.equal(cleared.status, 200)
    const restored = await stripe.accounts.retrieve(account.id)
    assert.isTrue(restored.payouts_enabled)
    assert.isNull(restored.requirements?.disabled_reason)

    const bad = await fetch(`${sandbox.url}/_sim/accounts/${account.id}/onboard`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ outcome: 'maybe' }),
    })
    assert.equal(bad.status, 400)
    const missing = await fetch(`${sandbox.url}/_sim/accounts/acct_nope/onboard`, {
      method: 'POST',
    })
    assert.equal(missing.status, 404)
  })
})

test.group('Stripe sandbox: Connect scoping', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(group, (started, client) => {
    sandbox = started
    stripe = client
  })

  test('customers live in the account that created them', async ({ assert }) => {
    const connectReceiver = await WebhookReceiver.start()
    const platformReceiver = await WebhookReceiver.start()
    try {
      sandbox.addWebhookEndpoint({ url: connectReceiver.url, connect: true })
      sandbox.addWebhookEndpoint({ url: platformReceiver.url })
      const account = await stripe.accounts.create({ type: 'express' })
      const scoped = { stripeAccount: account.id }
      const theirs = await stripe.customers.create({ email: 'theirs@example.com' }, scoped)
      const ours = await stripe.customers.create({ email: 'ours@example.com' })

      const platformList = await stripe.customers.list()
      assert.deepEqual(
        platformList.data.map((c) => c.id),
        [ours.id]
      )
      const accountList = await stripe.customers.list(undefined, scoped)
      assert.deepEqual(
        accountList.data.map((c) => c.id),
        [theirs.id]
      )
      const hidden = await stripeError(stripe.customers.retrieve(theirs.id))
      assert.equal(hidden.statusCode, 404)
      assert.equal(hidden.code, 'resource_missing')
      const hiddenOther = await stripeError(stripe.customers.retrieve(ours.id, undefined, scoped))
      assert.equal(hiddenOther.statusCode, 404)
      const updateHidden = await stripeError(stripe.customers.update(theirs.id, { name: 'x' }))
      assert.equal(updateHidden.statusCode, 404)

      const updated = await stripe.customers.update(theirs.id, { name: 'Theirs' }, scoped)
      assert.equal(updated.name, 'Theirs')
      const deleted = await stripe.customers.del(theirs.id, undefined, scoped)
      assert.isTrue(deleted.deleted)

      await sandbox.waitForIdle()
      const connectEvents = parsed(connectReceiver)
      assert.deepEqual(
        connectEvents.map((e) => e.type),
        ['customer.created', 'customer.updated', 'customer.deleted']
      )
      for (const event of connectEvents) assert.equal(event.account, account.id)
      assert.deepEqual(
        parsed(platformReceiver).map((e) => e.type),
        ['customer.created']
      )

      const platformEvents = await stripe.events.list()
      assert.deepEqual(
        platformEvents.data.map((e) => e.type),
        ['customer.created']
      )
      const accountEvents = await stripe.events.list({ type: 'customer.*' }, scoped)
      assert.deepEqual(
        accountEvents.data.map((e) => e.type),
        ['customer.deleted', 'customer.updated', 'customer.created']
      )
      const connectEventId = connectEvents[0].id
      const notPlatform = await stripeError(stripe.events.retrieve(connectEventId))
      assert.equal(notPlatform.statusCode, 404)
      const visible = await stripe.events.retrieve(connectEventId, undefined, scoped)
      assert.equal(visible.account, account.id)
    } finally {
      await connectReceiver.stop()
      await platformReceiver.stop()
    }
  })

  test('products and prices are scoped to the account', async ({ assert }) => {
    const account = await stripe.accounts.create({ type: 'express' })
    const scoped = { stripeAccount: account.id }
    const theirProduct = await stripe.products.create(
      { name: 'Their plan', default_price_data: { currency: 'usd', unit_amount: 900 } },
      scoped
    )
    const ourProduct = await stripe.products.create({ name: 'Our plan' })

    const ours = await stripe.products.list()
    assert.deepEqual(
      ours.data.map((p) => p.id),
      [ourProduct.id]
    )
    const theirs = await stripe.products.list(undefined, scoped)
    assert.deepEqual(
      theirs.data.map((p) => p.id),
      [theirProduct.id]
    )
    const hidden = await stripeError(stripe.products.retrieve(theirProduct.id))
    assert.equal(hidden.statusCode, 404)

    const platformPrices = await stripe.prices.list()
    assert.lengthOf(platformPrices.data, 0)
    const accountPrices = await stripe.prices.list(undefined, scoped)
    assert.deepEqual(
      accountPrices.data.map((p) => p.id),
      [theirProduct.default_price]
    )
    // A platform price cannot reference the account's product, and vice versa.
    const crossProduct = await stripeError(
      stripe.prices.create({ product: theirProduct.id, currency: 'usd', unit_amount: 1 })
    )
    assert.equal(crossProduct.code, 'resource_missing')
    assert.equal(crossProduct.param, 'product')
    const crossBack = await stripeError(
      stripe.prices.create({ product: ourProduct.id, currency: 'usd', unit_amount: 1 }, scoped)
    )
    assert.equal(crossBack.param, 'product')
    const priceHidden = await stripeError(
      stripe.prices.retrieve(String(theirProduct.default_price))
    )
    assert.equal(priceHidden.statusCode, 404)

    const events = sandbox.eventLog()
    const accountEvents = events.filter((e) => e.account === account.id).map((e) => e.type)
    assert.deepEqual(accountEvents.reverse(), ['product.created', 'price.created'])
  })
})
