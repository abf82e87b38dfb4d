import { test } from '@japa/runner'
import testUtils from '@adonisjs/core/services/test_utils'
import { UserFactory } from '#database/factories/user_factory'
import billingConfig from '#config/billing'

test.group('Plans page', (group) => {
  group.each.setup(() => testUtils.db().withGlobalTransaction())

  test('guests see Free vs Premium from config, with no current plan', async ({
    client,
    assert,
  }) => {
    const page = await client.get('/plans').withInertia()
    page.assertStatus(200)
    page.assertInertiaComponent('plans/show')
    assert.deepInclude(page.inertiaProps, {
      currency: billingConfig.currency,
      premium: { amountCents: billingConfig.premium.priceCents, interval: 'month' },
      limits: billingConfig.limits,
      deploySlotCents: billingConfig.deploySlot.priceCents,
      currentPlan: null,
    })
  })

  test('members see their own plan', async ({ client, assert }) => {
    const free = await UserFactory.create()
    const premium = await UserFactory.apply('premium').create()
    const asFree = await client.get('/plans').loginAs(free).withInertia()
    const asPremium = await client.get('/plans').loginAs(premium).withInertia()
    assert.equal((asFree.inertiaProps as { currentPlan: string }).currentPlan, 'free')
    assert.equal((asPremium.inertiaProps as { currentPlan: string }).currentPlan, 'premium')
  })
})
