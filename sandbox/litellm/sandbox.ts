/**
 * LiteLLMSandbox: a local stand-in for the LiteLLM proxy's spend-log API
 * (`GET /spend/logs/v2`, imitating v1.100.x) over seeded, lazily generated rows
 * plus rows tests add (late, duplicated, cache hits, loaded from a file), with
 * faults, a `generic_api` callback sender and `/_sim` controls. See README.md.
 */
import { readFileSync } from 'node:fs'
import { SandboxClock } from './clock.js'
import { type CallbackReport, type SendCallbacksOptions, sendCallbacks } from './callbacks.js'
import { FaultInjector, type FaultOptions, type RateFaultOptions } from './faults.js'
import { type GeneratorOptions, RowGenerator } from './generator.js'
import { QueryEngine, formatLiteLLMDate, parseLiteLLMDate } from './query.js'
import { hashKey, normaliseRow, type RowInput, type SpendRow, toMs } from './rows.js'
import { LiteLLMServer, type KeyOwner } from './server.js'
import { createSimHandler } from './sim.js'
import { ExtraRows } from './store.js'

export const DEFAULT_MASTER_KEY = 'sk-litellm-master'
/** The LiteLLM release whose `/spend/logs/v2` behaviour is imitated. */
export const IMITATED_VERSION = '1.100.x'

export interface LiteLLMSandboxOptions extends GeneratorOptions {
  /** Port (0, the default, picks a free one). */
  port?: number
  host?: string
  /** The proxy master key (default `sk-litellm-master`). */
  masterKey?: string
  /** More keys with admin rights. */
  adminKeys?: string[]
  /** Virtual keys of internal users (key → user id): their queries only see that user's rows. */
  userKeys?: Record<string, string>
  /** `page_size` maximum: 1000 (default, after PR #33994) or 100 (older builds). */
  pageSizeMax?: number
  /** `total` stops here (default 10,000). */
  countCap?: number
  /** Send `total_is_capped` (default true; false imitates builds before v1.93.0). */
  totalIsCapped?: boolean
  /** `request_id` also matches `metadata.litellm_call_id` (default true, PR #39068). */
  matchCallId?: boolean
  /** Ties in the sort order: `shuffle` (default; new order per request) or `stable`. */
  tieOrder?: 'shuffle' | 'stable'
  /**
   * ms after a request's endTime before its row is visible (LiteLLM's batch writer,
   * default 0). Applies to generated rows and to added rows given no delay of their own.
   */
  writeDelayMs?: number
  /** JSON array or NDJSON file of v2 rows loaded at start. */
  rowsFile?: string
  /** How long a `timeout` fault keeps the connection open (default 60 s). */
  hangMs?: number
}

export interface AddOptions {
  /** Visible this many ms after now (default: the row's endTime + writeDelayMs). */
  delayMs?: number
  /** Visible at this epoch ms. */
  visibleAt?: number
}

export interface AddResult {
  inserted: SpendRow[]
  /** request_ids already stored: LiteLLM's insert skips them silently (first write wins). */
  skipped: string[]
}

export interface LateRowInput extends RowInput {
  /** startTime = now − ageMs (default 10 minutes) unless startTime is given. */
  ageMs?: number
}

/** Which rows to push through the callback: explicit rows, or a startTime window (inclusive). */
export type CallbackSelection =
  SpendRow[] | { since: number | string | Date; until: number | string | Date; limit?: number }

export class LiteLLMSandbox {
  readonly options: LiteLLMSandboxOptions
  readonly clock = new SandboxClock()
  readonly generator: RowGenerator
  readonly extras = new ExtraRows()
  readonly faults = new FaultInjector()
  readonly engine: QueryEngine
  readonly masterKey: string
  readonly #server: LiteLLMServer
  #port = 0
  #started = false
  #stopped = false

  constructor(options: LiteLLMSandboxOptions = {}) {
    this.options = options
    this.masterKey = options.masterKey ?? DEFAULT_MASTER_KEY
    this.generator = new RowGenerator({ ...options, masterKeyHash: hashKey(this.masterKey) })
    this.engine = new QueryEngine(this.generator, this.extras, {
      countCap: options.countCap ?? 10_000,
      writeDelayMs: options.writeDelayMs ?? 0,
      matchCallId: options.matchCallId ?? true,
      tieOrder: options.tieOrder ?? 'shuffle',
      seed: this.generator.settings.seed,
    })
    const admins = new Set([this.masterKey, ...(options.adminKeys ?? [])])
    const users = new Map(Object.entries(options.userKeys ?? {}))
    this.#server = new LiteLLMServer({
      engine: this.engine,
      faults: this.faults,
      sim: createSimHandler(this),
      now: () => this.now(),
      authenticate: (key): KeyOwner | null => {
        if (admins.has(key)) return { role: 'admin' }
        const userId = users.get(key)
        return userId === undefined ? null : { role: 'internal_user', userId }
      },
      pageSizeMax: options.pageSizeMax ?? 1000,
      countCap: options.countCap ?? 10_000,
      totalIsCapped: options.totalIsCapped ?? true,
      hangMs: options.hangMs ?? 60_000,
    })
    if (options.rowsFile) this.loadFile(options.rowsFile)
  }

  /** Creates a sandbox and starts listening. */
  static async start(options: LiteLLMSandboxOptions = {}): Promise<LiteLLMSandbox> {
    return new LiteLLMSandbox(options).start()
  }

  async start(): Promise<this> {
    if (this.#stopped)
      throw new Error('A stopped LiteLLMSandbox cannot be restarted; create a new one')
    if (this.#started) return this
    this.#port = await this.#server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1')
    this.#started = true
    return this
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#started) await this.#server.close()
    this.#started = false
  }

  get port(): number {
    return this.#port
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1'
  }

  /** Base URL, e.g. `http://127.0.0.1:4000` (the proxy's `LITELLM_BASE_URL`). */
  get url(): string {
    return `http://${this.host}:${this.#port}`
  }

  /** `/spend/logs/v2` calls answered or failed so far. */
  get requestCount(): number {
    return this.#server.requests
  }

  // ----- clock -----

  /** Sandbox time, epoch ms. */
  now(): number {
    return this.clock.now()
  }

  /** Moves sandbox time forward (rows waiting for their write delay become visible). */
  advanceClock(ms: number): number {
    return this.clock.advance(ms)
  }

  // ----- rows -----

  #exists(requestId: string): boolean {
    return this.extras.has(requestId) || this.generator.indexOfRequestId(requestId) >= 0
  }

  #visibleAt(row: SpendRow, options: AddOptions): number {
    if (options.visibleAt !== undefined) return options.visibleAt
    if (options.delayMs !== undefined) return this.now() + options.delayMs
    return row.endTime + (this.options.writeDelayMs ?? 0)
  }

  /**
   * Inserts rows as LiteLLM's writer does: a request_id already stored is skipped
   * without an error (first write wins). Missing fields get the column defaults.
   */
  addRows(rows: RowInput[], options: AddOptions = {}): AddResult {
    const now = this.now()
    const inserted: SpendRow[] = []
    const skipped: string[] = []
    const seen = new Set<string>()
    for (const input of rows) {
      const row = normaliseRow(input, now)
      if (seen.has(row.request_id) || this.#exists(row.request_id)) {
        skipped.push(row.request_id)
        continue
      }
      seen.add(row.request_id)
      inserted.push(row)
    }
    this.extras.add(
      inserted.map((row) => ({ row, visibleAt: this.#visibleAt(row, options) })),
      now
    )
    return { inserted, skipped }
  }

  /**
   * A late row: a request that started `ageMs` ago (inside a window a sync may have
   * finished already) and completed now, so its row appears only now.
   */
  addLateRow(input: LateRowInput = {}, options: AddOptions = {}): SpendRow {
    const now = this.now()
    const { ageMs = 10 * 60_000, ...fields } = input
    const startTime = fields.startTime === undefined ? now - ageMs : toMs(fields.startTime)
    const template = this.#template()
    const result = this.addRows(
      [
        {
          ...template,
          ...fields,
          startTime,
          endTime: fields.endTime ?? now,
          completionStartTime: fields.completionStartTime ?? now,
          request_duration_ms: fields.request_duration_ms ?? now - startTime,
        },
      ],
      { delayMs: 0, ...options }
    )
    if (result.inserted.length === 0)
      throw new Error(`request_id ${result.skipped[0]} already exists`)
    return result.inserted[0]
  }

  /**
   * A second row with the same request_id (the partitioned-install case, PK
   * `(request_id, startTime)`, or a double-logging bug): both are served.
   */
  duplicate(requestId: string, overrides: RowInput = {}, options: AddOptions = {}): SpendRow {
    const original = this.findRows(requestId)[0]
    if (!original) throw new Error(`No row with request_id ${requestId}`)
    const row = normaliseRow(
      { ...structuredClone(original), ...overrides, request_id: requestId },
      this.now()
    )
    this.extras.add(
      [{ row, visibleAt: this.#visibleAt(row, { delayMs: 0, ...options }) }],
      this.now()
    )
    return row
  }

  /**
   * A LiteLLM cache hit replaying `ofRequestId` (default: a new request): spend 0,
   * the same tokens, `cache_hit: "True"`, id `<id>_cache_hit<epoch>`, started now.
   */
  addCacheHit(ofRequestId?: string, overrides: RowInput = {}, options: AddOptions = {}): SpendRow {
    const now = this.now()
    const source = ofRequestId ? this.findRows(ofRequestId)[0] : normaliseRow(this.#template(), now)
    if (!source) throw new Error(`No row with request_id ${ofRequestId}`)
    const baseId = source.request_id.split('_cache_hit')[0]
    const startTime = overrides.startTime === undefined ? now : toMs(overrides.startTime)
    const epoch = (startTime + 3) / 1000
    const metadata = structuredClone(source.metadata)
    if (metadata.cost_breakdown)
      metadata.cost_breakdown = { input_cost: 0, output_cost: 0, tool_usage_cost: 0, total_cost: 0 }
    const result = this.addRows(
      [
        {
          ...structuredClone(source),
          metadata,
          request_id: `${baseId}_cache_hit${epoch}`,
          spend: 0,
          cache_hit: 'True',
          cache_key: hashKey(`cache:${baseId}`),
          status: 'success',
          startTime,
          endTime: startTime + 12,
          completionStartTime: startTime + 12,
          request_duration_ms: 12,
          ...overrides,
        },
      ],
      { delayMs: 0, ...options }
    )
    if (result.inserted.length === 0)
      throw new Error(`request_id ${result.skipped[0]} already exists`)
    return result.inserted[0]
  }

  /** A plausible new request (a known user, the first model), for late rows and cache hits. */
  #template(): RowInput {
    const { users, models } = this.generator.settings
    const spec = models[0]
    const user = users[0]
    const prompt = 1000
    const completion = 200
    const input = prompt * (spec.inputCostPerToken ?? 0)
    const output = completion * (spec.outputCostPerToken ?? 0)
    return {
      call_type: 'acompletion',
      api_key: hashKey(`sk-litellm-${user}`),
      spend: input + output,
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      model: spec.model,
      model_group: spec.group,
      custom_llm_provider: spec.provider,
      api_base: spec.apiBase,
      user,
      end_user: user,
      metadata: {
        user_api_key: hashKey(`sk-litellm-${user}`),
        user_api_key_alias: `user-${user}`,
        user_api_key_user_id: user,
        spend_logs_metadata: null,
        status: 'success',
        cost_breakdown: {
          input_cost: input,
          output_cost: output,
          tool_usage_cost: 0,
          total_cost: input + output,
        },
        error_information: null,
      },
      cache_hit: 'False',
      request_tags: ['User-Agent: OpenAI/JS 6.9.1'],
    }
  }

  /** Loads rows in v2 wire format (JSON array, `{data: [...]}` or NDJSON); first write wins. */
  loadFile(path: string, options: AddOptions = {}): AddResult {
    const text = readFileSync(path, 'utf8').trim()
    let rows: RowInput[]
    if (text.startsWith('[')) rows = JSON.parse(text) as RowInput[]
    else if (text.startsWith('{') && !text.includes('\n')) {
      const parsed = JSON.parse(text) as { data?: RowInput[] }
      rows = parsed.data ?? [parsed as RowInput]
    } else {
      rows = text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as RowInput)
    }
    return this.addRows(
      rows.map((row) => ({
        ...row,
        metadata: typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata,
        request_tags:
          typeof row.request_tags === 'string' ? JSON.parse(row.request_tags) : row.request_tags,
      })),
      options
    )
  }

  /** Every stored row with this request_id (generated or added; visible or not). */
  findRows(requestId: string): SpendRow[] {
    const rows: SpendRow[] = []
    const index = this.generator.indexOfRequestId(requestId)
    if (index >= 0) rows.push(this.generator.row(index))
    for (const extra of this.extras.byRequestId(requestId)) rows.push(extra.row)
    return rows
  }

  /** The generated row i (for tests and tools). */
  generatedRow(index: number): SpendRow {
    return this.generator.row(index)
  }

  /** Every row visible now with since <= startTime <= until, by startTime (no cap, no paging). */
  rowsBetween(since: number | string | Date, until: number | string | Date): SpendRow[] {
    const fromMs = toMs(since)
    const toMsValue = toMs(until)
    const result = this.engine.run(
      {
        fromMs,
        toMs: toMsValue,
        page: 1,
        pageSize: Number.MAX_SAFE_INTEGER,
        sortBy: 'startTime',
        sortOrder: 'asc',
        filters: {},
      },
      this.now()
    )
    return result.rows
  }

  // ----- faults -----

  /** The next `count` spend-log calls fail (500 by default; see FaultOptions). */
  failNext(options: FaultOptions = {}) {
    this.faults.failNext(options)
  }

  /** Until clearFaults(), each call fails with probability `rate` (seeded). */
  failRate(options: RateFaultOptions) {
    return this.faults.failRate(options)
  }

  /** The next `count` calls are answered `ms` late. */
  delayNext(options: { ms: number; count?: number }) {
    this.faults.delayNext(options)
  }

  clearFaults() {
    this.faults.clear()
  }

  // ----- push -----

  /**
   * POSTs the rows as `generic_api` batches (StandardLoggingPayload) to `url`,
   * batch after batch, never retrying; a failed batch is dropped and reported.
   */
  sendCallbacks(
    url: string,
    selection: CallbackSelection,
    options: SendCallbacksOptions = {}
  ): Promise<CallbackReport> {
    let rows: SpendRow[]
    if (Array.isArray(selection)) rows = selection
    else {
      rows = this.rowsBetween(selection.since, selection.until)
      if (selection.limit !== undefined) rows = rows.slice(0, selection.limit)
    }
    const prices = new Map<string, { input: number; output: number }>()
    for (const spec of this.generator.settings.models) {
      if (spec.inputCostPerToken !== null && spec.outputCostPerToken !== null)
        prices.set(spec.group, { input: spec.inputCostPerToken, output: spec.outputCostPerToken })
    }
    return sendCallbacks(url, rows, { prices, ...options })
  }

  // ----- state -----

  /** Forgets added rows, faults and cached query results (generated rows stay). */
  reset() {
    this.extras.clear()
    this.faults.clear()
    this.engine.clearCache()
  }

  describe() {
    const settings = this.generator.settings
    return {
      imitates: `LiteLLM ${IMITATED_VERSION}`,
      url: this.url,
      now: this.now(),
      generated: {
        seed: settings.seed,
        rows: settings.rows,
        since: formatLiteLLMDate(settings.since),
        until: formatLiteLLMDate(settings.until),
        users: settings.users,
        agents: settings.agents,
        models: settings.models.map((spec) => spec.group),
        cache_hit_rate: settings.cacheHitRate,
        failure_rate: settings.failureRate,
        tie_rate: settings.tieRate,
      },
      extras: { visible: this.extras.visible.length, pending: this.extras.pendingCount },
      page_size_max: this.options.pageSizeMax ?? 1000,
      count_cap: this.options.countCap ?? 10_000,
      write_delay_ms: this.options.writeDelayMs ?? 0,
      tie_order: this.options.tieOrder ?? 'shuffle',
      requests: this.requestCount,
    }
  }
}

export { parseLiteLLMDate, formatLiteLLMDate }
