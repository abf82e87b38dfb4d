import { test } from '@japa/runner'
import { UserFactory } from '#database/factories/user_factory'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { payWith, screenshot, setUpBrowser, unexpectedConsoleErrors } from '#tests/browser/helpers'

test.group('Journey: buying through the hosted Checkout', () => {
  test('buys Premium, a credit pack and a deploy slot, and comes back each time', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.merge({ fullName: 'Ada Lovelace' }).create()
    await browserContext.loginAs(user)
    const sandboxOrigin = stripeSandbox().url

    const purchases = [
      { button: 'Upgrade to Premium', amount: '$5.00', pay: 'Subscribe', kind: 'premium' },
      { button: 'Buy $50.00 of credits', amount: '$50.00', pay: 'Pay $50.00', kind: 'credits' },
      { button: 'Buy a deploy slot', amount: '$10.00', pay: 'Pay $10.00', kind: 'deploy_slot' },
    ]
    for (const purchase of purchases) {
      const page = await visit('/billing')
      // Credit packs are offered in the dashboard's purchase modal.
      if (purchase.kind === 'credits')
        await page.getByRole('button', { name: 'Buy credits' }).click()
      await page.getByRole('button', { name: purchase.button }).click()
      await page.waitForURL(`${sandboxOrigin}/c/pay/**`)
      // A real-looking checkout: product, amount, email prefilled, a Pay button.
      await page.assertTextContains('body', purchase.amount)
      await page.assertInputValue(page.locator('#email'), user.email)
      await page.assertTextContains('[data-testid=submit]', purchase.pay)
      if (purchase.kind === 'premium') await screenshot(page, 'checkout-premium')
      await payWith(page, '4242 4242 4242 4242')
      await page.waitForURL('**/billing/checkout/success?session_id=cs_test_*')
      await page.assertText('h1', 'Payment received')
      const sessionId = new URL(page.url()).searchParams.get('session_id')!
      const session = await stripeClient().checkout.sessions.retrieve(sessionId)
      assert.equal(session.status, 'complete')
      assert.equal(session.payment_status, 'paid')
      assert.equal(session.metadata?.kind, purchase.kind)
      await page.close()
    }
    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })

  test('a declined card stays on Checkout with the reason; Back returns to billing', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.create()
    await browserContext.loginAs(user)

    const page = await visit('/billing')
    await page.getByRole('button', { name: 'Buy a deploy slot' }).click()
    await page.waitForURL(`${stripeSandbox().url}/c/pay/**`)
    await payWith(page, '4000 0000 0000 0002')
    await page.assertTextContains('[role=alert]', 'Your card was declined.')
    await screenshot(page, 'checkout-declined')
    const sessionId = new URL(page.url()).pathname.split('/').pop()!
    const session = await stripeClient().checkout.sessions.retrieve(sessionId)
    assert.equal(session.status, 'open')
    assert.equal(session.payment_status, 'unpaid')

    await page.getByRole('link', { name: /back/i }).click()
    await page.waitForURL('**/billing?checkout=canceled')
    await page.assertTextContains('[role=status]', 'Checkout canceled. Nothing was charged.')
    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })
})
