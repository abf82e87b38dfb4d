/** Formats integer cents as money, once, at the edge. */
export function formatCents(cents: number, currency = 'usd') {
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: currency.toUpperCase(),
  }).format(cents / 100)
}

export function formatDate(iso: string | null) {
  if (!iso) return ''
  return new Intl.DateTimeFormat('en-US', { dateStyle: 'medium' }).format(new Date(iso))
}

/**
 * Formats integer micro-dollars as money with up to 4 decimals (AI requests
 * cost fractions of a cent), e.g. 1234 -> "$0.0012".
 */
export function formatMicros(micros: number, currency = 'usd') {
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: currency.toUpperCase(),
    minimumFractionDigits: 2,
    maximumFractionDigits: 4,
  }).format(micros / 1_000_000)
}

export function formatNumber(value: number) {
  return new Intl.NumberFormat('en-US').format(value)
}
