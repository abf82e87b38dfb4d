import { test } from '@japa/runner'
import { DateTime } from 'luxon'
import testUtils from '@adonisjs/core/services/test_utils'
import billingConfig from '#config/billing'
import { UserFactory } from '#database/factories/user_factory'
import type User from '#models/user'
import Subscription, { type SubscriptionStatus } from '#models/subscription'
import CreditService from '#services/credit_service'

/** A mirrored Premium subscription row, as SubscriptionService.apply leaves it. */
function subscriptionRow(
  user: User,
  status: SubscriptionStatus,
  extra: Partial<{ cancelAtPeriodEnd: boolean; pastDueSince: DateTime }> = {}
) {
  const now = DateTime.utc()
  return Subscription.create({
    userId: user.id,
    type: 'premium',
    stripeSubscriptionId: `sub_dashboard_${user.id}_${status}`,
    stripeCustomerId: `cus_dashboard_${user.id}`,
    stripePriceId: 'price_dashboard',
    status,
    cancelAtPeriodEnd: extra.cancelAtPeriodEnd ?? false,
    currentPeriodStart: now.minus({ days: 20 }),
    currentPeriodEnd: now.plus({ days: 10 }),
    pastDueSince: extra.pastDueSince ?? null,
    stripeUpdatedAt: now,
  })
}

type DashboardProps = {
  subscription: { status: string; cancelAtPeriodEnd: boolean; graceEndsAt: string | null } | null
  creditsBalanceCents: number
  usage: { projects: { limit: number }; deploys: { limit: number }; slots: { active: number } }
  transactions: {
    meta: { total: number; perPage: number; currentPage: number; lastPage: number }
    data: Array<{ source: string; type: string; amountCents: number }>
  }
  planBadge: { status: string; cancelsAt: string | null } | null
}

test.group('Billing dashboard page', (group) => {
  group.each.setup(() => testUtils.db().withGlobalTransaction())

  test('shows the subscription, credits, usage and the 10 newest transactions with a pager', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.apply('premium').create()
    const row = await subscriptionRow(user, 'active', { cancelAtPeriodEnd: true })
    const credits = new CreditService()
    for (let index = 1; index <= 12; index += 1) {
      await credits.grant(user.id, index * 100, 'operator_grant', {
        idempotencyKey: `dashboard-test:${user.id}:${index}`,
        description: `grant ${index}`,
        createdBy: 'operator:test',
      })
    }

    const page = await client.get('/billing').loginAs(user).withInertia()
    page.assertStatus(200)
    page.assertInertiaComponent('billing/show')
    const props = page.inertiaProps as DashboardProps
    // What the checkout tests rely on is still there.
    assert.deepInclude(page.inertiaProps, {
      plan: 'premium',
      limits: billingConfig.limits.premium,
      currency: billingConfig.currency,
      checkoutCanceled: false,
    })
    assert.deepInclude(props.subscription!, { status: 'active', cancelAtPeriodEnd: true })
    assert.equal(props.creditsBalanceCents, 7800)
    assert.equal(props.usage.projects.limit, billingConfig.limits.premium.projects)
    assert.equal(props.usage.slots.active, 0)
    assert.deepEqual(props.transactions.meta, {
      total: 12,
      perPage: 10,
      currentPage: 1,
      lastPage: 2,
    })
    assert.lengthOf(props.transactions.data, 10)
    assert.equal(props.transactions.data[0].amountCents, 1200)
    assert.equal(props.planBadge?.status, 'premium')
    assert.equal(Date.parse(props.planBadge!.cancelsAt!), row.currentPeriodEnd!.toMillis())

    const second = await client.get('/billing?page=2').loginAs(user).withInertia()
    const older = second.inertiaProps as DashboardProps
    assert.equal(older.transactions.meta.currentPage, 2)
    assert.deepEqual(
      older.transactions.data.map((entry) => entry.amountCents),
      [200, 100]
    )

    // A page that is not a number shows the first page.
    const odd = await client.get('/billing?page=abc').loginAs(user).withInertia()
    odd.assertStatus(200)
    assert.equal((odd.inertiaProps as DashboardProps).transactions.meta.currentPage, 1)
  })

  test('the navigation badge: Past due while a renewal is owed, Free and Premium otherwise', async ({
    client,
    assert,
  }) => {
    const owing = await UserFactory.apply('premium').create()
    await subscriptionRow(owing, 'past_due', { pastDueSince: DateTime.utc().minus({ days: 1 }) })
    const asOwing = await client.get('/projects').loginAs(owing).withInertia()
    assert.deepEqual((asOwing.inertiaProps as DashboardProps).planBadge, {
      status: 'past_due',
      cancelsAt: null,
    })
    const dashboard = await client.get('/billing').loginAs(owing).withInertia()
    const props = dashboard.inertiaProps as DashboardProps
    assert.equal(props.subscription!.status, 'past_due')
    assert.isString(props.subscription!.graceEndsAt)

    const free = await UserFactory.create()
    const asFree = await client.get('/projects').loginAs(free).withInertia()
    assert.deepEqual((asFree.inertiaProps as DashboardProps).planBadge, {
      status: 'free',
      cancelsAt: null,
    })
    const freeDashboard = await client.get('/billing').loginAs(free).withInertia()
    assert.isNull((freeDashboard.inertiaProps as DashboardProps).subscription)

    const premium = await UserFactory.apply('premium').create()
    await subscriptionRow(premium, 'active')
    const asPremium = await client.get('/profile').loginAs(premium).withInertia()
    assert.deepEqual((asPremium.inertiaProps as DashboardProps).planBadge, {
      status: 'premium',
      cancelsAt: null,
    })

    // An ended subscription leaves a free user's badge Free.
    const lapsed = await UserFactory.create()
    await subscriptionRow(lapsed, 'canceled')
    const asLapsed = await client.get('/projects').loginAs(lapsed).withInertia()
    assert.equal((asLapsed.inertiaProps as DashboardProps).planBadge?.status, 'free')

    const guest = await client.get('/login').withInertia()
    assert.isNull((guest.inertiaProps as DashboardProps).planBadge)
  })
})
