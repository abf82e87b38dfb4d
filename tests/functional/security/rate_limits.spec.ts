import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import rateLimits from '#config/rate_limits'
import { AUTH_IP_FACTOR } from '#start/limiter'
import { isolate, world } from './helpers.js'

/*
| Rate limits answer 429 with a message a person can act on: login and
| registration per IP and email and per IP (a password spray changes the
| email every time), purchases per user across every purchase route.
| Statuses alone: accounts/registration.spec.ts ("login attempts are rate
| limited"), billing/checkout_start.spec.ts, credits/api_cli.spec.ts.
*/

const AUTH_MESSAGE = 'Too many attempts. Please wait a minute before trying again.'
const PURCHASE_MESSAGE = 'Too many purchases started. Please wait a minute and try again.'

/**
 * Counters live on their own connection (outside the test's transaction):
 * the per-IP login and registration counts are shared by every test of the
 * run, so they are cleared before and after these tests.
 */
async function clearAuthCounters() {
  await db.connection('limiter').from('rate_limits').where('key', 'like', '%auth%').delete()
}

test.group('Security: rate limits', (group) => {
  group.each.setup(async () => {
    await clearAuthCounters()
    return isolate()
  })
  group.each.teardown(() => clearAuthCounters())
  group.each.timeout(30_000)

  test('login: the attempt after the limit is a 429 with a message, for pages and JSON', async ({
    client,
    assert,
  }) => {
    const email = `throttled-${Date.now()}@studio.test`
    const statuses: number[] = []
    for (let attempt = 0; attempt < rateLimits.auth.requests; attempt++) {
      const response = await client
        .post('/login')
        .form({ email, password: `guess-${attempt}` })
        .header('accept', 'application/json')
        .withCsrfToken()
        .redirects(0)
      statuses.push(response.status())
    }
    assert.notInclude(statuses, 429)
    const json = await client
      .post('/login')
      .form({ email, password: 'one-more' })
      .header('accept', 'application/json')
      .withCsrfToken()
    json.assertStatus(429)
    assert.equal(json.body().errors[0].message, AUTH_MESSAGE)
    assert.isAbove(Number(json.header('retry-after')), 0)
    const page = await client
      .post('/login')
      .form({ email, password: 'one-more' })
      .withCsrfToken()
      .redirects(0)
    page.assertStatus(429)
    assert.include(page.text(), AUTH_MESSAGE)
    // An Inertia visit gets the message as a flash on the page it came from.
    const visit = await client
      .post('/login')
      .form({ email, password: 'and-another' })
      .header('referer', '/login')
      .withCsrfToken()
      .withInertia()
      .redirects(0)
    assert.oneOf(visit.status(), [302, 303])
    assert.equal(visit.header('location'), '/login')
    assert.isAbove(Number(visit.header('retry-after')), 0)
    assert.equal(visit.flashMessages().error, AUTH_MESSAGE)
  })

  test('login: a password spray over many emails from one IP is stopped too', async ({
    client,
    assert,
  }) => {
    const limit = rateLimits.auth.requests * AUTH_IP_FACTOR
    const statuses: number[] = []
    for (let attempt = 0; attempt <= limit; attempt++) {
      // Each a new email: the per-email count never passes 1. (No password:
      // refused by the validator, but counted first, like any attempt.)
      const response = await client
        .post('/login')
        .json({ email: `spray-${attempt}-${Date.now()}@studio.test` })
        .header('accept', 'application/json')
        .withCsrfToken()
      statuses.push(response.status())
    }
    assert.notInclude(statuses.slice(0, limit), 429)
    assert.equal(statuses.at(-1), 429)
  })

  test('registration is limited like login', async ({ client, assert }) => {
    const email = `register-throttle-${Date.now()}@studio.test`
    let last = 0
    let message = ''
    for (let attempt = 0; attempt <= rateLimits.auth.requests; attempt++) {
      const response = await client
        .post('/register')
        .json({ email, fullName: 'x', password: 'short' })
        .header('accept', 'application/json')
        .withCsrfToken()
      last = response.status()
      message = response.body().errors?.[0]?.message ?? ''
    }
    assert.equal(last, 429)
    assert.equal(message, AUTH_MESSAGE)
  })

  test('purchases: every purchase route shares one count per user; the next is a 429 with a message', async ({
    client,
    assert,
  }) => {
    const { alice, bob, held } = await world()
    const routes = [
      ['/api/billing/checkout', { kind: 'nothing' }],
      ['/api/billing/credits/purchase', { package: 'nothing' }],
      ['/api/billing/subscribe', {}],
      ['/api/projects/deployment/purchase-slot', { requestKey: '!' }],
      [`/api/marketplace/agents/${held.slug}-missing/purchase`, {}],
    ] as const
    const statuses: number[] = []
    // Refused requests count as well: the limit is on attempts (each could reach Stripe).
    for (let n = 0; n < rateLimits.purchase.requests; n++) {
      const [url, body] = routes[n % routes.length]
      const response = await client.post(url).json(body).loginAs(alice).withCsrfToken()
      statuses.push(response.status())
    }
    assert.notInclude(statuses, 429)
    const refused = await client
      .post('/api/billing/checkout')
      .json({ kind: 'deploy_slot' })
      .loginAs(alice)
      .withCsrfToken()
    refused.assertStatus(429)
    assert.equal(refused.body().errors[0].message, PURCHASE_MESSAGE)
    const page = await client
      .post('/billing/checkout')
      .form({ kind: 'deploy_slot' })
      .loginAs(alice)
      .withCsrfToken()
      .redirects(0)
    page.assertStatus(429)
    assert.include(page.text(), PURCHASE_MESSAGE)
    // Counted per user: Bob is not affected.
    const other = await client
      .post('/api/billing/checkout')
      .json({ kind: 'deploy_slot' })
      .loginAs(bob)
      .withCsrfToken()
    other.assertStatus(201)
  })
})
