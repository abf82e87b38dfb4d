/**
 * HTTP transport: auth, param decoding, Stripe's response headers, idempotency
 * and fault injection around the route table. `/_sim/…` goes to the control routes.
 */
import type http from 'node:http'
import { SandboxHttpServer, readBody as readRequestBody } from '../http_server.js'
import {
  ApiError,
  authenticationError,
  internalError,
  invalidRequest,
  unrecognizedUrl,
} from './errors.js'
import { type Fault, type FaultInjector, faultError } from './faults.js'
import { type FormObject, canonicalForm, parseForm, parsePairs } from './form.js'
import { IdempotencyStore } from './idempotency.js'
import { newId } from './ids.js'
import { html, page } from './hosted/html.js'
import type { PageRouter } from './pages.js'
import type { HttpMethod, RequestInfo, RouteMatch, Router } from './router.js'

export const MAX_BODY_BYTES = 1024 * 1024

const NO_KEY_MESSAGE =
  "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."

export type SimHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  body: string
) => Promise<void>

export interface ApiServerOptions {
  router: Router
  pages: PageRouter
  idempotency: IdempotencyStore
  faults: FaultInjector
  apiVersion: string
  /** Accepted keys; any `sk_test_…`/`rk_test_…` key when undefined. */
  apiKeys: readonly string[] | undefined
  sim: SimHandler
  /** How long a `timeout` fault keeps the connection open before dropping it. */
  hangMs: number
  /** Connect: throws (403 account_invalid) when `Stripe-Account` names no account this key can act for. */
  authorizeAccount?: (account: string, apiKey: string) => void
}

interface Outcome {
  status: number
  body: string
  headers: Record<string, string>
}

/** `sk_test_****abcd`, as Stripe masks keys in its 401 message. */
export function maskKey(key: string): string {
  const prefix = /^[a-z]+_(test|live)_/.exec(key)?.[0] ?? ''
  return `${prefix}****${key.slice(-4)}`
}

export function readBody(req: http.IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  return readRequestBody(req, limit, (max) =>
    invalidRequest(`Request body too large (over ${max} bytes).`, { status: 413, validation: true })
  )
}

export function errorOutcome(error: unknown, headers: Record<string, string> = {}): Outcome {
  const apiError = error instanceof ApiError ? error : internalError()
  return {
    status: apiError.status,
    body: JSON.stringify(apiError.toBody(), null, 2),
    headers: { ...headers, ...apiError.headers },
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export class ApiServer extends SandboxHttpServer {
  constructor(private readonly options: ApiServerOptions) {
    super()
  }

  protected onRequest(req: http.IncomingMessage, res: http.ServerResponse) {
    this.#handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) this.#send(res, errorOutcome(error))
      else res.destroy()
    })
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid')
    let body: string
    try {
      body = await readBody(req)
    } catch (error) {
      this.#send(res, errorOutcome(error, { 'Request-Id': newId('request') }))
      return
    }
    if (url.pathname === '/_sim' || url.pathname.startsWith('/_sim/')) {
      await this.options.sim(req, res, url, body)
      return
    }
    if (!url.pathname.startsWith('/v1/') && (await this.#handlePage(req, res, url, body))) return
    await this.#handleApi(req, res, url, body)
  }

  /** Hosted pages (HTML). Returns false when no page answers the path, so the API 404s. */
  async #handlePage(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    body: string
  ): Promise<boolean> {
    const method = (req.method ?? 'GET').toUpperCase()
    const match =
      method === 'GET' || method === 'POST'
        ? this.options.pages.match(method, url.pathname)
        : undefined
    if (!match) return false
    let result
    try {
      result = await match.page.handler({
        method: method as 'GET' | 'POST',
        path: match.path,
        query: url.searchParams,
        form: method === 'POST' ? new URLSearchParams(body) : new URLSearchParams(),
      })
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      result = {
        status: error instanceof ApiError ? error.status : 500,
        html: page(
          'Something went wrong',
          html`<div class="wrap">
            <div class="panel">
              <h1>Something went wrong</h1>
              <p class="error">${message}</p>
            </div>
          </div>`
        ),
      }
    }
    if ('redirect' in result) {
      res.writeHead(303, { 'Location': result.redirect, 'Cache-Control': 'no-store' })
      res.end()
      return true
    }
    const payload = Buffer.from(result.html, 'utf8')
    res.writeHead(result.status ?? 200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': String(payload.length),
      'Cache-Control': 'no-store',
    })
    res.end(payload)
    return true
  }

  async #handleApi(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string) {
    const method = (req.method ?? 'GET').toUpperCase()
    const path = url.pathname
    const requestId = newId('request')
    const idempotencyKey = req.headers['idempotency-key']?.toString() || null
    const stripeAccount = req.headers['stripe-account']?.toString() || undefined
    const stripeVersion = req.headers['stripe-version']?.toString() || this.options.apiVersion
    const headers: Record<string, string> = {
      'Request-Id': requestId,
      'Stripe-Version': stripeVersion,
    }
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey
    if (stripeAccount) headers['Stripe-Account'] = stripeAccount

    const fault = this.options.faults.takeFault(method, path)
    if (fault?.phase === 'before') {
      this.#applyFault(fault, req, res, headers)
      return
    }
    const outcome = await this.#execute(req, {
      method,
      path,
      url,
      body,
      requestId,
      idempotencyKey,
      stripeAccount,
      stripeVersion,
    })
    if (fault) {
      this.#applyFault(fault, req, res, headers)
      return
    }
    this.#send(res, { ...outcome, headers: { ...headers, ...outcome.headers } })
  }

  async #execute(
    req: http.IncomingMessage,
    input: {
      method: string
      path: string
      url: URL
      body: string
      requestId: string
      idempotencyKey: string | null
      stripeAccount: string | undefined
      stripeVersion: string
    }
  ): Promise<Outcome> {
    const { method, path } = input
    try {
      const apiKey = this.#authenticate(req)
      if (input.stripeAccount) this.options.authorizeAccount?.(input.stripeAccount, apiKey)
      const match = this.options.router.match(method, path)
      if (!match) throw unrecognizedUrl(method, path)
      const raw = this.#params(req, method, input.url, input.body)
      const request: RequestInfo = {
        requestId: input.requestId,
        method: method as HttpMethod,
        path,
        apiKey,
        stripeAccount: input.stripeAccount,
        stripeVersion: input.stripeVersion,
        idempotencyKey: input.idempotencyKey,
      }
      const delayMs = this.options.faults.takeDelay(method, path)

      // Stripe applies idempotency keys to POST only.
      if (method !== 'POST' || !input.idempotencyKey) {
        if (delayMs > 0) await sleep(delayMs)
        return await this.#run(match, raw, request)
      }
      const scope = IdempotencyStore.scope(apiKey, input.stripeAccount, input.idempotencyKey)
      const claim = this.options.idempotency.begin(scope, input.idempotencyKey, {
        method,
        path,
        fingerprint: canonicalForm(raw),
        requestId: input.requestId,
      })
      if (claim.kind === 'replay') {
        const { entry } = claim
        return {
          status: entry.status ?? 200,
          body: entry.body ?? '{}',
          headers: {
            ...entry.headers,
            'Idempotent-Replayed': 'true',
            'Original-Request': entry.requestId,
          },
        }
      }
      try {
        if (delayMs > 0) await sleep(delayMs)
        const outcome = await this.#run(match, raw, request)
        this.options.idempotency.complete(scope, outcome.status, outcome.body, outcome.headers)
        return outcome
      } catch (error) {
        const outcome = errorOutcome(error)
        if (error instanceof ApiError && error.validation) this.options.idempotency.abandon(scope)
        else this.options.idempotency.complete(scope, outcome.status, outcome.body, outcome.headers)
        return outcome
      }
    } catch (error) {
      return errorOutcome(error)
    }
  }

  async #run(match: RouteMatch, raw: FormObject, request: RequestInfo): Promise<Outcome> {
    const result = await match.route.run(raw, match.path, request)
    return { status: result.status, body: JSON.stringify(result.body, null, 2), headers: {} }
  }

  #params(req: http.IncomingMessage, method: string, url: URL, body: string): FormObject {
    if (method !== 'POST') return parsePairs(url.searchParams)
    const contentType = req.headers['content-type'] ?? ''
    if (
      body.length > 0 &&
      !contentType.includes('application/x-www-form-urlencoded') &&
      contentType !== ''
    ) {
      throw invalidRequest(
        `Invalid request: unsupported Content-Type ${contentType}. If error persists and you need assistance, please contact support@stripe.com.`,
        { validation: true }
      )
    }
    // Query-string params on a POST are accepted too; the body wins on conflicts.
    const query = [...url.searchParams]
    const form = [...new URLSearchParams(body)]
    return query.length === 0 ? parseForm(body) : parsePairs([...query, ...form])
  }

  #authenticate(req: http.IncomingMessage): string {
    const header = req.headers.authorization
    if (!header) throw this.#authError(NO_KEY_MESSAGE)
    let key: string | undefined
    const bearer = /^Bearer\s+(\S*)\s*$/i.exec(header)
    const basic = /^Basic\s+(\S+)\s*$/i.exec(header)
    if (bearer) key = bearer[1]
    else if (basic) key = Buffer.from(basic[1], 'base64').toString('utf8').split(':')[0]
    if (!key) throw this.#authError(NO_KEY_MESSAGE)
    const accepted = this.options.apiKeys
      ? this.options.apiKeys.includes(key)
      : /^(sk|rk)_test_\w+$/.test(key)
    if (!accepted) throw this.#authError(`Invalid API Key provided: ${maskKey(key)}`)
    return key
  }

  #authError(message: string): ApiError {
    const error = authenticationError(message)
    Object.assign(error.headers, { 'WWW-Authenticate': 'Basic realm="Stripe"' })
    return error
  }

  #applyFault(
    fault: Fault,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    headers: Record<string, string>
  ) {
    if (fault.mode === 'status') {
      const outcome = errorOutcome(faultError(fault))
      this.#send(res, { ...outcome, headers: { ...headers, ...outcome.headers } })
      return
    }
    // 'reset' drops the connection; 'timeout' never answers: the client gives up (and retries).
    this.transportFault(req, fault.mode, this.options.hangMs)
  }

  #send(res: http.ServerResponse, outcome: Outcome) {
    const payload = Buffer.from(outcome.body, 'utf8')
    res.writeHead(outcome.status, {
      ...outcome.headers,
      'Content-Type': 'application/json',
      'Content-Length': String(payload.length),
      'Cache-Control': 'no-cache, no-store',
    })
    res.end(payload)
  }
}
