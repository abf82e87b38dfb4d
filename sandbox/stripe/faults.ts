/**
 * Fault injection for API calls: make the next N matching requests (or a seeded
 * random fraction of them, until cleared) fail with a status, a connection reset
 * or a hang, or slow them down (to provoke the 409 of a concurrent idempotent request).
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

/** A fault that hits a fraction of the matching calls until cleared (`failRate`). */
export interface RateFaultOptions extends Omit<FaultOptions, 'count'> {
  /** Probability (0..1) that a matching call fails. */
  rate: number
  /**
   * PRNG seed: the same seed and the same sequence of matching calls give the same
   * failures (reproducible benchmarks). Random when omitted; `failRate` returns it.
   */
  seed?: number
}

export interface RateFaultRule {
  rate: number
  seed: number
  path?: RegExp | string
  method?: string
  fault: Fault
  /** Matching calls seen and faults injected by this rule. */
  seen: number
  injected: number
}

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
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

function toFault(options: Omit<FaultOptions, 'count'>): Fault {
  const mode = options.mode ?? 'status'
  return {
    mode,
    status: options.status ?? 500,
    phase: options.phase ?? (mode === 'status' ? 'before' : 'after'),
    shouldRetry: options.shouldRetry,
    message: options.message,
  }
}

export class FaultInjector {
  #faults: Array<Rule<Fault>> = []
  #delays: Array<Rule<number>> = []
  #rates: Array<RateFaultRule & { random: () => number }> = []
  #injected = 0

  failNext(options: FaultOptions = {}) {
    this.#faults.push({
      remaining: options.count ?? 1,
      path: options.path,
      method: options.method,
      value: toFault(options),
    })
  }

  /**
   * From now until `clear()`, each matching call fails with probability `rate`
   * (drawn from a PRNG seeded with `seed`). `failNext` faults are served first.
   * Returns the rule (with the seed used).
   */
  failRate(options: RateFaultOptions): RateFaultRule {
    if (!(options.rate >= 0 && options.rate <= 1)) throw new Error('rate must be between 0 and 1')
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32)
    const rule = {
      rate: options.rate,
      seed,
      path: options.path,
      method: options.method,
      fault: toFault(options),
      seen: 0,
      injected: 0,
      random: seededRandom(seed),
    }
    this.#rates.push(rule)
    return this.#publicRule(rule)
  }

  #publicRule(rule: RateFaultRule): RateFaultRule {
    return {
      rate: rule.rate,
      seed: rule.seed,
      path: rule.path,
      method: rule.method,
      fault: { ...rule.fault },
      seen: rule.seen,
      injected: rule.injected,
    }
  }

  /** Active `failRate` rules with their counters. */
  get rateRules(): RateFaultRule[] {
    return this.#rates.map((rule) => this.#publicRule(rule))
  }

  /** Faults injected since the last `clear()` (next-N and rate faults). */
  get injected(): number {
    return this.#injected
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
    const next = take(this.#faults, method, path)
    if (next) {
      this.#injected += 1
      return next
    }
    // Every matching rule draws (in the order added) and the first that fires wins, so
    // several rules mix their faults (e.g. 500s, 429s, resets and timeouts at once).
    for (const rule of this.#rates) {
      const matching = matches(
        { remaining: 1, path: rule.path, method: rule.method, value: null },
        method,
        path
      )
      if (!matching) continue
      rule.seen += 1
      if (rule.random() >= rule.rate) continue
      rule.injected += 1
      this.#injected += 1
      return { ...rule.fault }
    }
    return undefined
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
    this.#rates = []
    this.#injected = 0
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
