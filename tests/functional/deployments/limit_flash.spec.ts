import { test } from '@japa/runner'
import type { ApiResponse } from '@japa/api-client'
import testUtils from '@adonisjs/core/services/test_utils'
import db from '@adonisjs/lucid/services/db'
import type User from '#models/user'
import { UserFactory } from '#database/factories/user_factory'
import { ProjectFactory } from '#database/factories/project_factory'
import billingConfig from '#config/billing'
import { flashed } from '#tests/support/http'

/** The `limit` flash LimitExceededException sets for pages (the projects page's upgrade modal). */
function flashedLimit(response: ApiResponse) {
  return response.flashMessages().limit as Record<string, unknown> | undefined
}

async function grantSlot(user: User) {
  await db.table('deploy_slot_purchases').insert({
    user_id: user.id,
    stripe_checkout_session_id: `cs_test_flash_${user.id}`,
    amount_cents: billingConfig.deploySlot.priceCents,
    currency: 'usd',
    status: 'active',
    purchased_at: new Date(),
    created_at: new Date(),
    updated_at: new Date(),
  })
}

test.group('Limit hits tell the pages which limit', (group) => {
  group.each.setup(() => testUtils.db().withGlobalTransaction())

  test('a refused project creation flashes the projects limit; the JSON answer is unchanged', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    await ProjectFactory.merge({ userId: user.id, name: 'First' }).create()

    const page = await client
      .post('/projects')
      .form({ name: 'Second' })
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    page.assertStatus(302)
    const message =
      'Your free plan allows 1 project. Upgrade to Premium or delete a project to create another.'
    assert.equal(flashed(page, 'error'), message)
    const hit = flashedLimit(page)
    assert.isString(hit?.id)
    assert.deepEqual(
      { ...hit, id: undefined },
      { id: undefined, kind: 'projects', limit: 1, plan: 'free', slots: 0, message }
    )

    const api = await client
      .post('/api/projects')
      .json({ name: 'Second' })
      .loginAs(user)
      .withCsrfToken()
    api.assertStatus(403)
    assert.deepEqual(api.body(), { error: message, code: 'E_LIMIT_EXCEEDED' })
  })

  test('a refused deploy flashes the deploys limit with the purchased slots counted', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.apply('premium').create()
    const projects = await ProjectFactory.merge(
      ['A', 'B', 'C', 'D', 'E', 'F', 'G'].map((name) => ({ userId: user.id, name }))
    ).createMany(7)
    await grantSlot(user)
    await db
      .from('projects')
      .whereIn(
        'id',
        projects.slice(0, 6).map((p) => p.id)
      )
      .update({
        is_deployed: true,
        deployed_at: new Date(),
      })

    const page = await client
      .post(`/projects/${projects[6].id}/deploy`)
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    page.assertStatus(302)
    const hit = flashedLimit(page)
    assert.include(hit, { kind: 'deploys', limit: 6, plan: 'premium', slots: 1 })
    assert.include(
      String(hit?.message),
      'allows 6 deployments at a time (including 1 purchased slot)'
    )

    // Two refusals are told apart (the page reopens its modal for the second).
    const again = await client
      .post(`/projects/${projects[6].id}/deploy`)
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    assert.notEqual(flashedLimit(again)?.id, hit?.id)

    const projectsPage = await client.get('/projects').loginAs(user).withInertia()
    const props = projectsPage.inertiaProps as {
      limits: { deploys: unknown; slots: number }
      limitHit: unknown
    }
    assert.deepEqual(props.limits.deploys, { used: 6, limit: 6, planLimit: 5 })
    assert.equal(props.limits.slots, 1)
    assert.isNull(props.limitHit)
  })
})
