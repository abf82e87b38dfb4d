/**
 * Private control routes under `/_sim/…` (no API key needed: the sandbox only
 * listens on loopback). Bodies may be JSON or form-encoded; answers are JSON.
 * They mirror the programmatic controls of StripeSandbox for the demo, curl and
 * other processes.
 */
import type http from 'node:http'
import type { FaultMode, FaultOptions } from './faults.js'
import { compilePath } from './pages.js'
import { ApiError } from './errors.js'
import { explainStore } from './fidelity.js'
import type { StripeSandbox } from './sandbox.js'
import type { DeliveryState, FlushOrder } from './webhooks.js'

export type Body = Record<string, unknown>

/** A `/_sim` route declared by a resource module through `ctx.sim(...)`. */
export interface SimRouteDefinition {
  method: 'GET' | 'POST' | 'DELETE'
  /** Path pattern with `:name` segments; must start with `/_sim/`. */
  path: string
  /** One line for `GET /_sim`, e.g. `POST /_sim/charges/:id/dispute {reason?}`. */
  describe: string
  run: (body: Body, params: Record<string, string>) => unknown
}

/** An error a sim route answers with (status + message). */
export class SimError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
  }
}

function parseBody(req: http.IncomingMessage, url: URL, text: string): Body {
  const body: Body = Object.fromEntries(url.searchParams)
  if (text.trim() === '') return body
  if ((req.headers['content-type'] ?? '').includes('application/json')) {
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
  return { ...body, ...Object.fromEntries(new URLSearchParams(text)) }
}

export function str(body: Body, key: string): string | undefined {
  const value = body[key]
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new SimError(400, `${key} must be a string`)
  }
  return String(value)
}

export function num(body: Body, key: string): number | undefined {
  const value = str(body, key)
  if (value === undefined) return undefined
  const parsed = Number(value)
  if (!Number.isFinite(parsed)) throw new SimError(400, `${key} must be a number`)
  return parsed
}

export function bool(body: Body, key: string): boolean | undefined {
  const value = str(body, key)
  return value === undefined ? undefined : value === 'true' || value === '1'
}

export function list(body: Body, key: string): string[] | undefined {
  const value = body[key]
  if (Array.isArray(value)) return value.map(String)
  const text = str(body, key)
  return text === undefined
    ? undefined
    : text
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
}

function order(body: Body): FlushOrder {
  const value = str(body, 'order') ?? 'fifo'
  if (value !== 'fifo' && value !== 'reverse' && value !== 'shuffle')
    throw new SimError(400, 'order must be fifo, reverse or shuffle')
  return value
}

type SimRoute = {
  method: 'GET' | 'POST' | 'DELETE'
  pattern: RegExp
  describe: string
  run: (body: Body, match: RegExpExecArray) => unknown
}

export function createSimHandler(
  sandbox: StripeSandbox,
  extra: () => readonly SimRouteDefinition[] = () => []
) {
  const routes: SimRoute[] = [
    {
      method: 'GET',
      pattern: /^\/_sim\/?$/,
      describe: 'GET /_sim — this list',
      run: () => ({
        routes: [...routes.map((route) => route.describe), ...extra().map((r) => r.describe)],
      }),
    },
    {
      method: 'GET',
      pattern: /^\/_sim\/health$/,
      describe: 'GET /_sim/health',
      run: () => ({
        ok: true,
        url: sandbox.url,
        now: sandbox.now(),
        api_version: sandbox.apiVersion,
      }),
    },
    {
      method: 'GET',
      pattern: /^\/_sim\/clock$/,
      describe: 'GET /_sim/clock',
      run: () => ({ now: sandbox.now(), offset_seconds: sandbox.clock.offsetSeconds }),
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/clock\/advance$/,
      describe: 'POST /_sim/clock/advance {seconds}',
      run: async (body) => {
        const seconds = num(body, 'seconds')
        if (seconds === undefined || seconds < 0)
          throw new SimError(400, 'seconds must be a number >= 0')
        return { now: await sandbox.advanceClock(seconds) }
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/webhooks\/endpoints$/,
      describe: 'POST /_sim/webhooks/endpoints {url, secret?, enabled_events?, connect?}',
      run: (body) => {
        const url = str(body, 'url')
        if (!url) throw new SimError(400, 'url is required')
        return sandbox.addWebhookEndpoint({
          url,
          secret: str(body, 'secret'),
          enabledEvents: list(body, 'enabled_events'),
          connect: bool(body, 'connect'),
        })
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/webhooks\/hold$/,
      describe: 'POST /_sim/webhooks/hold',
      run: () => {
        sandbox.holdWebhooks(true)
        return { holding: true }
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/webhooks\/release$/,
      describe: 'POST /_sim/webhooks/release {order?}',
      run: async (body) => {
        await sandbox.releaseWebhooks(order(body))
        return { holding: false }
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/webhooks\/flush$/,
      describe: 'POST /_sim/webhooks/flush {order?: fifo|reverse|shuffle}',
      run: async (body) => {
        const held = sandbox.deliveries({ state: 'held' }).length
        await sandbox.flush(order(body))
        return { flushed: held }
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/webhooks\/wait$/,
      describe: 'POST /_sim/webhooks/wait {timeout_ms?}',
      run: async (body) => {
        try {
          await sandbox.waitForIdle(num(body, 'timeout_ms') ?? 10_000)
        } catch (error) {
          throw new SimError(504, error instanceof Error ? error.message : String(error))
        }
        return { idle: true }
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/webhooks\/delay$/,
      describe:
        'POST /_sim/webhooks/delay {ms, count?, type?, endpoint?, jitter_ms?, seed?} — the next N matching deliveries go later',
      run: (body) => {
        const ms = num(body, 'ms')
        if (ms === undefined || ms < 0) throw new SimError(400, 'ms must be a number >= 0')
        const jitterMs = num(body, 'jitter_ms')
        if (jitterMs !== undefined && jitterMs < 0)
          throw new SimError(400, 'jitter_ms must be a number >= 0')
        const count = num(body, 'count')
        if (count !== undefined && (!Number.isInteger(count) || count < 1))
          throw new SimError(400, 'count must be an integer >= 1')
        const seed = num(body, 'seed')
        if (seed !== undefined && !Number.isInteger(seed))
          throw new SimError(400, 'seed must be an integer')
        const { seed: used } = sandbox.delayWebhooks({
          ms,
          count,
          jitterMs,
          seed,
          type: list(body, 'type'),
          endpointId: str(body, 'endpoint'),
        })
        return { ...sandbox.webhooks.rules, seed: used }
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/webhooks\/duplicate_next$/,
      describe:
        'POST /_sim/webhooks/duplicate_next {count?, type?, endpoint?, after_ms?} — the next N matching events are delivered twice',
      run: (body) => {
        const count = num(body, 'count')
        if (count !== undefined && (!Number.isInteger(count) || count < 1))
          throw new SimError(400, 'count must be an integer >= 1')
        sandbox.duplicateNext({
          count,
          type: list(body, 'type'),
          endpointId: str(body, 'endpoint'),
          afterMs: num(body, 'after_ms'),
        })
        return sandbox.webhooks.rules
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/_sim\/webhooks\/rules$/,
      describe: 'DELETE /_sim/webhooks/rules — forget armed delay/duplicate_next rules',
      run: () => {
        sandbox.clearWebhookRules()
        return sandbox.webhooks.rules
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/webhooks\/endpoints\/([^/]+)\/(disable|enable)$/,
      describe: 'POST /_sim/webhooks/endpoints/:id/(disable|enable)',
      run: (_body, match) => {
        const id = decodeURIComponent(match[1])
        if (!sandbox.store.get('webhook_endpoint', id))
          throw new SimError(404, `No such webhook endpoint: '${id}'`)
        return sandbox.disableWebhookEndpoint(id, match[2] === 'disable')
      },
    },
    {
      method: 'GET',
      pattern: /^\/_sim\/webhooks\/deliveries$/,
      describe: 'GET /_sim/webhooks/deliveries?event=&endpoint=&type=&state=',
      run: (body) => ({
        data: sandbox.deliveries({
          eventId: str(body, 'event'),
          endpointId: str(body, 'endpoint'),
          type: str(body, 'type'),
          state: str(body, 'state') as DeliveryState | undefined,
        }),
      }),
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/events\/([^/]+)\/(resend|duplicate|stale|wrong_secret)$/,
      describe:
        'POST /_sim/events/:id/(resend|duplicate|stale|wrong_secret) {endpoint?, age_seconds?}',
      run: async (body, match) => {
        const eventId = decodeURIComponent(match[1])
        if (!sandbox.store.get('event', eventId))
          throw new SimError(404, `No such event: '${eventId}'`)
        const options = { endpointId: str(body, 'endpoint') }
        switch (match[2]) {
          case 'resend':
            return { data: await sandbox.resendEvent(eventId, options) }
          case 'duplicate':
            return { data: await sandbox.duplicateEvent(eventId, options) }
          case 'stale':
            return {
              data: await sandbox.deliverStale(eventId, {
                ...options,
                ageSeconds: num(body, 'age_seconds'),
              }),
            }
          default:
            return { data: await sandbox.deliverWithWrongSecret(eventId, options) }
        }
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/faults$/,
      describe:
        'POST /_sim/faults {count? | rate? (0..1, until cleared) + seed?, status?, mode?: status|reset|timeout, path?, path_regex?, method?, phase?, should_retry?, message?}',
      run: (body) => {
        const mode = str(body, 'mode')
        if (mode !== undefined && mode !== 'status' && mode !== 'reset' && mode !== 'timeout') {
          throw new SimError(400, 'mode must be status, reset or timeout')
        }
        const phase = str(body, 'phase')
        if (phase !== undefined && phase !== 'before' && phase !== 'after')
          throw new SimError(400, 'phase must be before or after')
        const regex = str(body, 'path_regex')
        let path: RegExp | string | undefined
        try {
          path = regex ? new RegExp(regex) : str(body, 'path')
        } catch {
          throw new SimError(400, 'path_regex is not a valid regular expression')
        }
        const options: Omit<FaultOptions, 'count'> = {
          status: num(body, 'status'),
          mode: mode as FaultMode | undefined,
          path,
          method: str(body, 'method'),
          phase,
          shouldRetry: bool(body, 'should_retry'),
          message: str(body, 'message'),
        }
        const rate = num(body, 'rate')
        if (rate !== undefined) {
          if (rate < 0 || rate > 1) throw new SimError(400, 'rate must be between 0 and 1')
          if (body.count !== undefined) throw new SimError(400, 'give count or rate, not both')
          const seed = num(body, 'seed')
          if (seed !== undefined && !Number.isInteger(seed))
            throw new SimError(400, 'seed must be an integer')
          const rule = sandbox.failRate({ ...options, rate, seed })
          return { pending: sandbox.faults.pending, rate: rule.rate, seed: rule.seed }
        }
        sandbox.failNext({ ...options, count: num(body, 'count') })
        return { pending: sandbox.faults.pending }
      },
    },
    {
      method: 'GET',
      pattern: /^\/_sim\/faults$/,
      describe: 'GET /_sim/faults — armed faults, rate rules and how many were injected',
      run: () => ({
        pending: sandbox.faults.pending,
        injected: sandbox.faults.injected,
        rate_rules: sandbox.faults.rateRules.map((rule) => ({
          rate: rule.rate,
          seed: rule.seed,
          path: rule.path instanceof RegExp ? rule.path.source : (rule.path ?? null),
          method: rule.method ?? null,
          mode: rule.fault.mode,
          status: rule.fault.status,
          phase: rule.fault.phase,
          seen: rule.seen,
          injected: rule.injected,
        })),
      }),
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/faults\/delay$/,
      describe: 'POST /_sim/faults/delay {ms, count?, path?, method?}',
      run: (body) => {
        const ms = num(body, 'ms')
        if (ms === undefined || ms < 0) throw new SimError(400, 'ms must be a number >= 0')
        sandbox.delayNext({
          ms,
          count: num(body, 'count'),
          path: str(body, 'path'),
          method: str(body, 'method'),
        })
        return { ok: true }
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/_sim\/faults$/,
      describe: 'DELETE /_sim/faults',
      run: () => {
        sandbox.clearFaults()
        return { pending: 0 }
      },
    },
    {
      method: 'GET',
      pattern: /^\/_sim\/fidelity$/,
      describe:
        "GET /_sim/fidelity?verbose= — shape problems of every stored object and event against Stripe's fixtures",
      run: (body) => {
        const report = explainStore(sandbox)
        return {
          ok: report.problems.length === 0,
          problems: report.problems,
          checked: report.checked,
          ...(bool(body, 'verbose') ? { allowed: report.allowed } : {}),
        }
      },
    },
    {
      method: 'POST',
      pattern: /^\/_sim\/reset$/,
      describe: 'POST /_sim/reset — forget all state',
      run: () => {
        sandbox.reset()
        return { ok: true }
      },
    },
  ]

  return async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    text: string
  ): Promise<void> => {
    const send = (status: number, payload: unknown) => {
      const body = Buffer.from(JSON.stringify(payload, null, 2), 'utf8')
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': String(body.length),
      })
      res.end(body)
    }
    const method = (req.method ?? 'GET').toUpperCase()
    try {
      for (const route of routes) {
        const match = route.pattern.exec(url.pathname)
        if (!match || route.method !== method) continue
        send(200, await route.run(parseBody(req, url, text), match))
        return
      }
      for (const route of extra()) {
        if (route.method !== method) continue
        const params = compilePath(route.path)(url.pathname)
        if (!params) continue
        send(200, await route.run(parseBody(req, url, text), params))
        return
      }
      throw new SimError(404, `Unrecognized request URL (${method}: ${url.pathname}).`)
    } catch (error) {
      const status = error instanceof SimError || error instanceof ApiError ? error.status : 400
      send(status, {
        error: {
          type: 'invalid_request_error',
          message: error instanceof Error ? error.message : String(error),
        },
      })
    }
  }
}
