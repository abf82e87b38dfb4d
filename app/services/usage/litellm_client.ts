import { isAscii } from 'node:buffer'
import http from 'node:http'
import https from 'node:https'
import { setTimeout as sleep } from 'node:timers/promises'
import litellmConfig from '#config/litellm'

/**
 * One row of LiteLLM's `GET /spend/logs/v2` (the v2 list columns). Only what
 * billing reads is typed; JSON columns may arrive as objects or as JSON text.
 */
export type SpendLogRow = {
  request_id: string
  spend?: number | string | null
  startTime: string
  endTime?: string | null
  model?: string | null
  model_group?: string | null
  prompt_tokens?: number | null
  completion_tokens?: number | null
  total_tokens?: number | null
  user?: string | null
  end_user?: string | null
  metadata?: Record<string, unknown> | string | null
  request_tags?: string[] | string | null
  cache_hit?: string | boolean | null
  status?: string | null
  session_id?: string | null
  call_type?: string | null
  [key: string]: unknown
}

export type SpendLogPage = {
  data: SpendLogRow[]
  total?: number
  page?: number
  page_size?: number
  total_pages?: number
  total_is_capped?: boolean
}

export type LiteLLMSettings = {
  baseUrl?: string
  apiKey?: string
  timeoutMs: number
  maxRetries: number
  pageSize: number
  /** First retry delay; doubles per attempt (capped at 5 s), plus jitter. */
  backoffMs?: number
}

/** A window of LiteLLM `startTime`s, both ends inclusive, at whole seconds (LiteLLM's format). */
export type SpendWindow = { since: Date; until: Date }

/** LiteLLM could not be reached or refused the request; `retryable` says whether trying later may help. */
export class LiteLLMError extends Error {
  constructor(
    message: string,
    public status: number | null = null,
    public retryable = false,
    options?: { cause?: unknown }
  ) {
    super(message, options)
    this.name = 'LiteLLMError'
  }
}

const PATH = '/spend/logs/v2'

/** A Date as LiteLLM's `start_date`/`end_date`: `YYYY-MM-DD HH:MM:SS` in UTC (no T, zone or fraction). */
export function formatLiteLLMDate(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ')
}

/**
 * A LiteLLM timestamp (`2026-09-01T10:15:02.123000+00:00`, `…Z`, or naive,
 * which LiteLLM means as UTC) to epoch ms; NaN when unreadable.
 */
export function parseLiteLLMTime(value: unknown): number {
  if (typeof value === 'number') return value > 1e11 ? value : Math.round(value * 1000)
  if (typeof value !== 'string' || value === '') return Number.NaN
  const hasZone = /(?:Z|[+-]\d\d:?\d\d)$/.test(value)
  return Date.parse(hasZone ? value : `${value.replace(' ', 'T')}Z`)
}

/**
 * Reads LiteLLM's per-request spend logs (`GET /spend/logs/v2`, reference/litellm.md §1.2).
 * Pages by offset until a page comes back empty (LiteLLM's `total` stops at
 * 10,000 and cannot be trusted), retries 5xx, 429, timeouts and connection
 * errors with exponential backoff, and refetches a page boundary whose rows
 * share a startTime (LiteLLM sorts without a tie-breaker, so offset paging can
 * skip one of them).
 */
export default class LiteLLMClient {
  readonly settings: LiteLLMSettings
  /** HTTP calls made (retries included), for reports and benchmarks. */
  requests = 0

  constructor(settings: Partial<LiteLLMSettings> = {}) {
    this.settings = {
      baseUrl: litellmConfig.baseUrl,
      apiKey: litellmConfig.apiKey?.release(),
      timeoutMs: litellmConfig.timeoutMs,
      maxRetries: litellmConfig.maxRetries,
      pageSize: litellmConfig.pageSize,
      backoffMs: 250,
      ...settings,
    }
  }

  /** One page of rows with since <= startTime <= until, oldest first. */
  async spendLogsPage(window: SpendWindow, page: number, pageSize = this.settings.pageSize) {
    return this.get(this.pagePath(window, page, pageSize), decodePage)
  }

  protected pagePath(window: SpendWindow, page: number, pageSize: number) {
    const params = new URLSearchParams({
      start_date: formatLiteLLMDate(window.since),
      end_date: formatLiteLLMDate(window.until),
      page: String(page),
      page_size: String(pageSize),
      sort_by: 'startTime',
      sort_order: 'asc',
    })
    return `${PATH}?${params}`
  }

  /**
   * Every row of the window, page by page (each yielded array is one page, or
   * the rows of a refetched page boundary). The next pages are requested while
   * the caller handles the current one, and held as received bytes (parsed only
   * when their turn comes, so read-ahead costs little memory). Rows may repeat:
   * callers dedupe on request_id.
   */
  async *spendLogs(
    window: SpendWindow,
    options: { pageSize?: number; maxPages?: number; prefetch?: number } = {}
  ) {
    const pageSize = options.pageSize ?? this.settings.pageSize
    const maxPages = options.maxPages ?? 100_000
    const depth = Math.max(1, options.prefetch ?? 1)
    // Pages requested ahead (offset paging knows every page's address up front).
    const ahead: Promise<Buffer[]>[] = []
    let requested = 0
    const fill = () => {
      while (ahead.length < depth && requested < maxPages) {
        requested += 1
        ahead.push(this.prefetch(window, requested, pageSize))
      }
    }
    fill()
    let page = 0
    let previousLast: SpendLogRow | null = null
    while (true) {
      let received: Buffer[] | null = await ahead.shift()!
      page += 1
      let rows: SpendLogRow[]
      try {
        rows = decodePage(received).data
      } catch {
        // Unreadable: ask again, with the usual retries.
        const again = await this.spendLogsPage(window, page, pageSize)
        rows = again.data
      }
      received = null
      if (rows.length === 0) return
      if (page >= maxPages) {
        throw new LiteLLMError(
          `LiteLLM ${PATH} still had rows after ${maxPages} pages for ${formatLiteLLMDate(window.since)}..${formatLiteLLMDate(window.until)}; use a shorter window`
        )
      }
      fill()
      const first = rows[0]
      if (previousLast && sameStart(previousLast, first)) {
        // A tie group cut by the page boundary: reread the whole second it is in.
        yield await this.boundaryRows(first, window, pageSize)
      }
      previousLast = { request_id: '', startTime: rows[rows.length - 1].startTime }
      // Handed over, not kept: the caller decides how long a page's rows live.
      yield rows.splice(0)
    }
  }

  protected prefetch(window: SpendWindow, page: number, pageSize: number) {
    const promise = this.get(this.pagePath(window, page, pageSize), (body) => body)
    // Awaited later; a consumer that stops early must not leave an unhandled rejection.
    promise.catch(() => {})
    return promise
  }

  protected async boundaryRows(row: SpendLogRow, window: SpendWindow, pageSize: number) {
    const at = Math.floor(parseLiteLLMTime(row.startTime) / 1000) * 1000
    const since = new Date(Math.max(at, window.since.getTime()))
    const until = new Date(Math.min(at + 1000, window.until.getTime()))
    const rows: SpendLogRow[] = []
    for (let page = 1; page <= 100; page++) {
      const result = await this.spendLogsPage({ since, until }, page, pageSize)
      if (result.data.length === 0) break
      rows.push(...result.data)
    }
    return rows
  }

  /** GET with retries; `decode` turns the body into the answer (a thrown retryable LiteLLMError retries). */
  protected async get<T>(pathAndQuery: string, decode: (body: Buffer[]) => T): Promise<T> {
    const { baseUrl, apiKey } = this.settings
    if (!baseUrl) {
      throw new LiteLLMError('LITELLM_BASE_URL is not set: no LiteLLM proxy to read usage from')
    }
    if (!apiKey) {
      throw new LiteLLMError('LITELLM_API_KEY is not set: LiteLLM spend logs need an admin key')
    }
    const url = `${baseUrl}${pathAndQuery}`
    let attempt = 0
    while (true) {
      try {
        return decode(await this.once(url, apiKey))
      } catch (error) {
        const failure =
          error instanceof LiteLLMError
            ? error
            : new LiteLLMError(`LiteLLM ${PATH} unreachable: ${describe(error)}`, null, true, {
                cause: error,
              })
        if (!failure.retryable || attempt >= this.settings.maxRetries) {
          if (failure.retryable && attempt > 0) {
            failure.message = `${failure.message} (after ${attempt + 1} attempts)`
          }
          throw failure
        }
        const base = (this.settings.backoffMs ?? 250) * 2 ** attempt
        await sleep(Math.min(base, 5000) + Math.floor(Math.random() * 50))
        attempt += 1
      }
    }
  }

  /**
   * One GET over a keep-alive connection (node:http: a page is ~1.5 MB of JSON,
   * and this costs about a third less CPU than fetch). The timeout covers the
   * whole answer, body included.
   */
  protected once(url: string, apiKey: string): Promise<Buffer[]> {
    this.requests += 1
    const target = new URL(url)
    const secure = target.protocol === 'https:'
    const timeoutMs = this.settings.timeoutMs
    return new Promise<Buffer[]>((resolve, reject) => {
      let settled = false
      const settle = (error: LiteLLMError | null, value?: Buffer[]) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (error) reject(error)
        else resolve(value!)
      }
      const request = (secure ? https : http).request(target, {
        method: 'GET',
        agent: secure ? HTTPS_AGENT : HTTP_AGENT,
        headers: { Authorization: `Bearer ${apiKey}`, Accept: 'application/json' },
      })
      const timer = setTimeout(() => {
        settle(
          new LiteLLMError(`LiteLLM ${PATH} did not answer within ${timeoutMs} ms`, null, true)
        )
        request.destroy()
      }, timeoutMs)
      request.on('error', (error) => {
        settle(
          new LiteLLMError(`LiteLLM ${PATH} unreachable: ${describe(error)}`, null, true, {
            cause: error,
          })
        )
      })
      request.on('response', (response) => {
        const chunks: Buffer[] = []
        const cutOff = (error?: unknown) =>
          settle(
            new LiteLLMError(
              `LiteLLM ${PATH} answer cut off: ${error ? describe(error) : 'connection closed'}`,
              null,
              true,
              { cause: error }
            )
          )
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('error', cutOff)
        response.on('close', () => {
          if (!response.complete) cutOff()
        })
        response.on('end', () => {
          if (!response.complete) return cutOff()
          const status = response.statusCode ?? 0
          if (status < 200 || status >= 300) {
            const text = Buffer.concat(chunks).toString('utf8')
            const retryable = status >= 500 || status === 429
            const hint =
              status === 401 || status === 403
                ? ' (check LITELLM_API_KEY: spend logs need the master key or an admin key)'
                : ''
            return settle(
              new LiteLLMError(
                `LiteLLM ${PATH} answered ${status}: ${errorMessage(text)}${hint}`,
                status,
                retryable
              )
            )
          }
          settle(null, chunks)
        })
      })
      request.end()
    })
  }
}

/** Connections to LiteLLM are reused between pages (its keep-alive is 5 s; idle sockets do not hold the process). */
const HTTP_AGENT = new http.Agent({ keepAlive: true, maxSockets: 8 })
const HTTPS_AGENT = new https.Agent({ keepAlive: true, maxSockets: 8 })

/** A page's JSON body; throws a retryable LiteLLMError when it is not one. */
/**
 * A page's text (as received: ~64 KB chunks) as an ordinary JS heap string.
 * Node decodes anything over ~1 MB (a page is ~1.5 MB) into an "external"
 * string, memory outside the heap that the garbage collector is slow to give
 * back; decoded chunk by chunk and joined, the text lives and dies in the heap
 * like the rows parsed from it, and no joined copy of the bytes is made.
 */
function pageText(chunks: Buffer[]): string {
  if (chunks.length === 1) return chunks[0].toString('utf8')
  const parts: string[] = []
  if (chunks.every((chunk) => isAscii(chunk))) {
    // Plain ASCII (ids, models and users usually are): a copy per chunk.
    for (const chunk of chunks) parts.push(chunk.toString('latin1'))
  } else {
    const decoder = new TextDecoder('utf-8')
    for (const chunk of chunks) parts.push(decoder.decode(chunk, { stream: true }))
    parts.push(decoder.decode())
  }
  return parts.join('')
}

function decodePage(body: Buffer[]): SpendLogPage {
  let page: unknown
  try {
    page = JSON.parse(pageText(body))
  } catch {
    throw new LiteLLMError(`LiteLLM ${PATH} answered with invalid JSON`, 200, true)
  }
  if (!page || typeof page !== 'object' || !Array.isArray((page as SpendLogPage).data)) {
    throw new LiteLLMError(`LiteLLM ${PATH} answered without a "data" array`, 200, true)
  }
  return page as SpendLogPage
}

function sameStart(a: SpendLogRow, b: SpendLogRow) {
  return parseLiteLLMTime(a.startTime) === parseLiteLLMTime(b.startTime)
}

function describe(error: unknown) {
  if (error instanceof Error) {
    const code = (error as Error & { code?: string }).code
    if (code) return code
    const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause
    return cause?.code ?? cause?.message ?? error.message
  }
  return String(error)
}

/** LiteLLM's `{"error":{"message":…}}`, FastAPI's `{"detail":…}`, or the text itself. */
function errorMessage(text: string) {
  try {
    const body = JSON.parse(text) as { error?: { message?: string }; detail?: unknown }
    if (body.error?.message) return body.error.message
    if (body.detail !== undefined) {
      return typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail)
    }
  } catch {}
  return text.slice(0, 300) || '(empty body)'
}
