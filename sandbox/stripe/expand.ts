/**
 * Generic `expand[]` support.
 *
 * Each resource registers, per object type, which fields can be expanded:
 *  - `reference`: the field holds an id; expanding swaps in the object.
 *  - `include`:   the field is absent unless expanded (e.g. `customer.subscriptions`).
 *  - `nested`:    the field is a plain sub-hash (no `object`) that has expandable
 *                 fields of its own (e.g. `customer.invoice_settings`).
 *
 * Types are named by their `object` value; lists are `list:<type>`, nested hashes
 * any unique name such as `customer.invoice_settings`. Paths are validated against
 * the route's declared response type before the endpoint executes, so a bad
 * `expand` never leaves a half-done mutation behind.
 */
import { invalidRequest } from './errors.js'
import { type JsonRecord, clone, isPlainObject } from './json.js'

export type Expander =
  | { kind: 'reference'; target?: string; resolve: (id: string) => object | undefined }
  | { kind: 'include'; target?: string; build: (parent: JsonRecord) => unknown }
  | { kind: 'nested'; target: string }

export const MAX_EXPAND_DEPTH = 4

export class ExpansionRegistry {
  #expanders = new Map<string, Map<string, Expander>>()

  register(type: string, field: string, expander: Expander) {
    let fields = this.#expanders.get(type)
    if (!fields) {
      fields = new Map()
      this.#expanders.set(type, fields)
    }
    fields.set(field, expander)
  }

  get(type: string | undefined, field: string): Expander | undefined {
    return type === undefined ? undefined : this.#expanders.get(type)?.get(field)
  }

  /** Throws a 400 for paths that cannot be expanded from `rootType`. */
  validate(rootType: string | undefined, paths: readonly string[]) {
    for (const path of paths) {
      const segments = path.split('.')
      if (segments.some((segment) => segment === '')) {
        throw invalidRequest(`This property cannot be expanded (${path}).`, {
          param: 'expand',
          validation: true,
        })
      }
      if (segments.filter((segment) => segment !== 'data').length > MAX_EXPAND_DEPTH) {
        throw invalidRequest(
          `You cannot expand more than ${MAX_EXPAND_DEPTH} levels of a property. Property: ${path}`,
          { param: 'expand', validation: true }
        )
      }
      if (rootType === undefined) continue
      let type: string | undefined = rootType
      for (let i = 0; i < segments.length && type !== undefined; i++) {
        const segment = segments[i]
        if (type.startsWith('list:')) {
          if (segment !== 'data') {
            const hint = i === 0 ? ` You may want to try expanding 'data.${path}' instead.` : ''
            throw invalidRequest(
              `This property cannot be expanded (${segments.slice(0, i + 1).join('.')}).${hint}`,
              {
                param: 'expand',
                validation: true,
              }
            )
          }
          type = type.slice('list:'.length)
          continue
        }
        const expander = this.get(type, segment)
        const isLast = i === segments.length - 1
        if (!expander) {
          if (isLast) {
            throw invalidRequest(
              `This property cannot be expanded (${segments.slice(0, i + 1).join('.')}).`,
              {
                param: 'expand',
                validation: true,
              }
            )
          }
          type = undefined
          continue
        }
        if (expander.kind === 'nested' && isLast) {
          throw invalidRequest(`This property cannot be expanded (${path}).`, {
            param: 'expand',
            validation: true,
          })
        }
        type = expander.target
      }
    }
  }

  /** Expands in place on a response that is already a private copy. */
  apply(value: unknown, rootType: string | undefined, paths: readonly string[]) {
    for (const path of paths) this.#walk(value, rootType, path.split('.'))
  }

  #walk(value: unknown, type: string | undefined, segments: string[]) {
    if (segments.length === 0) return
    if (Array.isArray(value)) {
      for (const item of value) this.#walk(item, type, segments)
      return
    }
    if (!isPlainObject(value)) return
    const [segment, ...rest] = segments
    const ownType = typeof value.object === 'string' ? value.object : undefined
    const currentType = type ?? ownType
    if (currentType?.startsWith('list:') || (ownType === 'list' && segment === 'data')) {
      const itemType = currentType?.startsWith('list:')
        ? currentType.slice('list:'.length)
        : undefined
      this.#walk(value.data, itemType, rest)
      return
    }
    const expander =
      this.get(currentType, segment) ??
      (ownType !== currentType ? this.get(ownType, segment) : undefined)
    let nextType: string | undefined
    if (expander?.kind === 'reference') {
      const current = value[segment]
      if (typeof current === 'string') {
        const resolved = expander.resolve(current)
        if (resolved) value[segment] = clone(resolved)
      }
      nextType = expander.target
    } else if (expander?.kind === 'include') {
      if (value[segment] === undefined && value.deleted !== true)
        value[segment] = expander.build(value)
      nextType = expander.target
    } else if (expander?.kind === 'nested') {
      nextType = expander.target
    }
    this.#walk(value[segment], nextType, rest)
  }
}
