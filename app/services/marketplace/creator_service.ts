import { inject } from '@adonisjs/core'
import billingConfig from '#config/billing'
import type User from '#models/user'
import MarketplaceAgent from '#models/marketplace_agent'
import CreatorPayout from '#models/creator_payout'
import AgentCatalogService, { type AgentPricing } from '#services/marketplace/agent_catalog_service'
import ConnectService, { type ConnectStatus } from '#services/marketplace/connect_service'
import EarningsService, {
  type AgentEarnings,
  type CreatorBalances,
} from '#services/marketplace/earnings_service'
import MarketplaceException from '#exceptions/marketplace_exception'

/** One of the creator's agents, as the earnings page and the API show it. */
export type CreatorAgentView = {
  id: number
  slug: string
  name: string
  description: string
  pricingType: MarketplaceAgent['pricingType']
  priceCents: number | null
  inputPriceMicrosPerMillion: number | null
  outputPriceMicrosPerMillion: number | null
  isPublished: boolean
  /** false while Stripe's price is behind ours (a sync is due; Checkout does not sell it). */
  inStripeSync: boolean
  stripeSyncError: string | null
  createdAt: string
}

export type CreatorPayoutView = {
  id: number
  amountCents: number
  currency: string
  status: CreatorPayout['status']
  reversedCents: number
  stripeTransferId: string | null
  failureReason: string | null
  createdAt: string
  paidAt: string | null
}

export type CreatorOverview = {
  connect: ConnectStatus
  balances: CreatorBalances
  agents: CreatorAgentView[]
  earningsByAgent: AgentEarnings[]
  payouts: CreatorPayoutView[]
  currency: string
  creatorSharePercent: number
  payoutHoldDays: number
}

/** What a creator may set on a new agent. */
export type PublishAgentInput = {
  name: string
  description?: string
  pricing: AgentPricing
}

/** What a creator may change on an agent of theirs. */
export type ChangeAgentInput = {
  name?: string
  description?: string
  pricing?: AgentPricing
  isPublished?: boolean
}

function slugBase(name: string) {
  const base = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .replace(/-+$/g, '')
  return base.length >= 2 ? base : 'agent'
}

/**
 * The creator side of the marketplace: the earnings overview (balances,
 * per-agent figures, payouts, Connect state) and publishing agents. Prices,
 * Stripe products and the ledger are the catalogue's, earnings' and Connect
 * services' business; this one decides whose agent is whose.
 */
@inject()
export default class CreatorService {
  constructor(
    protected catalog: AgentCatalogService,
    protected connect: ConnectService,
    protected earnings: EarningsService
  ) {}

  /** Everything the earnings page and GET /api/billing/earnings show (no Stripe call). */
  async overview(user: User, options: { payoutLimit?: number } = {}): Promise<CreatorOverview> {
    const [connect, balances, agents, earningsByAgent, payouts] = await Promise.all([
      this.connect.status(user),
      this.earnings.balances(user.id),
      this.catalog.list({ creatorId: user.id, includeUnpublished: true }),
      this.earnings.byAgent(user.id),
      CreatorPayout.query()
        .where('creator_id', user.id)
        .orderBy('id', 'desc')
        .limit(options.payoutLimit ?? 20),
    ])
    return {
      connect,
      balances,
      agents: agents.map((agent) => CreatorService.agentView(agent)),
      earningsByAgent,
      payouts: payouts.map((payout) => ({
        id: payout.id,
        amountCents: payout.amountCents,
        currency: payout.currency,
        status: payout.status,
        reversedCents: payout.reversedCents,
        stripeTransferId: payout.stripeTransferId,
        failureReason: payout.failureReason,
        createdAt: payout.createdAt.toISO()!,
        paidAt: payout.paidAt?.toISO() ?? null,
      })),
      currency: billingConfig.currency,
      creatorSharePercent: billingConfig.creatorShareBps / 100,
      payoutHoldDays: billingConfig.marketplace.payoutHoldDays,
    }
  }

  static agentView(agent: MarketplaceAgent): CreatorAgentView {
    return {
      id: agent.id,
      slug: agent.slug,
      name: agent.name,
      description: agent.description,
      pricingType: agent.pricingType,
      priceCents: agent.priceCents,
      inputPriceMicrosPerMillion: agent.inputPriceMicrosPerMillion,
      outputPriceMicrosPerMillion: agent.outputPriceMicrosPerMillion,
      isPublished: agent.isPublished,
      inStripeSync: agent.isInStripeSync,
      stripeSyncError: agent.stripeSyncError,
      createdAt: agent.createdAt.toISO()!,
    }
  }

  /**
   * Publishes a new agent of the creator's, with a slug made from its name
   * (-2, -3… when taken). Its Stripe product and price follow; if Stripe is
   * down the agent is saved unsellable and re-synced later.
   */
  async publishAgent(user: User, input: PublishAgentInput): Promise<MarketplaceAgent> {
    const base = slugBase(input.name)
    for (let attempt = 1; attempt <= 20; attempt += 1) {
      const slug = attempt === 1 ? base : `${base}-${attempt}`
      if (await MarketplaceAgent.findBy('slug', slug)) continue
      try {
        return await this.catalog.create({
          slug,
          name: input.name,
          description: input.description ?? '',
          creatorId: user.id,
          pricing: input.pricing,
          isPublished: true,
        })
      } catch (error) {
        // Taken between our look and the insert (a concurrent publish): try the next one.
        if (error instanceof MarketplaceException && /is taken/.test(error.message)) continue
        throw error
      }
    }
    throw MarketplaceException.invalid(
      'Could not find a free name for this agent; try another name'
    )
  }

  /** One of the creator's own agents; anyone else's is "not found" (404). */
  async ownAgent(user: User, agentId: number): Promise<MarketplaceAgent> {
    const agent = await MarketplaceAgent.query()
      .where('id', agentId)
      .where('creator_id', user.id)
      .first()
    if (!agent) throw MarketplaceException.agentNotFound(agentId)
    return agent
  }

  /** Changes the creator's agent: name, description, price (a new Stripe price), published or not. */
  async changeAgent(user: User, agentId: number, changes: ChangeAgentInput) {
    const agent = await this.ownAgent(user, agentId)
    return this.catalog.update(agent, changes)
  }
}
