import db from '@adonisjs/lucid/services/db'
import type User from '#models/user'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { drillSeed, pool } from '#tests/support/drills'
import { runCli, type CliRun } from '#tests/support/cli'
import { customer, usage } from '../invoices/helpers.js'
import { agent, buyer, creator, fundPlatform, sale } from '../marketplace/helpers.js'

/**
 * Stripe failing about 20% of API calls, every kind of failure mixed: 500s,
 * 429s (not retried by the SDK), connection resets and timeouts after the
 * call was executed (the answer is lost: a retry must not duplicate it).
 */
export function stripeFailing(seedOffset = 0) {
  const sandbox = stripeSandbox()
  const seed = drillSeed(100 + seedOffset)
  return [
    sandbox.failRate({ rate: 0.09, status: 500, seed }),
    sandbox.failRate({ rate: 0.05, status: 429, seed: seed + 1 }),
    sandbox.failRate({ rate: 0.04, mode: 'reset', seed: seed + 2 }),
    sandbox.failRate({ rate: 0.03, mode: 'timeout', seed: seed + 3 }),
  ]
}

export function faultsInjected() {
  return stripeSandbox().faults.rateRules.reduce((n, rule) => n + rule.injected, 0)
}

/** Every rule of the mix was consulted (a rule after the first one never drawing is a sandbox bug). */
export function faultRulesSeen() {
  return stripeSandbox().faults.rateRules.map((rule) => rule.seen)
}

/** "37 calls: 3 x 500, 2 x 429, 1 x reset, 1 x timeout" (the first rule sees every call). */
export function faultSummary() {
  const rules = stripeSandbox().faults.rateRules
  const kinds = rules.map(
    (rule) =>
      `${rule.injected} x ${rule.fault.mode === 'status' ? rule.fault.status : rule.fault.mode}`
  )
  return `${rules[0]?.seen ?? 0} calls: ${kinds.join(', ')}`
}

/**
 * The CLI's Stripe client gives up on a lost answer after 1.5 s (instead of
 * 5 s): a timeout fault then costs seconds, not a minute.
 */
export const FAST_STRIPE_ENV = { STRIPE_TIMEOUT_MS: '1500', STRIPE_MAX_NETWORK_RETRIES: '2' }

/** Users with a card and October usage to invoice (some with credits covering part of it). */
export async function invoiceUsers(count: number) {
  const users = await pool(
    Array.from({ length: count }, (_, i) => i),
    4,
    async (i) => {
      const user = await customer({ credits: i % 3 === 0 ? 50 : 0 })
      await usage(user, [1_000_000 + i * 10_000, 2_500_000])
      return user
    }
  )
  return users
}

/** Creators, onboarded, each with paid one-time sales past the hold period. */
export async function payableCreators(count: number) {
  await fundPlatform(5_000_000)
  const payer = await buyer()
  const creators: User[] = []
  for (let i = 0; i < count; i++) {
    const owner = await creator()
    const sold = await agent(owner, { pricingType: 'one_time', priceCents: 1000 + i * 10 })
    await sale(sold, payer, 1000 + i * 10)
    await sale(sold, payer, 500)
    creators.push(owner)
  }
  return creators
}

/** Reruns a CLI job until it exits 0 (at most `tries` times). */
export async function rerunUntilDone(args: string[], env: NodeJS.ProcessEnv, tries = 6) {
  const runs: CliRun[] = []
  for (let i = 0; i < tries; i++) {
    const run = await runCli(args, { env, timeoutMs: 120_000 })
    runs.push(run)
    if (run.code === 0) break
  }
  return runs
}

/** Stripe invoices and successful charges per user, as the sandbox holds them. */
export async function stripeMoneyOf(user: User) {
  const stripe = stripeClient()
  const invoices = await stripe.invoices.list({ customer: user.stripeCustomerId!, limit: 100 })
  const charges = await stripe.charges.list({ customer: user.stripeCustomerId!, limit: 100 })
  return {
    invoices: invoices.data.filter((invoice) => invoice.status !== 'void'),
    charges: charges.data.filter((charge) => charge.status === 'succeeded'),
  }
}

/** Transfers to a creator's Connect account, as the sandbox holds them. */
export async function transfersTo(user: User) {
  const fresh = await db.from('creator_accounts').where('user_id', user.id).first()
  const listed = await stripeClient().transfers.list({
    destination: fresh.stripe_account_id,
    limit: 100,
  })
  return listed.data
}
