import { test } from '@japa/runner'
import testUtils from '@adonisjs/core/services/test_utils'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import type User from '#models/user'
import { UserFactory } from '#database/factories/user_factory'

/** A stored LiteLLM request for `user` (what the sync writes), `days` before today (UTC). */
async function request(
  user: User | null,
  values: {
    id: string
    days?: number
    model?: string
    modelGroup?: string | null
    costMicros: number
    tokens?: [number, number]
    agentId?: number | null
    projectId?: number | null
  }
) {
  const started = DateTime.utc()
    .startOf('day')
    .minus({ days: values.days ?? 0 })
    .plus({ hours: 12 })
  const [prompt, completion] = values.tokens ?? [100, 50]
  await db.table('usage_logs').insert({
    request_id: values.id,
    user_id: user?.id ?? null,
    agent_id: values.agentId ?? null,
    project_id: values.projectId ?? null,
    model: values.model ?? 'gpt-4o-mini',
    model_group: values.modelGroup === undefined ? 'openai/gpt-4o-mini' : values.modelGroup,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    spend_micros: values.costMicros,
    cost_micros: values.costMicros,
    attribution: user ? 'attributed' : 'unattributed',
    started_at: started.toJSDate(),
    created_at: new Date(),
  })
}

test.group('Usage: dashboard, summary and request log', (group) => {
  group.each.setup(() => testUtils.db().withGlobalTransaction())

  test('the summary sums in micro-dollars, rounds once, fills empty days and breaks down by model, agent and project', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const other = await UserFactory.create()
    const [project] = await db
      .table('projects')
      .insert({
        user_id: user.id,
        slug: 'shop',
        name: 'Shop',
        created_at: new Date(),
        updated_at: new Date(),
      })
      .returning('id')
    const [agent] = await db
      .table('marketplace_agents')
      .insert({
        slug: 'summarizer',
        name: 'Summarizer',
        pricing_type: 'free',
        created_at: new Date(),
        updated_at: new Date(),
      })
      .returning('id')
    // 4999 + 1 + 1234 + 1 micro-dollars = 0.6235 cents: rounded once, to 1 cent.
    await request(user, { id: 'r1', costMicros: 4999, projectId: project.id })
    await request(user, { id: 'r2', costMicros: 1, days: 4, agentId: agent.id })
    await request(user, {
      id: 'r3',
      costMicros: 1234,
      days: 2,
      model: 'claude-3-5-sonnet',
      modelGroup: 'claude-sonnet',
    })
    await request(user, {
      id: 'r4',
      costMicros: 1,
      days: 6,
      modelGroup: null,
      model: 'local-llama',
    })
    // Outside the 7 days, another user's, and an unattributed row: none count.
    await request(user, { id: 'old', costMicros: 999_999, days: 8 })
    await request(other, { id: 'theirs', costMicros: 777_777 })
    await request(null, { id: 'nobody', costMicros: 555_555 })

    const response = await client.get('/api/billing/usage?range=7d').loginAs(user)
    response.assertStatus(200)
    const summary = response.body().data
    assert.deepEqual(summary.totals, {
      requests: 4,
      promptTokens: 400,
      completionTokens: 200,
      costMicros: 6235,
      costCents: 1,
      unbilledMicros: 6235,
    })
    assert.lengthOf(summary.byDay, 7)
    assert.deepEqual(
      summary.byDay.map((day: { costMicros: number }) => day.costMicros),
      [1, 0, 1, 0, 1234, 0, 4999]
    )
    assert.equal(summary.byDay[6].key, DateTime.utc().toISODate())
    assert.deepEqual(
      summary.byModel.map((line: { key: string; costMicros: number }) => [
        line.key,
        line.costMicros,
      ]),
      [
        ['openai/gpt-4o-mini', 5000],
        ['claude-sonnet', 1234],
        ['local-llama', 1],
      ]
    )
    assert.sameDeepMembers(
      summary.byAgent.map((line: { label: string; costMicros: number }) => [
        line.label,
        line.costMicros,
      ]),
      [
        ['No agent', 6234],
        ['Summarizer', 1],
      ]
    )
    assert.sameDeepMembers(
      summary.byProject.map((line: { label: string; costMicros: number }) => [
        line.label,
        line.costMicros,
      ]),
      [
        ['Shop', 4999],
        ['No project', 1236],
      ]
    )

    const page = await client.get('/usage?range=month').loginAs(user).withInertia()
    page.assertStatus(200)
    page.assertInertiaComponent('usage/show')
    assert.equal(page.inertiaProps.summary.range.name, 'month')
    assert.equal(page.inertiaProps.summary.range.from, DateTime.utc().startOf('month').toISODate())
    assert.isArray(page.inertiaProps.invoices)
  })

  test('the request log filters by model, agent, project and dates, and pages; only the user’s own rows', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const other = await UserFactory.create()
    for (let n = 0; n < 5; n++)
      await request(user, { id: `mini-${n}`, costMicros: 10 + n, days: n })
    await request(user, { id: 'sonnet-1', costMicros: 99, modelGroup: 'claude-sonnet' })
    await request(other, { id: 'other-1', costMicros: 5 })

    const first = await client.get('/api/billing/usage/logs?perPage=2&page=1').loginAs(user)
    first.assertStatus(200)
    assert.equal(first.body().meta.total, 6)
    assert.equal(first.body().meta.lastPage, 3)
    assert.lengthOf(first.body().data, 2)
    const sonnet = await client.get('/api/billing/usage/logs?model=claude-sonnet').loginAs(user)
    assert.deepEqual(
      sonnet.body().data.map((row: { requestId: string }) => row.requestId),
      ['sonnet-1']
    )
    const from = DateTime.utc().minus({ days: 1 }).toISODate()
    const to = DateTime.utc().toISODate()
    const recent = await client
      .get(`/api/billing/usage/logs?range=custom&from=${from}&to=${to}`)
      .loginAs(user)
    assert.sameMembers(
      recent.body().data.map((row: { requestId: string }) => row.requestId),
      ['mini-0', 'mini-1', 'sonnet-1']
    )
    const none = await client.get('/api/billing/usage/logs?agent=nope').loginAs(user)
    assert.lengthOf(none.body().data, 0)
  })

  test('bad ranges are 422 naming the field; guests are refused', async ({ client, assert }) => {
    const user = await UserFactory.create()
    const cases: Array<[string, string]> = [
      ['range=custom', 'from'],
      ['range=custom&from=2026-11-10&to=2026-11-01', 'to'],
      ['range=custom&from=2024-01-01&to=2026-11-01', 'to'],
      ['range=year', 'range'],
      ['range=custom&from=yesterday&to=2026-11-01', 'from'],
    ]
    for (const [query, field] of cases) {
      const response = await client.get(`/api/billing/usage?${query}`).loginAs(user)
      response.assertStatus(422)
      assert.include(
        response.body().errors.map((error: { field: string }) => error.field),
        field,
        query
      )
    }
    const perPage = await client.get('/api/billing/usage/logs?perPage=1000').loginAs(user)
    perPage.assertStatus(422)
    const guest = await client.get('/api/billing/usage')
    guest.assertStatus(401)
  })
})
