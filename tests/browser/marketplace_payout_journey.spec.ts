import { test } from '@japa/runner'
import { DateTime } from 'luxon'
import { UserFactory } from '#database/factories/user_factory'
import MarketplaceAgent from '#models/marketplace_agent'
import MarketplaceTransaction from '#models/marketplace_transaction'
import AgentEntitlement from '#models/agent_entitlement'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import {
  payWith,
  screenshot,
  setUpBrowser,
  unexpectedConsoleErrors,
  uniqueEmail,
} from '#tests/browser/helpers'
import { fundPlatform, runPayouts } from '../functional/marketplace/helpers.js'

/** Moves the sandbox clock past the subscription's period end: the renewal is invoiced and paid. */
async function renew(subscriptionId: string) {
  const response = await fetch(
    `${stripeSandbox().url}/_sim/subscriptions/${subscriptionId}/advance_period`,
    { method: 'POST' }
  )
  if (!response.ok) throw new Error(`advance_period: ${response.status}`)
  await stripeSandbox().waitForIdle(20_000)
}

test.group('Journey: a monthly agent from publishing to payout and refund', () => {
  test('a creator publishes, a user subscribes, two renewals, one payout after the hold, a refunded renewal reversed', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const maker = await UserFactory.merge({
      fullName: 'Rosa Maker',
      email: uniqueEmail('maker'),
    }).create()
    await browserContext.loginAs(maker)

    // The creator onboards through Stripe's hosted page and publishes a $9.99 monthly agent.
    const page = await visit('/creator')
    await page.getByRole('button', { name: 'Set up payouts' }).click()
    await page.waitForURL(`${stripeSandbox().url}/setup/e/**`)
    await page.getByLabel('Routing number').fill('110000000')
    await page.getByLabel('Account number').fill('000123456789')
    await page.getByRole('button', { name: 'Agree and submit' }).click()
    await page.waitForURL(/\/creator$/)
    await page.assertText('[data-testid=onboarding-state]', 'Payouts enabled')
    const name = `Release notes ${Date.now().toString(36)}`
    await page.getByLabel('Name').fill(name)
    await page.getByLabel('Description').fill('Writes release notes from merged pull requests.')
    await page.getByLabel('Pricing').selectOption('monthly')
    await page.getByLabel('Price per month (USD)').fill('9.99')
    await page.getByRole('button', { name: 'Publish agent' }).click()
    await page.assertTextContains('[role=status]', `"${name}" is published.`)
    const agent = await MarketplaceAgent.findByOrFail('creator_id', maker.id)

    // A user subscribes to it from the marketplace, through the hosted Checkout.
    const subscriber = await UserFactory.merge({ email: uniqueEmail('subscriber') }).create()
    await browserContext.clearCookies()
    await browserContext.loginAs(subscriber)
    await page.close()
    const shop = await visit(`/marketplace/${agent.slug}`)
    await shop.assertTextContains('body', '$9.99 / month')
    await shop.assertTextContains('body', 'who earns $8.99 (90%) of each month')
    await shop.getByRole('button', { name: 'Subscribe' }).click()
    await shop.waitForURL(`${stripeSandbox().url}/c/pay/**`)
    await payWith(shop, '4242 4242 4242 4242')
    await shop.waitForURL('**/billing/checkout/success?session_id=cs_test_*')
    await shop.assertText('h1', 'Payment received')
    await stripeSandbox().waitForIdle(20_000)
    const entitlement = await AgentEntitlement.query()
      .where('user_id', subscriber.id)
      .where('agent_id', agent.id)
      .firstOrFail()
    assert.equal(entitlement.status, 'active')

    // The clock runs through two renewals: three paid invoices, three earnings.
    await renew(entitlement.stripeSubscriptionId!)
    await renew(entitlement.stripeSubscriptionId!)
    const earnings = await MarketplaceTransaction.query().where('agent_id', agent.id).orderBy('id')
    assert.deepEqual(
      earnings.map((row) => [row.kind, row.grossCents, row.creatorCents]),
      [
        ['sale', 999, 899],
        ['renewal', 999, 899],
        ['renewal', 999, 899],
      ]
    )

    await browserContext.clearCookies()
    await browserContext.loginAs(maker)
    await shop.close()
    const earningsPage = await visit('/creator')
    const row = earningsPage.locator(`[data-testid=agent-${agent.slug}]`)
    await earningsPage.assertTextContains(row, '3') // sales
    await earningsPage.assertTextContains(row, '$29.97') // gross
    await earningsPage.assertTextContains(row, '$26.97') // the creator's 90%
    await earningsPage.assertTextContains('[data-testid=balance-pending]', '$26.97')
    await earningsPage.assertTextContains('[data-testid=balance-paid]', '$0.00')

    // After the hold period (counted from each payment, on Stripe's clock) one payout pays all three.
    await fundPlatform()
    const afterHold = DateTime.fromSeconds(stripeSandbox().now(), { zone: 'utc' }).plus({ days: 8 })
    const run = await runPayouts({ now: afterHold, creatorId: maker.id })
    assert.deepEqual(
      run.payouts.map((outcome) => [outcome.status, outcome.amountCents]),
      [['paid', 2697]]
    )
    await earningsPage.reload()
    await earningsPage.assertTextContains('[data-testid=balance-paid]', '$26.97')
    const payouts = earningsPage.locator('[data-testid=payouts]')
    await earningsPage.assertTextContains(payouts, '$26.97')
    await earningsPage.assertTextContains(payouts, run.payouts[0].stripeTransferId!)

    // The last renewal is refunded: its share comes back from the paid transfer.
    const lastRenewal = earnings[2]
    await stripeClient().refunds.create({ charge: lastRenewal.stripeChargeId! })
    await stripeSandbox().waitForIdle(20_000)
    const reversal = await MarketplaceTransaction.query()
      .where('reverses_transaction_id', lastRenewal.id)
      .firstOrFail()
    assert.deepEqual(
      [reversal.kind, reversal.grossCents, reversal.creatorCents],
      ['refund', -999, -899]
    )
    const second = await runPayouts({ now: afterHold, creatorId: maker.id })
    assert.deepEqual(
      second.reversals.map((outcome) => [outcome.status, outcome.amountCents]),
      [['succeeded', 899]]
    )
    const transfer = await stripeClient().transfers.retrieve(run.payouts[0].stripeTransferId!)
    assert.equal(transfer.amount_reversed, 899)

    await earningsPage.reload()
    await earningsPage.assertTextContains('[data-testid=balance-reversed]', '$8.99')
    await screenshot(earningsPage, 'creator-earnings-after-refund')
    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })
})
