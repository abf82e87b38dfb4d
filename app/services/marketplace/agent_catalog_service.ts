import { inject } from '@adonisjs/core'
import logger from '@adonisjs/core/services/logger'
import type Stripe from 'stripe'
import db from '@adonisjs/lucid/services/db'
import billingConfig from '#config/billing'
import MarketplaceAgent, { type AgentPricingType } from '#models/marketplace_agent'
import StripeGateway from '#services/stripe_gateway'
import MarketplaceException from '#exceptions/marketplace_exception'

/** An agent's price: exactly the fields its pricing type uses. */
export type AgentPricing =
  | { pricingType: 'free' }
  | { pricingType: 'monthly' | 'one_time'; priceCents: number }
  | {
      pricingType: 'api'
      inputPriceMicrosPerMillion: number
      outputPriceMicrosPerMillion: number
    }

export interface AgentInput {
  slug: string
  name: string
  description?: string
  /** null: a platform agent (earns nobody a share). */
  creatorId: number | null
  pricing: AgentPricing
  isPublished?: boolean
}

export interface AgentChanges {
  name?: string
  description?: string
  pricing?: AgentPricing
  isPublished?: boolean
}

/** A per-token price is at most $1,000 per million tokens (in micro-dollars). */
const MAX_MICROS_PER_MILLION = 1_000_000_000

const PRICING_TYPES: readonly AgentPricingType[] = ['free', 'monthly', 'one_time', 'api']

function wholeInRange(value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw MarketplaceException.invalid(
      `${what} must be a whole number from ${min} to ${max} (got ${String(value)})`
    )
  }
  return value
}

/** The agent's price columns for a validated pricing. */
function priceColumns(pricing: AgentPricing) {
  if (!PRICING_TYPES.includes(pricing.pricingType)) {
    throw MarketplaceException.invalid(
      `Unknown pricing type "${String(pricing.pricingType)}" (free, monthly, one_time, api)`
    )
  }
  const { minPriceCents, maxPriceCents } = billingConfig.marketplace
  return {
    pricingType: pricing.pricingType,
    priceCents:
      pricing.pricingType === 'monthly' || pricing.pricingType === 'one_time'
        ? wholeInRange(pricing.priceCents, minPriceCents, maxPriceCents, 'The price in cents')
        : null,
    inputPriceMicrosPerMillion:
      pricing.pricingType === 'api'
        ? wholeInRange(
            pricing.inputPriceMicrosPerMillion,
            0,
            MAX_MICROS_PER_MILLION,
            'The input price (micro-dollars per million tokens)'
          )
        : null,
    outputPriceMicrosPerMillion:
      pricing.pricingType === 'api'
        ? wholeInRange(
            pricing.outputPriceMicrosPerMillion,
            0,
            MAX_MICROS_PER_MILLION,
            'The output price (micro-dollars per million tokens)'
          )
        : null,
  }
}

function validName(name: string) {
  const trimmed = name.trim()
  if (trimmed.length < 2 || trimmed.length > 120) {
    throw MarketplaceException.invalid('The name must be 2 to 120 characters')
  }
  return trimmed
}

/**
 * The agent catalogue and its Stripe product and price. Our row is written
 * first (a price change bumps `price_version`), then Stripe is brought in
 * step outside any transaction: the product (key from the agent), a new price
 * for the new version (key from the agent and version), the old price
 * deactivated. Until that succeeds the row says `stripe_price_version <
 * price_version` (`isInStripeSync` false, Checkout must not sell it) and
 * `sync()` / `syncPending()` finish it; a retry reuses the same keys, so
 * Stripe never gets two products or two prices for one version.
 */
@inject()
export default class AgentCatalogService {
  constructor(protected gateway: StripeGateway) {}

  /** Creates an agent, then its Stripe product and price (a Stripe failure leaves it to re-sync). */
  async create(input: AgentInput): Promise<MarketplaceAgent> {
    const slug = input.slug.trim().toLowerCase()
    if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(slug) || slug.length > 100) {
      throw MarketplaceException.invalid(
        `The slug "${input.slug}" must be lowercase words joined by hyphens`
      )
    }
    const columns = priceColumns(input.pricing)
    const agent = await db.transaction(async (trx) => {
      const taken = await MarketplaceAgent.query({ client: trx }).where('slug', slug).first()
      if (taken) throw MarketplaceException.invalid(`The slug "${slug}" is taken`)
      return MarketplaceAgent.create(
        {
          slug,
          name: validName(input.name),
          description: (input.description ?? '').trim(),
          creatorId: input.creatorId,
          ...columns,
          isPublished: input.isPublished ?? true,
          priceVersion: 1,
          stripePriceVersion: null,
        },
        { client: trx }
      )
    })
    return this.trySync(agent)
  }

  /** Changes an agent; a different price or pricing type is a new price version. */
  async update(agent: MarketplaceAgent, changes: AgentChanges): Promise<MarketplaceAgent> {
    const updated = await db.transaction(async (trx) => {
      const row = await MarketplaceAgent.query({ client: trx })
        .where('id', agent.id)
        .forUpdate()
        .firstOrFail()
      if (changes.name !== undefined) row.name = validName(changes.name)
      if (changes.description !== undefined) row.description = changes.description.trim()
      if (changes.isPublished !== undefined) row.isPublished = changes.isPublished
      if (changes.pricing) {
        const columns = priceColumns(changes.pricing)
        const changed =
          columns.pricingType !== row.pricingType ||
          columns.priceCents !== row.priceCents ||
          columns.inputPriceMicrosPerMillion !== row.inputPriceMicrosPerMillion ||
          columns.outputPriceMicrosPerMillion !== row.outputPriceMicrosPerMillion
        if (changed) {
          row.merge(columns)
          row.priceVersion += 1
        }
      }
      await row.useTransaction(trx).save()
      return row
    })
    return this.trySync(updated)
  }

  publish(agent: MarketplaceAgent) {
    return this.update(agent, { isPublished: true })
  }

  unpublish(agent: MarketplaceAgent) {
    return this.update(agent, { isPublished: false })
  }

  /** Syncs, keeping a Stripe failure on the row (`stripe_sync_error`) instead of throwing. */
  protected async trySync(agent: MarketplaceAgent) {
    try {
      return await this.sync(agent)
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      logger.warn({ agentId: agent.id, err: error }, 'agent Stripe sync failed; it stays due')
      await db
        .from('marketplace_agents')
        .where('id', agent.id)
        .update({ stripe_sync_error: reason.slice(0, 2000), updated_at: new Date() })
      return MarketplaceAgent.findOrFail(agent.id)
    }
  }

  /**
   * Brings Stripe in step with the agent's row: product (created once, name
   * and active flag kept), price of the current version, old price
   * deactivated. Throws on a Stripe failure (the row stays due).
   */
  async sync(agent: MarketplaceAgent): Promise<MarketplaceAgent> {
    const row = await MarketplaceAgent.findOrFail(agent.id)
    if (row.isFree && !row.stripeProductId) {
      await db
        .from('marketplace_agents')
        .where('id', row.id)
        .update({ stripe_price_version: row.priceVersion, stripe_sync_error: null })
      return MarketplaceAgent.findOrFail(row.id)
    }
    const stripe = this.gateway.client
    const version = row.priceVersion
    const productParams = {
      name: row.name,
      description: row.description || undefined,
      active: row.isPublished,
      metadata: { agent_id: String(row.id), slug: row.slug },
    }
    let productId = row.stripeProductId
    if (!productId) {
      const product = await StripeGateway.call(() =>
        stripe.products.create(productParams, { idempotencyKey: `studio:agent:${row.id}:product` })
      )
      productId = product.id
      await db
        .from('marketplace_agents')
        .where('id', row.id)
        .update({ stripe_product_id: productId })
    } else {
      await StripeGateway.call(() =>
        stripe.products.update(productId!, {
          name: productParams.name,
          description: row.description || '',
          active: productParams.active,
        })
      )
    }

    let priceId: string | null = null
    if (row.isSoldThroughCheckout) {
      const params: Stripe.PriceCreateParams = {
        product: productId,
        currency: billingConfig.currency,
        unit_amount: row.priceCents!,
        metadata: { agent_id: String(row.id), price_version: String(version) },
        ...(row.pricingType === 'monthly' ? { recurring: { interval: 'month' as const } } : {}),
      }
      const price = await StripeGateway.call(() =>
        stripe.prices.create(params, { idempotencyKey: `studio:agent:${row.id}:price:v${version}` })
      )
      priceId = price.id
    }
    const previous = row.stripePriceId
    if (previous && previous !== priceId) {
      await StripeGateway.call(() => stripe.prices.update(previous, { active: false }))
    }
    await db.transaction(async (trx) => {
      const locked = await MarketplaceAgent.query({ client: trx })
        .where('id', row.id)
        .forUpdate()
        .firstOrFail()
      // Changed again meanwhile: that change's own sync records its price.
      if (locked.priceVersion !== version) return
      locked.merge({
        stripeProductId: productId,
        stripePriceId: priceId,
        stripePriceVersion: version,
        stripeSyncError: null,
      })
      await locked.useTransaction(trx).save()
    })
    return MarketplaceAgent.findOrFail(row.id)
  }

  /** Re-syncs every agent whose Stripe price is behind (after an outage). */
  async syncPending(options: { dryRun?: boolean } = {}): Promise<{
    synced: number[]
    failed: { agentId: number; error: string }[]
    /** A dry run's plan: what each agent behind Stripe would get (nothing is called or written). */
    planned: { agentId: number; slug: string; priceVersion: number; action: string }[]
  }> {
    const due = await MarketplaceAgent.query()
      .withScopes((scopes) => scopes.needingStripeSync())
      .orderBy('id')
    const synced: number[] = []
    const failed: { agentId: number; error: string }[] = []
    const planned: { agentId: number; slug: string; priceVersion: number; action: string }[] = []
    for (const agent of due) {
      if (options.dryRun) {
        const steps = [agent.stripeProductId ? 'update product' : 'create product']
        if (agent.isSoldThroughCheckout) steps.push(`create price v${agent.priceVersion}`)
        if (agent.stripePriceId) steps.push(`archive price ${agent.stripePriceId}`)
        planned.push({
          agentId: agent.id,
          slug: agent.slug,
          priceVersion: agent.priceVersion,
          action: steps.join(', '),
        })
        continue
      }
      try {
        await this.sync(agent)
        synced.push(agent.id)
      } catch (error) {
        failed.push({
          agentId: agent.id,
          error: error instanceof Error ? error.message : String(error),
        })
      }
    }
    return { synced, failed, planned }
  }

  /** Published agents (or a creator's, published or not), newest first. */
  list(options: { creatorId?: number; includeUnpublished?: boolean } = {}) {
    return MarketplaceAgent.query()
      .if(options.creatorId !== undefined, (query) => query.where('creator_id', options.creatorId!))
      .if(!options.includeUnpublished, (query) => query.where('is_published', true))
      .orderBy('id', 'desc')
  }

  /** An agent by id or slug, or MarketplaceException (404). */
  async find(reference: string | number): Promise<MarketplaceAgent> {
    const agent =
      typeof reference === 'number' || /^\d+$/.test(reference)
        ? await MarketplaceAgent.find(Number(reference))
        : await MarketplaceAgent.findBy('slug', reference.trim().toLowerCase())
    if (!agent) throw MarketplaceException.agentNotFound(reference)
    return agent
  }
}
