import { test } from '@japa/runner'
import type { ApiClient } from '@japa/api-client'
import { DateTime } from 'luxon'
import db from '@adonisjs/lucid/services/db'
import type User from '#models/user'
import Project from '#models/project'
import { UserFactory } from '#database/factories/user_factory'
import { ProjectFactory } from '#database/factories/project_factory'
import billingConfig from '#config/billing'
import { flashed } from '#tests/support/http'
import { resetData, settle, subscribe } from '../subscriptions/helpers.js'

/** A paid deploy slot, as the credits helper's fulfilment records it (a row of its own). */
async function grantSlot(user: User, n = 1) {
  await db.table('deploy_slot_purchases').insert({
    user_id: user.id,
    stripe_checkout_session_id: `cs_test_fixture_${user.id}_${n}`,
    amount_cents: billingConfig.deploySlot.priceCents,
    currency: 'usd',
    status: 'active',
    purchased_at: new Date(),
    created_at: new Date(),
    updated_at: new Date(),
  })
}

function deploy(client: ApiClient, user: User, slug: string) {
  return client.post(`/api/projects/${slug}/deploy`).loginAs(user).withCsrfToken()
}

async function deployStatus(client: ApiClient, user: User, slug: string) {
  const response = await deploy(client, user, slug)
  return response.status()
}

async function deployedNames(user: User) {
  const rows = await Project.query().where('user_id', user.id).where('is_deployed', true)
  return rows.map((project) => project.name).sort()
}

test.group('Deployments', (group) => {
  group.each.setup(() => resetData())
  group.each.teardown(() => resetData())

  test('deploy and undeploy through the API (by slug) and the pages (by id)', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const project = await ProjectFactory.merge({ userId: user.id, name: 'Shop' }).create()

    const deployed = await deploy(client, user, project.slug)
    deployed.assertStatus(200)
    assert.include(deployed.body().data, { id: project.id, isDeployed: true, stoppedReason: null })
    assert.isString(deployed.body().data.deployedAt)
    // Deploying again changes nothing.
    assert.equal(await deployStatus(client, user, project.slug), 200)
    assert.deepEqual(await deployedNames(user), ['Shop'])

    const undeployed = await client
      .delete(`/api/projects/${project.slug}/deploy`)
      .loginAs(user)
      .withCsrfToken()
    undeployed.assertStatus(200)
    assert.isFalse(undeployed.body().data.isDeployed)

    const page = await client
      .post(`/projects/${project.id}/deploy`)
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    page.assertHeader('location', '/projects')
    assert.equal(flashed(page, 'success'), 'Project "Shop" is deployed.')
    const stop = await client
      .delete(`/projects/${project.id}/deploy`)
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    assert.equal(flashed(stop, 'success'), 'Project "Shop" is no longer deployed.')
    assert.deepEqual(await deployedNames(user), [])
  })

  test('the deploy limit: free allows one, a purchased slot adds one, with a clear message', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const [a, b, c] = await ProjectFactory.merge(
      ['A', 'B', 'C'].map((name) => ({ userId: user.id, name }))
    ).createMany(3)
    assert.equal(await deployStatus(client, user, a.slug), 200)
    const refused = await deploy(client, user, b.slug)
    refused.assertStatus(403)
    assert.equal(refused.body().code, 'E_LIMIT_EXCEEDED')
    assert.equal(
      refused.body().error,
      'Your free plan allows 1 deployment at a time. Undeploy a project, upgrade to Premium or buy a deploy slot to deploy another.'
    )
    const page = await client
      .post(`/projects/${b.id}/deploy`)
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    assert.include(flashed(page, 'error') ?? '', 'allows 1 deployment')

    await grantSlot(user)
    assert.equal(await deployStatus(client, user, b.slug), 200)
    const third = await deploy(client, user, c.slug)
    third.assertStatus(403)
    assert.include(
      third.body().error,
      'allows 2 deployments at a time (including 1 purchased slot)'
    )

    const limits = await client.get('/api/projects/deployment/limits').loginAs(user)
    assert.deepEqual(limits.body().data, {
      plan: 'free',
      projects: { used: 3, limit: 1 },
      deploys: { used: 2, limit: 2, planLimit: 1 },
      slots: { active: 1 },
    })
  })

  test("another user's project cannot be deployed or undeployed", async ({ client, assert }) => {
    const [owner, intruder] = await UserFactory.createMany(2)
    const project = await ProjectFactory.merge({ userId: owner.id, name: 'Mine' }).create()
    assert.equal(await deployStatus(client, intruder, project.slug), 404)
    const byId = await client
      .post(`/projects/${project.id}/deploy`)
      .loginAs(intruder)
      .withCsrfToken()
      .redirects(0)
    assert.equal(flashed(byId, 'error'), 'Project not found')
    const running = await ProjectFactory.merge({
      userId: owner.id,
      name: 'Running',
      isDeployed: true,
      deployedAt: DateTime.utc(),
    }).create()
    const undeploy = await client
      .delete(`/api/projects/${running.slug}/deploy`)
      .loginAs(intruder)
      .withCsrfToken()
    undeploy.assertStatus(404)
    assert.deepEqual(await deployedNames(owner), ['Running'])
  })

  test('20 concurrent deploys at the limit deploy exactly the limit', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.apply('premium').create()
    const projects = await ProjectFactory.merge({ userId: user.id }).createMany(20)
    const responses = await Promise.all(
      projects.map((project) => deploy(client, user, project.slug))
    )
    const statuses = responses.map((response) => response.status())
    const limit = billingConfig.limits.premium.deploys
    assert.equal(statuses.filter((status) => status === 200).length, limit)
    assert.equal(statuses.filter((status) => status === 403).length, 20 - limit)
    assert.lengthOf(await deployedNames(user), limit)
  })

  test('a downgrade stops the newest extra deployments with the reason and deletes nothing', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    await subscribe(client, user)
    const names = ['First', 'Second', 'Third', 'Fourth']
    for (const name of names) {
      const created = await client
        .post('/api/projects')
        .json({ name })
        .loginAs(user)
        .withCsrfToken()
      created.assertStatus(201)
      assert.equal(await deployStatus(client, user, created.body().data.slug), 200)
    }

    const canceled = await client
      .post('/api/billing/cancel')
      .json({ mode: 'now' })
      .loginAs(user)
      .withCsrfToken()
    canceled.assertStatus(200)
    await settle()

    const projects = await Project.query().where('user_id', user.id).orderBy('id')
    assert.deepEqual(
      projects.map((project) => project.name),
      names
    )
    assert.deepEqual(await deployedNames(user), ['First'])
    for (const project of projects.slice(1)) {
      assert.isNotNull(project.stoppedAt)
      assert.equal(
        project.stoppedReason,
        'Stopped automatically: your Premium subscription ended, and your plan now allows 1 deployment. Upgrade to Premium or buy a deploy slot to deploy it again.'
      )
    }

    // Existing projects stay readable; new ones are refused; deploying another is refused.
    const listed = await client.get('/api/projects').loginAs(user)
    assert.lengthOf(listed.body().data, 4)
    const shown = await client.get(`/api/projects/${projects[3].id}`).loginAs(user)
    shown.assertStatus(200)
    assert.include(shown.body().data.stoppedReason, 'Premium subscription ended')
    const create = await client
      .post('/api/projects')
      .json({ name: 'Fifth' })
      .loginAs(user)
      .withCsrfToken()
    create.assertStatus(403)
    assert.equal(await deployStatus(client, user, projects[1].slug), 403)
  })

  test('20 concurrent project creations at the free limit make exactly one', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        client
          .post('/api/projects')
          .json({ name: `Race ${n}` })
          .loginAs(user)
          .withCsrfToken()
      )
    )
    const statuses = responses.map((response) => response.status())
    assert.equal(statuses.filter((status) => status === 201).length, 1)
    assert.lengthOf(await Project.query().where('user_id', user.id), 1)
  })
})
