/**
 * HTTP transport: the proxy's auth (`Authorization: Bearer sk-…` or
 * `x-litellm-api-key`), `GET /spend/logs/v2`, faults around it, FastAPI's 404/405
 * bodies, and `/_sim/…` handed to the control routes.
 */
import type http from 'node:http'
import { SandboxHttpServer, readBody } from '../http_server.js'
import { ProxyError } from './errors.js'
import type { Fault, FaultInjector } from './faults.js'
import { parseSpendQuery, type QueryEngine } from './query.js'
import { hashKey, rowJson } from './rows.js'

export type SimHandler = (
  req: http.IncomingMessage,
  url: URL,
  body: string
) => Promise<{ status: number; body: unknown }>

/** Who a key belongs to: an admin (master or admin key) or an internal user (scoped to itself). */
export type KeyOwner = { role: 'admin' } | { role: 'internal_user'; userId: string }

export interface ServerOptions {
  engine: QueryEngine
  faults: FaultInjector
  sim: SimHandler
  now: () => number
  authenticate: (key: string) => KeyOwner | null
  pageSizeMax: number
  countCap: number
  /** Envelope carries `total_is_capped` (v1.93.0+). */
  totalIsCapped: boolean
  hangMs: number
}

const MAX_BODY_BYTES = 64 * 1024 * 1024

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** `sk-...abcd`, as the proxy masks keys it echoes. */
function maskKey(key: string): string {
  return key.length > 8 ? `${key.slice(0, 3)}...${key.slice(-4)}` : '****'
}

export class LiteLLMServer extends SandboxHttpServer {
  requests = 0

  constructor(private readonly options: ServerOptions) {
    super()
  }

  protected onRequest(req: http.IncomingMessage, res: http.ServerResponse) {
    this.#handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy()
        return
      }
      const failure =
        error instanceof ProxyError
          ? error
          : ProxyError.proxy(
              500,
              error instanceof Error ? error.message : String(error),
              'internal_server_error'
            )
      this.#json(res, failure.status, JSON.stringify(failure.body))
    })
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid')
    const method = (req.method ?? 'GET').toUpperCase()
    const body = await readBody(req, MAX_BODY_BYTES, () => new Error('Body too large'))
    if (url.pathname === '/_sim' || url.pathname.startsWith('/_sim/')) {
      const answer = await this.options.sim(req, url, body)
      this.#json(res, answer.status, JSON.stringify(answer.body))
      return
    }
    if (url.pathname === '/health/liveliness' || url.pathname === '/health/liveness') {
      this.#json(res, 200, JSON.stringify("I'm alive!"))
      return
    }
    if (url.pathname !== '/spend/logs/v2') {
      this.#json(res, 404, JSON.stringify({ detail: 'Not Found' }))
      return
    }
    if (method !== 'GET') {
      this.#json(res, 405, JSON.stringify({ detail: 'Method Not Allowed' }))
      return
    }
    this.requests += 1
    const fault = this.options.faults.take(url.pathname)
    if (fault) {
      this.#applyFault(fault, req, res)
      return
    }
    const delay = this.options.faults.takeDelay(url.pathname)
    if (delay > 0) await sleep(delay)
    const payload = this.#spendLogs(req, url)
    this.#json(res, 200, payload)
  }

  #authenticate(req: http.IncomingMessage): KeyOwner {
    const header = req.headers.authorization
    const bearer = header ? /^Bearer\s+(.*)$/i.exec(header.trim())?.[1]?.trim() : undefined
    const key = bearer || req.headers['x-litellm-api-key']?.toString().trim()
    if (!key) throw ProxyError.auth('No api key passed in.')
    if (!key.startsWith('sk-')) {
      throw ProxyError.auth(
        `LiteLLM Virtual Key expected. Received=${maskKey(key)}, expected to start with 'sk-'.`
      )
    }
    const owner = this.options.authenticate(key)
    if (!owner) {
      throw ProxyError.auth(
        `Invalid proxy server token passed. Received API Key = ${maskKey(key)}, Key Hash (Token) =${hashKey(key)}. Unable to find token in cache or \`LiteLLM_VerificationTokenTable\``
      )
    }
    return owner
  }

  #spendLogs(req: http.IncomingMessage, url: URL): Buffer {
    const owner = this.#authenticate(req)
    const query = parseSpendQuery(url.searchParams, this.options.pageSizeMax)
    if (owner.role === 'internal_user') {
      if (query.filters.team_id !== undefined) {
        throw ProxyError.proxy(
          403,
          'You are not authorized to view spend logs for this team. Only team admins can.',
          'auth_error'
        )
      }
      // Internal users only ever see their own spend.
      query.filters.user_id = owner.userId
    }
    const result = this.options.engine.run(query, this.options.now())
    const cap = this.options.countCap
    const total = Math.min(result.matched, cap)
    const capped = this.options.totalIsCapped ? `,"total_is_capped":${result.matched > cap}` : ''
    const tail =
      `],"total":${total},"page":${query.page},"page_size":${query.pageSize}` +
      `,"total_pages":${Math.ceil(total / query.pageSize)}${capped}}`
    // Rows are encoded straight into one buffer (no joined copy of the whole page first).
    let out = Buffer.allocUnsafe(64 * 1024 + result.rows.length * 2048)
    let at = out.write('{"data":[', 0, 'latin1')
    for (let index = 0; index < result.rows.length; index++) {
      const json = rowJson(result.rows[index])
      // UTF-8 takes at most 3 bytes per UTF-16 unit; measure exactly only when that may not fit.
      if (at + json.length * 3 + tail.length + 2 > out.length) {
        const room = Buffer.byteLength(json, 'utf8') + tail.length + 2
        if (at + room > out.length) {
          const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, at + room))
          out.copy(bigger, 0, 0, at)
          out = bigger
        }
      }
      if (index > 0) out[at++] = 0x2c // ','
      at += out.write(json, at, 'utf8')
    }
    at += out.write(tail, at, 'utf8')
    return out.subarray(0, at)
  }

  #applyFault(fault: Fault, req: http.IncomingMessage, res: http.ServerResponse) {
    if (fault.mode === 'status') {
      const type =
        fault.status === 429
          ? 'throttling_error'
          : fault.status >= 500
            ? 'internal_server_error'
            : 'bad_request'
      const error = ProxyError.proxy(
        fault.status,
        fault.message ?? `/spend/logs/v2 Error (injected by the sandbox): status ${fault.status}`,
        type
      )
      this.#json(res, error.status, JSON.stringify(error.body))
      return
    }
    if (fault.mode === 'no_db') {
      const error = ProxyError.proxy(
        401,
        fault.message ?? 'Prisma Client is not initialized',
        'auth_error'
      )
      this.#json(res, 401, JSON.stringify(error.body))
      return
    }
    this.transportFault(req, fault.mode, this.options.hangMs)
  }

  #json(res: http.ServerResponse, status: number, text: string | Buffer) {
    const payload = typeof text === 'string' ? Buffer.from(text, 'utf8') : text
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(payload.length),
    })
    res.end(payload)
  }
}
