import { test } from '@japa/runner'
import testUtils from '@adonisjs/core/services/test_utils'
import Project from '#models/project'
import { UserFactory } from '#database/factories/user_factory'
import { ProjectFactory } from '#database/factories/project_factory'
import { flashed, flashedFieldErrors } from '#tests/support/http'
import { truncate } from '#tests/support/database'

test.group('Projects', (group) => {
  group.each.setup(() => testUtils.db().withGlobalTransaction())

  test("lists only the user's own projects", async ({ client, assert }) => {
    const [alice, bob] = await UserFactory.createMany(2)
    await ProjectFactory.merge({ userId: alice.id, name: 'Alice app' }).create()
    await ProjectFactory.merge({ userId: bob.id, name: 'Bob app' }).create()

    const api = await client.get('/api/projects').loginAs(alice)
    api.assertStatus(200)
    assert.deepEqual(
      api.body().data.map((p: { name: string }) => p.name),
      ['Alice app']
    )

    const page = await client.get('/projects').loginAs(alice).withInertia()
    page.assertStatus(200)
    page.assertInertiaComponent('projects/index')
    const props = page.inertiaProps as {
      projects: { name: string }[]
      limits: {
        projects: { used: number; limit: number }
        deploys: { used: number; limit: number }
      }
      limitHit: unknown
    }
    assert.deepEqual(
      props.projects.map((p) => p.name),
      ['Alice app']
    )
    assert.deepEqual(props.limits.projects, { used: 1, limit: 1 })
    assert.deepEqual(props.limits.deploys, { used: 0, limit: 1, planLimit: 1 })
    assert.isNull(props.limitHit)
  })

  test('creates, renames and deletes a project', async ({ client, assert }) => {
    const user = await UserFactory.create()
    const created = await client
      .post('/projects')
      .form({ name: '  My First App  ' })
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    created.assertHeader('location', '/projects')
    assert.equal(flashed(created, 'success'), 'Project "My First App" created.')
    const project = await Project.findByOrFail('user_id', user.id)
    assert.equal(project.name, 'My First App')
    assert.equal(project.slug, 'my-first-app')

    await client
      .put(`/projects/${project.id}`)
      .form({ name: 'Renamed' })
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    await project.refresh()
    assert.equal(project.name, 'Renamed')
    assert.equal(project.slug, 'my-first-app')

    const deleted = await client
      .delete(`/projects/${project.id}`)
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    assert.equal(flashed(deleted, 'success'), 'Project "Renamed" deleted.')
    assert.isNull(await Project.find(project.id))
  })

  test('a blank or too long name is refused', async ({ client, assert }) => {
    const user = await UserFactory.create()
    const blank = await client
      .post('/projects')
      .form({ name: '   ' })
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    assert.property(flashedFieldErrors(blank), 'name')
    const long = await client
      .post('/api/projects')
      .json({ name: 'x'.repeat(81) })
      .loginAs(user)
      .withCsrfToken()
    long.assertStatus(422)
    assert.equal(long.body().errors[0].field, 'name')
    assert.lengthOf(await Project.query().where('user_id', user.id), 0)
  })

  test('the free plan allows one project; Premium allows five', async ({ client, assert }) => {
    const free = await UserFactory.create()
    await ProjectFactory.merge({ userId: free.id }).create()
    const refused = await client
      .post('/api/projects')
      .json({ name: 'Second' })
      .loginAs(free)
      .withCsrfToken()
    refused.assertStatus(403)
    assert.equal(refused.body().code, 'E_LIMIT_EXCEEDED')
    assert.include(refused.body().error, 'allows 1 project')

    const page = await client
      .post('/projects')
      .form({ name: 'Second' })
      .loginAs(free)
      .withCsrfToken()
      .redirects(0)
    page.assertStatus(302)
    assert.include(flashed(page, 'error') ?? '', 'Upgrade to Premium')
    assert.lengthOf(await Project.query().where('user_id', free.id), 1)

    const premium = await UserFactory.apply('premium').create()
    for (let n = 1; n <= 5; n++) {
      const response = await client
        .post('/api/projects')
        .json({ name: `App ${n}` })
        .loginAs(premium)
        .withCsrfToken()
      response.assertStatus(201)
    }
    const sixth = await client
      .post('/api/projects')
      .json({ name: 'App 6' })
      .loginAs(premium)
      .withCsrfToken()
    sixth.assertStatus(403)
    assert.lengthOf(await Project.query().where('user_id', premium.id), 5)
  })

  test("another user's project is invisible and untouchable", async ({ client, assert }) => {
    const [owner, intruder] = await UserFactory.createMany(2)
    const project = await ProjectFactory.merge({ userId: owner.id, name: 'Secret' }).create()

    const show = await client.get(`/api/projects/${project.id}`).loginAs(intruder)
    show.assertStatus(404)
    assert.notInclude(JSON.stringify(show.body()), 'Secret')

    const rename = await client
      .patch(`/api/projects/${project.id}`)
      .json({ name: 'Hijacked' })
      .loginAs(intruder)
      .withCsrfToken()
    rename.assertStatus(404)
    const renamePage = await client
      .put(`/projects/${project.id}`)
      .form({ name: 'Hijacked' })
      .loginAs(intruder)
      .withCsrfToken()
      .redirects(0)
    assert.equal(flashed(renamePage, 'error'), 'Project not found')

    const remove = await client
      .delete(`/api/projects/${project.id}`)
      .loginAs(intruder)
      .withCsrfToken()
    remove.assertStatus(404)

    await project.refresh()
    assert.equal(project.name, 'Secret')
    assert.equal(project.userId, owner.id)

    const missing = await client.get('/api/projects/987654').loginAs(intruder)
    missing.assertStatus(404)
  })

  test('a project cannot be created for someone else', async ({ client, assert }) => {
    const [user, victim] = await UserFactory.createMany(2)
    const response = await client
      .post('/api/projects')
      .json({ name: 'Planted', userId: victim.id, user_id: victim.id })
      .loginAs(user)
      .withCsrfToken()
    response.assertStatus(201)
    const project = await Project.findOrFail(response.body().data.id)
    assert.equal(project.userId, user.id)
    assert.lengthOf(await Project.query().where('user_id', victim.id), 0)
  })
})

test.group('Projects under concurrency', (group) => {
  group.each.setup(() => truncate('projects', 'users', 'rate_limits'))
  group.each.teardown(() => truncate('projects', 'users', 'rate_limits'))

  test('20 parallel creates by a free user make exactly one project', async ({
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
    const statuses = responses.map((response) => response.status()).sort()
    assert.equal(statuses.filter((status) => status === 201).length, 1)
    assert.equal(statuses.filter((status) => status === 403).length, 19)
    assert.lengthOf(await Project.query().where('user_id', user.id), 1)
  })
})
