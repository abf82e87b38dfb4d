import { test } from '@japa/runner'
import type { ApiClient } from '@japa/api-client'
import type { HttpContext } from '@adonisjs/core/http'
import shieldConfig, { CSRF_EXEMPT_ROUTES } from '#config/shield'
import Project from '#models/project'
import { flashed } from '#tests/support/http'
import {
  type AppRoute,
  isolate,
  snapshot,
  stateChangingRoutes,
  stripeCounts,
  world,
} from './helpers.js'

/*
| CSRF on every state-changing route, found from the router itself: a route
| added tomorrow is in this list without anyone remembering to test it. Only
| the two machine-to-machine routes (Stripe's signed webhooks, LiteLLM's
| bearer-keyed intake) are exempt, by name.
| See also tests/functional/accounts/profile.spec.ts ("state-changing forms
| need the CSRF token").
*/

const CSRF_MESSAGE = 'Invalid or expired CSRF token'

/** A body a route would accept, so only the missing token can stop it. */
function plausibleBody(route: AppRoute & { method: string }, email: string) {
  const { pattern } = route
  if (pattern.includes('register')) {
    return {
      fullName: 'Csrf',
      email: `csrf-${Date.now()}@studio.test`,
      password: 'password-1234',
      passwordConfirmation: 'password-1234',
    }
  }
  if (pattern.includes('login')) return { email, password: 'secret-password' }
  if (pattern === '/profile' || pattern === '/api/me') return { fullName: 'Forged', email }
  if (pattern.includes('password')) {
    return {
      currentPassword: 'secret-password',
      password: 'forged-password-1',
      passwordConfirmation: 'forged-password-1',
    }
  }
  if (pattern.includes('projects') && !pattern.includes('deploy')) return { name: 'forged' }
  if (pattern.includes('checkout')) return { kind: 'deploy_slot' }
  if (pattern.includes('credits/purchase')) return { package: 'small' }
  if (pattern.includes('cancel') && pattern.includes('billing')) return { mode: 'now' }
  if (pattern.includes('creator/agents')) {
    return { name: 'Forged agent', pricingType: 'monthly', price: '1.00' }
  }
  return {}
}

/** The route's URL with Alice's own objects in it (so the action would have an effect). */
function urlFor(route: AppRoute, objects: Awaited<ReturnType<typeof world>>) {
  return route.pattern.replace(/:(\w+)/g, (_, param: string) => {
    if (route.pattern.includes('creator/agents')) return String(objects.ownAgent.id)
    if (route.pattern.includes('marketplace')) return objects.held.slug
    if (param === 'slug') return objects.project.slug
    return String(objects.project.id)
  })
}

function request(client: ApiClient, method: string, url: string) {
  switch (method) {
    case 'PUT':
      return client.put(url)
    case 'PATCH':
      return client.patch(url)
    case 'DELETE':
      return client.delete(url)
    default:
      return client.post(url)
  }
}

test.group('Security: CSRF on every state-changing route', (group) => {
  group.each.setup(() => isolate())
  group.each.timeout(30_000)

  test('only the signed webhook and the LiteLLM intake are exempt, by route name', ({ assert }) => {
    const routes = stateChangingRoutes()
    assert.isAbove(routes.length, 20)
    const isExempt = shieldConfig.csrf!.exceptRoutes as (ctx: HttpContext) => boolean
    const exempt = routes.filter((route) =>
      isExempt({
        route: { name: route.name, pattern: route.pattern },
        request: { url: () => route.pattern },
      } as unknown as HttpContext)
    )
    assert.sameMembers(
      exempt.map((route) => route.name),
      [...CSRF_EXEMPT_ROUTES]
    )
    assert.sameMembers(
      exempt.map((route) => route.pattern),
      ['/api/webhooks/stripe', '/api/litellm/callback']
    )
    // Shield checks every state-changing method.
    assert.sameMembers([...shieldConfig.csrf!.methods!], ['POST', 'PUT', 'PATCH', 'DELETE'])
  })

  test('every other POST/PUT/PATCH/DELETE route refuses a logged-in request without the token, and nothing changes', async ({
    client,
    assert,
  }) => {
    const objects = await world()
    const { alice } = objects
    const before = await snapshot(alice)
    const stripeBefore = stripeCounts()
    const routes = stateChangingRoutes().filter(
      (route) => !(CSRF_EXEMPT_ROUTES as readonly string[]).includes(route.name ?? '')
    )
    const refused: string[] = []
    for (const route of routes) {
      const url = urlFor(route, objects)
      const label = `${route.method} ${route.pattern}`
      const body = plausibleBody(route, alice.email)
      const isApi = route.pattern.startsWith('/api/')
      const guestOnly = /^\/(login|register)$/.test(route.pattern)
      let call = request(client, route.method, url).redirects(0)
      call = isApi ? call.json(body) : call.form(body)
      if (!guestOnly) call = call.loginAs(alice)
      const response = await call
      if (isApi) {
        assert.equal(response.status(), 403, label)
        assert.equal(response.body().error, CSRF_MESSAGE, label)
      } else {
        assert.equal(response.status(), 302, label)
        assert.equal(flashed(response, 'error'), CSRF_MESSAGE, label)
      }
      refused.push(label)
    }
    // Pages and the API: projects, deploys, profile, billing, credits, marketplace, creator, usage.
    assert.isAbove(refused.length, 30)
    assert.deepEqual(await snapshot(alice), before)
    assert.deepEqual(stripeCounts(), stripeBefore)
  })

  test('a spoofed method is checked as the method it becomes; the same request with the token goes through', async ({
    client,
    assert,
  }) => {
    const { alice, project } = await world()
    const spoofed = await client
      .post(`/projects/${project.id}?_method=DELETE`)
      .form({})
      .loginAs(alice)
      .redirects(0)
    assert.equal(flashed(spoofed, 'error'), CSRF_MESSAGE)
    assert.isNotNull(await Project.find(project.id))

    // The refusal above is the token's doing: with it, the same request acts.
    const renamed = await client
      .put(`/projects/${project.id}`)
      .form({ name: 'renamed with token' })
      .loginAs(alice)
      .withCsrfToken()
      .redirects(0)
    renamed.assertHeader('location', '/projects')
    const fresh = await Project.findOrFail(project.id)
    assert.equal(fresh.name, 'renamed with token')
  })

  test('a refused token never flashes passwords back into the session', async ({
    client,
    assert,
  }) => {
    const { alice } = await world()
    const response = await client
      .put('/profile/password')
      .form({
        currentPassword: 'secret-password',
        password: 'forged-password-1',
        passwordConfirmation: 'forged-password-1',
      })
      .loginAs(alice)
      .redirects(0)
    assert.equal(flashed(response, 'error'), CSRF_MESSAGE)
    const flashedJson = JSON.stringify(response.flashMessages())
    assert.notInclude(flashedJson, 'secret-password')
    assert.notInclude(flashedJson, 'forged-password-1')
  })
})
