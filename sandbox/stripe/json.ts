/** Helpers for treating SDK-typed objects as plain JSON data. */

export type JsonRecord = Record<string, unknown>

export function isPlainObject(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** SDK interfaces have no index signature; this is the one place we view them as records. */
export function asRecord(value: object): JsonRecord {
  return value as JsonRecord
}

export function clone<T>(value: T): T {
  return structuredClone(value)
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => sameJson(item, b[index]))
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)])
    for (const key of keys) if (!sameJson(a[key], b[key])) return false
    return true
  }
  return false
}

/**
 * `data.previous_attributes` of an `*.updated` event: the old values of changed
 * fields only. Hashes are compared key by key (a new key reports `null`), arrays
 * and scalars are reported whole.
 */
export function previousAttributes(before: object, after: object): JsonRecord {
  const previous: JsonRecord = {}
  const a = asRecord(before)
  const b = asRecord(after)
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const oldValue = a[key]
    const newValue = b[key]
    if (sameJson(oldValue, newValue)) continue
    if (isPlainObject(oldValue) && isPlainObject(newValue)) {
      previous[key] = previousAttributes(oldValue, newValue)
    } else {
      previous[key] = oldValue === undefined ? null : clone(oldValue)
    }
  }
  return previous
}
