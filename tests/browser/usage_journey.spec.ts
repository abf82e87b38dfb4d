import { test } from '@japa/runner'
import { randomBytes } from 'node:crypto'
import app from '@adonisjs/core/services/app'
import { DateTime } from 'luxon'
import { UserFactory } from '#database/factories/user_factory'
import User from '#models/user'
import UsageInvoice from '#models/usage_invoice'
import CreditService from '#services/credit_service'
import CustomerService from '#services/customer_service'
import UsageInvoiceService from '#services/usage/usage_invoice_service'
import { stripeClient } from '#tests/support/stripe'
import { litellmSandbox } from '#tests/support/litellm'
import { screenshot, setUpBrowser, unexpectedConsoleErrors } from '#tests/browser/helpers'
import { setDefaultCard } from '../functional/invoices/helpers.js'

test.group('Journey: AI usage from LiteLLM to the monthly invoice', (group) => {
  group.each.teardown(() => litellmSandbox().reset())

  test('a user syncs their usage, sees the chart and breakdowns, and the invoice run takes credits first, then the card', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.merge({ fullName: 'Ursula Usage' }).create()
    // $1.00 of credits, and a saved card for the rest.
    await new CreditService().operatorAdjust(user, {
      amountCents: 100,
      reason: 'welcome credits',
      operator: 'usage_journey',
    })
    const customers = await app.container.make(CustomerService)
    const customer = await customers.ensureCustomer(user)
    await setDefaultCard(customer, '4242424242424242')

    // Two gpt-4o requests of 400,000 tokens in and 100,000 out: $2.00 each at our table's price.
    const run = randomBytes(4).toString('hex')
    for (const id of [`chatcmpl-journey-${run}-1`, `chatcmpl-journey-${run}-2`]) {
      litellmSandbox().addLateRow({
        request_id: id,
        // By email: the suite's generated rows use small numeric user ids.
        user: user.email,
        end_user: user.email,
        model: 'gpt-4o',
        model_group: 'gpt-4o',
        prompt_tokens: 400_000,
        completion_tokens: 100_000,
        total_tokens: 500_000,
        ageMs: 20 * 60_000,
      })
    }
    await browserContext.loginAs(user)
    const page = await visit('/usage?range=month')
    await page.assertTextContains('[data-testid=usage-totals]', '$0.00')
    await page.getByRole('button', { name: 'Sync now' }).click()
    await page.assertTextContains('[role=status]', 'Usage is up to date')
    await page.assertTextContains('[data-testid=usage-totals]', '$4.00')
    await page.assertTextContains('[data-testid=by-model]', 'gpt-4o')
    await page.assertTextContains('[data-testid=requests]', 'gpt-4o')
    await page.goto('/usage?range=month')
    const bars = await page.locator('.usage-chart rect').count()
    assert.equal(bars, DateTime.utc().day, 'one bar per day of the month so far')
    await screenshot(page, 'usage-dashboard')

    // The month closes: the invoice run applies the $1.00 of credits, then charges $3.00.
    const period = DateTime.utc().toFormat('yyyy-LL')
    const invoices = await app.container.make(UsageInvoiceService)
    await invoices.generate(period, {
      userId: user.id,
      skipSync: true,
      now: DateTime.utc().endOf('month').plus({ minutes: 5 }),
    })
    const invoice = await UsageInvoice.findByOrFail('user_id', user.id)
    assert.deepEqual(
      [invoice.amountCents, invoice.creditsAppliedCents, invoice.chargedCents, invoice.status],
      [400, 100, 300, 'paid']
    )
    const fresh = await User.findOrFail(user.id)
    assert.equal(fresh.creditsBalanceCents, 0)
    const stripeInvoice = await stripeClient().invoices.retrieve(invoice.stripeInvoiceId!)
    assert.equal(stripeInvoice.amount_paid, 300)

    await page.goto('/billing')
    const row = page.locator('[data-testid=usage-invoices] tbody tr').first()
    await page.assertTextContains(row, period)
    await page.assertTextContains(row, '$4.00')
    await page.assertTextContains(row, '$1.00')
    await page.assertTextContains(row, '$3.00')
    await page.assertTextContains(row, 'Paid')
    await screenshot(page, 'billing-usage-invoices')
    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })
})
