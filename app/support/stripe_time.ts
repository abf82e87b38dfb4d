import { DateTime } from 'luxon'

/** Stripe's unix seconds as a UTC Luxon DateTime (the one place we convert them). */
export function fromStripeTime(seconds: number): DateTime
export function fromStripeTime(seconds: number | null | undefined): DateTime | null
export function fromStripeTime(seconds: number | null | undefined): DateTime | null {
  if (seconds === null || seconds === undefined) return null
  return DateTime.fromSeconds(seconds, { zone: 'utc' })
}

/** A DateTime as Stripe's unix seconds. */
export function toStripeTime(value: DateTime): number {
  return Math.floor(value.toSeconds())
}

/** The stamps of a row mirroring Stripe: the event second of its state, and when we read it. */
export interface StripeStateStamps {
  stripeUpdatedAt: DateTime | null
  stripeFetchedAt: DateTime | null
}

/**
 * Whether a state stamped (`eventCreated`, `fetchedAt`) is older than what a
 * row holds: an earlier second, or the same second read earlier (Stripe's
 * times are whole seconds; our read times break the tie). Invariant 8.
 */
export function isOlderState(
  held: StripeStateStamps,
  eventCreated: DateTime,
  fetchedAt?: DateTime
): boolean {
  if (!held.stripeUpdatedAt) return false
  if (eventCreated < held.stripeUpdatedAt) return true
  return (
    eventCreated.equals(held.stripeUpdatedAt) &&
    fetchedAt !== undefined &&
    held.stripeFetchedAt !== null &&
    fetchedAt < held.stripeFetchedAt
  )
}
