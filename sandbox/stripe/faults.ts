/**
 * Fault injection for API calls: make the next N matching requests fail with a
 * status, a connection reset or a hang, or slow them down (to provoke the 409 of
 * a concurrent idempotent request).
 */
import { ApiError } from './errors.js'

export type FaultMode = 'status' | 'reset' | 'timeout'

export interface FaultOptions {
  /** How many matching requests fail (default 1). */
  count?: number
  /** HTTP status for `mode: 'status'` (default 500). */
  status?: number
  /** `status`: answer with an error; `reset`: drop the TCP connection; `timeout`: never answer. */
  mode?: FaultMode
  /** Exact path or path prefix (`/v1/customers` matches `/v1/customers/cus_1`), or a RegExp. */
  path?: RegExp | string
  /** Only requests with this method (any by default). */
  method?: string
  /**
   * `before`: fail without executing the request (nothing is created or saved).
   * `after`: execute it (and save its idempotent result), then lose the response —
   * the case where a retry must not create a duplicate.
   * Defaults: `before` for `status`, `after` for `reset` and `timeout`.
   */
  phase?: 'before' | 'after'
  /** Adds `Stripe-Should-Retry: true|false` to a `status` fault. */
  shouldRetry?: boolean
  /** Error message for a `status` fault. */
  message?: string
}

export interface Fault {
  mode: FaultMode
  status: number
  phase: 'before' | 'after'
  shouldRetry?: boolean
  message?: string
}

interface Rule<T> {
  remaining: number
  path?: RegExp | string
  method?: string
  value: T
}

function matches(rule: Rule<unknown>, method: string, path: string): boolean {
  if (rule.method && rule.method.toUpperCase() !== method) return false
  if (rule.path === undefined) return true
  if (typeof rule.path === 'string') return path === rule.path || path.startsWith(rule.path)
  rule.path.lastIndex = 0
  return rule.path.test(path)
}

function take<T>(rules: Array<Rule<T>>, method: string, path: string): T | undefined {
  const index = rules.findIndex((rule) => matches(rule, method, path))
  if (index === -1) return undefined
  const rule = rules[index]
  rule.remaining -= 1
  if (rule.remaining <= 0) rules.splice(index, 1)
  return rule.value
}

export class FaultInjector {
  #faults: Array<Rule<Fault>> = []
  #delays: Array<Rule<number>> = []

  failNext(options: FaultOptions = {}) {
    const mode = options.mode ?? 'status'
    this.#faults.push({
      remaining: options.count ?? 1,
      path: options.path,
      method: options.method,
      value: {
        mode,
        status: options.status ?? 500,
        phase: options.phase ?? (mode === 'status' ? 'before' : 'after'),
        shouldRetry: options.shouldRetry,
        message: options.message,
      },
    })
  }

  delayNext(options: { ms: number; count?: number; path?: RegExp | string; method?: string }) {
    this.#delays.push({
      remaining: options.count ?? 1,
      path: options.path,
      method: options.method,
      value: options.ms,
    })
  }

  /** Consumes and returns the fault for this request, if one is armed. */
  takeFault(method: string, path: string): Fault | undefined {
    return take(this.#faults, method, path)
  }

  takeDelay(method: string, path: string): number {
    return take(this.#delays, method, path) ?? 0
  }

  get pending(): number {
    return this.#faults.reduce((sum, rule) => sum + rule.remaining, 0)
  }

  clear() {
    this.#faults = []
    this.#delays = []
  }
}

/** The error a `status` fault answers with, shaped like Stripe's for that status. */
export function faultError(fault: Fault): ApiError {
  const headers: Record<string, string> =
    fault.shouldRetry === undefined ? {} : { 'Stripe-Should-Retry': String(fault.shouldRetry) }
  if (fault.status === 429) {
    return new ApiError(
      429,
      'invalid_request_error',
      fault.message ??
        'Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.',
      { code: 'rate_limit', headers }
    )
  }
  if (fault.status >= 500) {
    return new ApiError(
      fault.status,
      'api_error',
      fault.message ?? 'An unknown error occurred (injected by the sandbox).',
      {
        headers,
      }
    )
  }
  return new ApiError(fault.status, 'invalid_request_error', fault.message ?? 'Injected failure.', {
    headers,
  })
}
