import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import { randomBytes } from 'node:crypto'
import { UserFactory } from '#database/factories/user_factory'
import AgentEntitlement from '#models/agent_entitlement'
import MarketplaceTransaction from '#models/marketplace_transaction'
import AgentCatalogService from '#services/marketplace/agent_catalog_service'
import { stripeSandbox } from '#tests/support/stripe'
import { payWith, screenshot, setUpBrowser, unexpectedConsoleErrors } from '#tests/browser/helpers'

test.group('Journey: the marketplace', () => {
  test('a user browses agents, buys a one-time agent through Checkout and finds it in My agents', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const maker = await UserFactory.merge({ fullName: 'Grace Maker' }).create()
    const catalog = await app.container.make(AgentCatalogService)
    const tag = randomBytes(3).toString('hex')
    const bought = await catalog.create({
      slug: `copy-polisher-${tag}`,
      name: `Copy polisher ${tag}`,
      description: 'Tightens the words on your landing page.',
      creatorId: maker.id,
      pricing: { pricingType: 'one_time', priceCents: 1500 },
    })
    await catalog.create({
      slug: `seo-coach-${tag}`,
      name: `SEO coach ${tag}`,
      description: 'Reviews your pages every month.',
      creatorId: maker.id,
      pricing: { pricingType: 'monthly', priceCents: 900 },
    })
    const user = await UserFactory.create()
    await browserContext.loginAs(user)

    const page = await visit('/marketplace')
    const card = page.getByTestId(`agent-${bought.slug}`)
    await page.assertTextContains(`[data-testid=agent-${bought.slug}]`, '$15.00 once')
    await page.assertTextContains(
      `[data-testid=agent-${bought.slug}]`,
      'By Grace Maker, who earns $13.50 (90%) of each sale.'
    )
    await screenshot(page, 'marketplace')
    await card.getByRole('link', { name: bought.name }).click()
    await page.waitForURL(`**/marketplace/${bought.slug}`)
    await page.getByRole('button', { name: 'Buy once' }).click()
    await page.waitForURL(`${stripeSandbox().url}/c/pay/**`)
    await page.assertTextContains('body', '$15.00')
    await payWith(page, '4242 4242 4242 4242')
    await page.waitForURL('**/billing/checkout/success?session_id=cs_test_*')
    await page.assertText('h1', 'Payment received')
    await page.getByRole('link', { name: 'Go to my agents' }).click()
    await page.waitForURL('**/marketplace/mine')
    await page.assertTextContains('table', bought.name)
    await page.assertTextContains('table', 'Bought once')
    await page.assertTextContains('table', 'Active')
    await screenshot(page, 'my-agents')

    const entitlement = await AgentEntitlement.query()
      .where('user_id', user.id)
      .where('agent_id', bought.id)
      .firstOrFail()
    assert.equal(entitlement.status, 'active')
    await stripeSandbox().waitForIdle(20_000)
    const sale = await MarketplaceTransaction.query().where('agent_id', bought.id).firstOrFail()
    assert.deepEqual([sale.kind, sale.grossCents, sale.creatorCents], ['sale', 1500, 1350])

    // Back on the agent page: it says the user has it instead of offering it again.
    await page.goto(`/marketplace/${bought.slug}`)
    await page.assertTextContains('[data-testid=agent-status]', 'Yours')
    assert.equal(await page.getByRole('button', { name: 'Buy once' }).count(), 0)
    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })
})
