/**
 * Decoding of Stripe's bracketed `application/x-www-form-urlencoded` params
 * (`a[b][c]=v`, `x[0]=…`, `x[]=…`), used for POST bodies and for query strings.
 *
 * Arrays come out as objects keyed by index; the param schema turns them into
 * real arrays, because only the schema knows whether `metadata[0]` is an index
 * or a metadata key.
 */

export type FormValue = string | FormObject
export interface FormObject {
  [key: string]: FormValue
}

export function emptyFormObject(): FormObject {
  return Object.create(null) as FormObject
}

export function isFormObject(value: unknown): value is FormObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Splits `a[b][]` into `['a', 'b', '']`. Malformed keys are kept whole. */
export function splitKey(key: string): string[] {
  const open = key.indexOf('[')
  if (open <= 0) return [key]
  const segments = [key.slice(0, open)]
  const pattern = /\[([^[\]]*)\]/y
  pattern.lastIndex = open
  let match: RegExpExecArray | null
  let position = open
  while ((match = pattern.exec(key)) !== null) {
    segments.push(match[1])
    position = pattern.lastIndex
  }
  return position === key.length ? segments : [key]
}

function assign(root: FormObject, segments: string[], value: string) {
  let node = root
  for (let i = 0; i < segments.length; i++) {
    let segment = segments[i]
    // `x[]` appends: the next free index in that container.
    if (segment === '' && i > 0) segment = String(Object.keys(node).length)
    if (i === segments.length - 1) {
      node[segment] = value
      return
    }
    const next = node[segment]
    if (isFormObject(next)) {
      node = next
    } else {
      const created = emptyFormObject()
      node[segment] = created
      node = created
    }
  }
}

/** Parses pairs in order; a later duplicate key wins. */
export function parsePairs(pairs: Iterable<[string, string]>): FormObject {
  const root = emptyFormObject()
  for (const [key, value] of pairs) {
    if (key === '') continue
    assign(root, splitKey(key), value)
  }
  return root
}

export function parseForm(body: string): FormObject {
  return parsePairs(new URLSearchParams(body))
}

/** Stable fingerprint of decoded params: same params in any order → same string. */
export function canonicalForm(value: FormValue): string {
  if (typeof value === 'string') return JSON.stringify(value)
  const keys = Object.keys(value).sort()
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalForm(value[key])}`).join(',')}}`
}
