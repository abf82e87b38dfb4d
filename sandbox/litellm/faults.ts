/**
 * Fault injection for the spend-log API: the next N calls (or a seeded share of
 * them, until cleared) fail with an error status, LiteLLM's "no database" 401,
 * a TCP reset or a hang; or are answered late.
 */
export type FaultMode = 'status' | 'no_db' | 'reset' | 'timeout'

export interface FaultOptions {
  /** How many matching calls fail (default 1). */
  count?: number
  /** `status` (default): an error body; `no_db`: 401 "Prisma Client is not initialized"; `reset`: TCP reset; `timeout`: never answers. */
  mode?: FaultMode
  /** HTTP status for `mode: 'status'` (default 500). */
  status?: number
  message?: string
  /** Path prefix the fault applies to (default `/spend/logs`). */
  path?: string
}

export interface RateFaultOptions extends Omit<FaultOptions, 'count'> {
  /** Probability 0..1 that a matching call fails. */
  rate: number
  /** PRNG seed (random when omitted; returned). */
  seed?: number
}

export interface Fault {
  mode: FaultMode
  status: number
  message?: string
}

/** mulberry32: small seedable PRNG, uniform in [0, 1). */
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

interface NextRule {
  remaining: number
  path: string
  fault: Fault
}

interface RateRule {
  rate: number
  seed: number
  path: string
  fault: Fault
  random: () => number
  seen: number
  injected: number
}

function toFault(options: Omit<FaultOptions, 'count'>): Fault {
  const mode = options.mode ?? 'status'
  if (!['status', 'no_db', 'reset', 'timeout'].includes(mode))
    throw new Error(`Unknown fault mode: ${mode}`)
  return {
    mode,
    status: mode === 'no_db' ? 401 : (options.status ?? 500),
    message: options.message,
  }
}

export class FaultInjector {
  #next: NextRule[] = []
  #rates: RateRule[] = []
  #delays: Array<{ remaining: number; path: string; ms: number }> = []
  #injected = 0

  failNext(options: FaultOptions = {}) {
    this.#next.push({
      remaining: Math.max(1, options.count ?? 1),
      path: options.path ?? '/spend/logs',
      fault: toFault(options),
    })
  }

  failRate(options: RateFaultOptions): { rate: number; seed: number } {
    if (!(options.rate >= 0 && options.rate <= 1)) throw new Error('rate must be between 0 and 1')
    const seed = (options.seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0
    this.#rates.push({
      rate: options.rate,
      seed,
      path: options.path ?? '/spend/logs',
      fault: toFault(options),
      random: seededRandom(seed),
      seen: 0,
      injected: 0,
    })
    return { rate: options.rate, seed }
  }

  /** The next `count` matching calls are answered `ms` later. */
  delayNext(options: { ms: number; count?: number; path?: string }) {
    this.#delays.push({
      remaining: options.count ?? 1,
      path: options.path ?? '/spend/logs',
      ms: options.ms,
    })
  }

  take(path: string): Fault | undefined {
    const index = this.#next.findIndex((rule) => path.startsWith(rule.path))
    if (index >= 0) {
      const rule = this.#next[index]
      rule.remaining -= 1
      if (rule.remaining <= 0) this.#next.splice(index, 1)
      this.#injected += 1
      return { ...rule.fault }
    }
    const rate = this.#rates.find((rule) => path.startsWith(rule.path))
    if (!rate) return undefined
    rate.seen += 1
    if (rate.random() >= rate.rate) return undefined
    rate.injected += 1
    this.#injected += 1
    return { ...rate.fault }
  }

  takeDelay(path: string): number {
    const index = this.#delays.findIndex((rule) => path.startsWith(rule.path))
    if (index < 0) return 0
    const rule = this.#delays[index]
    rule.remaining -= 1
    if (rule.remaining <= 0) this.#delays.splice(index, 1)
    return rule.ms
  }

  /** Armed faults and counters (for `GET /_sim/faults`). */
  describe() {
    return {
      injected: this.#injected,
      next: this.#next.map((rule) => ({
        remaining: rule.remaining,
        path: rule.path,
        ...rule.fault,
      })),
      rates: this.#rates.map(({ random: _random, ...rule }) => rule),
      delays: this.#delays.map((rule) => ({ ...rule })),
    }
  }

  get injected(): number {
    return this.#injected
  }

  clear() {
    this.#next = []
    this.#rates = []
    this.#delays = []
    this.#injected = 0
  }
}
