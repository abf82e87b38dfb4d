/**
 * Idempotency keys, as Stripe applies them to POST requests: the first result
 * of an executed request is saved per (API key, Stripe-Account, Idempotency-Key)
 * and replayed for 24 hours of sandbox time.
 */
import { ApiError, invalidRequest } from './errors.js'
import type { SandboxClock } from './clock.js'

export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255

export interface IdempotencyRequest {
  method: string
  path: string
  fingerprint: string
  requestId: string
}

export interface IdempotencyEntry extends IdempotencyRequest {
  key: string
  state: 'in_flight' | 'done'
  createdAt: number
  status?: number
  body?: string
  headers?: Record<string, string>
}

export type BeginResult = { kind: 'new' } | { kind: 'replay'; entry: IdempotencyEntry }

export class IdempotencyStore {
  #entries = new Map<string, IdempotencyEntry>()
  #listeners = new Set<() => void>()

  constructor(
    private readonly clock: SandboxClock,
    private readonly ttlSeconds = IDEMPOTENCY_TTL_SECONDS,
    /** Memory bound for long benchmark runs: the oldest keys go first beyond it. */
    private readonly maxEntries = 100_000
  ) {}

  static scope(apiKey: string, account: string | undefined, key: string): string {
    return JSON.stringify([apiKey, account ?? '', key])
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #changed() {
    for (const listener of this.#listeners) listener()
  }

  /**
   * Entries sit in the Map in creation order and the clock only moves forward, so
   * expired ones are always at the front: stop at the first live one.
   */
  #prune() {
    const cutoff = this.clock.now() - this.ttlSeconds
    for (const [scope, entry] of this.#entries) {
      if (entry.createdAt > cutoff && this.#entries.size <= this.maxEntries) break
      if (entry.state === 'done') this.#entries.delete(scope)
    }
  }

  /**
   * Claims a key. Returns `new` (go ahead and execute), `replay` (answer with the
   * saved result), or throws the 400/409 Stripe answers with.
   */
  begin(scope: string, key: string, request: IdempotencyRequest): BeginResult {
    if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
      throw invalidRequest(
        `Invalid idempotency key: keys for idempotent requests can be up to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters long.`,
        { validation: true, param: 'Idempotency-Key' }
      )
    }
    this.#prune()
    const existing = this.#entries.get(scope)
    if (!existing) {
      this.#entries.set(scope, { ...request, key, state: 'in_flight', createdAt: this.clock.now() })
      return { kind: 'new' }
    }
    if (existing.state === 'in_flight') {
      throw new ApiError(
        409,
        'idempotency_error',
        `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
        { validation: true }
      )
    }
    if (existing.method !== request.method || existing.path !== request.path) {
      throw new ApiError(
        400,
        'idempotency_error',
        `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${existing.method} ${existing.path}' vs '${request.method} ${request.path}'). Try using a key other than '${key}' if you meant to execute a different request.`,
        { validation: true }
      )
    }
    if (existing.fingerprint !== request.fingerprint) {
      throw new ApiError(
        400,
        'idempotency_error',
        `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        { validation: true }
      )
    }
    return { kind: 'replay', entry: existing }
  }

  complete(scope: string, status: number, body: string, headers: Record<string, string> = {}) {
    const entry = this.#entries.get(scope)
    if (!entry) return
    entry.state = 'done'
    entry.status = status
    entry.body = body
    entry.headers = headers
    this.#changed()
  }

  /** Releases a key whose request failed validation: nothing is saved. */
  abandon(scope: string) {
    const entry = this.#entries.get(scope)
    if (entry?.state === 'in_flight') this.#entries.delete(scope)
  }

  get size(): number {
    return this.#entries.size
  }

  clear() {
    this.#entries.clear()
    this.#changed()
  }

  snapshot(): Array<[string, IdempotencyEntry]> {
    return [...this.#entries].filter(([, entry]) => entry.state === 'done')
  }

  restore(entries: Array<[string, IdempotencyEntry]>) {
    this.#entries = new Map(entries)
  }
}
