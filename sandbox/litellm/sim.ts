/**
 * Control routes under `/_sim/…` (a prefix the real proxy does not use; no key
 * needed, the sandbox binds to loopback). Bodies are JSON (query parameters are
 * merged in); answers are JSON. They mirror LiteLLMSandbox's programmatic API so
 * a separately running sandbox (`npm run sandbox:litellm`) can be driven too.
 */
import type http from 'node:http'
import type { LogFormat } from './callbacks.js'
import type { FaultMode } from './faults.js'
import { pythonJson, type RowInput, type SpendRow, toWire } from './rows.js'
import type { AddOptions, LiteLLMSandbox } from './sandbox.js'
import { parseLiteLLMDate } from './query.js'

type Body = Record<string, unknown>

class SimError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
  }
}

function parseBody(url: URL, text: string): Body {
  const body: Body = Object.fromEntries(url.searchParams)
  if (text.trim() === '') return body
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new SimError(400, 'Invalid JSON body')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new SimError(400, 'Body must be a JSON object')
  return { ...body, ...(parsed as Body) }
}

function str(body: Body, key: string): string | undefined {
  const value = body[key]
  if (value === undefined || value === null || value === '') return undefined
  return String(value)
}

function num(body: Body, key: string): number | undefined {
  const value = str(body, key)
  if (value === undefined) return undefined
  const parsed = Number(value)
  if (!Number.isFinite(parsed)) throw new SimError(400, `${key} must be a number`)
  return parsed
}

/** A time given as epoch ms, ISO-8601 or LiteLLM's `YYYY-MM-DD HH:MM:SS`. */
function time(body: Body, key: string): number | undefined {
  const value = body[key]
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value === 'number') return value
  const text = String(value)
  const parsed = parseLiteLLMDate(text) ?? Date.parse(text)
  if (!Number.isFinite(parsed)) throw new SimError(400, `${key} must be a time`)
  return parsed
}

function addOptions(body: Body): AddOptions {
  return { delayMs: num(body, 'delay_ms'), visibleAt: time(body, 'visible_at') }
}

/** A row as the API serves it (for answers). */
function wire(row: SpendRow): unknown {
  return JSON.parse(pythonJson(toWire(row)))
}

const CONTROL_KEYS = ['delay_ms', 'visible_at', 'age_ms', 'of_request_id']

/** Row fields from a body (minus the control keys). */
function rowFields(body: Body, drop: string[] = []): RowInput {
  const fields: Body = { ...body }
  for (const key of [...CONTROL_KEYS, ...drop]) delete fields[key]
  return fields as RowInput
}

type Route = {
  method: 'GET' | 'POST' | 'DELETE'
  pattern: RegExp
  describe: string
  run: (body: Body, match: RegExpExecArray) => unknown
}

export function createSimHandler(sandbox: LiteLLMSandbox) {
  const routes: Route[] = [
    {
      method: 'GET',
      pattern: /^\/_sim\/?$/,
      describe: 'GET /_sim — this list',
      run: () => ({ routes: routes.map((route) => route.describe) }),
    },
    {
      method: 'GET',
      pattern: /^\/_sim\/health$/,
      describe: 'GET /_sim/health — settings, counts, sandbox time',
      run: () => ({ ok: true, ...sandbox.describe() }),
    },
    {
      method: 'GET',
      pattern: /^\/_sim\/clock$/,
      describe: 'GET /_sim/clock',
      run: () => ({ now: sandbox.now(), offset_ms: sandbox.clock.offsetMs }),
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/clock\/advance$/,
      describe: 'POST /_sim/clock/advance {ms | seconds}',
      run: (body) => {
        const ms = num(body, 'ms') ?? (num(body, 'seconds') ?? 0) * 1000
        if (ms < 0) throw new SimError(400, 'the clock only moves forward')
        return { now: sandbox.advanceClock(ms) }
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/rows$/,
      describe: 'POST /_sim/rows {rows: [row…], delay_ms?, visible_at?} — first write wins',
      run: (body) => {
        if (!Array.isArray(body.rows)) throw new SimError(400, 'rows must be an array')
        const result = sandbox.addRows(body.rows as RowInput[], addOptions(body))
        return { inserted: result.inserted.map((row) => row.request_id), skipped: result.skipped }
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/rows\/late$/,
      describe: 'POST /_sim/rows/late {age_ms?, startTime?, delay_ms?, …row fields}',
      run: (body) => ({
        row: wire(
          sandbox.addLateRow({ ...rowFields(body), ageMs: num(body, 'age_ms') }, addOptions(body))
        ),
      }),
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/rows\/duplicate$/,
      describe: 'POST /_sim/rows/duplicate {request_id, delay_ms?, …overrides}',
      run: (body) => {
        const requestId = str(body, 'request_id')
        if (!requestId) throw new SimError(400, 'request_id is required')
        const overrides = rowFields(body, ['request_id'])
        return { row: wire(sandbox.duplicate(requestId, overrides, addOptions(body))) }
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/rows\/cache_hit$/,
      describe: 'POST /_sim/rows/cache_hit {of_request_id?, …overrides}',
      run: (body) => ({
        row: wire(
          sandbox.addCacheHit(str(body, 'of_request_id'), rowFields(body), addOptions(body))
        ),
      }),
    },
    {
      method: 'GET',
      pattern: /^\/_sim\/rows\/(.+)$/,
      describe: 'GET /_sim/rows/:request_id — every stored row with that id, visible or not',
      run: (_body, match) => ({ rows: sandbox.findRows(decodeURIComponent(match[1])).map(wire) }),
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/load$/,
      describe: 'POST /_sim/load {file} — JSON array / NDJSON of v2 rows',
      run: (body) => {
        const file = str(body, 'file')
        if (!file) throw new SimError(400, 'file is required')
        const result = sandbox.loadFile(file, addOptions(body))
        return { inserted: result.inserted.length, skipped: result.skipped }
      },
    },
    {
      method: 'GET',
      pattern: /^\/_sim\/faults$/,
      describe: 'GET /_sim/faults',
      run: () => sandbox.faults.describe(),
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/faults$/,
      describe:
        'POST /_sim/faults {count? | rate?, seed?, mode?: status|no_db|reset|timeout, status?, message?}',
      run: (body) => {
        const options = {
          mode: str(body, 'mode') as FaultMode | undefined,
          status: num(body, 'status'),
          message: str(body, 'message'),
          path: str(body, 'path'),
        }
        const rate = num(body, 'rate')
        if (rate !== undefined)
          return { rule: sandbox.failRate({ ...options, rate, seed: num(body, 'seed') }) }
        sandbox.failNext({ ...options, count: num(body, 'count') })
        return sandbox.faults.describe()
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/faults\/delay$/,
      describe: 'POST /_sim/faults/delay {ms, count?}',
      run: (body) => {
        const ms = num(body, 'ms')
        if (ms === undefined || ms < 0) throw new SimError(400, 'ms must be a number >= 0')
        sandbox.delayNext({ ms, count: num(body, 'count') })
        return sandbox.faults.describe()
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/_sim\/faults$/,
      describe: 'DELETE /_sim/faults',
      run: () => {
        sandbox.clearFaults()
        return { cleared: true }
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/callbacks$/,
      describe:
        'POST /_sim/callbacks {url, start_date, end_date, limit?, request_ids?, batch_size?, log_format?, headers?}',
      run: async (body) => {
        const url = str(body, 'url')
        if (!url) throw new SimError(400, 'url is required')
        let rows: SpendRow[]
        if (Array.isArray(body.request_ids)) {
          rows = body.request_ids.flatMap((id) => sandbox.findRows(String(id)))
        } else {
          const since = time(body, 'start_date')
          const until = time(body, 'end_date')
          if (since === undefined || until === undefined)
            throw new SimError(400, 'start_date and end_date (or request_ids) are required')
          rows = sandbox.rowsBetween(since, until)
          const limit = num(body, 'limit')
          if (limit !== undefined) rows = rows.slice(0, limit)
        }
        return sandbox.sendCallbacks(url, rows, {
          batchSize: num(body, 'batch_size'),
          logFormat: str(body, 'log_format') as LogFormat | undefined,
          headers: (body.headers as Record<string, string> | undefined) ?? undefined,
        })
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/reset$/,
      describe: 'POST /_sim/reset — forget added rows and faults',
      run: () => {
        sandbox.reset()
        return { reset: true }
      },
    },
  ]

  return async (req: http.IncomingMessage, url: URL, text: string) => {
    const method = (req.method ?? 'GET').toUpperCase()
    try {
      const body = parseBody(url, text)
      for (const route of routes) {
        if (route.method !== method) continue
        const match = route.pattern.exec(url.pathname)
        if (match) return { status: 200, body: await route.run(body, match) }
      }
      return { status: 404, body: { error: `No sim route ${method} ${url.pathname}` } }
    } catch (error) {
      const status = error instanceof SimError ? error.status : 400
      return { status, body: { error: error instanceof Error ? error.message : String(error) } }
    }
  }
}
