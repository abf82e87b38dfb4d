/**
 * Seeded, lazy spend-row generator: row `i` is a pure function of (settings, i),
 * so a million rows cost nothing up front and the same seed always gives the same
 * rows. startTime is non-decreasing in `i` (an evenly spread grid with jitter, and a
 * share of rows repeating the previous row's startTime), so a time window is an
 * index range found by binary search.
 *
 * Request ids embed a bijective scramble of `i`, so `request_id` and
 * `metadata.litellm_call_id` lookups decode straight to the row.
 */
import { hashKey, type SpendRow } from './rows.js'

export interface ModelSpec {
  /** `model_group`: the public name the client asked for (what we bill by). */
  group: string
  /** `model`: the concrete upstream model. */
  model: string
  /** `custom_llm_provider`; `openai` ids look like `chatcmpl-…`, `anthropic` like `msg_01…`, others are UUIDs. */
  provider: string
  apiBase: string
  /** USD per token; null = unpriced (LiteLLM writes spend 0 with tokens > 0). */
  inputCostPerToken: number | null
  outputCostPerToken: number | null
  /** Relative frequency (default 1). */
  weight?: number
}

export interface GeneratorOptions {
  seed?: number
  /** How many rows to generate (default 0). */
  rows?: number
  /** First startTime (epoch ms or ISO). Default: `until` minus 7 days. */
  since?: number | string
  /** startTimes stay before this (epoch ms or ISO). Default: now, floored to the hour. */
  until?: number | string
  /** LiteLLM `user` / `end_user` values of known users (our user ids). Default '1'…'5'. */
  users?: string[]
  /** Share of rows whose user is unknown to us (`ext-…`). Default 0.05. */
  unknownUserRate?: number
  /**
   * How rows carry the user: both `user` (key owner) and `end_user`, only `user`,
   * or only `end_user` (master key). Weights, default {both: 0.7, keyOnly: 0.2, endUserOnly: 0.1}.
   */
  userMix?: { both?: number; keyOnly?: number; endUserOnly?: number }
  /** Agent slugs used in `agent:<slug>` tags and `spend_logs_metadata.agent_id`. */
  agents?: string[]
  /** Share of rows made for an agent (default 0.3). */
  agentRate?: number
  models?: ModelSpec[]
  /** Share of LiteLLM cache hits (spend 0, `<id>_cache_hit<epoch>`). Default 0.03. */
  cacheHitRate?: number
  /** Share of failed requests (status failure, usually spend 0). Default 0.02. */
  failureRate?: number
  /** Share of rows repeating the previous row's startTime (default 0.01). */
  tieRate?: number
  /** Hash of the master key, for rows sent with it (end_user-only rows). */
  masterKeyHash?: string
}

export const DEFAULT_MODELS: ModelSpec[] = [
  {
    group: 'openai/gpt-4o-mini',
    model: 'gpt-4o-mini-2024-07-18',
    provider: 'openai',
    apiBase: 'https://api.openai.com/v1',
    inputCostPerToken: 1.5e-7,
    outputCostPerToken: 6e-7,
    weight: 5,
  },
  {
    group: 'gpt-4o',
    model: 'gpt-4o-2024-08-06',
    provider: 'openai',
    apiBase: 'https://api.openai.com/v1',
    inputCostPerToken: 2.5e-6,
    outputCostPerToken: 1e-5,
    weight: 2,
  },
  {
    group: 'claude-sonnet',
    model: 'claude-sonnet-4-5-20250929',
    provider: 'anthropic',
    apiBase: 'https://api.anthropic.com',
    inputCostPerToken: 3e-6,
    outputCostPerToken: 1.5e-5,
    weight: 2,
  },
  {
    group: 'local-llama',
    model: 'ollama/llama3.1:8b-custom',
    provider: 'ollama',
    apiBase: 'http://ollama.internal:11434',
    inputCostPerToken: null,
    outputCostPerToken: null,
    weight: 1,
  },
]

export const DEFAULT_USERS = ['1', '2', '3', '4', '5']
export const DEFAULT_AGENTS = ['code-reviewer', 'sql-helper', 'ui-designer']
/** No generated request lasts longer (bounds when a generated row becomes visible). */
export const MAX_DURATION_MS = 120_000
/** Longest run of rows sharing one startTime. */
const MAX_TIE_RUN = 64
/** A cache hit replays a response from at most this many rows earlier. */
const CACHE_LOOKBACK = 500

// ----- 32-bit hashing (murmur3's finaliser is a bijection, so it can be inverted) -----

function fmix32(input: number): number {
  let x = input >>> 0
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  x ^= x >>> 16
  return x >>> 0
}

/** Multiplicative inverse mod 2^32 (Newton's iteration). */
function inverse32(a: number): number {
  let inv = a
  for (let i = 0; i < 5; i++) inv = Math.imul(inv, 2 - Math.imul(a, inv))
  return inv >>> 0
}

const INV_C1 = inverse32(0x85ebca6b)
const INV_C2 = inverse32(0xc2b2ae35)

function unfmix32(input: number): number {
  let x = input >>> 0
  x ^= x >>> 16
  x = Math.imul(x, INV_C2)
  x ^= (x >>> 13) ^ (x >>> 26)
  x = Math.imul(x, INV_C1)
  x ^= x >>> 16
  return x >>> 0
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

function base62(value: number, width: number): string {
  let out = ''
  let rest = value
  for (let i = 0; i < width; i++) {
    out = BASE62[rest % 62] + out
    rest = Math.floor(rest / 62)
  }
  return out
}

function unbase62(text: string): number {
  let value = 0
  for (const char of text) {
    const digit = BASE62.indexOf(char)
    if (digit < 0) return -1
    value = value * 62 + digit
  }
  return value
}

const HEX_BYTE = Array.from({ length: 256 }, (_, n) => n.toString(16).padStart(2, '0'))

/** 8 lowercase hex digits of a 32-bit value (a table: toString(16) is slow on the hot path). */
function hex8(value: number): string {
  return (
    HEX_BYTE[value >>> 24] +
    HEX_BYTE[(value >>> 16) & 255] +
    HEX_BYTE[(value >>> 8) & 255] +
    HEX_BYTE[value & 255]
  )
}

const SALT = {
  time: 1,
  tie: 2,
  model: 3,
  user: 4,
  unknown: 5,
  mix: 6,
  agent: 7,
  agentMode: 8,
  agentPick: 9,
  prompt: 10,
  completion: 11,
  duration: 12,
  cache: 13,
  cacheSource: 14,
  failure: 15,
  failureKind: 16,
  session: 17,
  id: 18,
  filler1: 19,
  filler2: 20,
  filler3: 21,
  callId: 22,
  firstToken: 23,
  callType: 24,
} as const

export interface ResolvedGeneratorSettings {
  seed: number
  rows: number
  since: number
  until: number
  users: string[]
  unknownUserRate: number
  userMix: { both: number; keyOnly: number; endUserOnly: number }
  agents: string[]
  agentRate: number
  models: ModelSpec[]
  cacheHitRate: number
  failureRate: number
  tieRate: number
}

function timeOption(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const ms = typeof value === 'number' ? value : Date.parse(value)
  if (!Number.isFinite(ms)) throw new Error(`Invalid time: ${String(value)}`)
  return Math.floor(ms)
}

/** What generated row `i` inherits when a later cache hit replays it. */
interface BaseAttributes {
  spec: ModelSpec
  user: string
  endUser: string
  viaMasterKey: boolean
  agent: string | null
  agentMode: 'both' | 'tag' | 'metadata'
  prompt: number
  completion: number
}

export class RowGenerator {
  readonly settings: ResolvedGeneratorSettings
  readonly #seedKey: number
  readonly #saltKeys: number[]
  readonly #spacing: number
  readonly #modelCumulative: number[]
  readonly #keyHashes = new Map<string, string>()
  readonly #modelIds = new Map<ModelSpec, string>()
  readonly #masterKeyHash: string

  constructor(options: GeneratorOptions = {}) {
    const hour = 3_600_000
    const until = timeOption(options.until, Math.floor(Date.now() / hour) * hour)
    const since = timeOption(options.since, until - 7 * 24 * hour)
    if (since >= until) throw new Error('since must be before until')
    const rows = Math.max(0, Math.floor(options.rows ?? 0))
    if (rows > 2 ** 31) throw new Error('at most 2^31 generated rows')
    const mix = { both: 0.7, keyOnly: 0.2, endUserOnly: 0.1, ...options.userMix }
    this.settings = {
      seed: (options.seed ?? 1) >>> 0,
      rows,
      since,
      until,
      users: options.users?.length ? [...options.users] : [...DEFAULT_USERS],
      unknownUserRate: options.unknownUserRate ?? 0.05,
      userMix: mix,
      agents: options.agents ? [...options.agents] : [...DEFAULT_AGENTS],
      agentRate: options.agentRate ?? 0.3,
      models: options.models?.length ? options.models : DEFAULT_MODELS,
      cacheHitRate: options.cacheHitRate ?? 0.03,
      failureRate: options.failureRate ?? 0.02,
      tieRate: options.tieRate ?? 0.01,
    }
    this.#masterKeyHash = options.masterKeyHash ?? hashKey('sk-litellm-master')
    this.#seedKey = fmix32(this.settings.seed ^ 0x5bd1e995)
    this.#saltKeys = Array.from({ length: 32 }, (_, salt) =>
      fmix32(Math.imul(salt + 1, 0x9e3779b9) ^ this.#seedKey)
    )
    this.#spacing = rows === 0 ? 0 : (until - since) / rows
    let total = 0
    this.#modelCumulative = this.settings.models.map((spec) => (total += spec.weight ?? 1))
  }

  get count(): number {
    return this.settings.rows
  }

  /** Uniform in [0, 1), a pure function of (seed, i, salt). */
  #rand(i: number, salt: number): number {
    return this.#hash(i, salt) / 4294967296
  }

  #hash(i: number, salt: number): number {
    return fmix32(fmix32((i + this.#saltKeys[salt]) >>> 0) ^ this.#seedKey)
  }

  /** Bijective scramble of the index (embedded in ids). */
  #scramble(i: number, salt: number): number {
    return fmix32((i ^ this.#saltKeys[salt]) >>> 0)
  }

  #unscramble(value: number, salt: number): number {
    return (unfmix32(value) ^ this.#saltKeys[salt]) >>> 0
  }

  // ----- time -----

  #gridTime(i: number): number {
    return this.settings.since + Math.floor((i + 0.9 * this.#rand(i, SALT.time)) * this.#spacing)
  }

  /** startTime of row i (ms): non-decreasing in i. */
  startTime(i: number): number {
    let anchor = i
    const stop = Math.max(0, i - MAX_TIE_RUN)
    while (anchor > stop && this.#rand(anchor, SALT.tie) < this.settings.tieRate) anchor -= 1
    return this.#gridTime(anchor)
  }

  /** First index whose startTime is >= ms (count when none). */
  lowerBound(ms: number): number {
    let lo = 0
    let hi = this.settings.rows
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.startTime(mid) < ms) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** First index whose startTime is > ms. */
  upperBound(ms: number): number {
    let lo = 0
    let hi = this.settings.rows
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.startTime(mid) <= ms) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  // ----- ids -----

  #isCacheHit(i: number): boolean {
    return i > 0 && this.#rand(i, SALT.cache) < this.settings.cacheHitRate
  }

  #cacheSource(i: number): number {
    return i - 1 - Math.floor(this.#rand(i, SALT.cacheSource) * Math.min(i, CACHE_LOOKBACK))
  }

  /** The provider-style response id of row i (before any `_cache_hit` suffix). */
  providerId(i: number): string {
    const spec = this.#spec(i)
    const scrambled = this.#scramble(i, SALT.id)
    const filler = (salt: number, width: number) => base62(this.#hash(i, salt), width)
    if (spec.provider === 'openai') {
      return `chatcmpl-${base62(scrambled, 6)}${filler(SALT.filler1, 6)}${filler(SALT.filler2, 6)}${filler(SALT.filler3, 6)}${base62(this.#hash(i, SALT.callType), 5)}`
    }
    if (spec.provider === 'anthropic') {
      return `msg_01${base62(scrambled, 6)}${filler(SALT.filler1, 5)}${filler(SALT.filler2, 5)}${filler(SALT.filler3, 6)}`
    }
    return this.#uuid(hex8(scrambled), i)
  }

  #uuid(first: string, i: number): string {
    const a = hex8(this.#hash(i, SALT.filler1))
    const b = hex8(this.#hash(i, SALT.filler2))
    const c = hex8(this.#hash(i, SALT.filler3))
    const variant = '89ab'[this.#hash(i, SALT.callType) & 3]
    return `${first}-${a.slice(0, 4)}-4${a.slice(5, 8)}-${variant}${b.slice(1, 4)}-${b.slice(4)}${c}`
  }

  /** LiteLLM's call UUID (`metadata.litellm_call_id`, the `x-litellm-call-id` header). */
  callId(i: number): string {
    return this.#uuid(hex8(this.#scramble(i, SALT.callId)), i + 7)
  }

  /** `request_id` of row i: the provider id, or `<id>_cache_hit<epoch>` for a cache hit. */
  requestId(i: number): string {
    if (!this.#isCacheHit(i)) return this.providerId(i)
    // time.time() when the hit was logged: a few ms after startTime, with microseconds.
    const epoch = (this.startTime(i) + 1 + (this.#hash(i, SALT.firstToken) % 5000) / 1000) / 1000
    return `${this.providerId(this.#cacheSource(i))}_cache_hit${epoch.toFixed(6).replace(/0+$/, '')}`
  }

  /** Index of the generated row with this provider id (without suffix), or -1. */
  #decodeProviderId(id: string): number {
    let scrambled = -1
    if (id.startsWith('chatcmpl-')) scrambled = unbase62(id.slice(9, 15))
    else if (id.startsWith('msg_01')) scrambled = unbase62(id.slice(6, 12))
    else if (/^[0-9a-f]{8}-/.test(id)) scrambled = Number.parseInt(id.slice(0, 8), 16)
    if (scrambled < 0 || scrambled >= 2 ** 32) return -1
    const i = this.#unscramble(scrambled, SALT.id)
    return i < this.settings.rows && this.providerId(i) === id ? i : -1
  }

  /** Index of the generated row with this request_id, or -1. */
  indexOfRequestId(requestId: string): number {
    const cut = requestId.indexOf('_cache_hit')
    if (cut === -1) {
      const i = this.#decodeProviderId(requestId)
      return i >= 0 && !this.#isCacheHit(i) ? i : -1
    }
    const source = this.#decodeProviderId(requestId.slice(0, cut))
    if (source < 0) return -1
    const last = Math.min(this.settings.rows - 1, source + CACHE_LOOKBACK)
    for (let i = source + 1; i <= last; i++) {
      if (this.#isCacheHit(i) && this.#cacheSource(i) === source && this.requestId(i) === requestId)
        return i
    }
    return -1
  }

  /** Index of the generated row with this `metadata.litellm_call_id`, or -1. */
  indexOfCallId(callId: string): number {
    if (!/^[0-9a-f]{8}-/.test(callId)) return -1
    const i = this.#unscramble(Number.parseInt(callId.slice(0, 8), 16), SALT.callId)
    return i < this.settings.rows && this.callId(i) === callId ? i : -1
  }

  // ----- attributes -----

  #spec(i: number): ModelSpec {
    const cumulative = this.#modelCumulative
    const pick = this.#rand(i, SALT.model) * cumulative[cumulative.length - 1]
    let index = 0
    while (index < cumulative.length - 1 && pick >= cumulative[index]) index += 1
    return this.settings.models[index]
  }

  #base(i: number): BaseAttributes {
    const { users, unknownUserRate, userMix, agents, agentRate } = this.settings
    const known = this.#rand(i, SALT.unknown) >= unknownUserRate
    const who = known
      ? users[this.#hash(i, SALT.user) % users.length]
      : `ext-${(this.#hash(i, SALT.user) % 10) + 1}`
    const mixTotal = userMix.both + userMix.keyOnly + userMix.endUserOnly || 1
    const mixPick = this.#rand(i, SALT.mix) * mixTotal
    const mode =
      mixPick < userMix.both ? 'both' : mixPick < userMix.both + userMix.keyOnly ? 'key' : 'end'
    const agentPick = this.#rand(i, SALT.agentMode)
    const r = this.#rand(i, SALT.prompt)
    return {
      spec: this.#spec(i),
      user: mode === 'end' ? '' : who,
      endUser: mode === 'key' ? '' : who,
      viaMasterKey: mode === 'end',
      agent:
        agents.length > 0 && this.#rand(i, SALT.agent) < agentRate
          ? agents[this.#hash(i, SALT.agentPick) % agents.length]
          : null,
      agentMode: agentPick < 0.7 ? 'both' : agentPick < 0.9 ? 'tag' : 'metadata',
      prompt: 40 + Math.floor(r * r * 6000),
      completion: 5 + Math.floor(this.#rand(i, SALT.completion) * 1200),
    }
  }

  #modelId(spec: ModelSpec): string {
    let id = this.#modelIds.get(spec)
    if (id === undefined) {
      id = hashKey(`deployment:${spec.group}`).slice(0, 12)
      this.#modelIds.set(spec, id)
    }
    return id
  }

  #keyHash(user: string): string {
    let hash = this.#keyHashes.get(user)
    if (!hash) {
      hash = hashKey(`sk-litellm-${user}`)
      this.#keyHashes.set(user, hash)
    }
    return hash
  }

  #timing(i: number) {
    const cacheHit = this.#isCacheHit(i)
    const failed = !cacheHit && this.#rand(i, SALT.failure) < this.settings.failureRate
    const failureKind = this.#rand(i, SALT.failureKind)
    // Since 2026 a mid-stream failure bills what was streamed; most failures bill nothing.
    const partial = failed && failureKind < 0.15
    const pick = this.#rand(i, SALT.duration)
    const duration = cacheHit
      ? 2 + Math.floor(pick * 40)
      : failed && !partial
        ? failureKind < 0.6
          ? 0
          : Math.floor(pick * 5000)
        : 150 + Math.floor(pick * pick * pick * (MAX_DURATION_MS - 150))
    return { cacheHit, failed, failureKind, partial, duration }
  }

  /** endTime of row i: LiteLLM writes a row only after the request completes. */
  endTime(i: number): number {
    return this.startTime(i) + this.#timing(i).duration
  }

  /** Generated row i (0 <= i < count). */
  row(i: number): SpendRow {
    const { cacheHit, failed, failureKind, partial, duration } = this.#timing(i)
    const base = this.#base(cacheHit ? this.#cacheSource(i) : i)
    const { spec } = base
    const prompt = failed && !partial ? 0 : base.prompt
    const completion =
      failed && !partial ? 0 : partial ? Math.floor(base.completion / 3) : base.completion
    const priced = spec.inputCostPerToken !== null && spec.outputCostPerToken !== null
    const inputCost = priced && !cacheHit ? prompt * (spec.inputCostPerToken ?? 0) : 0
    const outputCost = priced && !cacheHit ? completion * (spec.outputCostPerToken ?? 0) : 0
    const spend = inputCost + outputCost

    const startTime = this.startTime(i)
    const endTime = startTime + duration
    const completionStartTime =
      startTime + Math.floor(duration * (0.1 + 0.3 * this.#rand(i, SALT.firstToken)))

    const apiKey = base.viaMasterKey ? this.#masterKeyHash : this.#keyHash(base.user)
    const tags: string[] = []
    if (base.agent && base.agentMode !== 'metadata') tags.push(`agent:${base.agent}`)
    tags.push('User-Agent: OpenAI/JS 6.9.1')
    const status = failed ? 'failure' : 'success'
    const errorInformation = failed
      ? failureKind < 0.5
        ? {
            error_code: '429',
            error_class: 'RateLimitError',
            llm_provider: spec.provider,
            error_message: `litellm.RateLimitError: ${spec.provider} rate limit reached`,
          }
        : {
            error_code: partial ? '499' : '500',
            error_class: partial ? 'APIConnectionError' : 'InternalServerError',
            llm_provider: spec.provider,
            error_message: partial
              ? 'client disconnected mid-stream'
              : `litellm.InternalServerError: ${spec.provider} returned 500`,
          }
      : null
    const metadata: Record<string, unknown> = {
      user_api_key: apiKey,
      user_api_key_alias: base.viaMasterKey ? null : `user-${base.user}`,
      user_api_key_user_id: base.user || null,
      user_api_key_team_id: null,
      user_api_key_org_id: null,
      user_api_key_team_alias: null,
      spend_logs_metadata: base.agent && base.agentMode !== 'tag' ? { agent_id: base.agent } : null,
      requester_ip_address: null,
      status,
      additional_usage_values: {
        prompt_tokens_details: { cached_tokens: 0 },
      },
      cost_breakdown:
        failed && !partial
          ? null
          : {
              input_cost: inputCost,
              output_cost: outputCost,
              tool_usage_cost: 0,
              total_cost: spend,
            },
      error_information: errorInformation,
      litellm_call_id: this.callId(i),
    }
    return {
      request_id: this.requestId(i),
      call_type:
        spec.provider === 'anthropic' && this.#hash(i, SALT.callType) % 4 === 0
          ? 'anthropic_messages'
          : 'acompletion',
      api_key: apiKey,
      spend,
      total_tokens: prompt + completion,
      prompt_tokens: prompt,
      completion_tokens: completion,
      startTime,
      endTime,
      completionStartTime: failed ? endTime : completionStartTime,
      model: failed && !partial && failureKind >= 0.5 ? spec.group : spec.model,
      model_id: this.#modelId(spec),
      model_group: spec.group,
      custom_llm_provider: spec.provider,
      api_base: failed && !partial ? '' : spec.apiBase,
      user: base.user,
      metadata,
      cache_hit: cacheHit ? 'True' : failed ? 'None' : 'False',
      cache_key: cacheHit
        ? `${hex8(this.#hash(this.#cacheSource(i), SALT.filler1))}${hex8(this.#hash(this.#cacheSource(i), SALT.filler2))}`
        : 'Cache OFF',
      request_tags: tags,
      team_id: '',
      organization_id: '',
      end_user: base.endUser,
      requester_ip_address: null,
      session_id: `run_${hex8(this.#hash(Math.floor(i / 6), SALT.session))}`,
      status,
      mcp_namespaced_tool_name: null,
      agent_id: null,
      request_duration_ms: duration,
    }
  }
}
