/**
 * `/v1/prices`: create, retrieve, update, list. Also the catalog core shared with
 * `products.ts` (building, validating and storing products and prices) and the
 * cross-module contract: `createPriceFromData` (for `price_data` params),
 * `findPrice`, `findProduct`.
 *
 * Connect: objects created with `Stripe-Account` live in that account's store and
 * are only visible with the same header.
 */
import type Stripe from 'stripe'
import { ZERO_DECIMAL_CURRENCIES } from '../currency.js'
import type { ResourceContext, ResourceModule } from '../context.js'
import {
  type ApiError,
  invalidParameter,
  invalidRequest,
  missingParameter,
  resourceMissing,
} from '../errors.js'
import { type EventOrigin, saveUpdate } from '../events.js'
import { newId } from '../ids.js'
import { previousAttributes } from '../json.js'
import { paginate } from '../list.js'
import {
  array,
  applyMetadata,
  boolean,
  enumOf,
  integer,
  matchesRange,
  metadata,
  object,
  paginationShape,
  paramPath,
  range,
  required,
  string,
} from '../params.js'

declare module '../store.js' {
  interface CollectionTypes {
    product: Stripe.Product
    price: Stripe.Price
  }
}

// ---------------------------------------------------------------------------
// Contract types
// ---------------------------------------------------------------------------

export interface PriceDataInput {
  currency: string
  product?: string | null
  product_data?: {
    name: string
    description?: string | null
    metadata?: Record<string, string>
    images?: string[]
  } | null
  unit_amount?: number | null
  unit_amount_decimal?: string | null
  recurring?: { interval: 'day' | 'week' | 'month' | 'year'; interval_count?: number | null } | null
  tax_behavior?: 'exclusive' | 'inclusive' | 'unspecified' | null
}

/** Connect scope of a lookup: `{ account }` restricts to that account's store (undefined = platform). */
export interface CatalogScope {
  account?: string
}

// ---------------------------------------------------------------------------
// Product core
// ---------------------------------------------------------------------------

export interface ProductInput {
  id?: string | null
  name: string
  active?: boolean | null
  description?: string | null
  images?: string[] | null
  metadata?: Record<string, string | null> | null
  statement_descriptor?: string | null
  tax_code?: string | null
  unit_label?: string | null
  url?: string | null
  shippable?: boolean | null
  type?: 'good' | 'service' | null
  package_dimensions?: { height: number; length: number; weight: number; width: number } | null
  marketing_features?: Array<{ name: string }> | null
}

export const MAX_PRODUCT_IMAGES = 8

export function validateImages(images: string[] | null | undefined, param: string) {
  if (!images) return
  if (images.length > MAX_PRODUCT_IMAGES) {
    throw invalidParameter(
      param,
      `Invalid array: must have at most ${MAX_PRODUCT_IMAGES} items (got ${images.length})`
    )
  }
  images.forEach((image, index) => {
    if (!/^https?:\/\/\S+$/i.test(image)) {
      throw invalidParameter(paramPath(param, String(index)), `Not a valid URL`, 'url_invalid')
    }
  })
}

export function validateTaxCode(code: string | null | undefined, param: string) {
  if (code === null || code === undefined) return
  if (!/^txcd_\d{8}$/.test(code)) throw resourceMissing('tax_code', code, param)
}

export function validateStatementDescriptor(value: string | null | undefined, param: string) {
  if (value === null || value === undefined) return
  if (value.length < 5 || value.length > 22 || /[<>\\'"*]/.test(value) || !/[a-z]/i.test(value)) {
    throw invalidParameter(
      param,
      'The statement descriptor must be at most 22 characters, contain at least 5 characters, at least one letter, and none of the special characters <, >, \\, \', " or *.'
    )
  }
}

/** Validates and builds a product (not stored). `param` prefixes error params (e.g. `product_data`). */
export function buildProduct(
  ctx: ResourceContext,
  input: ProductInput,
  param = ''
): Stripe.Product {
  const id = input.id ?? newId('product')
  if (input.id) {
    if (!/^[A-Za-z0-9_-]{1,250}$/.test(input.id)) {
      throw invalidParameter(paramPath(param, 'id'), `Invalid id: ${input.id}`)
    }
    if (ctx.store.getRecord('product', input.id)) {
      throw invalidRequest('Product already exists.', {
        code: 'resource_already_exists',
        param: paramPath(param, 'id'),
        validation: true,
      })
    }
  }
  if (input.name.trim() === '') {
    throw invalidParameter(paramPath(param, 'name'), 'Products must have a non-empty name.')
  }
  validateImages(input.images, paramPath(param, 'images'))
  validateTaxCode(input.tax_code, paramPath(param, 'tax_code'))
  validateStatementDescriptor(input.statement_descriptor, paramPath(param, 'statement_descriptor'))
  const now = ctx.clock.now()
  const type = input.type ?? 'service'
  return {
    id,
    object: 'product',
    active: input.active ?? true,
    created: now,
    default_price: null,
    description: input.description ?? null,
    images: input.images ?? [],
    livemode: false,
    marketing_features: (input.marketing_features ?? []).map(({ name }) => ({ name })),
    metadata: applyMetadata({}, input.metadata ?? undefined, paramPath(param, 'metadata')),
    name: input.name,
    package_dimensions: input.package_dimensions ?? null,
    shippable: input.shippable ?? (type === 'good' ? true : null),
    statement_descriptor: input.statement_descriptor ?? null,
    tax_code: input.tax_code ?? null,
    tax_details: null,
    type,
    unit_label: input.unit_label ?? null,
    updated: now,
    url: input.url ?? null,
  }
}

// ---------------------------------------------------------------------------
// Price core
// ---------------------------------------------------------------------------

export type Interval = 'day' | 'week' | 'month' | 'year'

export interface PriceInput {
  currency: string
  unit_amount?: number | null
  unit_amount_decimal?: string | null
  recurring?: {
    interval: Interval
    interval_count?: number | null
    usage_type?: 'licensed' | 'metered' | null
    meter?: string | null
    trial_period_days?: number | null
  } | null
  tax_behavior?: 'exclusive' | 'inclusive' | 'unspecified' | null
  active?: boolean | null
  nickname?: string | null
  lookup_key?: string | null
  metadata?: Record<string, string | null> | null
  billing_scheme?: 'per_unit' | 'tiered' | null
}

/** Longest billing interval Stripe allows: three years. */
const MAX_INTERVAL_COUNT: Record<Interval, number> = { day: 1095, week: 156, month: 36, year: 3 }

/** A subset of Stripe's presentment currencies; unknown 3-letter codes are rejected as Stripe does. */
export const SUPPORTED_CURRENCIES = new Set([
  ...ZERO_DECIMAL_CURRENCIES,
  'usd',
  'eur',
  'gbp',
  'cad',
  'aud',
  'nzd',
  'chf',
  'sek',
  'nok',
  'dkk',
  'pln',
  'czk',
  'huf',
  'ron',
  'bgn',
  'mxn',
  'brl',
  'inr',
  'sgd',
  'hkd',
  'ils',
  'aed',
  'zar',
  'thb',
  'myr',
  'php',
  'idr',
  'try',
  'twd',
  'sar',
  'cny',
  'ars',
  'cop',
  'pen',
  'egp',
  'ngn',
  'kes',
  'isk',
])

export function normalizeCurrency(currency: string, param: string): string {
  const code = currency.toLowerCase()
  if (!SUPPORTED_CURRENCIES.has(code)) {
    throw invalidParameter(
      param,
      `Invalid currency: ${code}. Stripe currently supports these currencies: ${[...SUPPORTED_CURRENCIES].sort().join(', ')}`,
      'parameter_invalid_string'
    )
  }
  return code
}

/** `"0012.50"` → `"12.5"`; throws on anything but a non-negative decimal with ≤ 12 decimals. */
export function normalizeDecimal(value: string, param: string): string {
  const match = /^(\d+)(?:\.(\d{1,12}))?$/.exec(value.trim())
  if (!match)
    throw invalidParameter(param, `Invalid decimal: ${value}`, 'parameter_invalid_decimal')
  const whole = match[1].replace(/^0+(?=\d)/, '')
  const fraction = (match[2] ?? '').replace(/0+$/, '')
  return fraction ? `${whole}.${fraction}` : whole
}

/**
 * The SDK types `decimal_string` fields as `Stripe.Decimal` (it turns the wire string
 * into a Decimal object on the client side). The sandbox stores and sends the wire
 * form, a decimal string; this is the one place that string is typed as the field.
 */
export function asDecimal(value: string): Stripe.Decimal {
  return value as unknown as Stripe.Decimal
}

function onlyOne(params: string[]): ApiError {
  return invalidRequest(`You may only specify one of these parameters: ${params.join(', ')}.`, {
    validation: true,
  })
}

/** Active prices of the same account holding `lookupKey`. */
function pricesWithLookupKey(ctx: ResourceContext, lookupKey: string, account: string | undefined) {
  return ctx.store
    .records('price')
    .filter(
      (record) =>
        !record.deleted && record.account === account && record.value.lookup_key === lookupKey
    )
    .map((record) => record.value)
}

/**
 * Validates and builds a price for `productId` (not stored). `param` prefixes error
 * params (`line_items[0][price_data]`); `account` is the Connect scope.
 */
export function buildPrice(
  ctx: ResourceContext,
  input: PriceInput,
  productId: string,
  options: { param?: string; account?: string; transferLookupKey?: boolean } = {}
): Stripe.Price {
  const param = options.param ?? ''
  const currency = normalizeCurrency(input.currency, paramPath(param, 'currency'))
  if (input.billing_scheme === 'tiered') {
    throw invalidParameter(
      paramPath(param, 'billing_scheme'),
      'Tiered prices (billing_scheme=tiered) are not supported by the Stripe sandbox; use per_unit.'
    )
  }
  const hasAmount = input.unit_amount !== undefined && input.unit_amount !== null
  const hasDecimal = input.unit_amount_decimal !== undefined && input.unit_amount_decimal !== null
  if (hasAmount && hasDecimal) {
    throw onlyOne([paramPath(param, 'unit_amount'), paramPath(param, 'unit_amount_decimal')])
  }
  let unitAmount: number | null = null
  let unitAmountDecimal: string | null = null
  if (hasAmount) {
    unitAmount = input.unit_amount ?? 0
    if (unitAmount < 0) {
      throw invalidParameter(
        paramPath(param, 'unit_amount'),
        'This value must be greater than or equal to 0.',
        'parameter_invalid_integer'
      )
    }
    unitAmountDecimal = String(unitAmount)
  } else if (hasDecimal) {
    unitAmountDecimal = normalizeDecimal(
      input.unit_amount_decimal ?? '',
      paramPath(param, 'unit_amount_decimal')
    )
    unitAmount = /^\d+$/.test(unitAmountDecimal) ? Number(unitAmountDecimal) : null
    if (unitAmount !== null && !Number.isSafeInteger(unitAmount)) unitAmount = null
  } else {
    throw invalidRequest(
      `Missing required param: ${paramPath(param, 'unit_amount')}. You must specify either \`unit_amount\` or \`unit_amount_decimal\`.`,
      { code: 'parameter_missing', param: paramPath(param, 'unit_amount'), validation: true }
    )
  }

  let recurring: Stripe.Price.Recurring | null = null
  if (input.recurring) {
    const recurringParam = paramPath(param, 'recurring')
    const { interval } = input.recurring
    const count = input.recurring.interval_count ?? 1
    if (count < 1 || count > MAX_INTERVAL_COUNT[interval]) {
      throw invalidParameter(
        paramPath(recurringParam, 'interval_count'),
        'Invalid recurring[interval_count]: the maximum billing interval is 3 years (1095 days, 156 weeks or 36 months).',
        'parameter_invalid_integer'
      )
    }
    const usageType = input.recurring.usage_type ?? 'licensed'
    let meter: string | null = null
    if (usageType === 'metered') {
      if (!input.recurring.meter) {
        throw missingParameter(paramPath(recurringParam, 'meter'))
      }
      if (!ctx.store.find('billing.meter', input.recurring.meter)) {
        throw resourceMissing(
          'billing meter',
          input.recurring.meter,
          paramPath(recurringParam, 'meter')
        )
      }
      meter = input.recurring.meter
    } else if (input.recurring.meter) {
      throw invalidParameter(
        paramPath(recurringParam, 'meter'),
        'A meter can only be set on prices with `recurring[usage_type]=metered`.'
      )
    }
    recurring = {
      interval,
      interval_count: count,
      meter,
      trial_period_days: input.recurring.trial_period_days ?? null,
      usage_type: usageType,
    }
  }

  const lookupKey = input.lookup_key ?? null
  if (lookupKey !== null && !options.transferLookupKey) {
    const holder = pricesWithLookupKey(ctx, lookupKey, options.account)[0]
    if (holder) {
      throw invalidParameter(
        paramPath(param, 'lookup_key'),
        `A price (\`${holder.id}\`) already uses that lookup key.`,
        'lookup_key_already_used'
      )
    }
  }

  return {
    id: newId('price'),
    object: 'price',
    active: input.active ?? true,
    billing_scheme: 'per_unit',
    created: ctx.clock.now(),
    currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: lookupKey,
    metadata: applyMetadata({}, input.metadata ?? undefined, paramPath(param, 'metadata')),
    nickname: input.nickname ?? null,
    product: productId,
    recurring,
    tax_behavior: input.tax_behavior ?? 'unspecified',
    tiers_mode: null,
    transform_quantity: null,
    type: recurring ? 'recurring' : 'one_time',
    unit_amount: unitAmount,
    unit_amount_decimal: unitAmountDecimal === null ? null : asDecimal(unitAmountDecimal),
  }
}

/** Stores a built product and emits `product.created`. */
export function insertProduct(
  ctx: ResourceContext,
  product: Stripe.Product,
  origin: EventOrigin | null,
  account?: string
): Stripe.Product {
  ctx.store.insert('product', product.id, product, { account })
  ctx.events.emit('product.created', product, { request: origin, account })
  return product
}

/**
 * Stores a built price and emits `price.created`. With `transferLookupKey`, first
 * takes the lookup key away from the price holding it (`price.updated`).
 */
export function insertPrice(
  ctx: ResourceContext,
  price: Stripe.Price,
  origin: EventOrigin | null,
  options: { account?: string; transferLookupKey?: boolean } = {}
): Stripe.Price {
  if (price.lookup_key !== null && options.transferLookupKey) {
    for (const holder of pricesWithLookupKey(ctx, price.lookup_key, options.account)) {
      const next: Stripe.Price = { ...holder, lookup_key: null }
      ctx.store.replace('price', holder.id, next)
      ctx.events.emit('price.updated', next, {
        request: origin,
        previousAttributes: previousAttributes(holder, next),
        account: options.account,
      })
    }
  }
  ctx.store.insert('price', price.id, price, { account: options.account })
  ctx.events.emit('price.created', price, { request: origin, account: options.account })
  return price
}

// ---------------------------------------------------------------------------
// Contract functions
// ---------------------------------------------------------------------------

/** Amount of `quantity` units of a price, in the smallest currency unit (Checkout, invoices). */
export function lineAmount(price: Stripe.Price, quantity: number): number {
  if (price.unit_amount !== null) return price.unit_amount * quantity
  const decimalText = price.unit_amount_decimal === null ? '0' : String(price.unit_amount_decimal)
  return Math.round(Number(decimalText) * quantity)
}

/**
 * A product referenced by a param: 400 resource_missing (with param) when unknown.
 * Without `scope` any live product matches; with it, only that account's (Connect).
 */
export function findProduct(
  ctx: ResourceContext,
  id: string,
  param: string,
  scope?: CatalogScope
): Stripe.Product {
  const product = scope
    ? ctx.store.getFor('product', id, scope.account)
    : ctx.store.get('product', id)
  if (!product) throw resourceMissing('product', id, param)
  return product
}

/**
 * A price referenced by a param: 400 resource_missing (with param) when unknown.
 * Without `scope` any live price matches; with it, only that account's (Connect).
 */
export function findPrice(
  ctx: ResourceContext,
  id: string,
  param: string,
  scope?: CatalogScope
): Stripe.Price {
  const price = scope ? ctx.store.getFor('price', id, scope.account) : ctx.store.get('price', id)
  if (!price) throw resourceMissing('price', id, param)
  return price
}

/**
 * For `price_data` (Checkout line items, invoice items, subscription items): creates
 * the Product when product_data is given and an inactive Price (emitting
 * product.created, price.created). `param` names the param for errors, e.g.
 * 'line_items[0][price_data]'. All validation happens before anything is stored.
 * `options.account`: the Connect account the objects live in (and `product` must).
 */
export function createPriceFromData(
  ctx: ResourceContext,
  data: PriceDataInput,
  origin: EventOrigin | null,
  param: string,
  options: CatalogScope = {}
): Stripe.Price {
  const hasProduct = data.product !== undefined && data.product !== null
  const hasProductData = data.product_data !== undefined && data.product_data !== null
  if (hasProduct && hasProductData) {
    throw onlyOne([paramPath(param, 'product'), paramPath(param, 'product_data')])
  }
  if (!hasProduct && !hasProductData) throw missingParameter(paramPath(param, 'product'))
  let product: Stripe.Product | null = null
  let productId: string
  if (data.product) {
    productId = findProduct(ctx, data.product, paramPath(param, 'product'), options).id
  } else {
    const productData = data.product_data ?? { name: '' }
    product = buildProduct(
      ctx,
      {
        name: productData.name,
        description: productData.description ?? null,
        metadata: productData.metadata ?? null,
        images: productData.images ?? null,
      },
      paramPath(param, 'product_data')
    )
    productId = product.id
  }
  const price = buildPrice(
    ctx,
    {
      currency: data.currency,
      unit_amount: data.unit_amount,
      unit_amount_decimal: data.unit_amount_decimal,
      recurring: data.recurring
        ? { interval: data.recurring.interval, interval_count: data.recurring.interval_count }
        : null,
      tax_behavior: data.tax_behavior,
      active: false,
    },
    productId,
    { param, account: options.account }
  )
  if (product) insertProduct(ctx, product, origin, options.account)
  return insertPrice(ctx, price, origin, { account: options.account })
}

// ---------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------

const intervalEnum = enumOf(['day', 'week', 'month', 'year'])
const taxBehaviorEnum = enumOf(['exclusive', 'inclusive', 'unspecified'])

const createShape = {
  currency: required(string()),
  active: boolean(),
  billing_scheme: enumOf(['per_unit', 'tiered']),
  lookup_key: string({ maxLength: 200 }),
  metadata: metadata(),
  nickname: string({ maxLength: 5000 }),
  product: string(),
  product_data: object({
    name: required(string({ maxLength: 5000 })),
    active: boolean(),
    id: string(),
    metadata: metadata(),
    statement_descriptor: string({ maxLength: 22 }),
    tax_code: string(),
    unit_label: string({ maxLength: 12 }),
  }),
  recurring: object({
    interval: required(intervalEnum),
    interval_count: integer(),
    meter: string(),
    trial_period_days: integer({ min: 0, max: 730 }),
    usage_type: enumOf(['licensed', 'metered']),
  }),
  tax_behavior: taxBehaviorEnum,
  transfer_lookup_key: boolean(),
  unit_amount: integer(),
  unit_amount_decimal: string(),
}

const updateShape = {
  active: boolean(),
  lookup_key: string({ maxLength: 200 }),
  metadata: metadata(),
  nickname: string({ maxLength: 5000 }),
  tax_behavior: taxBehaviorEnum,
  transfer_lookup_key: boolean(),
}

const listShape = {
  ...paginationShape,
  active: boolean(),
  created: range(),
  currency: string(),
  lookup_keys: array(string(), { maxItems: 10 }),
  product: string(),
  recurring: object({
    interval: intervalEnum,
    meter: string(),
    usage_type: enumOf(['licensed', 'metered']),
  }),
  type: enumOf(['one_time', 'recurring']),
}

export const prices: ResourceModule = {
  name: 'prices',
  register(ctx) {
    const scoped = (id: string, account: string | undefined): Stripe.Price => {
      const price = ctx.store.getFor('price', id, account)
      if (!price) throw resourceMissing('price', id)
      return price
    }

    ctx.route({
      method: 'POST',
      path: '/v1/prices',
      params: createShape,
      returns: 'price',
      handler({ params, origin, request }) {
        const account = request.stripeAccount
        if (params.product && params.product_data) throw onlyOne(['product', 'product_data'])
        let product: Stripe.Product | null = null
        let productId: string
        if (params.product) {
          productId = findProduct(ctx, params.product, 'product', { account }).id
        } else if (params.product_data) {
          product = buildProduct(ctx, params.product_data, 'product_data')
          productId = product.id
        } else {
          throw missingParameter('product')
        }
        const transferLookupKey = params.transfer_lookup_key === true
        const price = buildPrice(ctx, params, productId, { account, transferLookupKey })
        if (product) insertProduct(ctx, product, origin, account)
        return insertPrice(ctx, price, origin, { account, transferLookupKey })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/prices/:id',
      params: {},
      returns: 'price',
      handler({ path, request }) {
        return scoped(path.id, request.stripeAccount)
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/prices/:id',
      params: updateShape,
      returns: 'price',
      handler({ params, path, origin, request }) {
        const account = request.stripeAccount
        const current = scoped(path.id, account)
        const next: Stripe.Price = { ...current }
        if (params.active !== undefined && params.active !== null) {
          if (params.active === false && current.active) {
            const product = ctx.store.getFor('product', String(current.product), account)
            if (product && product.default_price === current.id) {
              throw invalidRequest(
                'This price cannot be archived because it is the default price of its product.',
                { param: 'active' }
              )
            }
          }
          next.active = params.active
        }
        if (params.nickname !== undefined) next.nickname = params.nickname
        if (params.tax_behavior !== undefined && params.tax_behavior !== null) {
          if (
            current.tax_behavior !== 'unspecified' &&
            current.tax_behavior !== params.tax_behavior
          ) {
            throw invalidParameter(
              'tax_behavior',
              'tax_behavior cannot be changed once it has been set to inclusive or exclusive.'
            )
          }
          next.tax_behavior = params.tax_behavior
        }
        next.metadata = applyMetadata(current.metadata, params.metadata)
        const transferLookupKey = params.transfer_lookup_key === true
        const displaced: Stripe.Price[] = []
        if (params.lookup_key !== undefined) {
          const key = params.lookup_key
          if (key !== null && key !== current.lookup_key) {
            const holders = pricesWithLookupKey(ctx, key, account).filter(
              (p) => p.id !== current.id
            )
            if (holders.length > 0 && !transferLookupKey) {
              throw invalidParameter(
                'lookup_key',
                `A price (\`${holders[0].id}\`) already uses that lookup key.`,
                'lookup_key_already_used'
              )
            }
            displaced.push(...holders)
          }
          next.lookup_key = key
        }
        for (const holder of displaced) {
          const moved: Stripe.Price = { ...holder, lookup_key: null }
          ctx.store.replace('price', holder.id, moved)
          ctx.events.emit('price.updated', moved, {
            request: origin,
            previousAttributes: previousAttributes(holder, moved),
            account,
          })
        }
        return saveUpdate(ctx, 'price', current.id, current, next, 'price.updated', {
          request: origin,
          account,
        })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/prices',
      params: listShape,
      returns: 'list:price',
      handler({ params, request }) {
        const account = request.stripeAccount
        const currency = params.currency?.toLowerCase()
        const lookupKeys =
          params.lookup_keys && params.lookup_keys.length > 0 ? params.lookup_keys : null
        const recurring = params.recurring
        const records = ctx.store.records('price').filter(({ value, deleted, account: owner }) => {
          if (deleted || owner !== account) return false
          if (
            params.active !== undefined &&
            params.active !== null &&
            value.active !== params.active
          )
            return false
          if (params.product && value.product !== params.product) return false
          if (params.type && value.type !== params.type) return false
          if (currency && value.currency !== currency) return false
          if (lookupKeys && (value.lookup_key === null || !lookupKeys.includes(value.lookup_key)))
            return false
          if (recurring) {
            if (!value.recurring) return false
            if (recurring.interval && value.recurring.interval !== recurring.interval) return false
            if (recurring.usage_type && value.recurring.usage_type !== recurring.usage_type)
              return false
            if (recurring.meter && value.recurring.meter !== recurring.meter) return false
          }
          return matchesRange(value.created, params.created)
        })
        return paginate(records, params, {
          url: '/v1/prices',
          label: 'price',
          seqOf: (id) => ctx.store.seqOf('price', id),
        })
      },
    })

    ctx.references('price', { product: 'product' })
  },
}
