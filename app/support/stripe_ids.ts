/** The id of an expandable Stripe reference (an id, or the expanded object); null when absent. */
export function stripeId(value: string | { id?: string } | null | undefined): string | null {
  if (!value) return null
  return typeof value === 'string' ? value : (value.id ?? null)
}
