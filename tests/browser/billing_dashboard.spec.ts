import { test } from '@japa/runner'
import type { Page } from 'playwright'
import { appUrl } from '#config/app'
import { UserFactory } from '#database/factories/user_factory'
import User from '#models/user'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { payWith, screenshot, setUpBrowser, unexpectedConsoleErrors } from '#tests/browser/helpers'
import {
  completeCheckoutSession,
  settleAsyncCheckout,
} from '../../sandbox/stripe/resources/checkout_sessions.js'

/**
 * The billing dashboard against the Stripe sandbox: every purchase goes
 * through the hosted Checkout, is confirmed by the webhooks, and shows on
 * the dashboard (subscription card, usage, credits, deploy slots,
 * transactions) and in the navigation's plan badge.
 */

/** Clicks a Buy button on the dashboard, pays on the hosted Checkout, lands on the success page. */
async function buy(page: Page, button: string, card = '4242 4242 4242 4242') {
  await page.getByRole('button', { name: button }).click()
  await page.waitForURL(`${stripeSandbox().url}/c/pay/**`)
  await payWith(page, card)
  await page.waitForURL('**/billing/checkout/success?session_id=cs_test_*')
  await page.assertText('h1', 'Payment received')
}

/** Lets the webhooks in flight be processed, then shows the dashboard again. */
async function settleAndOpenDashboard(page: Page) {
  await stripeSandbox().waitForIdle(20_000)
  await page.goto(`${appUrl}/billing`)
  await page.waitForSelector('[data-testid=subscription-card]')
}

/** The user's Premium subscription as the sandbox holds it. */
async function remoteSubscription(user: User) {
  const { stripeCustomerId } = await User.findOrFail(user.id)
  const list = await stripeClient().subscriptions.list({
    customer: stripeCustomerId!,
    status: 'all',
  })
  const subscription = list.data.find((sub) => sub.metadata?.kind === 'premium')
  if (!subscription) throw new Error(`No Premium subscription in Stripe for user ${user.id}`)
  return subscription
}

const badge = (page: Page) => page.locator('[data-testid=plan-badge]')
const card = (page: Page) => page.locator('[data-testid=subscription-card]')

test.group('Billing dashboard', () => {
  test('buys Premium, sees the limits rise, cancels at period end and resumes', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.merge({ fullName: 'Ada Lovelace' }).create()
    await browserContext.loginAs(user)

    const page = await visit('/billing')
    await page.assertText('[data-testid=plan-badge]', 'Free')
    await page.assertTextContains('[data-testid=subscription-card]', 'Free plan')
    await page.assertTextContains('[data-testid=usage-card]', '0 / 1 projects')
    await page.assertTextContains('[data-testid=usage-card]', '0 / 1 deploys')
    await page.assertTextContains('#transactions', 'No purchases')

    await buy(page, 'Upgrade to Premium')
    await settleAndOpenDashboard(page)
    await page.assertText('[data-testid=plan-badge]', 'Premium')
    await page.assertText('[data-testid=subscription-status]', 'Active')
    await page.assertTextContains('[data-testid=subscription-period]', 'Renews on')
    await page.assertTextContains('[data-testid=usage-card]', '0 / 5 projects')
    await page.assertTextContains('[data-testid=usage-card]', '0 / 5 deploys')
    await page.assertTextContains('.page-header', 'Premium plan: 5 projects, 5 deploys')
    assert.isFalse(await card(page).getByRole('button', { name: 'Upgrade to Premium' }).isVisible())
    await screenshot(page, 'billing-dashboard')

    const subscription = await remoteSubscription(user)
    const periodEnd = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium' }).format(
      new Date(subscription.items.data[0].current_period_end * 1000)
    )
    await page.assertTextContains('[data-testid=subscription-period]', `Renews on ${periodEnd}`)

    await card(page).getByRole('button', { name: 'Cancel at period end' }).click()
    await page.assertTextContains('[role=status]', 'Premium will end at the end of the paid period')
    await page.assertTextContains('[data-testid=subscription-period]', `Cancels on ${periodEnd}`)
    await page.assertText('[data-testid=subscription-status]', 'Canceling')
    // Premium until then: the badge stays, and says when it ends.
    await page.assertText('[data-testid=plan-badge]', 'Premium')
    assert.include(await badge(page).getAttribute('title'), `Premium cancels on ${periodEnd}`)
    const canceling = await remoteSubscription(user)
    assert.isTrue(canceling.cancel_at_period_end)
    await screenshot(page, 'billing-dashboard-canceling')

    // The webhook of the change arrives too; the page still says the same after it.
    await settleAndOpenDashboard(page)
    await page.assertTextContains('[data-testid=subscription-period]', `Cancels on ${periodEnd}`)

    await card(page).getByRole('button', { name: 'Resume Premium' }).click()
    await page.assertTextContains('[role=status]', 'Premium resumed')
    await page.assertTextContains('[data-testid=subscription-period]', `Renews on ${periodEnd}`)
    await page.assertText('[data-testid=subscription-status]', 'Active')
    const resumed = await remoteSubscription(user)
    assert.isFalse(resumed.cancel_at_period_end)
    await settleAndOpenDashboard(page)
    await page.assertText('[data-testid=subscription-status]', 'Active')
    await page.assertText('[data-testid=plan-badge]', 'Premium')

    // Cancel now asks first; keeping Premium changes nothing.
    await card(page).getByRole('button', { name: 'Cancel now' }).click()
    await page.assertTextContains('[data-testid=subscription-card]', 'Cancel Premium now?')
    await card(page).getByRole('button', { name: 'Keep Premium' }).click()
    assert.equal(await card(page).getByText('Cancel Premium now?').count(), 0)
    await card(page).getByRole('button', { name: 'Cancel now' }).click()
    await card(page).getByRole('button', { name: 'Yes, cancel now' }).click()
    await page.assertTextContains('[role=status]', 'Premium is cancelled')
    await page.assertText('[data-testid=plan-badge]', 'Free')
    await page.assertTextContains(
      '[data-testid=subscription-card]',
      'Your Premium subscription ended'
    )
    await page.assertTextContains('[data-testid=usage-card]', '0 / 1 projects')
    assert.isTrue(await card(page).getByRole('button', { name: 'Upgrade to Premium' }).isVisible())
    const ended = await remoteSubscription(user)
    assert.equal(ended.status, 'canceled')
    await settleAndOpenDashboard(page)
    await page.assertText('[data-testid=plan-badge]', 'Free')

    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })

  test('buys credits through the modal and a deploy slot; both show on the dashboard', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.create()
    await browserContext.loginAs(user)

    const page = await visit('/billing')
    await page.assertTextContains('[data-testid=credits-balance]', '0 credits')
    await page.getByRole('button', { name: 'Buy credits' }).click()
    const modal = page.getByRole('dialog', { name: 'Buy credits' })
    assert.isTrue(await modal.isVisible())
    for (const label of [
      'Buy $5.00 of credits',
      'Buy $10.00 of credits',
      'Buy $50.00 of credits',
    ]) {
      assert.isTrue(await modal.getByRole('button', { name: label }).isVisible(), label)
    }
    await screenshot(page, 'billing-credits-modal')
    // Escape closes it without buying anything.
    await page.keyboard.press('Escape')
    assert.isFalse(await modal.isVisible())

    await page.getByRole('button', { name: 'Buy credits' }).click()
    await buy(page, 'Buy $10.00 of credits')
    await settleAndOpenDashboard(page)
    await page.assertTextContains('[data-testid=credits-balance]', '1,000 credits ($10.00)')
    await page.assertTextContains('.account .credits', '$10.00 credits')
    const transactions = page.locator('[data-testid=transactions]')
    await page.assertTextContains('[data-testid=transactions]', 'Credits added')
    await page.assertTextContains('[data-testid=transactions]', '+1,000 credits')
    await page.assertTextContains('[data-testid=transactions]', 'Credit pack (medium)')
    await page.assertTextContains('[data-testid=transactions]', 'paid')
    assert.equal(await transactions.locator('tbody tr').count(), 2)

    await page.assertTextContains('[data-testid=slots-active]', '0 active slots')
    await buy(page, 'Buy a deploy slot')
    await settleAndOpenDashboard(page)
    await page.assertTextContains('[data-testid=slots-active]', '1 active slot')
    await page.assertTextContains('[data-testid=usage-card]', '0 / 2 deploys')
    await page.assertTextContains('[data-testid=usage-card]', 'plus 1 purchased deploy slot')
    await page.assertTextContains('[data-testid=transactions]', 'Deploy slot')
    await page.assertTextContains('[data-testid=transactions]', '$10.00')
    assert.equal(await transactions.locator('tbody tr').count(), 3)
    await screenshot(page, 'billing-dashboard-purchases')
    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })

  test('a renewal failing into past_due, recovered by updating the card in the portal', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.create()
    await browserContext.loginAs(user)

    const page = await visit('/billing')
    // 0341 pays in Checkout and is declined off-session: the first renewal fails.
    await buy(page, 'Upgrade to Premium', '4000 0000 0000 0341')
    await settleAndOpenDashboard(page)
    await page.assertText('[data-testid=subscription-status]', 'Active')

    const subscription = await remoteSubscription(user)
    const periodEnd = subscription.items.data[0].current_period_end
    await stripeSandbox().advanceClock(periodEnd - stripeSandbox().now() + 60)
    await settleAndOpenDashboard(page)
    const pastDue = await remoteSubscription(user)
    assert.equal(pastDue.status, 'past_due')

    await page.assertText('[data-testid=subscription-status]', 'Past due')
    await page.assertText('[data-testid=plan-badge]', 'Past due')
    await page.assertTextContains(
      '[data-testid=subscription-card] [role=alert]',
      'Your renewal payment failed'
    )
    // Within the grace period Premium stays, and the page says until when.
    await page.assertTextContains(
      '[data-testid=subscription-card] [role=alert]',
      'Premium stays until'
    )
    await page.assertTextContains('[data-testid=usage-card]', '0 / 5 projects')
    await screenshot(page, 'billing-dashboard-past-due')

    await card(page).getByRole('button', { name: 'Update card' }).click()
    await page.waitForURL(`${stripeSandbox().url}/p/session/**`)
    await page.getByLabel('Card number').fill('4242 4242 4242 4242')
    await page.getByLabel(/Expiry/).fill('12 / 34')
    await page.getByLabel('CVC').fill('123')
    await page.getByRole('button', { name: 'Update payment method' }).click()
    await page.assertTextContains('body', 'your outstanding invoice has been paid')
    await page.getByRole('link', { name: /Return to/ }).click()
    await page.waitForURL('**/billing')

    await settleAndOpenDashboard(page)
    const recovered = await remoteSubscription(user)
    assert.equal(recovered.status, 'active')
    await page.assertText('[data-testid=subscription-status]', 'Active')
    await page.assertText('[data-testid=plan-badge]', 'Premium')
    await page.assertTextContains('[data-testid=subscription-period]', 'Renews on')
    assert.equal(await page.locator('[data-testid=subscription-card] [role=alert]').count(), 0)
    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })

  test('the success page refreshes itself while the payment is processing', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.create()
    await browserContext.loginAs(user)

    const page = await visit('/billing')
    await page.getByRole('button', { name: 'Buy credits' }).click()
    await page.getByRole('button', { name: 'Buy $5.00 of credits' }).click()
    await page.waitForURL(`${stripeSandbox().url}/c/pay/**`)
    const sessionId = new URL(page.url()).pathname.split('/').pop()!
    // A delayed payment method: Checkout completes unpaid, the money comes later.
    const completed = completeCheckoutSession(stripeSandbox().context, sessionId, {
      async: 'pending',
    })
    assert.isNull(completed.error)

    const reloads: string[] = []
    page.on('request', (request) => {
      if (request.url().includes('/billing/checkout/success') && request.headers()['x-inertia']) {
        reloads.push(request.url())
      }
    })
    await page.goto(`${appUrl}/billing/checkout/success?session_id=${sessionId}`)
    await page.assertText('h1', 'Processing your payment')
    await page.assertTextContains('[role=status]', 'This page updates by itself')
    await screenshot(page, 'checkout-processing')

    // The page asks again every 2 s; once the payment succeeds it says so without a manual reload.
    await page.waitForRequest((request) => request.url().includes('/billing/checkout/success'))
    settleAsyncCheckout(stripeSandbox().context, sessionId, 'succeeded')
    await page.waitForSelector('h1:has-text("Payment received")', { timeout: 15_000 })
    assert.isAtLeast(reloads.length, 1)
    await stripeSandbox().waitForIdle(20_000)
    await page.goto(`${appUrl}/billing`)
    await page.assertTextContains('[data-testid=credits-balance]', '500 credits ($5.00)')

    // Paid: no more refreshes.
    const before = reloads.length
    await page.goto(`${appUrl}/billing/checkout/success?session_id=${sessionId}`)
    await page.assertText('h1', 'Payment received')
    await page.waitForTimeout(2500)
    assert.equal(reloads.length, before)
    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })
})
