import { test } from '@japa/runner'
import type { ApiResponse } from '@japa/api-client'
import { appUrl } from '#config/app'
import User from '#models/user'
import { safePreviousPath } from '#start/kernel'
import { flashed } from '#tests/support/http'
import { stripeSandbox } from '#tests/support/stripe'
import { isolate, stripeCounts, world } from './helpers.js'

/*
| Every redirect or return target stays on our origin: Referer-based
| redirects (`redirect().back()`: validation errors, refused CSRF tokens,
| the usage sync, flash-and-back exceptions), login, and the URLs we hand to
| Stripe (Checkout success/cancel: billing/checkout_start.spec.ts checks them
| under a forged X-Forwarded-Host; the portal and Connect here).
*/

const origin = new URL(String(appUrl)).origin

/** Referers an attacker would try; none may take the user off our origin. */
const HOSTILE_REFERERS = [
  'https://evil.example/phish',
  '//evil.example/phish',
  '/\\evil.example/phish',
  '/%5Cevil.example/phish',
  '/%5C%5Cevil.example',
  '/%2F%2Fevil.example',
  '\\\\evil.example',
  'javascript:alert(document.cookie)',
  `${origin}@evil.example/phish`,
  `http://evil.example${new URL(origin).pathname}`,
  'https://127.0.0.1.evil.example/',
]

/** A Location a browser resolves to our origin. */
function assertStaysHome(assert: any, response: ApiResponse, label: string) {
  const location = response.header('location') ?? ''
  const resolved = new URL(location.replace(/\\/g, '/'), origin)
  assert.equal(resolved.origin, origin, `${label}: Location ${location}`)
  assert.notMatch(location, /^(\/[\\/]|[a-z]+:|\\)/i, `${label}: Location ${location}`)
  assert.notInclude(decodeURIComponent(location), 'evil.example', `${label}: Location ${location}`)
}

test.group('Security: redirects and return URLs stay on our origin', (group) => {
  group.each.setup(() => isolate())
  group.each.timeout(30_000)

  test('redirect back (a refused form) never follows a hostile Referer', async ({
    client,
    assert,
  }) => {
    const { alice } = await world()
    for (const referer of HOSTILE_REFERERS) {
      // A validation error on a plain form post goes back to the Referer.
      const invalid = await client
        .post('/projects')
        .form({ name: '' })
        .header('referer', referer)
        .loginAs(alice)
        .withCsrfToken()
        .redirects(0)
      invalid.assertStatus(302)
      assertStaysHome(assert, invalid, `validation, Referer ${referer}`)

      // A refused CSRF token goes back too.
      const csrf = await client
        .post('/projects')
        .form({ name: 'x' })
        .header('referer', referer)
        .loginAs(alice)
        .redirects(0)
      assertStaysHome(assert, csrf, `csrf, Referer ${referer}`)
    }
  })

  test('forged Host and X-Forwarded-Host do not make a hostile Referer ours', async ({
    client,
    assert,
  }) => {
    const { alice } = await world()
    for (const headers of [
      { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
      { host: 'evil.example' },
    ]) {
      let call = client
        .post('/projects')
        .form({ name: '' })
        .header('referer', 'https://evil.example/phish')
        .loginAs(alice)
        .withCsrfToken()
        .redirects(0)
      for (const [name, value] of Object.entries(headers)) call = call.header(name, value)
      const response = await call
      assertStaysHome(assert, response, JSON.stringify(headers))
    }
  })

  test('a Referer of our own pages is still followed, path and query only', async ({
    client,
    assert,
  }) => {
    const { alice } = await world()
    const response = await client
      .post('/projects')
      .form({ name: '' })
      .header('referer', `${origin}/projects?tab=all`)
      .loginAs(alice)
      .withCsrfToken()
      .redirects(0)
    response.assertHeader('location', '/projects?tab=all')
    assert.equal(safePreviousPath(`${origin}/usage?range=7d`, '/'), '/usage?range=7d')
    assert.equal(safePreviousPath('/billing', '/'), '/billing')
    for (const referer of HOSTILE_REFERERS) {
      assert.equal(safePreviousPath(referer, '/fallback'), '/fallback', referer)
    }
  })

  test('the usage sync button goes back to the page it was pressed on, never elsewhere', async ({
    client,
    assert,
  }) => {
    const { alice } = await world()
    for (const referer of ['https://evil.example/phish', '/%5Cevil.example']) {
      const response = await client
        .post('/usage/sync')
        .form({})
        .header('referer', referer)
        .loginAs(alice)
        .withCsrfToken()
        .redirects(0)
      response.assertStatus(302)
      assertStaysHome(assert, response, `usage sync, Referer ${referer}`)
    }
  })

  test('login has no return parameter to abuse: it always lands on the projects page', async ({
    client,
  }) => {
    const { alice } = await world()
    const response = await client
      .post('/login?next=https://evil.example&redirect=//evil.example&returnTo=/%5Cevil.example')
      .form({
        email: alice.email,
        password: 'secret-password',
        next: 'https://evil.example',
        redirect: '//evil.example',
        returnTo: 'javascript:alert(1)',
      })
      .header('referer', 'https://evil.example/')
      .withCsrfToken()
      .redirects(0)
    response.assertStatus(302)
    response.assertHeader('location', '/projects')
  })

  test('the portal and Connect return and refresh URLs are built from APP_URL, whatever the headers say', async ({
    client,
    assert,
  }) => {
    const { alice } = await world()
    const forged = {
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      'referer': 'https://evil.example/',
    }
    const portal = await client
      .post('/api/billing/portal')
      .headers(forged)
      .loginAs(alice)
      .withCsrfToken()
    portal.assertStatus(200)
    const sessions = stripeSandbox().store.list('billing_portal.session')
    const latest = sessions.find((session) => portal.body().data.url.includes(session.id))
    assert.exists(latest)
    assert.equal(latest!.return_url, `${origin}/billing`)

    const connect = await client
      .post('/api/billing/connect')
      .headers(forged)
      .loginAs(alice)
      .withCsrfToken()
    connect.assertStatus(201)
    const accountId = connect.body().data.stripeAccountId
    const links = (
      stripeSandbox().store.list('account_link_token' as never) as Array<{
        account: string
        return_url: string | null
        refresh_url: string | null
      }>
    ).filter((link) => link.account === accountId)
    assert.isNotEmpty(links)
    for (const link of links) {
      assert.equal(link.return_url, `${origin}/creator/payouts?onboarding=done`)
      assert.equal(link.refresh_url, `${origin}/creator/payouts/onboarding`)
    }
  })

  test('the Connect refresh URL (a GET any site can link to) never opens a Connect account', async ({
    client,
    assert,
  }) => {
    const { bob } = await world()
    const before = stripeCounts()
    const response = await client.get('/creator/payouts/onboarding').loginAs(bob).redirects(0)
    response.assertStatus(302)
    response.assertHeader('location', '/creator')
    assert.equal(flashed(response, 'error'), 'Start payout onboarding from this page.')
    const fresh = await User.findOrFail(bob.id)
    assert.isNull(fresh.creatorStripeAccountId)
    assert.equal(stripeCounts().accounts, before.accounts)
  })
})
