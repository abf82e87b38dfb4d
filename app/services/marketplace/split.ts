/**
 * Splitting marketplace money between creator and platform, on integers only
 * (DESIGN.md "Money and time"): creator = floor(gross x bps / 10000),
 * platform = gross - creator, so the two always add up to the gross.
 */

export interface Split {
  grossCents: number
  creatorCents: number
  platformCents: number
}

const BPS_DENOMINATOR = 10_000n

function assertWholeCents(value: number, what: string) {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${what} must be a whole number of cents (got ${value})`)
  }
}

/**
 * Splits a positive gross (a sale, renewal or usage charge). `creatorShareBps`
 * is 0..10000; a platform agent (no creator) gets share 0. BigInt keeps
 * gross x bps exact for any safe-integer gross.
 */
export function splitGross(grossCents: number, creatorShareBps: number): Split {
  assertWholeCents(grossCents, 'The gross')
  if (grossCents <= 0) throw new RangeError(`The gross must be > 0 (got ${grossCents})`)
  if (!Number.isInteger(creatorShareBps) || creatorShareBps < 0 || creatorShareBps > 10_000) {
    throw new RangeError(`The creator share must be 0..10000 basis points (got ${creatorShareBps})`)
  }
  const creatorCents = Number((BigInt(grossCents) * BigInt(creatorShareBps)) / BPS_DENOMINATOR)
  return { grossCents, creatorCents, platformCents: grossCents - creatorCents }
}

/**
 * The negative entry for taking back `reversedGrossCents` more of an earning
 * that already had `alreadyReversed` taken back. Cumulative and proportional:
 * after each step the creator has given back floor(creator x reversed / gross)
 * in total, so partial refunds in any number of steps never take back more
 * than the creator earned, and a full refund takes back exactly all of it.
 * Returns null when nothing is left to reverse. Amounts in the result are
 * negative (or zero).
 */
export function splitReversal(
  earning: Split,
  alreadyReversed: { grossCents: number; creatorCents: number },
  reversedGrossCents: number
): Split | null {
  assertWholeCents(reversedGrossCents, 'The reversed amount')
  if (reversedGrossCents <= 0) {
    throw new RangeError(`The reversed amount must be > 0 (got ${reversedGrossCents})`)
  }
  const before = Math.min(earning.grossCents, Math.max(0, alreadyReversed.grossCents))
  const after = Math.min(earning.grossCents, before + reversedGrossCents)
  const gross = after - before
  if (gross <= 0) return null
  const creatorTarget = Number(
    (BigInt(earning.creatorCents) * BigInt(after)) / BigInt(earning.grossCents)
  )
  const creator = Math.max(0, creatorTarget - Math.max(0, alreadyReversed.creatorCents))
  // creator <= gross always holds (creator share <= 1); the min is a guard, not a rule.
  const creatorCents = Math.min(creator, gross)
  // 0 - x, not -x: a zero share stays +0 (JSON and deep equality tell -0 apart).
  return {
    grossCents: 0 - gross,
    creatorCents: 0 - creatorCents,
    platformCents: 0 - (gross - creatorCents),
  }
}
