/**
 * Hosted pages: the sandbox's stand-ins for what Stripe hosts in a browser
 * (Checkout, the customer portal, Connect onboarding). Resources register them
 * with `ctx.page(...)`; the HTTP server sends every path that is neither `/v1/…`
 * nor `/_sim/…` here. Pages answer HTML or a redirect; forms post back to them.
 */
export type PageMethod = 'GET' | 'POST'

export interface PageRequest {
  method: PageMethod
  /** Decoded `:name` segments of the path. */
  path: Record<string, string>
  query: URLSearchParams
  /** Fields of a posted `application/x-www-form-urlencoded` form (empty on GET). */
  form: URLSearchParams
}

export type PageResult = { html: string; status?: number } | { redirect: string }

export interface PageDefinition {
  method: PageMethod
  /** Path pattern with `:name` segments, e.g. `/c/pay/:id`. Must not start with `/v1/` or `/_sim`. */
  path: string
  handler: (request: PageRequest) => PageResult | Promise<PageResult>
}

interface CompiledPage extends PageDefinition {
  match: (path: string) => Record<string, string> | undefined
}

/** Matcher for a path pattern with `:name` segments (decoded values, or undefined). */
export function compilePath(pattern: string) {
  const names: string[] = []
  const source = pattern
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) {
        names.push(segment.slice(1))
        return '([^/]+)'
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    })
    .join('/')
  const regex = new RegExp(`^${source}/?$`)
  return (path: string) => {
    const match = regex.exec(path)
    if (!match) return undefined
    const values: Record<string, string> = {}
    names.forEach((name, index) => {
      try {
        values[name] = decodeURIComponent(match[index + 1])
      } catch {
        values[name] = match[index + 1]
      }
    })
    return values
  }
}

export class PageRouter {
  #pages: CompiledPage[] = []

  add(definition: PageDefinition) {
    if (definition.path.startsWith('/v1/') || definition.path.startsWith('/_sim')) {
      throw new Error(`Hosted page paths cannot start with /v1/ or /_sim: ${definition.path}`)
    }
    this.#pages.push({ ...definition, match: compilePath(definition.path) })
  }

  match(
    method: string,
    path: string
  ): { page: PageDefinition; path: Record<string, string> } | undefined {
    for (const page of this.#pages) {
      if (page.method !== method) continue
      const params = page.match(path)
      if (params) return { page, path: params }
    }
    return undefined
  }

  /** True when some page (any method) answers this path: used for 405 vs 404. */
  knows(path: string): boolean {
    return this.#pages.some((page) => page.match(path) !== undefined)
  }
}
