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
