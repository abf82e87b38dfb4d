/**
 * A small declarative param schema. Each endpoint declares its params once; the
 * schema rejects unknown params, reports missing ones, coerces the form strings
 * (integers, booleans, arrays, hashes) and gives handlers a typed result.
 *
 * Empty-string semantics follow Stripe: `x=` means "unset x" and comes out as
 * `null`; an absent param comes out as `undefined`.
 */
import {
  ApiError,
  invalidParameter,
  invalidRequest,
  missingParameter,
  unknownParameter,
} from './errors.js'
import { type FormObject, type FormValue, isFormObject } from './form.js'

export class Spec<T, R extends boolean = false> {
  constructor(
    readonly kind: string,
    readonly isRequired: R,
    readonly parse: (raw: FormValue, path: string) => T
  ) {}
}

export type AnySpec = Spec<unknown, boolean>
export type Shape = Record<string, AnySpec>
export type Infer<S> = S extends Spec<infer T, boolean> ? T : never

type RequiredKeys<S extends Shape> = {
  [K in keyof S]: S[K]['isRequired'] extends true ? K : never
}[keyof S]
type OptionalKeys<S extends Shape> = Exclude<keyof S, RequiredKeys<S>>
type Simplify<T> = { [K in keyof T]: T[K] } & {}

/** Required params are always present; optional ones are `undefined` (absent) or `null` (unset with ""). */
export type ObjectOut<S extends Shape> = Simplify<
  { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> | null }
>

export function paramPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}[${key}]`
}

/** Assigns without ever touching a prototype (keys like `__proto__` come from users). */
export function setOwn<T>(target: Record<string, T>, key: string, value: T) {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  })
}

function expectString(raw: FormValue, path: string): string {
  if (typeof raw !== 'string') throw invalidParameter(path, `Invalid ${path}: must be a string`)
  return raw
}

export function string(options: { maxLength?: number } = {}): Spec<string> {
  return new Spec('string', false, (raw, path) => {
    const value = expectString(raw, path)
    if (options.maxLength !== undefined && value.length > options.maxLength) {
      throw invalidParameter(
        path,
        `Invalid ${path}: must be at most ${options.maxLength} characters`
      )
    }
    return value
  })
}

export function enumOf<const V extends string>(values: readonly V[]): Spec<V> {
  return new Spec('enum', false, (raw, path) => {
    const value = expectString(raw, path)
    if (!(values as readonly string[]).includes(value)) {
      const list =
        values.length > 1
          ? `${values.slice(0, -1).join(', ')}, or ${values[values.length - 1]}`
          : values[0]
      throw invalidParameter(path, `Invalid ${path}: must be one of ${list}`)
    }
    return value as V
  })
}

export function integer(options: { min?: number; max?: number } = {}): Spec<number> {
  return new Spec('integer', false, (raw, path) => {
    const text = typeof raw === 'string' ? raw.trim() : ''
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
      throw invalidParameter(
        path,
        `Invalid integer: ${typeof raw === 'string' ? raw : '[object]'}`,
        'parameter_invalid_integer'
      )
    }
    const value = Number(text)
    if (options.min !== undefined && value < options.min) {
      throw invalidParameter(
        path,
        `This value must be greater than or equal to ${options.min}.`,
        'parameter_invalid_integer'
      )
    }
    if (options.max !== undefined && value > options.max) {
      throw invalidParameter(
        path,
        `This value must be less than or equal to ${options.max}.`,
        'parameter_invalid_integer'
      )
    }
    return value
  })
}

export function boolean(): Spec<boolean> {
  return new Spec('boolean', false, (raw, path) => {
    if (raw === 'true') return true
    if (raw === 'false') return false
    throw invalidRequest(`Invalid boolean: ${typeof raw === 'string' ? raw : '[object]'}`, {
      param: path,
      validation: true,
    })
  })
}

export function required<T>(spec: Spec<T, boolean>): Spec<T, true> {
  return new Spec(spec.kind, true, spec.parse)
}

function parseObject<S extends Shape>(shape: S, raw: FormObject, path: string): ObjectOut<S> {
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(shape, key)) throw unknownParameter(paramPath(path, key))
  }
  const out: Record<string, unknown> = {}
  for (const [key, spec] of Object.entries(shape)) {
    const value = raw[key]
    const fullPath = paramPath(path, key)
    if (value === undefined) {
      if (spec.isRequired) throw missingParameter(fullPath)
      continue
    }
    if (value === '') {
      if (spec.isRequired) {
        throw invalidRequest(
          `You passed an empty string for '${fullPath}'. We assume empty values are an attempt to unset a parameter; however '${fullPath}' cannot be unset. You should remove '${fullPath}' from your request or supply a non-empty value.`,
          { code: 'parameter_invalid_empty', param: fullPath, validation: true }
        )
      }
      out[key] = null
      continue
    }
    out[key] = spec.parse(value, fullPath)
  }
  return out as ObjectOut<S>
}

export function object<S extends Shape>(shape: S): Spec<ObjectOut<S>> & { shape: S } {
  const spec = new Spec('object', false, (raw: FormValue, path: string) => {
    if (!isFormObject(raw))
      throw invalidParameter(path, `Invalid object`, 'parameter_invalid_string')
    return parseObject(shape, raw, path)
  })
  return Object.assign(spec, { shape })
}

export function array<T>(item: Spec<T, boolean>, options: { maxItems?: number } = {}): Spec<T[]> {
  return new Spec('array', false, (raw, path) => {
    if (!isFormObject(raw)) throw invalidParameter(path, `Invalid array`)
    const entries = Object.entries(raw)
    for (const [index] of entries) {
      if (!/^\d+$/.test(index)) throw invalidParameter(path, `Invalid array`)
    }
    entries.sort((a, b) => Number(a[0]) - Number(b[0]))
    const values = entries
      .filter(([, value]) => value !== '')
      .map(([index, value]) => item.parse(value, paramPath(path, index)))
    if (options.maxItems !== undefined && values.length > options.maxItems) {
      throw invalidParameter(path, `Invalid ${path}: must have at most ${options.maxItems} items`)
    }
    return values
  })
}

export const METADATA_LIMITS = { keys: 50, keyLength: 40, valueLength: 500 } as const

/** `metadata[k]=v` sets, `metadata[k]=` → null (delete k); `metadata=` is handled by the object parser as null. */
export function metadata(): Spec<Record<string, string | null>> {
  return new Spec('metadata', false, (raw, path) => {
    if (!isFormObject(raw)) throw invalidParameter(path, `Invalid object`)
    const out = Object.create(null) as Record<string, string | null>
    for (const [key, value] of Object.entries(raw)) {
      if (typeof value !== 'string') {
        throw invalidParameter(
          paramPath(path, key),
          `Invalid value for metadata key '${key}': metadata values must be strings`
        )
      }
      if (key.length > METADATA_LIMITS.keyLength) {
        throw invalidParameter(
          paramPath(path, key),
          `Metadata keys can have up to ${METADATA_LIMITS.keyLength} characters, but you passed in a key with ${key.length} characters.`
        )
      }
      if (value.length > METADATA_LIMITS.valueLength) {
        throw invalidParameter(
          paramPath(path, key),
          `Metadata values can have up to ${METADATA_LIMITS.valueLength} characters, but you passed in a value with ${value.length} characters.`
        )
      }
      setOwn(out, key, value === '' ? null : value)
    }
    return out
  })
}

/**
 * Applies a metadata update to existing metadata. Returns the new metadata and
 * throws when the result would exceed Stripe's key limit.
 */
export function applyMetadata(
  current: Record<string, string>,
  update: Record<string, string | null> | null | undefined,
  path = 'metadata'
): Record<string, string> {
  if (update === undefined) return current
  const next: Record<string, string> = {}
  if (update !== null) {
    for (const [key, value] of Object.entries(current)) setOwn(next, key, value)
    for (const [key, value] of Object.entries(update)) {
      if (value === null) delete next[key]
      else setOwn(next, key, value)
    }
  }
  const count = Object.keys(next).length
  if (count > METADATA_LIMITS.keys) {
    throw invalidParameter(
      path,
      `Metadata can have up to ${METADATA_LIMITS.keys} keys, but you passed in ${count} keys.`
    )
  }
  return next
}

export interface RangeQuery {
  gt?: number
  gte?: number
  lt?: number
  lte?: number
}

/** `created=123` or `created[gte]=…&created[lt]=…`. */
export function range(): Spec<number | RangeQuery> {
  const bound = integer()
  const rangeObject = object({ gt: bound, gte: bound, lt: bound, lte: bound })
  return new Spec('range', false, (raw, path) => {
    if (typeof raw === 'string') return bound.parse(raw, path)
    const parsed = rangeObject.parse(raw, path)
    const out: RangeQuery = {}
    for (const key of ['gt', 'gte', 'lt', 'lte'] as const) {
      const value = parsed[key]
      if (typeof value === 'number') out[key] = value
    }
    return out
  })
}

export function matchesRange(
  value: number,
  filter: number | RangeQuery | null | undefined
): boolean {
  if (filter === null || filter === undefined) return true
  if (typeof filter === 'number') return value === filter
  if (filter.gt !== undefined && !(value > filter.gt)) return false
  if (filter.gte !== undefined && !(value >= filter.gte)) return false
  if (filter.lt !== undefined && !(value < filter.lt)) return false
  if (filter.lte !== undefined && !(value <= filter.lte)) return false
  return true
}

/** Params every endpoint accepts. */
export const commonShape = {
  expand: array(string(), { maxItems: 100 }),
}

/** Params every list endpoint accepts. */
export const paginationShape = {
  limit: integer(),
  starting_after: string(),
  ending_before: string(),
}

/** Parses a whole request's params against a root shape. */
export function parseParams<S extends Shape>(shape: S, raw: FormObject): ObjectOut<S> {
  try {
    return parseObject(shape, raw, '')
  } catch (error) {
    if (error instanceof ApiError) throw error
    throw invalidRequest(error instanceof Error ? error.message : String(error), {
      validation: true,
    })
  }
}
