import app from '@adonisjs/core/services/app'
import logger from '@adonisjs/core/services/logger'
import { BaseSeeder } from '@adonisjs/lucid/seeders'
import stripeConfig from '#config/stripe'
import User from '#models/user'
import MarketplaceAgent from '#models/marketplace_agent'
import AgentCatalogService, { type AgentInput } from '#services/marketplace/agent_catalog_service'
import ConnectService from '#services/marketplace/connect_service'

/** Demo creators (password "demo-password"). */
export const DEMO_CREATORS = [
  { email: 'jenny.creator@studio.test', fullName: 'Jenny Creator', onboard: true },
  { email: 'omar.creator@studio.test', fullName: 'Omar Creator', onboard: true },
  // Not onboarded: shows earnings accruing while payouts wait for the Connect account.
  { email: 'lee.creator@studio.test', fullName: 'Lee Creator', onboard: false },
]

type DemoAgent = Omit<AgentInput, 'creatorId'> & { creator: string | null }

const DEMO_AGENTS: DemoAgent[] = [
  {
    slug: 'seo-auditor',
    name: 'SEO auditor',
    creator: 'jenny.creator@studio.test',
    description: 'Audits a site and proposes fixes.',
    pricing: { pricingType: 'monthly', priceCents: 999 },
  },
  {
    slug: 'landing-copywriter',
    name: 'Landing copywriter',
    creator: 'jenny.creator@studio.test',
    description: 'Writes landing page copy.',
    pricing: { pricingType: 'one_time', priceCents: 2500 },
  },
  {
    slug: 'sql-tutor',
    name: 'SQL tutor',
    creator: 'omar.creator@studio.test',
    description: 'Explains and fixes queries.',
    pricing: {
      pricingType: 'api',
      inputPriceMicrosPerMillion: 3_000_000,
      outputPriceMicrosPerMillion: 15_000_000,
    },
  },
  {
    slug: 'readme-helper',
    name: 'README helper',
    creator: 'omar.creator@studio.test',
    description: 'Drafts READMEs.',
    pricing: { pricingType: 'free' },
  },
  {
    slug: 'test-writer',
    name: 'Test writer',
    creator: 'lee.creator@studio.test',
    description: 'Writes unit tests.',
    pricing: { pricingType: 'one_time', priceCents: 1500 },
  },
  {
    slug: 'studio-assistant',
    name: 'Studio assistant',
    creator: null,
    description: 'The platform’s own helper.',
    pricing: { pricingType: 'monthly', priceCents: 500 },
  },
]

/**
 * Marketplace demo data: creators (two onboarded to Connect in the Stripe
 * sandbox), agents of every pricing type and one platform agent. Safe to run
 * again: existing users and agents are kept, agents out of step with Stripe
 * are re-synced. Called by the demo seeder.
 */
export default class MarketplaceSeeder extends BaseSeeder {
  static environment = ['development', 'test']

  async run() {
    const connect = await app.container.make(ConnectService)
    const catalog = await app.container.make(AgentCatalogService)
    const creators = new Map<string, User>()
    for (const demo of DEMO_CREATORS) {
      const user = await User.firstOrCreate(
        { email: demo.email },
        { email: demo.email, fullName: demo.fullName, password: 'demo-password' }
      )
      creators.set(demo.email, user)
      if (!demo.onboard || user.creatorPayoutsEnabled) continue
      try {
        const { stripeAccountId } = await connect.onboardingLink(user)
        await this.onboardInSandbox(stripeAccountId)
        await connect.refresh(user)
      } catch (error) {
        logger.warn(
          { err: error, email: demo.email },
          'demo creator not onboarded (Stripe unavailable?)'
        )
      }
    }
    for (const demo of DEMO_AGENTS) {
      const existing = await MarketplaceAgent.findBy('slug', demo.slug)
      const { creator, ...input } = demo
      if (!existing) {
        await catalog.create({ ...input, creatorId: creator ? creators.get(creator)!.id : null })
      } else if (!existing.isInStripeSync) {
        await catalog
          .sync(existing)
          .catch((error) =>
            logger.warn({ err: error, slug: demo.slug }, 'demo agent not synced to Stripe')
          )
      }
    }
  }

  /** Completes onboarding through the sandbox's test control (only when STRIPE_API_BASE names one). */
  protected async onboardInSandbox(accountId: string) {
    if (!stripeConfig.apiBase) return
    const url = new URL(`/_sim/accounts/${accountId}/onboard`, stripeConfig.apiBase)
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ outcome: 'complete' }),
    })
    if (!response.ok) throw new Error(`sandbox onboarding answered ${response.status}`)
  }
}
