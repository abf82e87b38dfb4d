import { test } from '@japa/runner'
import { UserFactory } from '#database/factories/user_factory'
import User from '#models/user'
import MarketplaceAgent from '#models/marketplace_agent'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import {
  PHONE,
  horizontalOverflow,
  screenshot,
  setUpBrowser,
  unexpectedConsoleErrors,
  unlabelledControls,
  uniqueEmail,
} from '#tests/browser/helpers'
import { fundPlatform, runPayouts, sale } from '../functional/marketplace/helpers.js'

test.group('Journey: a creator onboards and publishes a monthly agent', () => {
  test('onboards through Stripe, publishes and reprices an agent, then sees earnings and a payout', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const jenny = await UserFactory.merge({
      fullName: 'Jenny Maker',
      email: uniqueEmail('creator'),
    }).create()
    await browserContext.loginAs(jenny)

    // 1. Nothing set up yet: the button leaves for Stripe's hosted onboarding.
    const page = await visit('/creator')
    await page.assertText('h1', 'Creator earnings')
    await page.assertText('[data-testid=onboarding-state]', 'Not set up')
    await page.getByRole('button', { name: 'Set up payouts' }).click()
    await page.waitForURL(`${stripeSandbox().url}/setup/e/**`)
    await page.assertTextContains('h1', 'Set up payouts for')
    await page.getByLabel('Routing number').fill('110000000')
    await page.getByLabel('Account number').fill('000123456789')
    await page.getByRole('button', { name: 'Agree and submit' }).click()

    // 2. Back on the earnings page (through the return URL), status read from Stripe.
    await page.waitForURL(/\/creator$/)
    await page.assertTextContains('[role=status]', 'Payouts are set up')
    await page.assertText('[data-testid=onboarding-state]', 'Payouts enabled')
    const onboarded = await User.findOrFail(jenny.id)
    assert.isTrue(onboarded.creatorPayoutsEnabled)
    const account = await stripeClient().accounts.retrieve(onboarded.creatorStripeAccountId!)
    assert.isTrue(account.payouts_enabled)

    // 3. Publish a monthly agent; a malformed price is refused next to its field.
    await page.getByLabel('Name').fill('Code Reviewer')
    await page.getByLabel('Description').fill('Reviews pull requests and explains what to change.')
    await page.getByLabel('Pricing').selectOption('monthly')
    await page.getByLabel('Price per month (USD)').fill('nine')
    await page.getByRole('button', { name: 'Publish agent' }).click()
    await page.assertTextContains('#new-agent-price-error', 'Enter an amount in dollars, like 9.99')
    assert.lengthOf(await MarketplaceAgent.query().where('creator_id', jenny.id), 0)

    await page.getByLabel('Price per month (USD)').fill('9.99')
    await page.getByRole('button', { name: 'Publish agent' }).click()
    await page.assertTextContains('[role=status]', '"Code Reviewer" is published.')
    const row = page.locator('[data-testid=agent-code-reviewer]')
    await page.assertTextContains(row, '$9.99 / month')
    await page.assertTextContains(row, 'Published')
    const published = await MarketplaceAgent.findByOrFail('creator_id', jenny.id)
    assert.equal(published.priceCents, 999)
    const firstPrice = await stripeClient().prices.retrieve(published.stripePriceId!)
    assert.equal(firstPrice.unit_amount, 999)
    assert.equal(firstPrice.recurring?.interval, 'month')

    // 4. Change its price: a new Stripe price, the old one retired.
    await page.getByRole('button', { name: 'Change price of Code Reviewer' }).click()
    await page.locator(`#agent-${published.id}-price`).fill('12')
    await page.getByRole('button', { name: 'Save price' }).click()
    await page.assertTextContains('[role=status]', 'The price of "Code Reviewer" is changed.')
    await page.assertTextContains(row, '$12.00 / month')
    const repriced = await MarketplaceAgent.findOrFail(published.id)
    assert.equal(repriced.priceCents, 1200)
    const retired = await stripeClient().prices.retrieve(published.stripePriceId!)
    assert.isFalse(retired.active)
    assert.deepEqual(await unlabelledControls(page), [])

    // 5. Sales come in (two past the hold, one inside it); a payout run pays the creator.
    const subscriber = await UserFactory.merge({ email: uniqueEmail('subscriber') }).create()
    await sale(repriced, subscriber, 1200)
    await sale(repriced, subscriber, 1200, { daysAgo: 9 })
    await sale(repriced, subscriber, 1200, { daysAgo: 2 })
    await fundPlatform()
    const run = await runPayouts({ creatorId: jenny.id })
    assert.deepEqual(
      run.payouts.map((outcome) => [outcome.status, outcome.amountCents]),
      [['paid', 2160]]
    )

    await page.reload()
    await page.assertTextContains('[data-testid=balance-pending]', '$10.80')
    await page.assertTextContains('[data-testid=balance-payable]', '$0.00')
    await page.assertTextContains('[data-testid=balance-paid]', '$21.60')
    await page.assertTextContains('[data-testid=balance-reversed]', '$0.00')
    await page.assertTextContains(row, '3') // sales
    await page.assertTextContains(row, '$36.00') // gross
    await page.assertTextContains(row, '$32.40') // the creator's 90%
    const payoutsTable = page.locator('[data-testid=payouts]')
    await page.assertTextContains(payoutsTable, '$21.60')
    await page.assertTextContains(payoutsTable, 'Paid')
    await page.assertTextContains(payoutsTable, run.payouts[0].stripeTransferId!)
    // The reload kept the scroll position: from the top, so the sticky bar sits at the top.
    await page.evaluate(() => window.scrollTo(0, 0))
    await screenshot(page, 'creator-earnings')

    // On a phone the page fits its width (wide tables scroll inside their card).
    await page.setViewportSize(PHONE)
    await page.evaluate(() => window.scrollTo(0, 0))
    assert.equal(await horizontalOverflow(page), 0)
    await screenshot(page, 'creator-earnings-390')

    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })
})
