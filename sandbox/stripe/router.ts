/**
 * The route table. Resources declare routes with a param schema and a handler;
 * the HTTP layer (server.ts) does auth, idempotency and faults around them.
 */
import type { EventOrigin } from './events.js'
import { type FormObject } from './form.js'
import type { ExpansionRegistry } from './expand.js'
import { type ObjectOut, type Shape, commonShape, parseParams } from './params.js'

export type HttpMethod = 'GET' | 'POST' | 'DELETE'

export interface RequestInfo {
  requestId: string
  method: HttpMethod
  path: string
  apiKey: string
  /** `Stripe-Account` header (Connect), if sent. */
  stripeAccount: string | undefined
  stripeVersion: string
  idempotencyKey: string | null
}

export interface HandlerContext<P> {
  params: P
  /** Decoded `:name` segments of the path. */
  path: Record<string, string>
  request: RequestInfo
  /** What events caused by this request carry in `event.request`. */
  origin: EventOrigin
}

type WithCommon<S extends Shape> = ObjectOut<S & typeof commonShape>

export interface RouteDefinition<S extends Shape> {
  method: HttpMethod
  /** Path pattern with `:name` segments, e.g. `/v1/customers/:id`. */
  path: string
  /** Accepted params (besides `expand`, which every route accepts). */
  params: S
  /** Response object type for `expand` validation: `customer`, `list:customer`… */
  returns?: string
  handler: (ctx: HandlerContext<WithCommon<S>>) => object | Promise<object>
}

export interface RouteResult {
  status: number
  body: object
}

/** A route with its generics erased, ready for the table. */
export interface Route {
  method: HttpMethod
  pattern: string
  match: (path: string) => Record<string, string> | undefined
  run: (raw: FormObject, path: Record<string, string>, request: RequestInfo) => Promise<RouteResult>
}

function compile(pattern: string): (path: string) => Record<string, string> | undefined {
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
  return (path) => {
    const match = regex.exec(path)
    if (!match) return undefined
    const values: Record<string, string> = {}
    names.forEach((name, index) => {
      const segment = match[index + 1]
      try {
        values[name] = decodeURIComponent(segment)
      } catch {
        values[name] = segment
      }
    })
    return values
  }
}

export function defineRoute<S extends Shape>(
  definition: RouteDefinition<S>,
  expansions: ExpansionRegistry
): Route {
  const shape = { ...definition.params, ...commonShape }
  return {
    method: definition.method,
    pattern: definition.path,
    match: compile(definition.path),
    async run(raw, path, request) {
      const params = parseParams(shape, raw) as WithCommon<S>
      // Generic S hides `expand` from the mapped type; it is always in the shape.
      const expand = (params as { expand?: string[] | null }).expand ?? []
      expansions.validate(definition.returns, expand)
      const body = structuredClone(
        await definition.handler({
          params,
          path,
          request,
          origin: { requestId: request.requestId, idempotencyKey: request.idempotencyKey },
        })
      )
      if (expand.length > 0) expansions.apply(body, definition.returns, expand)
      return { status: 200, body }
    },
  }
}

export type RouteMatch = { route: Route; path: Record<string, string> }

export class Router {
  #routes: Route[] = []

  add(route: Route) {
    this.#routes.push(route)
  }

  match(method: string, path: string): RouteMatch | undefined {
    for (const route of this.#routes) {
      if (route.method !== method) continue
      const params = route.match(path)
      if (params) return { route, path: params }
    }
    return undefined
  }

  get routes(): ReadonlyArray<Pick<Route, 'method' | 'pattern'>> {
    return this.#routes
  }
}
