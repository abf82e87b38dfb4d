/**
 * Spend-log rows: the in-memory shape (times as epoch milliseconds) and the wire
 * shape `GET /spend/logs/v2` answers with (reference/litellm.md §1.2 and §2).
 *
 * The wire text imitates what LiteLLM's Python (FastAPI + json.dumps) writes:
 * floats in Python `repr` spelling (`0.0`, `1.23e-05`) and timestamps from
 * `datetime.isoformat()` (`2026-09-01T10:15:02.123000+00:00`, no fraction when
 * the milliseconds are 0).
 */
import { createHash, randomUUID } from 'node:crypto'

/** One `LiteLLM_SpendLogs` row as the sandbox holds it. */
export interface SpendRow {
  request_id: string
  call_type: string
  api_key: string
  spend: number
  total_tokens: number
  prompt_tokens: number
  completion_tokens: number
  /** Epoch ms (UTC); every date filter applies to this one. */
  startTime: number
  endTime: number
  completionStartTime: number | null
  model: string
  model_id: string
  model_group: string
  custom_llm_provider: string
  api_base: string
  user: string
  metadata: Record<string, unknown>
  cache_hit: string
  cache_key: string
  request_tags: string[]
  team_id: string | null
  organization_id: string | null
  end_user: string | null
  requester_ip_address: string | null
  session_id: string | null
  status: string | null
  mcp_namespaced_tool_name: string | null
  agent_id: string | null
  request_duration_ms: number | null
}

/** What callers may pass to addRows(): any field, times as ISO strings, Dates or epoch ms. */
export type RowInput = Partial<
  Omit<SpendRow, 'startTime' | 'endTime' | 'completionStartTime'> & {
    startTime: string | number | Date
    endTime: string | number | Date
    completionStartTime: string | number | Date | null
  }
>

/** Keys whose numbers Python holds as floats (written `0.0`, `1e-05`). */
export const FLOAT_KEYS = new Set([
  'spend',
  'response_cost',
  'saved_cache_cost',
  'input_cost',
  'output_cost',
  'cache_read_cost',
  'cache_creation_cost',
  'reasoning_cost',
  'tool_usage_cost',
  'total_cost',
  'original_cost',
  'startTime',
  'endTime',
  'completionStartTime',
  'response_time',
  'litellm_overhead_time_ms',
])

/** SHA-256 hex of a virtual key, as LiteLLM stores it in `api_key`. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

/** A float as Python's `repr` spells it (shortest round-trip digits, same as JS). */
export function pythonFloat(value: number): string {
  if (!Number.isFinite(value))
    return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity'
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0'
  const magnitude = Math.abs(value)
  if (magnitude >= 1e-4 && magnitude < 1e16) {
    const plain = String(value)
    return plain.includes('.') ? plain : `${plain}.0`
  }
  // Python switches to exponent notation below 1e-4 and from 1e16, with two exponent digits.
  const [mantissa, exponentText] = value.toExponential().split('e')
  const exponent = Number(exponentText)
  const sign = exponent < 0 ? '-' : '+'
  return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`
}

const FLOAT_MARK = '\u0001F:'
const FLOAT_PATTERN = /"\\u0001F:([^"]*)"/g

/** Marks a float so {@link pythonJson} writes it in Python's spelling. */
export function markFloat(value: number): string {
  return `${FLOAT_MARK}${pythonFloat(value)}`
}

/**
 * JSON text of a value whose floats were marked with {@link markFloat}: plain
 * JSON.stringify (fast) and one pass that unquotes the marked floats.
 */
export function pythonJson(value: unknown): string {
  return JSON.stringify(value).replace(FLOAT_PATTERN, '$1')
}

/** Marks every number under a FLOAT_KEYS key (recursively) for {@link pythonJson}. */
export function markFloats(value: unknown, floatKey = false): unknown {
  if (typeof value === 'number') return floatKey ? markFloat(value) : value
  if (Array.isArray(value)) return value.map((item) => markFloats(item, floatKey))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value))
      out[key] = markFloats(item, FLOAT_KEYS.has(key))
    return out
  }
  return value
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0')
}

const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => pad(n))
const THREE_DIGITS = Array.from({ length: 1000 }, (_, n) => pad(n, 3))
const DAY_MS = 86_400_000
let cachedDay = Number.NaN
let cachedDayPrefix = ''

/** `datetime.isoformat()` of a UTC timestamp(3): `2026-09-01T10:15:02.123000+00:00`. */
export function isoPython(ms: number): string {
  const day = Math.floor(ms / DAY_MS)
  if (day !== cachedDay) {
    const date = new Date(day * DAY_MS)
    cachedDayPrefix = `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}T`
    cachedDay = day
  }
  let rest = ms - day * DAY_MS
  const millis = rest % 1000
  rest = (rest - millis) / 1000
  const seconds = rest % 60
  rest = (rest - seconds) / 60
  const minutes = rest % 60
  const hours = (rest - minutes) / 60
  const time = `${cachedDayPrefix}${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}`
  return millis === 0 ? `${time}+00:00` : `${time}.${THREE_DIGITS[millis]}000+00:00`
}

/**
 * JSON of a plain object with the numbers under FLOAT_KEYS in Python's float spelling,
 * one level deep plus `cost_breakdown` (where LiteLLM's metadata keeps its floats).
 * `cost_breakdown` is taken out for JSON.stringify and written last (key order is not
 * significant in JSON; this is the hot path when a million rows are paged).
 */
export function pythonJsonOf(object: Record<string, unknown>): string {
  const breakdown = object.cost_breakdown
  if (breakdown === null || typeof breakdown !== 'object' || Array.isArray(breakdown)) {
    return JSON.stringify(object)
  }
  let text: string
  try {
    object.cost_breakdown = undefined
    text = JSON.stringify(object)
  } finally {
    object.cost_breakdown = breakdown
  }
  let inner = ''
  for (const [key, value] of Object.entries(breakdown)) {
    if (value === undefined) continue
    const json =
      typeof value === 'number' && Number.isFinite(value)
        ? pythonFloat(value)
        : JSON.stringify(value)
    inner += `${inner === '' ? '' : ','}${JSON.stringify(key)}:${json}`
  }
  return `${text.length > 2 ? `${text.slice(0, -1)},` : '{'}"cost_breakdown":{${inner}}}`
}

/** `str` as a JSON string literal. */
const q = JSON.stringify

/**
 * JSON literals of the strings generated rows repeat (models, providers, key
 * hashes, statuses…): looked up instead of re-escaped for every row. Bounded;
 * anything else is escaped each time.
 */
const literals = new Map<string, string>()

function qc(value: string): string {
  let literal = literals.get(value)
  if (literal === undefined) {
    literal = q(value)
    if (literals.size < 4096) literals.set(value, literal)
  }
  return literal
}

function nullable(value: string | null): string {
  return value === null ? 'null' : q(value)
}

function nullableCached(value: string | null): string {
  return value === null ? 'null' : qc(value)
}

/**
 * The JSON text of one v2 list row, as LiteLLM writes it (written by hand: this is
 * the hot path when a million rows are paged).
 */
export function rowJson(row: SpendRow): string {
  return (
    `{"request_id":${q(row.request_id)},"call_type":${qc(row.call_type)},"api_key":${qc(row.api_key)}` +
    `,"spend":${pythonFloat(row.spend)},"total_tokens":${row.total_tokens}` +
    `,"prompt_tokens":${row.prompt_tokens},"completion_tokens":${row.completion_tokens}` +
    `,"startTime":"${isoPython(row.startTime)}","endTime":"${isoPython(row.endTime)}"` +
    `,"completionStartTime":${row.completionStartTime === null ? 'null' : `"${isoPython(row.completionStartTime)}"`}` +
    `,"model":${qc(row.model)},"model_id":${qc(row.model_id)},"model_group":${qc(row.model_group)}` +
    `,"custom_llm_provider":${qc(row.custom_llm_provider)},"api_base":${qc(row.api_base)}` +
    `,"user":${qc(row.user)},"metadata":${pythonJsonOf(row.metadata)}` +
    `,"cache_hit":${qc(row.cache_hit)},"cache_key":${q(row.cache_key)}` +
    `,"request_tags":${q(row.request_tags)},"team_id":${nullableCached(row.team_id)}` +
    `,"organization_id":${nullableCached(row.organization_id)},"end_user":${nullableCached(row.end_user)}` +
    `,"requester_ip_address":${nullable(row.requester_ip_address)},"session_id":${nullable(row.session_id)}` +
    `,"status":${nullableCached(row.status)},"mcp_namespaced_tool_name":${nullable(row.mcp_namespaced_tool_name)}` +
    `,"agent_id":${nullable(row.agent_id)}` +
    // COALESCE(request_duration_ms, endTime - startTime) in the v2 query.
    `,"request_duration_ms":${row.request_duration_ms ?? row.endTime - row.startTime}}`
  )
}

/** The wire object of a row (floats marked; serialise with {@link pythonJson}). */
export function toWire(row: SpendRow): Record<string, unknown> {
  return {
    request_id: row.request_id,
    call_type: row.call_type,
    api_key: row.api_key,
    spend: markFloat(row.spend),
    total_tokens: row.total_tokens,
    prompt_tokens: row.prompt_tokens,
    completion_tokens: row.completion_tokens,
    startTime: isoPython(row.startTime),
    endTime: isoPython(row.endTime),
    completionStartTime:
      row.completionStartTime === null ? null : isoPython(row.completionStartTime),
    model: row.model,
    model_id: row.model_id,
    model_group: row.model_group,
    custom_llm_provider: row.custom_llm_provider,
    api_base: row.api_base,
    user: row.user,
    metadata: markFloats(row.metadata),
    cache_hit: row.cache_hit,
    cache_key: row.cache_key,
    request_tags: row.request_tags,
    team_id: row.team_id,
    organization_id: row.organization_id,
    end_user: row.end_user,
    requester_ip_address: row.requester_ip_address,
    session_id: row.session_id,
    status: row.status,
    mcp_namespaced_tool_name: row.mcp_namespaced_tool_name,
    agent_id: row.agent_id,
    // COALESCE(request_duration_ms, endTime - startTime) in the v2 query.
    request_duration_ms: row.request_duration_ms ?? row.endTime - row.startTime,
  }
}

/** Epoch ms from an ISO string (any zone spelling), a Date or a number. */
export function toMs(value: string | number | Date, field = 'time'): number {
  const ms =
    typeof value === 'number' ? value : value instanceof Date ? value.getTime() : Date.parse(value)
  if (!Number.isFinite(ms)) throw new Error(`Invalid ${field}: ${String(value)}`)
  // Prisma DateTime is timestamp(3): millisecond precision.
  return Math.floor(ms)
}

/**
 * A full row from a partial one: LiteLLM's column defaults for what is missing
 * (a fresh UUID request id, now as startTime, "" strings, `{}` metadata).
 */
export function normaliseRow(input: RowInput, now: number): SpendRow {
  const startTime = input.startTime === undefined ? now : toMs(input.startTime, 'startTime')
  const endTime = input.endTime === undefined ? startTime : toMs(input.endTime, 'endTime')
  const completionStartTime =
    input.completionStartTime === undefined
      ? endTime
      : input.completionStartTime === null
        ? null
        : toMs(input.completionStartTime, 'completionStartTime')
  const prompt = input.prompt_tokens ?? 0
  const completion = input.completion_tokens ?? 0
  return {
    request_id: input.request_id ?? randomUUID(),
    call_type: input.call_type ?? 'acompletion',
    api_key: input.api_key ?? '',
    spend: Number(input.spend ?? 0),
    total_tokens: input.total_tokens ?? prompt + completion,
    prompt_tokens: prompt,
    completion_tokens: completion,
    startTime,
    endTime,
    completionStartTime,
    model: input.model ?? '',
    model_id: input.model_id ?? '',
    model_group: input.model_group ?? input.model ?? '',
    custom_llm_provider: input.custom_llm_provider ?? '',
    api_base: input.api_base ?? '',
    user: input.user ?? '',
    metadata: input.metadata ?? {},
    cache_hit: input.cache_hit ?? 'False',
    cache_key: input.cache_key ?? 'Cache OFF',
    request_tags: input.request_tags ?? [],
    team_id: input.team_id === undefined ? '' : input.team_id,
    organization_id: input.organization_id === undefined ? '' : input.organization_id,
    end_user: input.end_user === undefined ? '' : input.end_user,
    requester_ip_address: input.requester_ip_address ?? null,
    session_id: input.session_id === undefined ? randomUUID() : input.session_id,
    status: input.status === undefined ? 'success' : input.status,
    mcp_namespaced_tool_name: input.mcp_namespaced_tool_name ?? null,
    agent_id: input.agent_id ?? null,
    request_duration_ms:
      input.request_duration_ms === undefined ? endTime - startTime : input.request_duration_ms,
  }
}
