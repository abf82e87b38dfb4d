import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import router from '@adonisjs/core/services/router'
import testUtils from '@adonisjs/core/services/test_utils'
import { DateTime } from 'luxon'
import User from '#models/user'
import Project from '#models/project'
import AgentEntitlement from '#models/agent_entitlement'
import type MarketplaceAgent from '#models/marketplace_agent'
import { UserFactory } from '#database/factories/user_factory'
import AgentCatalogService, { type AgentPricing } from '#services/marketplace/agent_catalog_service'
import { stripeSandbox } from '#tests/support/stripe'

/*
| Shared by the security suite: one global transaction per test (the app's
| requests run in-process on the same connection), ids in a range of their own
| (Stripe idempotency keys derive from our ids, and the sandbox lives for the
| whole run), and a snapshot of everything a user owns, to prove a refused
| request changed nothing.
*/

let range = 0

/** Global transaction + a fresh id range for users and agents. */
export async function isolate() {
  await stripeSandbox().waitForIdle(20_000)
  stripeSandbox().clearFaults()
  range += 1
  const start = 9_000_000 + range * 10_000 + Math.floor(Math.random() * 5_000)
  for (const table of ['users', 'marketplace_agents', 'projects']) {
    await db.rawQuery(`SELECT setval(pg_get_serial_sequence(?, 'id'), ?, false)`, [table, start])
  }
  return testUtils.db().withGlobalTransaction()
}

/** A route of the router, as the suite needs it. */
export interface AppRoute {
  name: string | undefined
  pattern: string
  methods: string[]
}

/** Every route the app serves (all domains). */
export function appRoutes(): AppRoute[] {
  return Object.values(router.toJSON())
    .flat()
    .map((route) => ({ name: route.name, pattern: route.pattern, methods: route.methods }))
}

export const STATE_CHANGING = ['POST', 'PUT', 'PATCH', 'DELETE']

/** The routes that change state (any method other than GET and HEAD). */
export function stateChangingRoutes() {
  return appRoutes().flatMap((route) =>
    route.methods
      .filter((method) => STATE_CHANGING.includes(method))
      .map((method) => ({ ...route, method }))
  )
}

export async function agentOf(
  owner: User | null,
  pricing: AgentPricing = { pricingType: 'free' },
  name = 'Security agent'
): Promise<MarketplaceAgent> {
  const catalog = await app.container.make(AgentCatalogService)
  return catalog.create({
    slug: `sec-${Math.random().toString(36).slice(2, 10)}`,
    name,
    creatorId: owner?.id ?? null,
    pricing,
  })
}

/**
 * Alice owns one of everything a route can name (a deployed project, an
 * agent she publishes, a monthly agent she holds); Bob owns nothing of hers.
 */
export async function world() {
  const [alice, bob] = await UserFactory.createMany(2)
  alice.fullName = 'Alice Secret'
  await alice.save()
  const project = await Project.create({
    userId: alice.id,
    name: 'alice-private-project',
    slug: `alice-private-${alice.id}`,
    isDeployed: true,
    deployedAt: DateTime.utc(),
  })
  const ownAgent = await agentOf(alice, { pricingType: 'free' }, 'Alice Agent')
  const held = await agentOf(null, { pricingType: 'free' }, 'Held agent')
  const entitlement = await AgentEntitlement.create({
    userId: alice.id,
    agentId: held.id,
    pricingType: 'monthly',
    status: 'active',
    stripeSubscriptionId: `sub_sec_${alice.id}`,
    cancelAtPeriodEnd: false,
    currentPeriodEnd: DateTime.utc().plus({ days: 20 }),
  })
  return {
    alice: await User.findOrFail(alice.id),
    bob: await User.findOrFail(bob.id),
    project,
    ownAgent,
    held,
    entitlement,
  }
}

/**
 * Everything of a user that a request could change: the user's row and the
 * rows that hang off it. Two equal snapshots mean nothing of theirs changed.
 */
export async function snapshot(user: User | number) {
  const id = typeof user === 'number' ? user : user.id
  // updated_at aside: a refused request may touch nothing else, and nothing of value is in it.
  const withoutUpdatedAt = (row: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(row).filter(([key]) => key !== 'updated_at'))
  const rows = async (table: string, column = 'user_id') => {
    const found = await db.from(table).where(column, id).orderBy('id')
    return found.map(withoutUpdatedAt)
  }
  const userRow = await db.from('users').where('id', id).first()
  const userFields = withoutUpdatedAt(userRow ?? {})
  return {
    user: userFields,
    projects: await rows('projects'),
    subscriptions: await rows('subscriptions'),
    creditPurchases: await rows('credit_purchases'),
    ledger: await rows('credit_ledger_entries'),
    slots: await rows('deploy_slot_purchases'),
    entitlements: await rows('agent_entitlements'),
    agents: await rows('marketplace_agents', 'creator_id'),
    creatorAccounts: await rows('creator_accounts'),
    usageInvoices: await rows('usage_invoices'),
  }
}

/** What the Stripe sandbox holds that a request could have created. */
export function stripeCounts() {
  const store = stripeSandbox().store
  return {
    checkoutSessions: store.list('checkout.session').length,
    customers: store.list('customer').length,
    accounts: store.list('account').length,
    portalSessions: store.list('billing_portal.session').length,
    products: store.list('product').length,
    prices: store.list('price').length,
  }
}
