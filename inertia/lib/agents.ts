import { formatCents, formatMicros } from '~/lib/format.js'

// Type aliases, not interfaces: page props must be plain JSON records.
export type AgentListing = {
  id: number
  slug: string
  name: string
  description: string
  pricingType: string
  priceCents: number | null
  inputPriceMicrosPerMillion: number | null
  outputPriceMicrosPerMillion: number | null
  creatorName: string | null
  creatorEarnsCents: number | null
  creatorSharePercent: number
  available: boolean
  own: boolean
  held: { status: string; cancelAtPeriodEnd: boolean; currentPeriodEnd: string | null } | null
}

/** The price as a user reads it: free, $x / month, $x once, or per million tokens. */
export function priceLabel(agent: AgentListing, currency: string) {
  switch (agent.pricingType) {
    case 'free':
      return 'Free'
    case 'monthly':
      return `${formatCents(agent.priceCents ?? 0, currency)} / month`
    case 'one_time':
      return `${formatCents(agent.priceCents ?? 0, currency)} once`
    default:
      return `${formatMicros(agent.inputPriceMicrosPerMillion ?? 0, currency)} in / ${formatMicros(agent.outputPriceMicrosPerMillion ?? 0, currency)} out per million tokens`
  }
}

/** What the creator earns, said plainly. */
export function creatorEarnsLabel(agent: AgentListing, currency: string) {
  if (agent.creatorName === null) return 'Made by Studio: no creator share.'
  if (agent.pricingType === 'free') return `By ${agent.creatorName}. Free to use.`
  if (agent.creatorEarnsCents !== null) {
    return `By ${agent.creatorName}, who earns ${formatCents(agent.creatorEarnsCents, currency)} (${agent.creatorSharePercent}%) of each ${agent.pricingType === 'monthly' ? 'month' : 'sale'}.`
  }
  return `By ${agent.creatorName}, who earns ${agent.creatorSharePercent}% of what its tokens cost.`
}

/** The user's status with this agent, or null when they do not hold it. */
export function heldLabel(agent: AgentListing) {
  if (!agent.held) return null
  if (agent.held.status === 'past_due') return 'Payment failed'
  if (agent.held.status === 'pending') return 'Payment processing'
  if (agent.held.cancelAtPeriodEnd) return 'Ends at period end'
  return 'Yours'
}
