import { test } from '@japa/runner'
import MarketplaceAgent from '#models/marketplace_agent'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { flashed, flashedFieldErrors } from '#tests/support/http'
import { buyer, creator, resetData } from '../marketplace/helpers.js'

async function agentsOf(userId: number) {
  return MarketplaceAgent.query().where('creator_id', userId).orderBy('id')
}

test.group('Creator agents: publishing and prices', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('publishing a monthly agent from the page creates it with its Stripe product and monthly price', async ({
    client,
    assert,
  }) => {
    const jenny = await creator()
    const response = await client
      .post('/creator/agents')
      .form({
        name: 'Code Reviewer',
        description: 'Reviews pull requests.',
        pricingType: 'monthly',
        price: '9.99',
        // Not the creator's to set: dropped by the validator.
        creatorId: '1',
        isPublished: 'false',
      })
      .loginAs(jenny)
      .withCsrfToken()
      .redirects(0)
    response.assertStatus(302)
    assert.equal(response.header('location'), '/creator')
    assert.equal(flashed(response, 'success'), '"Code Reviewer" is published.')

    const [row] = await agentsOf(jenny.id)
    assert.deepInclude(row.serialize(), {
      slug: 'code-reviewer',
      name: 'Code Reviewer',
      description: 'Reviews pull requests.',
      creatorId: jenny.id,
      pricingType: 'monthly',
      priceCents: 999,
      isPublished: true,
      priceVersion: 1,
      stripePriceVersion: 1,
    })
    const product = await stripeClient().products.retrieve(row.stripeProductId!)
    assert.equal(product.name, 'Code Reviewer')
    assert.isTrue(product.active)
    const price = await stripeClient().prices.retrieve(row.stripePriceId!)
    assert.equal(price.unit_amount, 999)
    assert.equal(price.recurring?.interval, 'month')
    assert.equal(price.product, product.id)

    // A second agent of the same name gets its own slug.
    const again = await client
      .post('/api/creator/agents')
      .json({ name: 'Code Reviewer', pricingType: 'one_time', price: '$1,250.50' })
      .loginAs(jenny)
      .withCsrfToken()
    again.assertStatus(201)
    assert.deepInclude(again.body().data, {
      slug: 'code-reviewer-2',
      pricingType: 'one_time',
      priceCents: 125_050,
      isPublished: true,
      inStripeSync: true,
    })
    const second = await MarketplaceAgent.findOrFail(again.body().data.id)
    const oneTime = await stripeClient().prices.retrieve(second.stripePriceId!)
    assert.isNull(oneTime.recurring)
    assert.equal(oneTime.unit_amount, 125_050)
  })

  test('free and per-token agents: prices in micro-dollars per million tokens, no Stripe price', async ({
    client,
    assert,
  }) => {
    const jenny = await creator()
    const api = await client
      .post('/api/creator/agents')
      .json({ name: 'Token Bot', pricingType: 'api', inputPrice: '3', outputPrice: '15.0375' })
      .loginAs(jenny)
      .withCsrfToken()
    api.assertStatus(201)
    assert.deepInclude(api.body().data, {
      pricingType: 'api',
      priceCents: null,
      inputPriceMicrosPerMillion: 3_000_000,
      outputPriceMicrosPerMillion: 15_037_500,
    })
    const free = await client
      .post('/api/creator/agents')
      .json({ name: 'Helper', pricingType: 'free', price: '' })
      .loginAs(jenny)
      .withCsrfToken()
    free.assertStatus(201)
    assert.deepInclude(free.body().data, { pricingType: 'free', priceCents: null })
    const rows = await agentsOf(jenny.id)
    assert.deepEqual(
      rows.map((row) => [row.pricingType, row.stripePriceId === null]),
      [
        ['api', true],
        ['free', true],
      ]
    )
  })

  test('bad input: 422 with field messages for the API, field errors for the page, nothing created', async ({
    client,
    assert,
  }) => {
    const jenny = await creator()
    const cases: Array<[Record<string, string>, Record<string, RegExp>]> = [
      [{ name: 'Bot', pricingType: 'monthly' }, { price: /Enter a price/ }],
      [
        { name: 'Bot', pricingType: 'one_time', price: '0.49' },
        { price: /from \$0\.50 to \$999,999\.99/ },
      ],
      [{ name: 'Bot', pricingType: 'monthly', price: '1000000' }, { price: /from \$0\.50 to/ }],
      [{ name: 'Bot', pricingType: 'monthly', price: '9.999' }, { price: /like 9\.99/ }],
      [{ name: 'Bot', pricingType: 'monthly', price: '-5' }, { price: /like 9\.99/ }],
      [{ name: 'Bot', pricingType: 'api', inputPrice: '1' }, { outputPrice: /per million output/ }],
      [
        { name: 'Bot', pricingType: 'api', inputPrice: '1001', outputPrice: '1' },
        { inputPrice: /to \$1,000/ },
      ],
      [{ name: 'Bot', pricingType: 'weekly', price: '5' }, { pricingType: /Choose free/ }],
      [{ name: 'B', pricingType: 'free' }, { name: /at least 2/ }],
    ]
    for (const [body, expected] of cases) {
      const api = await client.post('/api/creator/agents').json(body).loginAs(jenny).withCsrfToken()
      api.assertStatus(422)
      const errors = api.body().errors as Array<{ field: string; message: string }>
      for (const [field, message] of Object.entries(expected)) {
        const error = errors.find((candidate) => candidate.field === field)
        assert.exists(error, `${JSON.stringify(body)}: an error on ${field}`)
        assert.match(error!.message, message)
      }
    }
    const page = await client
      .post('/creator/agents')
      .form({ name: 'Bot', pricingType: 'monthly', price: 'ten' })
      .loginAs(jenny)
      .withCsrfToken()
      .redirects(0)
    page.assertStatus(302)
    assert.match(flashedFieldErrors(page).price?.[0] ?? '', /like 9\.99/)
    assert.lengthOf(await agentsOf(jenny.id), 0)
  })

  test('changing a price makes a new Stripe price and retires the old one; only the creator may', async ({
    client,
    assert,
  }) => {
    const jenny = await creator()
    const created = await client
      .post('/api/creator/agents')
      .json({ name: 'Summariser', pricingType: 'monthly', price: '5' })
      .loginAs(jenny)
      .withCsrfToken()
    const id = created.body().data.id as number
    const before = await MarketplaceAgent.findOrFail(id)

    const changed = await client
      .put(`/creator/agents/${id}/price`)
      .form({ pricingType: 'monthly', price: '7.50' })
      .loginAs(jenny)
      .withCsrfToken()
      .redirects(0)
    changed.assertStatus(302)
    assert.match(flashed(changed, 'success') ?? '', /price of "Summariser" is changed/)
    const after = await MarketplaceAgent.findOrFail(id)
    assert.equal(after.priceCents, 750)
    assert.equal(after.priceVersion, 2)
    assert.equal(after.stripePriceVersion, 2)
    assert.notEqual(after.stripePriceId, before.stripePriceId)
    assert.equal(after.stripeProductId, before.stripeProductId)
    const newPrice = await stripeClient().prices.retrieve(after.stripePriceId!)
    assert.equal(newPrice.unit_amount, 750)
    assert.isTrue(newPrice.active)
    const oldPrice = await stripeClient().prices.retrieve(before.stripePriceId!)
    assert.isFalse(oldPrice.active)

    // Switching to per-token pricing through the API.
    const api = await client
      .put(`/api/creator/agents/${id}/price`)
      .json({ pricingType: 'api', inputPrice: '0.5', outputPrice: '1.5' })
      .loginAs(jenny)
      .withCsrfToken()
    api.assertStatus(200)
    assert.deepInclude(api.body().data, {
      pricingType: 'api',
      priceCents: null,
      inputPriceMicrosPerMillion: 500_000,
      outputPriceMicrosPerMillion: 1_500_000,
    })
    const retired = await stripeClient().prices.retrieve(after.stripePriceId!)
    assert.isFalse(retired.active)

    // Someone else: not found, nothing changed.
    const stranger = await buyer()
    const refused = await client
      .put(`/api/creator/agents/${id}/price`)
      .json({ pricingType: 'monthly', price: '1' })
      .loginAs(stranger)
      .withCsrfToken()
    refused.assertStatus(404)
    const unpublish = await client
      .post(`/api/creator/agents/${id}/unpublish`)
      .loginAs(stranger)
      .withCsrfToken()
    unpublish.assertStatus(404)
    const still = await MarketplaceAgent.findOrFail(id)
    assert.equal(still.pricingType, 'api')
    assert.equal(still.priceVersion, 3)
    assert.isTrue(still.isPublished)
  })

  test('unpublishing takes the agent off sale (Stripe product inactive); publishing puts it back', async ({
    client,
    assert,
  }) => {
    const jenny = await creator()
    const created = await client
      .post('/api/creator/agents')
      .json({ name: 'Translator', pricingType: 'one_time', price: '20' })
      .loginAs(jenny)
      .withCsrfToken()
    const id = created.body().data.id as number

    const off = await client
      .post(`/creator/agents/${id}/unpublish`)
      .loginAs(jenny)
      .withCsrfToken()
      .redirects(0)
    off.assertStatus(302)
    assert.match(flashed(off, 'success') ?? '', /"Translator" is unpublished/)
    const hidden = await MarketplaceAgent.findOrFail(id)
    assert.isFalse(hidden.isPublished)
    assert.isFalse(hidden.isSellable)
    const inactive = await stripeClient().products.retrieve(hidden.stripeProductId!)
    assert.isFalse(inactive.active)

    const on = await client.post(`/api/creator/agents/${id}/publish`).loginAs(jenny).withCsrfToken()
    on.assertStatus(200)
    assert.isTrue(on.body().data.isPublished)
    const shown = await MarketplaceAgent.findOrFail(id)
    assert.isTrue(shown.isSellable)
    const active = await stripeClient().products.retrieve(shown.stripeProductId!)
    assert.isTrue(active.active)
  })

  test('Stripe down while publishing: the agent is saved but not on sale, the page says so; saving again finishes it', async ({
    client,
    assert,
  }) => {
    const jenny = await creator()
    stripeSandbox().failNext({ count: 3, status: 500, path: '/v1/products', method: 'POST' })
    const page = await client
      .post('/creator/agents')
      .form({ name: 'Flaky Agent', pricingType: 'monthly', price: '4.00' })
      .loginAs(jenny)
      .withCsrfToken()
      .redirects(0)
    page.assertStatus(302)
    assert.match(flashed(page, 'error') ?? '', /Stripe could not be reached.*not on sale yet/)
    const [saved] = await agentsOf(jenny.id)
    assert.isNull(saved.stripeProductId)
    assert.isFalse(saved.isInStripeSync)
    assert.isFalse(saved.isSellable)
    assert.isString(saved.stripeSyncError)

    const overview = await client.get('/api/billing/earnings').loginAs(jenny)
    assert.deepInclude(overview.body().data.agents[0], { id: saved.id, inStripeSync: false })

    // The same price saved again: no new version, but the sync is finished.
    const retried = await client
      .put(`/creator/agents/${saved.id}/price`)
      .form({ pricingType: 'monthly', price: '4' })
      .loginAs(jenny)
      .withCsrfToken()
      .redirects(0)
    assert.match(flashed(retried, 'success') ?? '', /changed/)
    const synced = await MarketplaceAgent.findOrFail(saved.id)
    assert.equal(synced.priceVersion, 1)
    assert.isTrue(synced.isSellable)
    const price = await stripeClient().prices.retrieve(synced.stripePriceId!)
    assert.equal(price.unit_amount, 400)
    const products = await stripeClient().products.list({ limit: 100 })
    assert.lengthOf(
      products.data.filter((product) => product.metadata?.agent_id === String(saved.id)),
      1,
      'one product for the agent'
    )
  })
})
