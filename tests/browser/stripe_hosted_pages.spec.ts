import { test } from '@japa/runner'
import { appUrl } from '#config/app'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { completeCheckoutSession } from '../../sandbox/stripe/resources/checkout_sessions.js'
import { screenshot, setUpBrowser } from '#tests/browser/helpers'

/**
 * The sandbox's stand-ins for pages Stripe hosts, driven in a real browser:
 * Connect onboarding and the customer portal (Checkout has its own journey).
 */
test.group('Stripe sandbox hosted pages in the browser', () => {
  test('Connect onboarding: submitting the form enables payouts and returns to the platform', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const stripe = stripeClient()
    const account = await stripe.accounts.create({
      type: 'express',
      email: 'creator@studio.test',
      capabilities: { transfers: { requested: true } },
    })
    assert.isFalse(account.payouts_enabled)
    const link = await stripe.accountLinks.create({
      account: account.id,
      type: 'account_onboarding',
      refresh_url: `${appUrl}/login?refresh=1`,
      return_url: `${appUrl}/login?returned=1`,
    })

    const page = await visit(link.url)
    await page.assertTextContains('h1', 'Set up payouts for')
    await screenshot(page, 'connect-onboarding')
    await page.getByLabel('Routing number').fill('110000000')
    await page.getByLabel('Account number').fill('000123456789')
    await page.getByRole('button', { name: 'Agree and submit' }).click()
    await page.waitForURL('**/login?returned=1')

    const onboarded = await stripe.accounts.retrieve(account.id)
    assert.isTrue(onboarded.details_submitted)
    assert.isTrue(onboarded.payouts_enabled)
    assert.equal(onboarded.capabilities?.transfers, 'active')
    assert.deepEqual(onboarded.requirements?.currently_due, [])

    // The link was single-use: opening it again sends the creator to refresh_url.
    const again = await visit(link.url)
    await again.waitForURL('**/login?refresh=1')
    assert.deepEqual(errors, [])
  })

  test('Connect onboarding: leaving requirements due keeps payouts off', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const stripe = stripeClient()
    const account = await stripe.accounts.create({ type: 'express' })
    const link = await stripe.accountLinks.create({
      account: account.id,
      type: 'account_onboarding',
      refresh_url: `${appUrl}/login?refresh=1`,
      return_url: `${appUrl}/login?returned=1`,
    })
    const page = await visit(link.url)
    await page.getByRole('button', { name: /leave requirements due/i }).click()
    await page.waitForURL('**/login?returned=1')
    const pending = await stripe.accounts.retrieve(account.id)
    assert.isTrue(pending.details_submitted)
    assert.isFalse(pending.payouts_enabled)
    assert.include(pending.requirements?.currently_due ?? [], 'external_account')
    assert.deepEqual(errors, [])
  })

  test('customer portal: cancel at period end, renew, change card, cancel now, return', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const stripe = stripeClient()
    const customer = await stripe.customers.create({ email: 'portal@studio.test', name: 'Grace' })
    const checkout = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      success_url: `${appUrl}/login`,
      line_items: [
        {
          quantity: 1,
          price_data: {
            currency: 'usd',
            unit_amount: 500,
            recurring: { interval: 'month' },
            product_data: { name: 'Studio Premium' },
          },
        },
      ],
    })
    const completed = completeCheckoutSession(stripeSandbox().context, checkout.id)
    assert.isNull(completed.error)
    const subscriptionId = String(completed.session.subscription)
    const portal = await stripe.billingPortal.sessions.create({
      customer: customer.id,
      return_url: `${appUrl}/login?from=portal`,
    })

    const page = await visit(portal.url)
    await page.assertTextContains('body', 'Studio Premium')
    await page.assertTextContains('#payment-method', '4242')
    await screenshot(page, 'customer-portal')

    await page.getByRole('button', { name: 'Cancel plan' }).click()
    await page.assertTextContains('body', 'Cancels on')
    const scheduled = await stripe.subscriptions.retrieve(subscriptionId)
    assert.isTrue(scheduled.cancel_at_period_end)

    await page.getByRole('button', { name: 'Renew plan' }).click()
    await page.assertTextContains('body', 'Renews on')
    const renewed = await stripe.subscriptions.retrieve(subscriptionId)
    assert.isFalse(renewed.cancel_at_period_end)

    await page.getByLabel('Card number').fill('5555 5555 5555 4444')
    await page.getByLabel(/Expiry/).fill('12 / 34')
    await page.getByLabel('CVC').fill('123')
    await page.getByRole('button', { name: 'Update payment method' }).click()
    await page.assertTextContains('#payment-method', '4444')
    const updated = await stripe.customers.retrieve(customer.id, {
      expand: ['invoice_settings.default_payment_method'],
    })
    assert.notProperty(updated, 'deleted')
    if (!updated.deleted) {
      const method = updated.invoice_settings.default_payment_method
      assert.equal(typeof method === 'object' ? method?.card?.last4 : null, '4444')
    }

    await page.getByRole('button', { name: 'Cancel immediately' }).click()
    await page.waitForLoadState('load')
    const canceled = await stripe.subscriptions.retrieve(subscriptionId)
    assert.equal(canceled.status, 'canceled')

    await page.getByRole('link', { name: /Return to/ }).click()
    await page.waitForURL('**/login?from=portal')
    assert.deepEqual(errors, [])
  })
})
