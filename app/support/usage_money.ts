import { DateTime } from 'luxon'

/*
| Usage money: cost is integer micro-dollars per request (converted once at
| ingestion); an invoice rounds the sum to cents once, half up (0.5 cent and
| more goes up: 5_000 micros -> 1 cent, 4_999 -> 0), never per request or
| per day. Integer arithmetic only.
*/

const MICROS_PER_CENT = 10_000

/** Micro-dollars to cents, rounded half up, once. */
export function microsToCents(micros: number): number {
  if (!Number.isSafeInteger(micros) || micros < 0) {
    throw new RangeError(`Micro-dollars must be a whole number >= 0 (got ${micros})`)
  }
  const shifted = micros + MICROS_PER_CENT / 2
  return (shifted - (shifted % MICROS_PER_CENT)) / MICROS_PER_CENT
}

/**
 * Splits `totalCents` (the invoice's rounded total) over lines of `micros`
 * with the largest-remainder method: each line gets its whole cents, then
 * the cents left go one each to the lines with the largest fractions (ties:
 * the earlier line). The result always sums to `totalCents`, so the lines of
 * an invoice add up to it exactly and each line is still within one cent of
 * its own cost.
 */
export function allocateCents(micros: number[], totalCents: number): number[] {
  const base = micros.map((value) => Math.floor(value / MICROS_PER_CENT))
  let left = totalCents - base.reduce((sum, value) => sum + value, 0)
  if (left < 0 || left > micros.length) {
    throw new RangeError(
      `Cannot split ${totalCents} cents over lines costing ${micros.join(', ')} micros`
    )
  }
  const order = micros
    .map((value, index) => ({ index, remainder: value % MICROS_PER_CENT }))
    .sort((a, b) => b.remainder - a.remainder || a.index - b.index)
  for (const { index } of order) {
    if (left === 0) break
    base[index] += 1
    left -= 1
  }
  return base
}

/** A billing period: a calendar month in UTC, named `2026-11`. */
export interface BillingPeriod {
  period: string
  /** First instant of the month (inclusive). */
  start: DateTime
  /** First instant of the next month (exclusive). */
  end: DateTime
}

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/

/** The month named `period`, or null when it is not a `YYYY-MM` month. */
export function parsePeriod(period: string): BillingPeriod | null {
  const match = PERIOD.exec(period.trim())
  if (!match) return null
  const start = DateTime.utc(Number(match[1]), Number(match[2]), 1)
  return { period: period.trim(), start, end: start.plus({ months: 1 }) }
}

/** The period a moment falls in (UTC). */
export function periodOf(at: DateTime): string {
  return at.toUTC().toFormat('yyyy-MM')
}
