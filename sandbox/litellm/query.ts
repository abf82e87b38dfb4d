/**
 * `GET /spend/logs/v2`: parameter validation in LiteLLM's order (FastAPI's 422
 * first, then the handler's 400s), and the query itself over generated and extra
 * rows: inclusive startTime window, filters, ORDER BY <sort_by> <sort_order> with no
 * tie-breaker (rows sharing a sort value come back in a per-request order), offset
 * paging, and the bounded count (`total` stops at the cap).
 */
import { ProxyError, type FastApiIssue } from './errors.js'
import { MAX_DURATION_MS, type RowGenerator } from './generator.js'
import type { ExtraRows } from './store.js'
import type { SpendRow } from './rows.js'
import { seededRandom } from './faults.js'

export const SORT_FIELDS = [
  'startTime',
  'endTime',
  'spend',
  'total_tokens',
  'request_duration_ms',
] as const
export type SortField = (typeof SORT_FIELDS)[number]

export interface Filters {
  api_key?: string
  user_id?: string
  end_user?: string
  team_id?: string
  request_id?: string
  model?: string
  model_id?: string
  model_group?: string
  key_alias?: string
  status_filter?: string
  min_spend?: number
  max_spend?: number
  error_code?: string
  error_message?: string
}

export interface SpendQuery {
  fromMs: number
  toMs: number
  page: number
  pageSize: number
  sortBy: SortField
  sortOrder: 'asc' | 'desc'
  filters: Filters
}

const STRING_FILTERS = [
  'api_key',
  'user_id',
  'end_user',
  'team_id',
  'request_id',
  'model',
  'model_id',
  'model_group',
  'key_alias',
  'status_filter',
  'error_code',
  'error_message',
] as const

const DATE_PATTERN = /^(\d{4})-(\d{1,2})-(\d{1,2})(?: (\d{1,2}):(\d{1,2}):(\d{1,2}))?$/

/**
 * `YYYY-MM-DD HH:MM:SS` (or, when allowed, `YYYY-MM-DD` = midnight), naive, read as
 * UTC. Like Python's strptime, one-digit fields pass; anything else (a `T`, a zone,
 * fractions, an impossible date) is null.
 */
export function parseLiteLLMDate(text: string, allowDateOnly = true): number | null {
  const match = DATE_PATTERN.exec(text)
  if (!match) return null
  if (match[4] === undefined && !allowDateOnly) return null
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
  const [hour, minute, second] = [
    Number(match[4] ?? 0),
    Number(match[5] ?? 0),
    Number(match[6] ?? 0),
  ]
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null
  const ms = Date.UTC(year, month - 1, day, hour, minute, second)
  if (new Date(ms).getUTCDate() !== day) return null
  return ms
}

/** Formats epoch ms as LiteLLM's `YYYY-MM-DD HH:MM:SS` (UTC). */
export function formatLiteLLMDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ')
}

function intIssue(name: string, raw: string): FastApiIssue {
  return {
    type: 'int_parsing',
    loc: ['query', name],
    msg: 'Input should be a valid integer, unable to parse string as an integer',
    input: raw,
  }
}

/** Validates the query string like LiteLLM v1.100 does; throws ProxyError (422 or 400). */
export function parseSpendQuery(params: URLSearchParams, pageSizeMax: number): SpendQuery {
  const issues: FastApiIssue[] = []
  const integer = (name: string, fallback: number, le?: number): number => {
    const raw = params.get(name)
    if (raw === null) return fallback
    if (!/^\s*[+-]?\d+\s*$/.test(raw)) {
      issues.push(intIssue(name, raw))
      return fallback
    }
    const value = Number(raw)
    if (value < 1) {
      issues.push({
        type: 'greater_than_equal',
        loc: ['query', name],
        msg: 'Input should be greater than or equal to 1',
        input: raw,
        ctx: { ge: 1 },
      })
    } else if (le !== undefined && value > le) {
      issues.push({
        type: 'less_than_equal',
        loc: ['query', name],
        msg: `Input should be less than or equal to ${le}`,
        input: raw,
        ctx: { le },
      })
    }
    return value
  }
  const float = (name: string): number | undefined => {
    const raw = params.get(name)
    if (raw === null) return undefined
    const value = Number(raw)
    if (raw.trim() === '' || !Number.isFinite(value)) {
      issues.push({
        type: 'float_parsing',
        loc: ['query', name],
        msg: 'Input should be a valid number, unable to parse string as a number',
        input: raw,
      })
      return undefined
    }
    return value
  }
  const page = integer('page', 1)
  const pageSize = integer('page_size', 50, pageSizeMax)
  const minSpend = float('min_spend')
  const maxSpend = float('max_spend')
  if (issues.length > 0) throw ProxyError.validation(issues)

  const start = params.get('start_date')
  const end = params.get('end_date')
  if (!start || !end) throw ProxyError.badRequest('Start date and end date are required')
  const fromMs = parseLiteLLMDate(start)
  const toMs = parseLiteLLMDate(end)
  for (const [raw, parsed] of [
    [start, fromMs],
    [end, toMs],
  ] as const) {
    if (parsed === null) {
      throw ProxyError.badRequest(
        `Invalid date format: ${raw}. Expected: 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'`
      )
    }
  }
  const sortBy = params.get('sort_by') ?? 'startTime'
  if (!(SORT_FIELDS as readonly string[]).includes(sortBy)) {
    throw ProxyError.badRequest(
      `Invalid sort_by: ${sortBy}. Must be one of: ${SORT_FIELDS.join(', ')}`,
      'sort_by'
    )
  }
  const sortOrder = (params.get('sort_order') ?? 'desc').toLowerCase()
  if (sortOrder !== 'asc' && sortOrder !== 'desc') {
    throw ProxyError.badRequest(
      `Invalid sort_order: ${params.get('sort_order')}. Must be 'asc' or 'desc'`,
      'sort_order'
    )
  }
  const filters: Filters = {}
  for (const name of STRING_FILTERS) {
    const value = params.get(name)
    if (value !== null && value !== '') filters[name] = value
  }
  if (minSpend !== undefined) filters.min_spend = minSpend
  if (maxSpend !== undefined) filters.max_spend = maxSpend
  return {
    fromMs: fromMs as number,
    toMs: toMs as number,
    page,
    pageSize,
    sortBy: sortBy as SortField,
    sortOrder,
    filters,
  }
}

function hasFilters(filters: Filters): boolean {
  return Object.keys(filters).length > 0
}

function metadataOf(row: SpendRow): Record<string, unknown> {
  return row.metadata && typeof row.metadata === 'object' ? row.metadata : {}
}

/** The WHERE clause (besides the startTime window) applied to one row. */
export function matchesFilters(row: SpendRow, filters: Filters, matchCallId: boolean): boolean {
  if (filters.api_key !== undefined && row.api_key !== filters.api_key) return false
  if (filters.user_id !== undefined && row.user !== filters.user_id) return false
  if (filters.end_user !== undefined && row.end_user !== filters.end_user) return false
  if (filters.team_id !== undefined && row.team_id !== filters.team_id) return false
  if (filters.request_id !== undefined && row.request_id !== filters.request_id) {
    if (!matchCallId || metadataOf(row).litellm_call_id !== filters.request_id) return false
  }
  if (filters.model !== undefined && row.model !== filters.model) return false
  if (filters.model_id !== undefined && row.model_id !== filters.model_id) return false
  if (filters.model_group !== undefined && row.model_group !== filters.model_group) return false
  if (filters.key_alias !== undefined) {
    const alias = metadataOf(row).user_api_key_alias
    if (typeof alias !== 'string' || !alias.includes(filters.key_alias)) return false
  }
  if (filters.status_filter === 'success' && row.status !== 'success' && row.status !== null)
    return false
  if (filters.status_filter === 'failure' && row.status !== 'failure') return false
  if (filters.min_spend !== undefined && !(row.spend >= filters.min_spend)) return false
  if (filters.max_spend !== undefined && !(row.spend <= filters.max_spend)) return false
  if (filters.error_code !== undefined || filters.error_message !== undefined) {
    const info = metadataOf(row).error_information as Record<string, unknown> | null | undefined
    if (!info || typeof info !== 'object') return false
    if (filters.error_code !== undefined && String(info.error_code) !== filters.error_code)
      return false
    if (
      filters.error_message !== undefined &&
      !(
        typeof info.error_message === 'string' && info.error_message.includes(filters.error_message)
      )
    )
      return false
  }
  return true
}

function sortKey(row: SpendRow, field: SortField): number {
  if (field === 'request_duration_ms') return row.request_duration_ms ?? row.endTime - row.startTime
  return row[field]
}

// ----- views: the ordered result of one query, addressed by position -----

/** Ref >= 0: generated row index; ref < 0: extras.visible[-1 - ref]. */
type Ref = number

interface View {
  readonly length: number
  key(position: number): number
  /** Refs and keys of positions [a, b). */
  slice(a: number, b: number): { refs: Ref[]; keys: number[] }
  /** Positions holding exactly `key`: [groupStart, groupEnd). */
  groupStart(key: number): number
  groupEnd(key: number): number
}

/** Generated range [lo, hi) merged with visible extras [elo, ehi), by startTime (extras first on ties). */
class MergedView implements View {
  readonly length: number
  readonly #g: number
  readonly #e: number

  constructor(
    private readonly gen: RowGenerator,
    private readonly lo: number,
    hi: number,
    private readonly extras: ExtraRows,
    private readonly elo: number,
    ehi: number
  ) {
    this.#g = hi - lo
    this.#e = ehi - elo
    this.length = this.#g + this.#e
  }

  #genKey(g: number) {
    return this.gen.startTime(this.lo + g)
  }

  #extKey(e: number) {
    return this.extras.visible[this.elo + e].row.startTime
  }

  /** How many generated rows are among the first `a` positions. */
  #split(a: number): number {
    let lo = Math.max(0, a - this.#e)
    let hi = Math.min(a, this.#g)
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      // Taking `mid` generated rows is valid when the last of them precedes extras[a - mid].
      if (a - mid >= this.#e || this.#genKey(mid - 1) < this.#extKey(a - mid)) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  key(position: number): number {
    return this.slice(position, position + 1).keys[0]
  }

  slice(a: number, b: number) {
    const refs: Ref[] = []
    const keys: number[] = []
    let g = this.#split(a)
    let e = a - g
    for (let p = a; p < b; p++) {
      const genKey = g < this.#g ? this.#genKey(g) : Number.POSITIVE_INFINITY
      if (e < this.#e && this.#extKey(e) <= genKey) {
        refs.push(-1 - (this.elo + e))
        keys.push(this.#extKey(e))
        e += 1
      } else {
        refs.push(this.lo + g)
        keys.push(genKey)
        g += 1
      }
    }
    return { refs, keys }
  }

  #count(key: number, strict: boolean): number {
    const genBound = strict ? this.gen.upperBound(key) : this.gen.lowerBound(key)
    const g = Math.min(Math.max(genBound, this.lo), this.lo + this.#g) - this.lo
    const e =
      Math.min(Math.max(this.extras.bound(key, strict), this.elo), this.elo + this.#e) - this.elo
    return g + e
  }

  groupStart(key: number) {
    return this.#count(key, false)
  }

  groupEnd(key: number) {
    return this.#count(key, true)
  }
}

/** A materialised result: refs sorted by key. */
class ArrayView implements View {
  readonly length: number

  constructor(
    private readonly refs: Ref[],
    private readonly keys: number[]
  ) {
    this.length = refs.length
  }

  key(position: number) {
    return this.keys[position]
  }

  slice(a: number, b: number) {
    return { refs: this.refs.slice(a, b), keys: this.keys.slice(a, b) }
  }

  #bound(key: number, strict: boolean) {
    let lo = 0
    let hi = this.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.keys[mid] < key || (strict && this.keys[mid] === key)) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  groupStart(key: number) {
    return this.#bound(key, false)
  }

  groupEnd(key: number) {
    return this.#bound(key, true)
  }
}

class ReversedView implements View {
  readonly length: number

  constructor(private readonly base: View) {
    this.length = base.length
  }

  key(position: number) {
    return this.base.key(this.length - 1 - position)
  }

  slice(a: number, b: number) {
    const { refs, keys } = this.base.slice(this.length - b, this.length - a)
    return { refs: refs.reverse(), keys: keys.reverse() }
  }

  groupStart(key: number) {
    return this.length - this.base.groupEnd(key)
  }

  groupEnd(key: number) {
    return this.length - this.base.groupStart(key)
  }
}

/**
 * Positions [offset, offset + size) of the view. With `random`, every run of equal
 * keys touching the page is shuffled first (the whole run, also the part outside
 * the page): a database without a tie-breaker may return ties in any order per query.
 */
function pageOf(view: View, offset: number, size: number, random: (() => number) | null): Ref[] {
  if (offset >= view.length) return []
  const end = Math.min(view.length, offset + size)
  if (!random) return view.slice(offset, end).refs
  const from = view.groupStart(view.key(offset))
  const to = view.groupEnd(view.key(end - 1))
  const { refs, keys } = view.slice(from, to)
  let run = 0
  for (let p = 1; p <= refs.length; p++) {
    if (p < refs.length && keys[p] === keys[run]) continue
    for (let i = p - 1; i > run; i--) {
      const j = run + Math.floor(random() * (i - run + 1))
      ;[refs[i], refs[j]] = [refs[j], refs[i]]
    }
    run = p
  }
  return refs.slice(offset - from, end - from)
}

export interface EngineSettings {
  /** `total` stops here (LiteLLM's bounded COUNT, 10,000). */
  countCap: number
  /** Write delay added to a generated row's endTime before it is visible. */
  writeDelayMs: number
  /** `request_id` also matches `metadata.litellm_call_id` (PR #39068). */
  matchCallId: boolean
  /** 'shuffle': ties come back in a per-request order; 'stable': always the same. */
  tieOrder: 'shuffle' | 'stable'
  seed: number
}

export interface QueryResult {
  rows: SpendRow[]
  /** Matching rows before the cap. */
  matched: number
}

interface CacheEntry {
  view: ArrayView
  extrasVersion: number
  validUntil: number
}

/** Runs v2 queries over a generator and the extra rows. */
export class QueryEngine {
  #cache = new Map<string, CacheEntry>()
  #requests = 0

  constructor(
    private readonly gen: RowGenerator,
    private readonly extras: ExtraRows,
    readonly settings: EngineSettings
  ) {}

  #row(ref: Ref): SpendRow {
    return ref >= 0 ? this.gen.row(ref) : this.extras.visible[-1 - ref].row
  }

  /** Generated rows at or after this index may not be visible yet at `now`. */
  #visibleGenLimit(now: number): number {
    return this.gen.lowerBound(now - this.settings.writeDelayMs - MAX_DURATION_MS + 1)
  }

  run(query: SpendQuery, now: number): QueryResult {
    this.extras.promote(now)
    this.#requests += 1
    const random =
      this.settings.tieOrder === 'shuffle'
        ? seededRandom((this.settings.seed ^ Math.imul(this.#requests, 0x9e3779b1)) >>> 0)
        : null
    const genLo = this.gen.lowerBound(query.fromMs)
    const genHi = this.gen.upperBound(query.toMs)
    let view: View
    if (
      query.sortBy === 'startTime' &&
      !hasFilters(query.filters) &&
      genHi <= this.#visibleGenLimit(now)
    ) {
      view = new MergedView(
        this.gen,
        genLo,
        genHi,
        this.extras,
        this.extras.bound(query.fromMs, false),
        this.extras.bound(query.toMs, true)
      )
    } else {
      view = this.#materialise(query, genLo, genHi, now)
    }
    if (query.sortOrder === 'desc') view = new ReversedView(view)
    const offset = (query.page - 1) * query.pageSize
    const refs = pageOf(view, offset, query.pageSize, random)
    return { rows: refs.map((ref) => this.#row(ref)), matched: view.length }
  }

  #materialise(query: SpendQuery, genLo: number, genHi: number, now: number): ArrayView {
    const cacheKey = JSON.stringify([query.fromMs, query.toMs, query.sortBy, query.filters])
    const cached = this.#cache.get(cacheKey)
    if (cached && cached.extrasVersion === this.extras.version && now < cached.validUntil) {
      return cached.view
    }
    const { filters } = query
    const needRow =
      hasFilters(filters) || (query.sortBy !== 'startTime' && query.sortBy !== 'endTime')
    const delay = this.settings.writeDelayMs
    let validUntil = Number.POSITIVE_INFINITY
    const refs: Ref[] = []
    const keys: number[] = []
    const consider = (ref: Ref) => {
      if (ref >= 0) {
        const visibleAt = this.gen.endTime(ref) + delay
        if (visibleAt > now) {
          validUntil = Math.min(validUntil, visibleAt)
          return
        }
      }
      const row = needRow ? this.#row(ref) : null
      if (row && !matchesFilters(row, filters, this.settings.matchCallId)) return
      refs.push(ref)
      if (query.sortBy === 'startTime')
        keys.push(ref >= 0 ? this.gen.startTime(ref) : this.#row(ref).startTime)
      else if (query.sortBy === 'endTime')
        keys.push(ref >= 0 ? this.gen.endTime(ref) : this.#row(ref).endTime)
      else keys.push(sortKey(row as SpendRow, query.sortBy))
    }
    const elo = this.extras.bound(query.fromMs, false)
    const ehi = this.extras.bound(query.toMs, true)
    if (filters.request_id !== undefined) {
      // Straight to the candidates: ids decode to their generated row.
      const candidates = new Set<Ref>()
      const byId = this.gen.indexOfRequestId(filters.request_id)
      if (byId >= 0) candidates.add(byId)
      if (this.settings.matchCallId) {
        const byCall = this.gen.indexOfCallId(filters.request_id)
        if (byCall >= 0) candidates.add(byCall)
      }
      for (let p = elo; p < ehi; p++) {
        const { row } = this.extras.visible[p]
        if (
          row.request_id === filters.request_id ||
          row.metadata?.litellm_call_id === filters.request_id
        )
          candidates.add(-1 - p)
      }
      const ordered = [...candidates].filter((ref) => ref < 0 || (ref >= genLo && ref < genHi))
      ordered.sort((a, b) => this.#row(a).startTime - this.#row(b).startTime)
      for (const ref of ordered) consider(ref)
    } else {
      const merged = new MergedView(this.gen, genLo, genHi, this.extras, elo, ehi)
      const chunk = 4096
      for (let a = 0; a < merged.length; a += chunk) {
        for (const ref of merged.slice(a, Math.min(merged.length, a + chunk)).refs) consider(ref)
      }
    }
    let view: ArrayView
    if (query.sortBy === 'startTime') {
      view = new ArrayView(refs, keys)
    } else {
      const order = refs.map((_, index) => index)
      order.sort((a, b) => keys[a] - keys[b] || a - b)
      view = new ArrayView(
        order.map((index) => refs[index]),
        order.map((index) => keys[index])
      )
    }
    if (this.#cache.size >= 8) this.#cache.delete(this.#cache.keys().next().value as string)
    this.#cache.set(cacheKey, { view, extrasVersion: this.extras.version, validUntil })
    return view
  }

  clearCache() {
    this.#cache.clear()
  }
}
