import { test } from '@japa/runner'
import CreditService from '#services/credit_service'
import AgentEntitlement from '#models/agent_entitlement'
import { isolate, snapshot, stripeCounts, world } from './helpers.js'

/*
| Every user-facing route that names an object, tried by another user: Bob
| gets a 404 (or 403) for each of Alice's projects, deployments, agents and
| subscriptions, none of her rows change, and nothing of hers appears in any
| page or API answer he can open.
| Deeper single-area checks: projects/projects.spec.ts, deployments/deployments.spec.ts
| ("another user's project cannot be deployed"), billing/checkout_start.spec.ts
| (the return page refuses another user's session), creator/agents.spec.ts
| ("only the creator may"), usage_views/report.spec.ts ("only the user's own rows").
*/

test.group('Security: one user never reaches another user’s objects', (group) => {
  group.each.setup(() => isolate())
  group.each.timeout(30_000)

  test('every object route refuses Bob with 404/403 and leaves Alice’s rows unchanged', async ({
    client,
    assert,
  }) => {
    const { alice, bob, project, ownAgent, held, entitlement } = await world()
    // A Checkout of Alice's (a real session in the sandbox).
    const started = await client
      .post('/api/billing/checkout')
      .json({ kind: 'deploy_slot' })
      .loginAs(alice)
      .withCsrfToken()
    started.assertStatus(201)
    const aliceSession = started.body().data.id as string

    const before = await snapshot(alice)
    const stripeBefore = stripeCounts()
    const attempts: Array<[string, string, Record<string, unknown>?]> = [
      ['GET', `/api/projects/${project.id}`],
      ['PUT', `/projects/${project.id}`, { name: 'taken by bob' }],
      ['PATCH', `/api/projects/${project.id}`, { name: 'taken by bob' }],
      ['DELETE', `/projects/${project.id}`],
      ['DELETE', `/api/projects/${project.id}`],
      ['POST', `/projects/${project.id}/deploy`],
      ['DELETE', `/projects/${project.id}/deploy`],
      ['POST', `/api/projects/${project.slug}/deploy`],
      ['DELETE', `/api/projects/${project.slug}/deploy`],
      [
        'PUT',
        `/api/creator/agents/${ownAgent.id}/price`,
        { pricingType: 'monthly', price: '1.00' },
      ],
      ['PUT', `/creator/agents/${ownAgent.id}/price`, { pricingType: 'monthly', price: '1.00' }],
      ['POST', `/api/creator/agents/${ownAgent.id}/unpublish`],
      ['POST', `/creator/agents/${ownAgent.id}/unpublish`],
      ['POST', `/api/creator/agents/${ownAgent.id}/publish`],
      ['POST', `/api/marketplace/agents/${held.slug}/cancel`],
      ['POST', `/marketplace/${held.slug}/cancel`],
    ]
    for (const [method, url, body] of attempts) {
      const call = client[method.toLowerCase() as 'get' | 'put' | 'patch' | 'post' | 'delete'](url)
        .loginAs(bob)
        .withCsrfToken()
        .redirects(0)
      const response = await (body
        ? url.startsWith('/api')
          ? call.json(body)
          : call.form(body)
        : call)
      const label = `${method} ${url}: ${response.status()} ${response.text().slice(0, 200)}`
      if (url.startsWith('/api/')) {
        assert.include([403, 404, 409, 422], response.status(), label)
      } else {
        // Pages: a 404, or back with an error flash; never a success flash.
        assert.include([302, 403, 404], response.status(), label)
        assert.isUndefined(response.flashMessages().success, label)
      }
    }

    // The return page with Alice's session id: "not found", nothing fulfilled.
    const success = await client
      .get(`/billing/checkout/success?session_id=${aliceSession}`)
      .loginAs(bob)
      .redirects(0)
    success.assertHeader('location', '/billing')

    assert.deepEqual(await snapshot(alice), before)
    const fresh = await AgentEntitlement.findOrFail(entitlement.id)
    assert.isFalse(fresh.cancelAtPeriodEnd)
    assert.equal(fresh.status, 'active')
    // Bob's attempts made nothing at Stripe either (no price, no cancel, no checkout).
    assert.deepEqual(stripeCounts(), stripeBefore)
  })

  test('no page or API answer Bob can open shows anything of Alice’s', async ({
    client,
    assert,
  }) => {
    const { alice, bob } = await world()
    await new CreditService().grant(alice.id, 700, 'operator_grant', {
      idempotencyKey: `security:grant:${alice.id}`,
      description: 'alice-private-ledger-line',
      createdBy: 'operator:security',
    })
    const secrets = ['alice-private-project', 'alice-private-ledger-line', alice.email]
    const pages = [
      '/projects',
      '/billing',
      '/usage',
      '/creator',
      '/marketplace',
      '/marketplace/mine',
      '/profile',
      '/plans',
    ]
    const apis = [
      '/api/me',
      '/api/projects',
      '/api/projects/deployment/limits',
      '/api/billing/subscription',
      '/api/billing/credits',
      '/api/billing/credits/history',
      '/api/billing/transactions',
      '/api/billing/agents',
      '/api/billing/usage',
      '/api/billing/usage/logs',
      '/api/billing/earnings',
      '/api/marketplace/agents',
    ]
    for (const url of [...pages, ...apis]) {
      const call = client.get(url).loginAs(bob).redirects(0)
      const response = await (pages.includes(url) ? call.withInertia() : call)
      assert.equal(response.status(), 200, url)
      const text = response.text()
      for (const secret of secrets) assert.notInclude(text, secret, `${url} shows ${secret}`)
      // Alice's own view of the same places, for contrast, is where her things are.
    }
    const own = await client.get('/api/billing/credits/history').loginAs(alice)
    assert.include(own.text(), 'alice-private-ledger-line')
    const earnings = await client.get('/api/billing/earnings').loginAs(bob)
    assert.notInclude(earnings.text(), 'Alice Agent')
  })
})
