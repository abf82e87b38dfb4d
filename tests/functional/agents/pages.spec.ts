import { test } from '@japa/runner'
import { flashed } from '#tests/support/http'
import { agent, buyer, creator, resetData } from '../marketplace/helpers.js'
import { stripeSandbox } from '../subscriptions/helpers.js'

test.group('Marketplace pages', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('the list shows published agents with their price, the creator’s share and what the user holds', async ({
    client,
    assert,
  }) => {
    const maker = await creator()
    const once = await agent(maker, { pricingType: 'one_time', priceCents: 999 }, 'one-off')
    const platform = await agent(null, { pricingType: 'monthly', priceCents: 500 }, 'platform-pick')
    const hidden = await agent(maker, { pricingType: 'free' }, 'hidden-agent')
    hidden.isPublished = false
    await hidden.save()
    const user = await buyer()

    const page = await client.get('/marketplace').loginAs(user).withInertia()
    page.assertStatus(200)
    page.assertInertiaComponent('marketplace/index')
    const listed = page.inertiaProps.agents as Array<Record<string, unknown>>
    assert.sameMembers(
      listed.map((row) => row.slug),
      [once.slug, platform.slug]
    )
    const oneOff = listed.find((row) => row.slug === 'one-off')!
    assert.include(oneOff, {
      priceCents: 999,
      creatorEarnsCents: 899,
      creatorSharePercent: 90,
      creatorName: maker.fullName,
      available: true,
      held: null,
    })
    const pick = listed.find((row) => row.slug === 'platform-pick')!
    assert.include(pick, { creatorName: null, creatorEarnsCents: 0, creatorSharePercent: 0 })

    const missing = await client.get('/marketplace/hidden-agent').loginAs(user).withInertia()
    missing.assertStatus(404)
  })

  test('the agent page’s button: a free agent is added with a message; a paid one goes to Checkout', async ({
    client,
    assert,
  }) => {
    const maker = await creator()
    await agent(maker, { pricingType: 'free' }, 'free-helper')
    await agent(maker, { pricingType: 'monthly', priceCents: 300 }, 'monthly-helper')
    const user = await buyer()

    const added = await client
      .post('/marketplace/free-helper/purchase')
      .form({ requestKey: 'page-key-0001' })
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    added.assertStatus(302)
    added.assertHeader('location', '/marketplace/free-helper')
    assert.equal(flashed(added, 'success'), 'Test agent is now in your agents.')
    const after = await client.get('/marketplace/free-helper').loginAs(user).withInertia()
    assert.equal(after.inertiaProps.agent.held.status, 'active')

    const paid = await client
      .post('/marketplace/monthly-helper/purchase')
      .form({ requestKey: 'page-key-0002' })
      .loginAs(user)
      .withCsrfToken()
      .withInertia()
      .redirects(0)
    paid.assertStatus(409)
    assert.match(
      paid.header('x-inertia-location') ?? '',
      new RegExp(`^${stripeSandbox().url}/c/pay/cs_test_`)
    )

    const mine = await client.get('/marketplace/mine').loginAs(user).withInertia()
    mine.assertInertiaComponent('marketplace/mine')
    assert.deepEqual(
      (mine.inertiaProps.agents as Array<{ agent: { slug: string }; status: string }>).map(
        (row) => [row.agent.slug, row.status]
      ),
      [['free-helper', 'active']]
    )
  })
})
