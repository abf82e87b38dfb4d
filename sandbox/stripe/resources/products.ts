/** `/v1/products`: create, retrieve, update, list, delete. The catalog core lives in `prices.ts`. */
import type Stripe from 'stripe'
import type { ResourceModule } from '../context.js'
import { invalidParameter, invalidRequest, resourceMissing } from '../errors.js'
import { previousAttributes } from '../json.js'
import { paginate } from '../list.js'
import {
  applyMetadata,
  array,
  boolean,
  enumOf,
  integer,
  matchesRange,
  metadata,
  object,
  paginationShape,
  range,
  required,
  string,
} from '../params.js'
import {
  buildPrice,
  buildProduct,
  insertPrice,
  insertProduct,
  validateImages,
  validateStatementDescriptor,
  validateTaxCode,
} from './prices.js'

export { findProduct } from './prices.js'

const packageDimensions = object({
  height: required(integer({ min: 0 })),
  length: required(integer({ min: 0 })),
  weight: required(integer({ min: 0 })),
  width: required(integer({ min: 0 })),
})

const marketingFeatures = array(object({ name: required(string({ maxLength: 80 })) }), {
  maxItems: 15,
})

const writableShape = {
  active: boolean(),
  description: string({ maxLength: 40000 }),
  images: array(string({ maxLength: 2048 })),
  marketing_features: marketingFeatures,
  metadata: metadata(),
  package_dimensions: packageDimensions,
  shippable: boolean(),
  statement_descriptor: string({ maxLength: 22 }),
  tax_code: string(),
  unit_label: string({ maxLength: 12 }),
  url: string({ maxLength: 5000 }),
}

const createShape = {
  ...writableShape,
  name: required(string({ maxLength: 5000 })),
  id: string(),
  type: enumOf(['good', 'service']),
  default_price_data: object({
    currency: required(string()),
    metadata: metadata(),
    recurring: object({
      interval: required(enumOf(['day', 'week', 'month', 'year'])),
      interval_count: integer(),
    }),
    tax_behavior: enumOf(['exclusive', 'inclusive', 'unspecified']),
    unit_amount: integer(),
    unit_amount_decimal: string(),
  }),
}

const updateShape = {
  ...writableShape,
  name: string({ maxLength: 5000 }),
  default_price: string(),
}

const listShape = {
  ...paginationShape,
  active: boolean(),
  created: range(),
  ids: array(string(), { maxItems: 100 }),
  shippable: boolean(),
  type: enumOf(['good', 'service']),
  url: string(),
}

export const products: ResourceModule = {
  name: 'products',
  register(ctx) {
    const scoped = (id: string, account: string | undefined): Stripe.Product => {
      const product = ctx.store.getFor('product', id, account)
      if (!product) throw resourceMissing('product', id)
      return product
    }

    ctx.route({
      method: 'POST',
      path: '/v1/products',
      params: createShape,
      returns: 'product',
      handler({ params, origin, request }) {
        const account = request.stripeAccount
        const product = buildProduct(ctx, params)
        const priceData = params.default_price_data
        const price = priceData
          ? buildPrice(ctx, priceData, product.id, { param: 'default_price_data', account })
          : null
        if (price) product.default_price = price.id
        insertProduct(ctx, product, origin, account)
        if (price) insertPrice(ctx, price, origin, { account })
        return product
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/products/:id',
      params: {},
      returns: 'product',
      handler({ path, request }) {
        const record = ctx.store.getRecord('product', path.id)
        if (!record || record.account !== request.stripeAccount) {
          throw resourceMissing('product', path.id)
        }
        if (record.deleted) {
          const deleted: Stripe.DeletedProduct = { id: path.id, object: 'product', deleted: true }
          return deleted
        }
        return record.value
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/products/:id',
      params: updateShape,
      returns: 'product',
      handler({ params, path, origin, request }) {
        const account = request.stripeAccount
        const current = scoped(path.id, account)
        const next: Stripe.Product = { ...current }
        if (params.name !== undefined) {
          if (params.name === null || params.name.trim() === '') {
            throw invalidParameter('name', 'Products must have a non-empty name.')
          }
          next.name = params.name
        }
        if (params.active !== undefined && params.active !== null) next.active = params.active
        if (params.description !== undefined) next.description = params.description
        if (params.images !== undefined) {
          validateImages(params.images, 'images')
          next.images = params.images ?? []
        }
        if (params.marketing_features !== undefined) {
          next.marketing_features = (params.marketing_features ?? []).map(({ name }) => ({ name }))
        }
        next.metadata = applyMetadata(current.metadata, params.metadata)
        if (params.package_dimensions !== undefined)
          next.package_dimensions = params.package_dimensions
        if (params.shippable !== undefined) next.shippable = params.shippable
        if (params.statement_descriptor !== undefined) {
          validateStatementDescriptor(params.statement_descriptor, 'statement_descriptor')
          next.statement_descriptor = params.statement_descriptor
        }
        if (params.tax_code !== undefined) {
          validateTaxCode(params.tax_code, 'tax_code')
          next.tax_code = params.tax_code
        }
        if (params.unit_label !== undefined) next.unit_label = params.unit_label
        if (params.url !== undefined) next.url = params.url
        if (params.default_price !== undefined) {
          if (params.default_price === null) {
            next.default_price = null
          } else {
            const price = ctx.store.getFor('price', params.default_price, account)
            if (!price) throw resourceMissing('price', params.default_price, 'default_price')
            if (price.product !== current.id) {
              throw invalidParameter(
                'default_price',
                `The price \`${price.id}\` does not belong to this product (\`${current.id}\`).`
              )
            }
            if (!price.active) {
              throw invalidParameter(
                'default_price',
                `The price \`${price.id}\` is archived (active=false) and cannot be the default price.`
              )
            }
            next.default_price = price.id
          }
        }
        const changed = previousAttributes(current, next)
        if (Object.keys(changed).length === 0) return current
        next.updated = ctx.clock.now()
        const previous = previousAttributes(current, next)
        ctx.store.replace('product', current.id, next)
        ctx.events.emit('product.updated', next, {
          request: origin,
          previousAttributes: previous,
          account,
        })
        return next
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/products',
      params: listShape,
      returns: 'list:product',
      handler({ params, request }) {
        const account = request.stripeAccount
        const ids = params.ids && params.ids.length > 0 ? params.ids : null
        const records = ctx.store
          .records('product')
          .filter(({ id, value, deleted, account: owner }) => {
            if (deleted || owner !== account) return false
            if (
              params.active !== undefined &&
              params.active !== null &&
              value.active !== params.active
            )
              return false
            if (ids && !ids.includes(id)) return false
            if (
              params.shippable !== undefined &&
              params.shippable !== null &&
              value.shippable !== params.shippable
            )
              return false
            if (params.type && value.type !== params.type) return false
            if (params.url && value.url !== params.url) return false
            return matchesRange(value.created, params.created)
          })
        return paginate(records, params, {
          url: '/v1/products',
          label: 'product',
          seqOf: (id) => ctx.store.seqOf('product', id),
        })
      },
    })

    ctx.route({
      method: 'DELETE',
      path: '/v1/products/:id',
      params: {},
      handler({ path, origin, request }) {
        const account = request.stripeAccount
        const product = scoped(path.id, account)
        const hasPrices = ctx.store
          .records('price')
          .some((record) => !record.deleted && record.value.product === product.id)
        if (hasPrices) {
          throw invalidRequest(
            'This product cannot be deleted because it has one or more user-created prices.'
          )
        }
        ctx.store.markDeleted('product', product.id)
        ctx.events.emit('product.deleted', product, { request: origin, account })
        const deleted: Stripe.DeletedProduct = { id: product.id, object: 'product', deleted: true }
        return deleted
      },
    })

    ctx.references('product', { default_price: 'price' })
  },
}
