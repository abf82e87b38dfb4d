/**
 * Webhook emitter: delivers events to registered endpoints the way Stripe does —
 * one serialisation per event, signed as `t=<ts>,v1=<hmac>` over exactly those
 * bytes, re-signed on every attempt, retried on non-2xx or timeouts.
 */
import { createHmac } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type Stripe from 'stripe'
import { newId, randomBase62 } from './ids.js'
import type { Store } from './store.js'

declare module './store.js' {
  interface CollectionTypes {
    /** Secret and connect flag of a webhook endpoint (never rendered in API responses). */
    webhook_endpoint_internal: { id: string; secret: string; connect: boolean }
  }
}

export type DeliveryKind = 'normal' | 'duplicate' | 'resend' | 'stale' | 'wrong_secret'
export type DeliveryState = 'held' | 'pending' | 'in_flight' | 'succeeded' | 'failed'

export interface WebhookAttempt {
  /** 1-based attempt number. */
  attempt: number
  /** The `t=` of the signature (wall-clock unix seconds, minus the age of a stale delivery). */
  timestamp: number
  /** The full `Stripe-Signature` header sent. */
  signature: string
  /** Wall-clock ms when the request was sent. */
  sentAt: number
  durationMs: number
  /** HTTP status, or null when no response arrived (connection error, timeout). */
  status: number | null
  error: string | null
  responseBody: string
}

export interface WebhookDelivery {
  id: string
  eventId: string
  eventType: string
  endpointId: string
  url: string
  kind: DeliveryKind
  state: DeliveryState
  /** The exact bytes that were signed and sent. */
  payload: string
  attempts: WebhookAttempt[]
  /** Wall-clock ms of the next scheduled retry, if any. */
  nextAttemptAt: number | null
}

export interface WebhookDispatcherOptions {
  /** Delays (ms) before retry 1, 2, … after a failed attempt. */
  retrySchedule: number[]
  /** Per-attempt timeout (ms). */
  timeoutMs: number
  hold: boolean
  /** Finished deliveries kept for inspection (default MAX_KEPT_DELIVERIES). */
  historyLimit?: number
}

export type FlushOrder = 'fifo' | 'reverse' | 'shuffle'

/** Which deliveries a delivery rule applies to. */
export interface DeliveryMatch {
  /** Event type(s); a trailing `*` matches a prefix (`invoice.*`). Any type when omitted. */
  type?: string | string[]
  /** Only deliveries to this endpoint. */
  endpointId?: string
}

export interface DelayWebhooksOptions extends DeliveryMatch {
  /** Extra delay before the first attempt of each matching delivery. */
  ms: number
  /**
   * Adds a random 0..jitterMs to each delay, so a later event can overtake an
   * earlier one (Stripe does not guarantee order).
   */
  jitterMs?: number
  /** Seed of the jitter PRNG (reproducible order). */
  seed?: number
  /** How many deliveries are delayed (default 1). */
  count?: number
}

export interface DuplicateNextOptions extends DeliveryMatch {
  /** How many events are delivered twice (default 1). */
  count?: number
  /** Delay of the second copy after the first is scheduled (default 0). */
  afterMs?: number
}

export function signPayload(payload: string, secret: string, timestamp: number): string {
  const signature = createHmac('sha256', secret)
    .update(`${timestamp}.${payload}`, 'utf8')
    .digest('hex')
  return `t=${timestamp},v1=${signature}`
}

export function newWebhookSecret(): string {
  return newId('webhook_secret')
}

const RESPONSE_BODY_LIMIT = 2048

/** Finished deliveries kept for inspection (`deliveries()`); older ones are dropped. */
export const MAX_KEPT_DELIVERIES = 10_000

interface InternalDelivery extends WebhookDelivery {
  staleSeconds: number
  retries: boolean
  timer: NodeJS.Timeout | null
}

interface DelayRule {
  remaining: number
  match: DeliveryMatch
  ms: number
  jitterMs: number
  random: () => number
}

interface DuplicateRule {
  remaining: number
  match: DeliveryMatch
  afterMs: number
}

function typeMatches(pattern: string, type: string): boolean {
  return pattern.endsWith('*') ? type.startsWith(pattern.slice(0, -1)) : pattern === type
}

function deliveryMatches(match: DeliveryMatch, type: string, endpointId: string): boolean {
  if (match.endpointId !== undefined && match.endpointId !== endpointId) return false
  if (match.type === undefined) return true
  const patterns = Array.isArray(match.type) ? match.type : [match.type]
  return patterns.some((pattern) => typeMatches(pattern, type))
}

/** mulberry32, for reproducible jitter. */
function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class WebhookDispatcher {
  #deliveries: InternalDelivery[] = []
  #payloads = new Map<string, string>()
  #idleWaiters = new Set<() => void>()
  #requests = new Set<http.ClientRequest>()
  #agent = new http.Agent({ keepAlive: false })
  #httpsAgent = new https.Agent({ keepAlive: false })
  #stopped = false
  #delayRules: DelayRule[] = []
  #duplicateRules: DuplicateRule[] = []

  constructor(
    private readonly store: Store,
    readonly options: WebhookDispatcherOptions
  ) {}

  /** Endpoints that receive this event: enabled, subscribed (`*` or the type), and on the right side of Connect. */
  targets(event: Pick<Stripe.Event, 'type' | 'account'>): Stripe.WebhookEndpoint[] {
    return this.store
      .list('webhook_endpoint')
      .reverse()
      .filter((endpoint) => {
        if (endpoint.status !== 'enabled') return false
        if (!endpoint.enabled_events.includes('*') && !endpoint.enabled_events.includes(event.type))
          return false
        const connect = this.store.get('webhook_endpoint_internal', endpoint.id)?.connect ?? false
        return connect === Boolean(event.account)
      })
  }

  /** Serialised once per event; every attempt and endpoint gets these exact bytes. */
  payloadFor(event: Stripe.Event): string {
    let payload = this.#payloads.get(event.id)
    if (payload === undefined) {
      payload = JSON.stringify(event, null, 2)
      this.#payloads.set(event.id, payload)
    }
    return payload
  }

  dispatch(event: Stripe.Event) {
    const targets = this.targets(event)
    // A duplicateNext rule is consumed once per event (every matching endpoint gets both copies).
    const duplicate = this.#takeDuplicate(event.type, targets)
    for (const endpoint of targets) {
      this.#enqueue(event, endpoint, 'normal', { retries: true })
      if (duplicate && deliveryMatches(duplicate.match, event.type, endpoint.id)) {
        this.#enqueue(event, endpoint, 'duplicate', {
          retries: true,
          extraDelayMs: duplicate.afterMs,
        })
      }
    }
  }

  #takeDuplicate(type: string, targets: Stripe.WebhookEndpoint[]): DuplicateRule | undefined {
    const index = this.#duplicateRules.findIndex((rule) =>
      targets.some((endpoint) => deliveryMatches(rule.match, type, endpoint.id))
    )
    if (index === -1) return undefined
    const rule = this.#duplicateRules[index]
    rule.remaining -= 1
    if (rule.remaining <= 0) this.#duplicateRules.splice(index, 1)
    return rule
  }

  /** Delay of the first attempt from the next matching delay rule (consumes it), or 0. */
  #takeDelay(type: string, endpointId: string): number {
    const index = this.#delayRules.findIndex((rule) =>
      deliveryMatches(rule.match, type, endpointId)
    )
    if (index === -1) return 0
    const rule = this.#delayRules[index]
    rule.remaining -= 1
    if (rule.remaining <= 0) this.#delayRules.splice(index, 1)
    return rule.ms + (rule.jitterMs > 0 ? Math.floor(rule.random() * rule.jitterMs) : 0)
  }

  /**
   * The next `count` matching deliveries (not held ones: a flush decides their
   * timing) have their first attempt `ms` (+ 0..jitterMs) later. Returns the seed.
   */
  delay(options: DelayWebhooksOptions): { seed: number } {
    if (!(options.ms >= 0)) throw new Error('ms must be a number >= 0')
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32)
    this.#delayRules.push({
      remaining: options.count ?? 1,
      match: { type: options.type, endpointId: options.endpointId },
      ms: options.ms,
      jitterMs: options.jitterMs ?? 0,
      random: seeded(seed),
    })
    return { seed }
  }

  /** The next `count` matching events are delivered twice (same id and bytes, each with retries). */
  duplicateNext(options: DuplicateNextOptions = {}) {
    this.#duplicateRules.push({
      remaining: options.count ?? 1,
      match: { type: options.type, endpointId: options.endpointId },
      afterMs: options.afterMs ?? 0,
    })
  }

  /** Armed delivery rules (delays and duplicates) not used up yet. */
  get rules(): { delays: number; duplicates: number } {
    return {
      delays: this.#delayRules.reduce((sum, rule) => sum + rule.remaining, 0),
      duplicates: this.#duplicateRules.reduce((sum, rule) => sum + rule.remaining, 0),
    }
  }

  clearRules() {
    this.#delayRules = []
    this.#duplicateRules = []
  }

  /**
   * Sends an existing event again (to one endpoint or all that match) right away,
   * even while holding. Resolves after the first attempt of each delivery.
   */
  async redeliver(
    event: Stripe.Event,
    kind: Exclude<DeliveryKind, 'normal'>,
    options: { endpointId?: string; staleSeconds?: number } = {}
  ): Promise<WebhookDelivery[]> {
    let endpoints: Stripe.WebhookEndpoint[]
    if (options.endpointId) {
      const endpoint = this.store.get('webhook_endpoint', options.endpointId)
      if (!endpoint) throw new Error(`No such webhook endpoint: '${options.endpointId}'`)
      endpoints = [endpoint]
    } else {
      endpoints = this.targets(event)
    }
    const deliveries = endpoints.map((endpoint) =>
      this.#enqueue(event, endpoint, kind, {
        // A duplicate is Stripe's own at-least-once behaviour, so it retries like any delivery.
        retries: kind === 'duplicate',
        staleSeconds: options.staleSeconds ?? 0,
        immediate: true,
      })
    )
    await Promise.all(deliveries.map((delivery) => this.#attempt(delivery)))
    return deliveries.map((delivery) => this.#public(delivery))
  }

  #enqueue(
    event: Stripe.Event,
    endpoint: Stripe.WebhookEndpoint,
    kind: DeliveryKind,
    options: { retries: boolean; staleSeconds?: number; immediate?: boolean; extraDelayMs?: number }
  ): InternalDelivery {
    const held = this.options.hold && !options.immediate
    const delivery: InternalDelivery = {
      id: newId('webhook_delivery'),
      eventId: event.id,
      eventType: event.type,
      endpointId: endpoint.id,
      url: endpoint.url,
      kind,
      state: held ? 'held' : 'pending',
      payload: this.payloadFor(event),
      attempts: [],
      nextAttemptAt: held ? null : Date.now(),
      staleSeconds: options.staleSeconds ?? 0,
      retries: options.retries,
      timer: null,
    }
    this.#deliveries.push(delivery)
    this.#prune()
    if (!held && !options.immediate) {
      const delayMs = this.#takeDelay(event.type, endpoint.id) + (options.extraDelayMs ?? 0)
      this.#schedule(delivery, delayMs)
    }
    return delivery
  }

  /**
   * Keeps memory bounded in long demos and benchmarks: beyond MAX_KEPT_DELIVERIES,
   * the oldest finished deliveries (and payloads no kept delivery needs) are dropped.
   */
  #prune() {
    const limit = this.options.historyLimit ?? MAX_KEPT_DELIVERIES
    if (this.#deliveries.length <= limit) return
    const excess = this.#deliveries.length - limit
    const dropped = new Set<InternalDelivery>()
    for (const delivery of this.#deliveries) {
      if (dropped.size >= excess) break
      if (delivery.state === 'succeeded' || delivery.state === 'failed') dropped.add(delivery)
    }
    if (dropped.size === 0) return
    this.#deliveries = this.#deliveries.filter((delivery) => !dropped.has(delivery))
    const needed = new Set(this.#deliveries.map((delivery) => delivery.eventId))
    for (const delivery of dropped) {
      if (!needed.has(delivery.eventId)) this.#payloads.delete(delivery.eventId)
    }
  }

  #schedule(delivery: InternalDelivery, delayMs: number) {
    delivery.state = 'pending'
    delivery.nextAttemptAt = Date.now() + delayMs
    delivery.timer = setTimeout(() => {
      delivery.timer = null
      void this.#attempt(delivery)
    }, delayMs)
  }

  async #attempt(delivery: InternalDelivery): Promise<void> {
    if (this.#stopped) return
    const endpoint = this.store.get('webhook_endpoint', delivery.endpointId)
    const internal = this.store.get('webhook_endpoint_internal', delivery.endpointId)
    if (!endpoint || !internal || endpoint.status !== 'enabled') {
      // Stripe stops retrying once an endpoint is deleted or disabled.
      delivery.state = 'failed'
      delivery.nextAttemptAt = null
      this.#checkIdle()
      return
    }
    delivery.state = 'in_flight'
    delivery.nextAttemptAt = null
    // Wall-clock time, not sandbox time: receivers check the age against their real
    // clock, and Stripe signs at delivery time even for test-clock objects.
    const timestamp = Math.floor(Date.now() / 1000) - delivery.staleSeconds
    const secret = delivery.kind === 'wrong_secret' ? `whsec_${randomBase62(32)}` : internal.secret
    const signature = signPayload(delivery.payload, secret, timestamp)
    const sentAt = Date.now()
    const result = await this.#post(delivery.url, delivery.payload, signature)
    if (this.#stopped) return
    delivery.attempts.push({
      attempt: delivery.attempts.length + 1,
      timestamp,
      signature,
      sentAt,
      durationMs: Date.now() - sentAt,
      ...result,
    })
    const ok = result.status !== null && result.status >= 200 && result.status < 300
    if (ok) {
      delivery.state = 'succeeded'
      if (delivery.kind === 'normal') this.#acknowledge(delivery.eventId)
    } else if (delivery.retries && delivery.attempts.length <= this.options.retrySchedule.length) {
      this.#schedule(delivery, this.options.retrySchedule[delivery.attempts.length - 1])
    } else {
      delivery.state = 'failed'
    }
    this.#checkIdle()
  }

  /** One endpoint acknowledged the event: one fewer pending webhook. */
  #acknowledge(eventId: string) {
    const event = this.store.get('event', eventId)
    if (event && event.pending_webhooks > 0) {
      this.store.replace('event', eventId, {
        ...event,
        pending_webhooks: event.pending_webhooks - 1,
      })
    }
  }

  #post(
    url: string,
    payload: string,
    signature: string
  ): Promise<Pick<WebhookAttempt, 'status' | 'error' | 'responseBody'>> {
    return new Promise((resolve) => {
      let settled = false
      const finish = (value: Pick<WebhookAttempt, 'status' | 'error' | 'responseBody'>) => {
        if (settled) return
        settled = true
        this.#requests.delete(request)
        resolve(value)
      }
      let target: URL
      try {
        target = new URL(url)
      } catch {
        resolve({ status: null, error: `Invalid URL: ${url}`, responseBody: '' })
        return
      }
      const client = target.protocol === 'https:' ? https : http
      const body = Buffer.from(payload, 'utf8')
      const request = client.request(target, {
        method: 'POST',
        agent: target.protocol === 'https:' ? this.#httpsAgent : this.#agent,
        headers: {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': String(body.length),
          'Stripe-Signature': signature,
          'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'Accept': '*/*; q=0.5, application/xml',
          'Cache-Control': 'no-cache',
        },
      })
      this.#requests.add(request)
      request.setTimeout(this.options.timeoutMs, () => {
        request.destroy(new Error(`Timed out after ${this.options.timeoutMs} ms`))
      })
      request.on('response', (response) => {
        const chunks: Buffer[] = []
        let size = 0
        response.on('data', (chunk: Buffer) => {
          if (size < RESPONSE_BODY_LIMIT) chunks.push(chunk)
          size += chunk.length
        })
        response.on('end', () => {
          finish({
            status: response.statusCode ?? null,
            error: null,
            responseBody: Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_BODY_LIMIT),
          })
        })
        response.on('error', (error) =>
          finish({ status: response.statusCode ?? null, error: error.message, responseBody: '' })
        )
      })
      request.on('error', (error) =>
        finish({ status: null, error: error.message, responseBody: '' })
      )
      request.end(body)
    })
  }

  hold(on = true) {
    this.options.hold = on
  }

  /**
   * Sends every held delivery now, one after another in the given order, and
   * resolves once each has had its first attempt (retries continue in the background).
   */
  async flush(order: FlushOrder = 'fifo'): Promise<void> {
    const held = this.#deliveries.filter((delivery) => delivery.state === 'held')
    if (order === 'reverse') held.reverse()
    if (order === 'shuffle') {
      for (let i = held.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1))
        ;[held[i], held[j]] = [held[j], held[i]]
      }
    }
    for (const delivery of held) delivery.state = 'pending'
    for (const delivery of held) await this.#attempt(delivery)
  }

  #busy(): boolean {
    return this.#deliveries.some(
      (delivery) => delivery.state === 'pending' || delivery.state === 'in_flight'
    )
  }

  #checkIdle() {
    if (this.#busy()) return
    for (const resolve of this.#idleWaiters) resolve()
    this.#idleWaiters.clear()
  }

  /** Resolves when no delivery is pending or in flight (held ones do not count). */
  waitForIdle(timeoutMs = 10_000): Promise<void> {
    if (!this.#busy() || this.#stopped) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#idleWaiters.delete(done)
        reject(new Error(`Webhook deliveries still pending after ${timeoutMs} ms`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        resolve()
      }
      this.#idleWaiters.add(done)
    })
  }

  deliveries(
    filter: { eventId?: string; endpointId?: string; type?: string; state?: DeliveryState } = {}
  ): WebhookDelivery[] {
    return this.#deliveries
      .filter(
        (delivery) =>
          (filter.eventId === undefined || delivery.eventId === filter.eventId) &&
          (filter.endpointId === undefined || delivery.endpointId === filter.endpointId) &&
          (filter.type === undefined || delivery.eventType === filter.type) &&
          (filter.state === undefined || delivery.state === filter.state)
      )
      .map((delivery) => this.#public(delivery))
  }

  #public(delivery: InternalDelivery): WebhookDelivery {
    return {
      id: delivery.id,
      eventId: delivery.eventId,
      eventType: delivery.eventType,
      endpointId: delivery.endpointId,
      url: delivery.url,
      kind: delivery.kind,
      state: delivery.state,
      payload: delivery.payload,
      attempts: delivery.attempts.map((attempt) => ({ ...attempt })),
      nextAttemptAt: delivery.nextAttemptAt,
    }
  }

  /** Forgets all deliveries and delivery rules (used by reset). */
  clear() {
    this.clearRules()
    for (const delivery of this.#deliveries) if (delivery.timer) clearTimeout(delivery.timer)
    this.#deliveries = []
    this.#payloads.clear()
    this.#checkIdle()
  }

  stop() {
    this.#stopped = true
    for (const delivery of this.#deliveries) {
      if (delivery.timer) clearTimeout(delivery.timer)
      delivery.timer = null
    }
    for (const request of this.#requests) request.destroy()
    this.#requests.clear()
    this.#agent.destroy()
    this.#httpsAgent.destroy()
    for (const resolve of this.#idleWaiters) resolve()
    this.#idleWaiters.clear()
  }
}
