import { test } from '@japa/runner'
import Stripe from 'stripe'
import { type StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import {
  createPriceFromData,
  findPrice,
  findProduct,
} from '../../../sandbox/stripe/resources/prices.js'
import { ApiError } from '../../../sandbox/stripe/errors.js'
import { stripeError, useSandbox } from './helpers.js'

function types(sandbox: StripeSandbox): string[] {
  return sandbox
    .eventLog()
    .map((event) => event.type)
    .reverse()
}

test.group('Stripe sandbox: products', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(group, (started, client) => {
    sandbox = started
    stripe = client
  })

  test('creates a product with every writable field and retrieves it', async ({ assert }) => {
    const product = await stripe.products.create({
      name: 'Pro plan',
      description: 'Everything in Pro',
      metadata: { tier: 'pro' },
      images: ['https://example.com/pro.png'],
      tax_code: 'txcd_10103001',
      unit_label: 'seat',
      url: 'https://example.com/pro',
      statement_descriptor: 'STUDIO PRO',
    })
    assert.match(product.id, /^prod_[0-9A-Za-z]+$/)
    assert.equal(product.object, 'product')
    assert.isTrue(product.active)
    assert.isFalse(product.livemode)
    assert.equal(product.name, 'Pro plan')
    assert.equal(product.description, 'Everything in Pro')
    assert.deepEqual(product.metadata, { tier: 'pro' })
    assert.deepEqual(product.images, ['https://example.com/pro.png'])
    assert.equal(product.tax_code, 'txcd_10103001')
    assert.equal(product.unit_label, 'seat')
    assert.equal(product.url, 'https://example.com/pro')
    assert.equal(product.statement_descriptor, 'STUDIO PRO')
    assert.isNull(product.default_price)
    assert.equal(product.type, 'service')
    assert.isNull(product.package_dimensions)
    assert.isNull(product.shippable)
    assert.deepEqual(product.marketing_features, [])
    assert.equal(product.created, product.updated)
    assert.closeTo(product.created, Math.floor(Date.now() / 1000), 5)

    const fetched = await stripe.products.retrieve(product.id)
    assert.deepEqual({ ...fetched }, { ...product })
    assert.deepEqual(types(sandbox), ['product.created'])
    const [event] = sandbox.eventLog('product.created')
    assert.equal((event.data.object as Stripe.Product).id, product.id)
    assert.equal(event.request?.id, product.lastResponse.requestId)
  })

  test('default_price_data creates the default price', async ({ assert }) => {
    const product = await stripe.products.create({
      name: 'Starter',
      default_price_data: { currency: 'USD', unit_amount: 1500, recurring: { interval: 'month' } },
      expand: ['default_price'],
    })
    const price = product.default_price as Stripe.Price
    assert.equal(price.object, 'price')
    assert.match(price.id, /^price_/)
    assert.equal(price.product, product.id)
    assert.equal(price.currency, 'usd')
    assert.equal(price.unit_amount, 1500)
    assert.equal(String(price.unit_amount_decimal), '1500')
    assert.equal(price.type, 'recurring')
    assert.deepEqual(price.recurring, {
      interval: 'month',
      interval_count: 1,
      meter: null,
      trial_period_days: null,
      usage_type: 'licensed',
    })
    assert.isTrue(price.active)
    assert.deepEqual(types(sandbox), ['product.created', 'price.created'])
    const created = sandbox.eventLog('product.created')[0].data.object as Stripe.Product
    assert.equal(created.default_price, price.id)

    const plain = await stripe.products.retrieve(product.id)
    assert.equal(plain.default_price, price.id)
  })

  test('updates fields, unsets with empty strings and emits previous_attributes', async ({
    assert,
  }) => {
    const product = await stripe.products.create({
      name: 'Old',
      description: 'desc',
      metadata: { keep: '1', drop: '2' },
    })
    await sandbox.advanceClock(60)
    const updated = await stripe.products.update(product.id, {
      name: 'New',
      description: '',
      metadata: { drop: '', added: '3' },
      active: false,
    })
    assert.equal(updated.name, 'New')
    assert.isNull(updated.description)
    assert.isFalse(updated.active)
    assert.deepEqual(updated.metadata, { keep: '1', added: '3' })
    assert.equal(updated.updated, product.updated + 60)

    const [event] = sandbox.eventLog('product.updated')
    assert.deepEqual(event.data.previous_attributes, {
      name: 'Old',
      description: 'desc',
      active: true,
      metadata: { drop: '2', added: null },
      updated: product.updated,
    })

    // No change: no event.
    await stripe.products.update(product.id, { name: 'New' })
    assert.lengthOf(sandbox.eventLog('product.updated'), 1)
  })

  test('default_price must be an active price of the product', async ({ assert }) => {
    const product = await stripe.products.create({ name: 'A' })
    const other = await stripe.products.create({ name: 'B' })
    const price = await stripe.prices.create({
      product: product.id,
      currency: 'usd',
      unit_amount: 100,
    })
    const foreign = await stripe.prices.create({
      product: other.id,
      currency: 'usd',
      unit_amount: 100,
    })
    const updated = await stripe.products.update(product.id, { default_price: price.id })
    assert.equal(updated.default_price, price.id)
    const error = await stripeError(
      stripe.products.update(product.id, { default_price: foreign.id })
    )
    assert.equal(error.statusCode, 400)
    assert.equal(error.param, 'default_price')
    const missing = await stripeError(
      stripe.products.update(product.id, { default_price: 'price_nope' })
    )
    assert.equal(missing.code, 'resource_missing')
    assert.equal(missing.param, 'default_price')
    // The default price cannot be archived.
    const archive = await stripeError(stripe.prices.update(price.id, { active: false }))
    assert.equal(archive.statusCode, 400)
    assert.match(archive.message, /default price of its product/)
  })

  test('lists newest first with filters and cursors', async ({ assert }) => {
    const a = await stripe.products.create({ name: 'A' })
    const b = await stripe.products.create({ name: 'B', active: false })
    const c = await stripe.products.create({ name: 'C', url: 'https://example.com/c' })
    const ids = async (params: Stripe.ProductListParams) => {
      const list = await stripe.products.list(params)
      return list.data.map((p) => p.id)
    }
    assert.deepEqual(await ids({}), [c.id, b.id, a.id])
    assert.deepEqual(await ids({ active: true }), [c.id, a.id])
    assert.deepEqual(await ids({ active: false }), [b.id])
    assert.deepEqual(await ids({ ids: [a.id, c.id] }), [c.id, a.id])
    assert.deepEqual(await ids({ url: 'https://example.com/c' }), [c.id])
    const page = await stripe.products.list({ limit: 2 })
    assert.isTrue(page.has_more)
    assert.equal(page.url, '/v1/products')
    assert.deepEqual(await ids({ starting_after: c.id }), [b.id, a.id])
    assert.deepEqual(await ids({ ending_before: a.id, limit: 1 }), [b.id])
    const all: string[] = []
    for await (const product of stripe.products.list({ limit: 1 })) all.push(product.id)
    assert.deepEqual(all, [c.id, b.id, a.id])
  })

  test('deletes a product without prices; refuses one with prices', async ({ assert }) => {
    const lonely = await stripe.products.create({ name: 'Lonely' })
    const deleted = await stripe.products.del(lonely.id)
    assert.deepEqual({ ...deleted }, { id: lonely.id, object: 'product', deleted: true })
    const again = await stripe.products.retrieve(lonely.id)
    assert.isTrue((again as unknown as Stripe.DeletedProduct).deleted)
    const list = await stripe.products.list()
    assert.lengthOf(list.data, 0)
    assert.deepEqual(types(sandbox), ['product.created', 'product.deleted'])

    const priced = await stripe.products.create({
      name: 'Priced',
      default_price_data: { currency: 'usd', unit_amount: 100 },
    })
    const error = await stripeError(stripe.products.del(priced.id))
    assert.instanceOf(error, Stripe.errors.StripeInvalidRequestError)
    assert.equal(error.statusCode, 400)
    assert.equal(
      error.message,
      'This product cannot be deleted because it has one or more user-created prices.'
    )
    const kept = await stripe.products.retrieve(priced.id)
    assert.equal(kept.name, 'Priced')
  })

  test('errors: unknown id, missing name, custom id clash, too many images', async ({ assert }) => {
    const missing = await stripeError(stripe.products.retrieve('prod_nope'))
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.code, 'resource_missing')
    assert.equal(missing.message, "No such product: 'prod_nope'")

    const noName = await stripeError(
      stripe.products.create({} as unknown as Stripe.ProductCreateParams)
    )
    assert.equal(noName.code, 'parameter_missing')
    assert.equal(noName.param, 'name')

    const custom = await stripe.products.create({ id: 'gold_plan', name: 'Gold' })
    assert.equal(custom.id, 'gold_plan')
    const clash = await stripeError(stripe.products.create({ id: 'gold_plan', name: 'Gold 2' }))
    assert.equal(clash.code, 'resource_already_exists')

    const images = await stripeError(
      stripe.products.create({
        name: 'Pics',
        images: Array.from({ length: 9 }, (_, i) => `https://example.com/${i}.png`),
      })
    )
    assert.equal(images.param, 'images')
    const badTax = await stripeError(stripe.products.create({ name: 'T', tax_code: 'nope' }))
    assert.equal(badTax.code, 'resource_missing')
    assert.equal(badTax.param, 'tax_code')
    assert.lengthOf(sandbox.eventLog(), 1)
  })
})

test.group('Stripe sandbox: prices', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe
  let productId: string

  useSandbox(
    group,
    (started, client) => {
      sandbox = started
      stripe = client
    },
    { reset: false }
  )
  group.each.setup(async () => {
    sandbox.reset()
    const product = await stripe.products.create({ name: 'Plan' })
    productId = product.id
  })

  test('creates recurring and one-time prices with every field', async ({ assert }) => {
    const monthly = await stripe.prices.create({
      product: productId,
      currency: 'eur',
      unit_amount: 2000,
      recurring: { interval: 'month', interval_count: 3 },
      nickname: 'Quarterly',
      lookup_key: 'plan_quarterly',
      metadata: { plan: 'q' },
      tax_behavior: 'exclusive',
      billing_scheme: 'per_unit',
    })
    assert.match(monthly.id, /^price_/)
    assert.equal(monthly.object, 'price')
    assert.isTrue(monthly.active)
    assert.equal(monthly.billing_scheme, 'per_unit')
    assert.equal(monthly.currency, 'eur')
    assert.equal(monthly.type, 'recurring')
    assert.equal(monthly.recurring?.interval, 'month')
    assert.equal(monthly.recurring?.interval_count, 3)
    assert.equal(monthly.recurring?.usage_type, 'licensed')
    assert.equal(monthly.nickname, 'Quarterly')
    assert.equal(monthly.lookup_key, 'plan_quarterly')
    assert.deepEqual(monthly.metadata, { plan: 'q' })
    assert.equal(monthly.tax_behavior, 'exclusive')
    assert.isNull(monthly.custom_unit_amount)
    assert.isNull(monthly.tiers_mode)
    assert.isNull(monthly.transform_quantity)
    assert.equal(monthly.product, productId)

    const once = await stripe.prices.create({
      currency: 'usd',
      unit_amount_decimal: Stripe.Decimal.from('1250.50'),
      product_data: { name: 'Setup fee', metadata: { kind: 'fee' } },
    })
    assert.equal(once.type, 'one_time')
    assert.isNull(once.recurring)
    assert.isNull(once.unit_amount)
    // The SDK turns decimal strings into Stripe.Decimal; the wire value is normalised.
    assert.equal(String(once.unit_amount_decimal), '1250.5')
    assert.equal(once.tax_behavior, 'unspecified')
    const product = await stripe.products.retrieve(once.product as string)
    assert.equal(product.name, 'Setup fee')
    assert.deepEqual(product.metadata, { kind: 'fee' })

    const whole = await stripe.prices.create({
      product: productId,
      currency: 'usd',
      unit_amount_decimal: Stripe.Decimal.from('700'),
    })
    assert.equal(whole.unit_amount, 700)

    assert.deepEqual(types(sandbox), [
      'product.created',
      'price.created',
      'product.created',
      'price.created',
      'price.created',
    ])
    const fetched = await stripe.prices.retrieve(monthly.id)
    assert.deepEqual({ ...fetched }, { ...monthly })
  })

  test('validation errors store nothing', async ({ assert }) => {
    const cases: Array<[Stripe.PriceCreateParams, string | undefined, RegExp]> = [
      [
        {
          product: productId,
          currency: 'usd',
          unit_amount: 1,
          unit_amount_decimal: Stripe.Decimal.from('1'),
        },
        undefined,
        /only specify one of these parameters: unit_amount, unit_amount_decimal/,
      ],
      [{ product: productId, currency: 'usd' }, 'unit_amount', /unit_amount/],
      [
        {
          product: productId,
          currency: 'usd',
          // Not a decimal: what a hand-written form body could send.
          unit_amount_decimal: '1,5' as unknown as Stripe.Decimal,
        },
        'unit_amount_decimal',
        /Invalid decimal/,
      ],
      [
        { product: productId, currency: 'zzz', unit_amount: 1 },
        'currency',
        /Invalid currency: zzz/,
      ],
      [
        { product: 'prod_nope', currency: 'usd', unit_amount: 1 },
        'product',
        /No such product: 'prod_nope'/,
      ],
      [{ currency: 'usd', unit_amount: 1 }, 'product', /Missing required param: product/],
      [
        { product: productId, product_data: { name: 'x' }, currency: 'usd', unit_amount: 1 },
        undefined,
        /only specify one of these parameters: product, product_data/,
      ],
      [
        {
          product: productId,
          currency: 'usd',
          unit_amount: 1,
          recurring: { interval: 'month', usage_type: 'metered' },
        },
        'recurring[meter]',
        /Missing required param: recurring\[meter\]/,
      ],
      [
        {
          product: productId,
          currency: 'usd',
          unit_amount: 1,
          recurring: { interval: 'month', interval_count: 37 },
        },
        'recurring[interval_count]',
        /3 years/,
      ],
      [
        { product: productId, currency: 'usd', unit_amount: 1, billing_scheme: 'tiered' },
        'billing_scheme',
        /not supported/,
      ],
      [
        {
          product: productId,
          currency: 'usd',
          unit_amount: 1,
          recurring: { interval: 'fortnight' },
        },
        'recurring[interval]',
        /must be one of day, week, month, or year/,
      ],
    ]
    for (const [params, param, message] of cases) {
      const error = await stripeError(stripe.prices.create(params))
      assert.equal(error.statusCode, 400, String(message))
      assert.instanceOf(error, Stripe.errors.StripeInvalidRequestError)
      assert.equal(error.param, param, String(message))
      assert.match(error.message, message)
    }
    const stored = await stripe.prices.list()
    assert.lengthOf(stored.data, 0)
    assert.deepEqual(types(sandbox), ['product.created'])
  })

  test('lookup keys are unique unless transferred', async ({ assert }) => {
    const first = await stripe.prices.create({
      product: productId,
      currency: 'usd',
      unit_amount: 1000,
      lookup_key: 'pro_monthly',
    })
    const clash = await stripeError(
      stripe.prices.create({
        product: productId,
        currency: 'usd',
        unit_amount: 1200,
        lookup_key: 'pro_monthly',
      })
    )
    assert.equal(clash.param, 'lookup_key')
    assert.equal(clash.message, `A price (\`${first.id}\`) already uses that lookup key.`)

    const second = await stripe.prices.create({
      product: productId,
      currency: 'usd',
      unit_amount: 1200,
      lookup_key: 'pro_monthly',
      transfer_lookup_key: true,
    })
    assert.equal(second.lookup_key, 'pro_monthly')
    const previous = await stripe.prices.retrieve(first.id)
    assert.isNull(previous.lookup_key)
    const [moved] = sandbox.eventLog('price.updated')
    assert.equal((moved.data.object as Stripe.Price).id, first.id)
    assert.deepEqual(moved.data.previous_attributes, { lookup_key: 'pro_monthly' })
    const found = await stripe.prices.list({ lookup_keys: ['pro_monthly'] })
    assert.deepEqual(
      found.data.map((p) => p.id),
      [second.id]
    )
  })

  test('updates active, metadata, nickname and lookup_key with price.updated', async ({
    assert,
  }) => {
    const price = await stripe.prices.create({
      product: productId,
      currency: 'usd',
      unit_amount: 500,
      metadata: { a: '1' },
    })
    const updated = await stripe.prices.update(price.id, {
      active: false,
      nickname: 'Legacy',
      metadata: { a: '', b: '2' },
      lookup_key: 'legacy',
    })
    assert.isFalse(updated.active)
    assert.equal(updated.nickname, 'Legacy')
    assert.deepEqual(updated.metadata, { b: '2' })
    assert.equal(updated.lookup_key, 'legacy')
    assert.equal(updated.unit_amount, 500)
    const [event] = sandbox.eventLog('price.updated')
    assert.deepEqual(event.data.previous_attributes, {
      active: true,
      nickname: null,
      metadata: { a: '1', b: null },
      lookup_key: null,
    })
    const immutable = await stripeError(
      stripe.prices.update(price.id, { unit_amount: 1 } as Stripe.PriceUpdateParams)
    )
    assert.equal(immutable.code, 'parameter_unknown')
    assert.equal(immutable.param, 'unit_amount')
    const missing = await stripeError(stripe.prices.update('price_nope', { active: true }))
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.code, 'resource_missing')
  })

  test('lists with filters and cursors, expanding products', async ({ assert }) => {
    const other = await stripe.products.create({ name: 'Other' })
    const monthly = await stripe.prices.create({
      product: productId,
      currency: 'usd',
      unit_amount: 1000,
      recurring: { interval: 'month' },
    })
    const yearly = await stripe.prices.create({
      product: productId,
      currency: 'usd',
      unit_amount: 10000,
      recurring: { interval: 'year' },
    })
    const once = await stripe.prices.create({
      product: other.id,
      currency: 'eur',
      unit_amount: 300,
    })
    const archived = await stripe.prices.create({
      product: other.id,
      currency: 'eur',
      unit_amount: 400,
      active: false,
    })
    const ids = async (params: Stripe.PriceListParams) => {
      const list = await stripe.prices.list(params)
      return list.data.map((p) => p.id)
    }
    assert.deepEqual(await ids({}), [archived.id, once.id, yearly.id, monthly.id])
    assert.deepEqual(await ids({ active: true }), [once.id, yearly.id, monthly.id])
    assert.deepEqual(await ids({ active: false }), [archived.id])
    assert.deepEqual(await ids({ product: productId }), [yearly.id, monthly.id])
    assert.deepEqual(await ids({ type: 'one_time' }), [archived.id, once.id])
    assert.deepEqual(await ids({ type: 'recurring' }), [yearly.id, monthly.id])
    assert.deepEqual(await ids({ currency: 'eur' }), [archived.id, once.id])
    assert.deepEqual(await ids({ recurring: { interval: 'year' } }), [yearly.id])
    assert.deepEqual(await ids({ limit: 2, starting_after: once.id }), [yearly.id, monthly.id])
    assert.deepEqual(await ids({ ending_before: monthly.id, limit: 1 }), [yearly.id])
    const page = await stripe.prices.list({ limit: 3 })
    assert.isTrue(page.has_more)
    assert.equal(page.url, '/v1/prices')

    const expanded = await stripe.prices.list({ product: other.id, expand: ['data.product'] })
    for (const price of expanded.data) {
      assert.equal((price.product as Stripe.Product).name, 'Other')
    }
    const one = await stripe.prices.retrieve(monthly.id, { expand: ['product'] })
    assert.equal((one.product as Stripe.Product).id, productId)
    const badCursor = await stripeError(stripe.prices.list({ starting_after: 'price_nope' }))
    assert.equal(badCursor.code, 'resource_missing')
    assert.equal(badCursor.param, 'starting_after')
  })

  test('createPriceFromData / findPrice / findProduct (module contract)', async ({ assert }) => {
    const ctx = sandbox.context
    const origin = { requestId: 'req_test', idempotencyKey: null }
    const price = createPriceFromData(
      ctx,
      {
        currency: 'usd',
        unit_amount: 4200,
        product_data: {
          name: 'Ad hoc',
          description: 'One-off',
          images: ['https://example.com/x.png'],
        },
        recurring: { interval: 'week', interval_count: 2 },
      },
      origin,
      'line_items[0][price_data]'
    )
    assert.isFalse(price.active)
    assert.equal(price.type, 'recurring')
    assert.equal(price.recurring?.interval_count, 2)
    const product = await stripe.products.retrieve(price.product as string)
    assert.equal(product.name, 'Ad hoc')
    assert.equal(product.description, 'One-off')
    assert.deepEqual(types(sandbox).slice(-2), ['product.created', 'price.created'])
    assert.equal(sandbox.eventLog('price.created')[0].request?.id, 'req_test')

    const onExisting = createPriceFromData(
      ctx,
      { currency: 'usd', unit_amount: 1, product: productId },
      null,
      'price_data'
    )
    assert.equal(onExisting.product, productId)
    assert.equal(findPrice(ctx, onExisting.id, 'price').id, onExisting.id)
    assert.equal(findProduct(ctx, productId, 'product').name, 'Plan')

    const before = sandbox.eventLog().length
    assert.throws(
      () =>
        createPriceFromData(
          ctx,
          { currency: 'usd', product_data: { name: 'Never stored' } },
          null,
          'line_items[1][price_data]'
        ),
      /line_items\[1\]\[price_data\]\[unit_amount\]/
    )
    assert.equal(sandbox.eventLog().length, before)
    try {
      findPrice(ctx, 'price_nope', 'line_items[0][price]')
      assert.fail('expected a throw')
    } catch (error) {
      assert.instanceOf(error, ApiError)
      assert.equal((error as ApiError).status, 400)
      assert.equal((error as ApiError).code, 'resource_missing')
      assert.equal((error as ApiError).param, 'line_items[0][price]')
    }
  })
})
