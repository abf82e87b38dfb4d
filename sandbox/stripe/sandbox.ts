/**
 * StripeSandbox: a local, stateful stand-in for the Stripe API that the
 * unmodified `stripe` SDK talks to over HTTP, with signed webhooks and test
 * controls. See README.md.
 */
import type Stripe from 'stripe'
import { SandboxClock } from './clock.js'
import {
  DEFAULT_SETTINGS,
  type ResourceContext,
  type ResourceModule,
  type SandboxServices,
  type SandboxSettings,
} from './context.js'
import { EventBus } from './events.js'
import { ExpansionRegistry } from './expand.js'
import {
  type FaultOptions,
  type RateFaultOptions,
  type RateFaultRule,
  FaultInjector,
} from './faults.js'
import { type ShapeReport, explainStore } from './fidelity.js'
import { IdempotencyStore } from './idempotency.js'
import { type PersistedState, Persistence } from './persistence.js'
import { accountAccessDenied } from './resources/accounts.js'
import { resources as defaultResources } from './resources/index.js'
import { type NewWebhookEndpoint, createWebhookEndpoint } from './resources/webhook_endpoints.js'
import { Router, defineRoute } from './router.js'
import { ApiServer } from './server.js'
import { PageRouter } from './pages.js'
import { type SimRouteDefinition, createSimHandler } from './sim.js'
import { Store } from './store.js'
import {
  type DelayWebhooksOptions,
  type DeliveryState,
  type DuplicateNextOptions,
  type FlushOrder,
  type WebhookDelivery,
  WebhookDispatcher,
} from './webhooks.js'

export const DEFAULT_API_VERSION = '2026-10-28.endive'
export const DEFAULT_RETRY_SCHEDULE_MS = [50, 200, 1000]
export const EVENT_RETENTION_SECONDS = 30 * 24 * 60 * 60

export interface StripeSandboxOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number
  /** Interface to bind (default 127.0.0.1). */
  host?: string
  /** Accept only these API keys (default: any `sk_test_…` / `rk_test_…`). */
  apiKeys?: string[]
  /** Version stamped on events and answered when a request sends none. */
  apiVersion?: string
  /** Delays (ms) before each webhook retry (default [50, 200, 1000]: three retries). */
  webhookRetrySchedule?: number[]
  /** Per-attempt webhook timeout in ms (default 5000). */
  webhookTimeoutMs?: number
  /** Finished webhook deliveries kept for `deliveries()` (default 10,000; older ones are dropped). */
  webhookHistoryLimit?: number
  /** Start with webhook deliveries held until flush() (default false). */
  holdWebhooks?: boolean
  /** JSON state file: loaded at start, saved after changes. Memory only without it. */
  dataFile?: string
  /** Debounce for saves to dataFile (default 50 ms). */
  persistDebounceMs?: number
  /** How long a `timeout` fault keeps a connection open (default 60 s). */
  hangMs?: number
  /**
   * Run due time-driven work (renewals, retries, expiries) every `tickMs` of wall time
   * (default off: tests move time with advanceClock). The demo and `npm run sandbox:stripe` use 1000.
   */
  tickMs?: number
  /** Account settings (renewal retries, what happens after the last failure…). */
  settings?: { billing?: Partial<SandboxSettings['billing']> }
  /** Resource modules to serve (default: all of resources/index.ts). */
  resources?: ResourceModule[]
}

export interface AddedWebhookEndpoint {
  id: string
  secret: string
  endpoint: Stripe.WebhookEndpoint
}

export interface RedeliverOptions {
  /** Only this endpoint (default: every endpoint subscribed to the event). */
  endpointId?: string
}

export class StripeSandbox {
  readonly options: StripeSandboxOptions
  readonly apiVersion: string
  readonly clock: SandboxClock
  readonly store: Store
  readonly webhooks: WebhookDispatcher
  readonly events: EventBus
  readonly expansions: ExpansionRegistry
  readonly idempotency: IdempotencyStore
  readonly faults: FaultInjector
  readonly router: Router
  readonly pages: PageRouter
  readonly settings: SandboxSettings
  /**
   * What resource modules see: tests and tools can call a module's exported
   * functions with it (e.g. complete a Checkout Session without a browser).
   */
  readonly context: ResourceContext
  readonly #simRoutes: SimRouteDefinition[] = []
  readonly #server: ApiServer
  readonly #persistence: Persistence | undefined
  #port = 0
  #started = false
  #ticker: NodeJS.Timeout | null = null
  #stopped = false

  constructor(options: StripeSandboxOptions = {}) {
    this.options = options
    this.apiVersion = options.apiVersion ?? DEFAULT_API_VERSION
    this.clock = new SandboxClock()
    this.store = new Store()
    this.webhooks = new WebhookDispatcher(this.store, {
      retrySchedule: options.webhookRetrySchedule ?? DEFAULT_RETRY_SCHEDULE_MS,
      timeoutMs: options.webhookTimeoutMs ?? 5_000,
      hold: options.holdWebhooks ?? false,
      historyLimit: options.webhookHistoryLimit,
    })
    this.events = new EventBus(this.store, this.clock, this.webhooks, this.apiVersion)
    this.expansions = new ExpansionRegistry()
    this.idempotency = new IdempotencyStore(this.clock)
    this.faults = new FaultInjector()
    this.router = new Router()
    this.pages = new PageRouter()
    this.settings = {
      billing: { ...DEFAULT_SETTINGS.billing, ...options.settings?.billing },
    }

    const services: SandboxServices = {
      store: this.store,
      clock: this.clock,
      events: this.events,
      webhooks: this.webhooks,
      expansions: this.expansions,
      apiVersion: this.apiVersion,
      settings: this.settings,
      publicUrl: () => this.url,
    }
    const context: ResourceContext = {
      ...services,
      route: (definition) => this.router.add(defineRoute(definition, this.expansions)),
      expandable: (type, field, expander) => this.expansions.register(type, field, expander),
      references: (type, fields, { target = true } = {}) => {
        for (const [field, collection] of Object.entries(fields)) {
          this.expansions.register(type, field, {
            kind: 'reference',
            target: target ? collection : undefined,
            resolve: (id) => this.store.find(collection, id),
          })
        }
      },
      page: (definition) => this.pages.add(definition),
      sim: (definition) => {
        if (!definition.path.startsWith('/_sim/'))
          throw new Error(`Sim routes must start with /_sim/: ${definition.path}`)
        this.#simRoutes.push(definition)
      },
    }
    this.context = context
    for (const resource of options.resources ?? defaultResources) resource.register(context)

    this.#server = new ApiServer({
      router: this.router,
      pages: this.pages,
      idempotency: this.idempotency,
      faults: this.faults,
      apiVersion: this.apiVersion,
      apiKeys: options.apiKeys,
      sim: createSimHandler(this, () => this.#simRoutes),
      hangMs: options.hangMs ?? 60_000,
      authorizeAccount: (account, apiKey) => {
        if (!this.store.get('account', account)) throw accountAccessDenied(apiKey, account)
      },
    })

    // Stripe keeps events for 30 days; so does the sandbox (bounded memory in long runs).
    let lastPurge = 0
    this.clock.onAdvance((now) => {
      if (now - lastPurge < 3600) return
      lastPurge = now
      const cutoff = now - EVENT_RETENTION_SECONDS
      for (const record of this.store.records('event')) {
        if (record.value.created < cutoff) this.store.purge('event', record.id)
      }
    })

    if (options.dataFile) {
      this.#persistence = new Persistence(
        options.dataFile,
        () => this.#snapshot(),
        options.persistDebounceMs ?? 50
      )
      const state = this.#persistence.load()
      if (state) {
        this.store.restore(state.store)
        this.idempotency.restore(state.idempotency)
        this.clock.restore(state.clockOffset)
        if (state.settings) Object.assign(this.settings.billing, state.settings.billing)
      }
      const save = () => this.#persistence?.schedule()
      this.store.onChange(save)
      this.idempotency.onChange(save)
      this.clock.onAdvance(save)
    }
  }

  /** Creates a sandbox and starts listening. */
  static async start(options: StripeSandboxOptions = {}): Promise<StripeSandbox> {
    return new StripeSandbox(options).start()
  }

  async start(): Promise<this> {
    if (this.#stopped)
      throw new Error(
        'A stopped StripeSandbox cannot be restarted; create a new one (same dataFile to keep state)'
      )
    if (this.#started) return this
    this.#port = await this.#server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1')
    this.#started = true
    if (this.options.tickMs) {
      // Wall time moves the sandbox clock too: renewals and expiries fall due on their own.
      let ticking = false
      this.#ticker = setInterval(() => {
        if (ticking) return
        ticking = true
        this.clock
          .advance(0)
          .catch((error: unknown) =>
            process.stderr.write(`Stripe sandbox: time-driven work failed: ${String(error)}\n`)
          )
          .finally(() => (ticking = false))
      }, this.options.tickMs)
      this.#ticker.unref()
    }
    return this
  }

  get port(): number {
    return this.#port
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1'
  }

  /** Base URL, e.g. `http://127.0.0.1:12111`. */
  get url(): string {
    return `http://${this.host}:${this.#port}`
  }

  /** Config for `new Stripe(key, sandbox.stripeConfig())`. */
  stripeConfig(extra: Stripe.StripeConfig = {}): Stripe.StripeConfig {
    return { host: this.host, port: this.#port, protocol: 'http', telemetry: false, ...extra }
  }

  /** Stops the server (closing keep-alive connections), webhook timers and pending saves. */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#ticker) clearInterval(this.#ticker)
    this.webhooks.stop()
    if (this.#started) await this.#server.close()
    this.#started = false
    // A final save also catches what changes no store event reports (settings).
    this.#persistence?.schedule()
    await this.#persistence?.flush()
  }

  // ----- clock -----

  /** Sandbox time in unix seconds. */
  now(): number {
    return this.clock.now()
  }

  advanceClock(seconds: number): Promise<number> {
    return this.clock.advance(seconds)
  }

  // ----- webhooks -----

  addWebhookEndpoint(input: NewWebhookEndpoint): AddedWebhookEndpoint {
    const endpoint = createWebhookEndpoint(this.context, input)
    const { secret, ...rest } = endpoint
    return { id: endpoint.id, secret: secret ?? '', endpoint: rest }
  }

  removeWebhookEndpoint(id: string) {
    if (this.store.get('webhook_endpoint', id)) this.store.markDeleted('webhook_endpoint', id)
    this.store.purge('webhook_endpoint_internal', id)
  }

  webhookEndpoints(): Stripe.WebhookEndpoint[] {
    return this.store.list('webhook_endpoint')
  }

  /**
   * Disables (or re-enables) an endpoint, as from the Dashboard: a disabled
   * endpoint gets no new events and Stripe stops retrying its pending deliveries.
   */
  disableWebhookEndpoint(id: string, disabled = true): Stripe.WebhookEndpoint {
    const endpoint = this.store.get('webhook_endpoint', id)
    if (!endpoint) throw new Error(`No such webhook endpoint: '${id}'`)
    const next: Stripe.WebhookEndpoint = { ...endpoint, status: disabled ? 'disabled' : 'enabled' }
    this.store.replace('webhook_endpoint', id, next)
    return next
  }

  enableWebhookEndpoint(id: string): Stripe.WebhookEndpoint {
    return this.disableWebhookEndpoint(id, false)
  }

  /**
   * The next `count` (default 1) matching deliveries are sent `ms` later, plus a
   * random 0..`jitterMs` (seeded) so later events can overtake earlier ones.
   * Held deliveries are not delayed (flush decides when they go). Returns the seed.
   */
  delayWebhooks(options: DelayWebhooksOptions): { seed: number } {
    return this.webhooks.delay(options)
  }

  /** The next `count` (default 1) matching events are delivered twice: same id and bytes, each copy with retries. */
  duplicateNext(options: DuplicateNextOptions = {}) {
    this.webhooks.duplicateNext(options)
  }

  /** Forgets armed delayWebhooks / duplicateNext rules. */
  clearWebhookRules() {
    this.webhooks.clearRules()
  }

  /** Parks new deliveries until flush() / releaseWebhooks(). */
  holdWebhooks(on = true) {
    this.webhooks.hold(on)
  }

  /** Stops holding and sends everything that was held. */
  async releaseWebhooks(order: FlushOrder = 'fifo'): Promise<void> {
    this.webhooks.hold(false)
    await this.webhooks.flush(order)
  }

  /** Sends held deliveries now (one by one, in order); holding stays on. Resolves after each first attempt. */
  flush(order: FlushOrder = 'fifo'): Promise<void> {
    return this.webhooks.flush(order)
  }

  /** Resolves once no delivery is pending or in flight (retries included; held ones excluded). */
  waitForIdle(timeoutMs = 10_000): Promise<void> {
    return this.webhooks.waitForIdle(timeoutMs)
  }

  deliveries(
    filter: { eventId?: string; endpointId?: string; type?: string; state?: DeliveryState } = {}
  ): WebhookDelivery[] {
    return this.webhooks.deliveries(filter)
  }

  #event(eventId: string): Stripe.Event {
    const event = this.store.get('event', eventId)
    if (!event) throw new Error(`No such event: '${eventId}'`)
    return event
  }

  /** Manual resend, as from the Dashboard: one attempt, no retries. Resolves after the attempt. */
  resendEvent(eventId: string, options: RedeliverOptions = {}): Promise<WebhookDelivery[]> {
    return this.webhooks.redeliver(this.#event(eventId), 'resend', options)
  }

  /** Delivers the same event (same id and bytes) again, with retries — Stripe's at-least-once duplicates. */
  duplicateEvent(eventId: string, options: RedeliverOptions = {}): Promise<WebhookDelivery[]> {
    return this.webhooks.redeliver(this.#event(eventId), 'duplicate', options)
  }

  /** Delivers the event signed with a timestamp `ageSeconds` in the past (default 600 s, beyond the SDK's 300 s tolerance). */
  deliverStale(
    eventId: string,
    options: RedeliverOptions & { ageSeconds?: number } = {}
  ): Promise<WebhookDelivery[]> {
    return this.webhooks.redeliver(this.#event(eventId), 'stale', {
      endpointId: options.endpointId,
      staleSeconds: options.ageSeconds ?? 600,
    })
  }

  /** Delivers the event signed with a random secret that is not the endpoint's. */
  deliverWithWrongSecret(
    eventId: string,
    options: RedeliverOptions = {}
  ): Promise<WebhookDelivery[]> {
    return this.webhooks.redeliver(this.#event(eventId), 'wrong_secret', options)
  }

  // ----- faults -----

  /** The next `count` matching API calls fail (see FaultOptions). */
  failNext(options: FaultOptions = {}) {
    this.faults.failNext(options)
  }

  /**
   * Until `clearFaults()`, each matching API call fails with probability `rate`
   * (seeded PRNG: same seed + same calls = same failures). Returns the rule with its seed.
   */
  failRate(options: RateFaultOptions): RateFaultRule {
    return this.faults.failRate(options)
  }

  /** The next `count` matching API calls are held for `ms` before executing (idempotency keys stay in flight). */
  delayNext(options: { ms: number; count?: number; path?: RegExp | string; method?: string }) {
    this.faults.delayNext(options)
  }

  clearFaults() {
    this.faults.clear()
  }

  // ----- inspection -----

  /**
   * Shape check of every stored object and event payload against Stripe's
   * fixtures and the SDK's types (same as `GET /_sim/fidelity`); `problems` is
   * empty when everything matches.
   */
  fidelityReport(): ShapeReport {
    return explainStore(this)
  }

  /** Stored events, newest first, optionally of one type. */
  eventLog(type?: string): Stripe.Event[] {
    const events = this.store.list('event')
    return type ? events.filter((event) => event.type === type) : events
  }

  /** Forgets every object, event, delivery, idempotency key and fault. */
  reset() {
    this.webhooks.clear()
    this.store.clear()
    this.idempotency.clear()
    this.faults.clear()
  }

  /** Writes the data file now (no-op without one). */
  async save(): Promise<void> {
    this.#persistence?.schedule()
    await this.#persistence?.flush()
  }

  #snapshot(): PersistedState {
    return {
      version: 1,
      savedAt: new Date().toISOString(),
      clockOffset: this.clock.offsetSeconds,
      store: this.store.snapshot(),
      idempotency: this.idempotency.snapshot(),
      settings: structuredClone(this.settings),
    }
  }
}
