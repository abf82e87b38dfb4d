import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import db from '@adonisjs/lucid/services/db'
import { from as copyFrom } from 'pg-copy-streams'
import usageConfig from '#config/usage'
import { parseLiteLLMTime, type SpendLogRow } from '#services/usage/litellm_client'
import {
  priceRequest,
  spendToMicros,
  type PricedAgent,
  type PricingSettings,
  type PricingSource,
} from '#services/usage/usage_pricing'

/** Where a row came from: the pull sync (`usage:sync`) or the generic_api push. */
export type UsageSource = 'pull' | 'push'

/**
 * One LiteLLM request, normalised from a spend-log row or a callback payload,
 * before attribution and pricing.
 */
export type UsageRecord = {
  requestId: string
  startedAtMs: number
  endedAtMs: number | null
  model: string
  modelGroup: string | null
  promptTokens: number
  completionTokens: number
  totalTokens: number
  cacheHit: boolean
  spendMicros: number
  /** Candidate references to our user, in order: LiteLLM `user` (key owner), then `end_user`. */
  userRefs: string[]
  /** Candidate references to a marketplace agent: spend_logs_metadata first, then the `agent:` tag. */
  agentRefs: string[]
  /** Slug from a `project:<slug>` tag. */
  projectRef: string | null
  status: string | null
  sessionId: string | null
}

/** What one ingest did. Duplicates are rows already stored (or repeated in the same batch). */
export type IngestCounts = {
  seen: number
  inserted: number
  duplicates: number
  /** Rows whose spend differs from the stored one (each seen row counts). */
  mismatchesSeen: number
  /** Differences recorded for the first time (usage_spend_mismatches). */
  mismatches: number
  /** New rows kept with attribution 'unattributed' (no user of ours matched). */
  unattributed: number
  /** Rows seen that were billed at LiteLLM's spend for want of a price, by model group. */
  unpriced: Record<string, number>
  /** Rows that could not be read (no request_id or startTime); skipped and counted. */
  invalid: number
}

export function emptyCounts(): IngestCounts {
  return {
    seen: 0,
    inserted: 0,
    duplicates: 0,
    mismatchesSeen: 0,
    mismatches: 0,
    unattributed: 0,
    unpriced: {},
    invalid: 0,
  }
}

export function addCounts(into: IngestCounts, from: IngestCounts) {
  into.seen += from.seen
  into.inserted += from.inserted
  into.duplicates += from.duplicates
  into.mismatchesSeen += from.mismatchesSeen
  into.mismatches += from.mismatches
  into.unattributed += from.unattributed
  into.invalid += from.invalid
  for (const [group, n] of Object.entries(from.unpriced)) {
    into.unpriced[group] = (into.unpriced[group] ?? 0) + n
  }
  return into
}

const INT_MAX = 2_147_483_647

function tokens(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value ?? 0)
  if (!Number.isFinite(n) || n <= 0) return 0
  return Math.min(Math.trunc(n), INT_MAX)
}

function text(value: unknown): string | null {
  if (typeof value === 'string') {
    const trimmed = value.trim()
    return trimmed === '' || trimmed === 'None' ? null : trimmed
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return null
}

function jsonObject(value: unknown): Record<string, unknown> {
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value)
    } catch {
      return {}
    }
  }
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {}
}

function stringArray(value: unknown): string[] {
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value)
    } catch {
      return []
    }
  }
  return Array.isArray(value) ? value.filter((tag): tag is string => typeof tag === 'string') : []
}

/** `agent:<slug>` and `project:<slug>` tags (LiteLLM adds others, e.g. `User-Agent: …`). */
function tagged(tags: string[], prefix: 'agent:' | 'project:'): string | null {
  for (const tag of tags) {
    if (tag.startsWith(prefix)) return text(tag.slice(prefix.length))
  }
  return null
}

function references(tags: string[], spendLogsMetadata: Record<string, unknown>) {
  const agentRefs = [
    text(spendLogsMetadata.agent_slug),
    text(spendLogsMetadata.agent_id),
    tagged(tags, 'agent:'),
  ].filter((ref): ref is string => ref !== null)
  const projectRef = tagged(tags, 'project:') ?? text(spendLogsMetadata.project_slug) ?? null
  return { agentRefs: [...new Set(agentRefs)], projectRef }
}

function unique(values: (string | null)[]) {
  return [...new Set(values.filter((value): value is string => value !== null))]
}

/** A `GET /spend/logs/v2` row as a UsageRecord; null when it has no request_id or startTime. */
export function recordFromSpendLog(row: SpendLogRow): UsageRecord | null {
  const requestId = typeof row.request_id === 'string' ? row.request_id : null
  const startedAtMs = parseLiteLLMTime(row.startTime)
  if (!requestId || !Number.isFinite(startedAtMs)) return null
  const endedAtMs = parseLiteLLMTime(row.endTime)
  const metadata = jsonObject(row.metadata)
  const tags = stringArray(row.request_tags)
  const model = text(row.model)
  const modelGroup = text(row.model_group)
  return {
    requestId,
    startedAtMs,
    endedAtMs: Number.isFinite(endedAtMs) ? endedAtMs : null,
    model: model ?? modelGroup ?? 'unknown',
    modelGroup,
    promptTokens: tokens(row.prompt_tokens),
    completionTokens: tokens(row.completion_tokens),
    totalTokens: tokens(row.total_tokens),
    cacheHit: row.cache_hit === true || row.cache_hit === 'True' || row.cache_hit === 'true',
    spendMicros: spendToMicros(row.spend as number | string | null | undefined),
    userRefs: unique([text(row.user), text(row.end_user)]),
    ...references(tags, jsonObject(metadata.spend_logs_metadata)),
    status: text(row.status) ?? text(metadata.status),
    sessionId: text(row.session_id),
  }
}

type PgConnection = {
  query: <Row>(sql: string, values?: unknown[]) => Promise<{ rows: Row[] }>
}

/** Runs `work` on a pooled connection (node-postgres itself: `$n` array parameters, COPY). */
async function withConnection<T>(work: (connection: PgConnection) => Promise<T>): Promise<T> {
  const knex = db.connection().getWriteClient()
  const connection = (await knex.client.acquireConnection()) as PgConnection
  try {
    return await work(connection)
  } finally {
    await knex.client.releaseConnection(connection)
  }
}

/**
 * Runs one statement on a pooled connection through node-postgres itself:
 * its `$n` parameters take whole arrays (one per column, for unnest), which
 * knex's `?` bindings would spread into lists.
 */
function query<Row>(sql: string, values: unknown[]) {
  return withConnection((connection) => connection.query<Row>(sql, values))
}

type AgentInfo = PricedAgent & { id: number }

/**
 * Finds our user, agent and project for LiteLLM's references, with one query
 * per kind and batch for what it has not seen yet (a sync run meets a few
 * hundred distinct users at most, and a million rows).
 *
 * Conventions (README "Usage sync"): LiteLLM `user` (the virtual key's
 * `user_id`) and `end_user` (the OpenAI `user` field) carry our user id (digits)
 * or our user's email; the first that matches a user wins. Agents: the
 * `agent_slug` or `agent_id` (our id or slug) in `spend_logs_metadata`, else
 * the `agent:<slug>` tag. Projects: a `project:<slug>` tag, among the user's
 * projects.
 */
export class UsageAttributor {
  protected users = new Map<string, number | null>()
  protected agents = new Map<string, AgentInfo | null>()
  protected projects = new Map<string, number | null>()

  protected userKey(ref: string) {
    if (/^\d{1,18}$/.test(ref)) return ref
    if (ref.includes('@')) return ref.toLowerCase()
    return null
  }

  async prepare(records: UsageRecord[]) {
    const ids = new Set<string>()
    const emails = new Set<string>()
    const agentIds = new Set<string>()
    const agentSlugs = new Set<string>()
    for (const record of records) {
      for (const ref of record.userRefs) {
        if (this.users.has(ref)) continue
        const key = this.userKey(ref)
        if (key === null) this.users.set(ref, null)
        else if (key.includes('@')) emails.add(key)
        else ids.add(key)
      }
      for (const ref of record.agentRefs) {
        if (this.agents.has(ref)) continue
        if (/^\d{1,18}$/.test(ref)) agentIds.add(ref)
        agentSlugs.add(ref)
      }
    }
    if (ids.size > 0) {
      const found = await query<{ id: string }>(
        'SELECT id FROM users WHERE id = ANY($1::bigint[])',
        [[...ids]]
      )
      const present = new Set(found.rows.map((row) => String(row.id)))
      for (const id of ids) this.users.set(id, present.has(id) ? Number(id) : null)
    }
    if (emails.size > 0) {
      const found = await query<{ id: string; email: string }>(
        'SELECT id, lower(email) AS email FROM users WHERE lower(email) = ANY($1::text[])',
        [[...emails]]
      )
      const byEmail = new Map(found.rows.map((row) => [row.email, Number(row.id)]))
      for (const record of records) {
        for (const ref of record.userRefs) {
          const key = this.userKey(ref)
          if (key?.includes('@')) this.users.set(ref, byEmail.get(key) ?? null)
        }
      }
    }
    if (agentSlugs.size > 0) {
      const found = await query<{
        id: string
        slug: string
        pricing_type: string
        input_price_micros_per_million: string | null
        output_price_micros_per_million: string | null
      }>(
        `SELECT id, slug, pricing_type, input_price_micros_per_million, output_price_micros_per_million
           FROM marketplace_agents WHERE slug = ANY($1::text[]) OR id = ANY($2::bigint[])`,
        [[...agentSlugs], [...agentIds]]
      )
      const bySlug = new Map<string, AgentInfo>()
      const byId = new Map<string, AgentInfo>()
      for (const row of found.rows) {
        const info: AgentInfo = {
          id: Number(row.id),
          pricingType: row.pricing_type,
          inputPriceMicrosPerMillion:
            row.input_price_micros_per_million === null
              ? null
              : Number(row.input_price_micros_per_million),
          outputPriceMicrosPerMillion:
            row.output_price_micros_per_million === null
              ? null
              : Number(row.output_price_micros_per_million),
        }
        bySlug.set(row.slug, info)
        byId.set(String(row.id), info)
      }
      for (const ref of agentSlugs) this.agents.set(ref, bySlug.get(ref) ?? byId.get(ref) ?? null)
    }
    const projectKeys = new Map<string, { userId: number; slug: string }>()
    for (const record of records) {
      if (!record.projectRef) continue
      const userId = this.user(record)
      if (userId === null) continue
      const key = `${userId}:${record.projectRef}`
      if (!this.projects.has(key)) projectKeys.set(key, { userId, slug: record.projectRef })
    }
    if (projectKeys.size > 0) {
      const wanted = [...projectKeys.values()]
      const found = await query<{ id: string; user_id: string; slug: string }>(
        `SELECT p.id, p.user_id, p.slug
           FROM projects p
           JOIN unnest($1::bigint[], $2::text[]) AS w(user_id, slug)
             ON p.user_id = w.user_id AND p.slug = w.slug`,
        [wanted.map((w) => w.userId), wanted.map((w) => w.slug)]
      )
      for (const key of projectKeys.keys()) this.projects.set(key, null)
      for (const row of found.rows) this.projects.set(`${row.user_id}:${row.slug}`, Number(row.id))
    }
  }

  /** Our user id for the record (after prepare), or null. */
  user(record: UsageRecord): number | null {
    for (const ref of record.userRefs) {
      const id = this.users.get(ref)
      if (id !== undefined && id !== null) return id
    }
    return null
  }

  agent(record: UsageRecord): AgentInfo | null {
    for (const ref of record.agentRefs) {
      const agent = this.agents.get(ref)
      if (agent) return agent
    }
    return null
  }

  project(record: UsageRecord, userId: number | null): number | null {
    if (!record.projectRef || userId === null) return null
    return this.projects.get(`${userId}:${record.projectRef}`) ?? null
  }
}

type Prepared = {
  userId: number | null
  agentId: number | null
  projectId: number | null
  costMicros: number
  pricing: PricingSource
  metadata: string
}

/** Columns a batch is staged with (COPY text, in this order), then inserted from. */
const STAGE_COLUMNS =
  'request_id, user_id, agent_id, project_id, litellm_user, model, model_group, prompt_tokens, completion_tokens, total_tokens, cache_hit, spend_micros, cost_micros, attribution, started_at, ended_at, metadata'

/**
 * A session's staging table: a batch is COPYed in, inserted from, and emptied
 * at commit. Temporary, so unlogged and without indexes: COPY into it is cheap.
 */
const STAGE_SQL = `
CREATE TEMP TABLE IF NOT EXISTS usage_logs_stage (
  request_id text NOT NULL, user_id bigint, agent_id bigint, project_id bigint, litellm_user text,
  model text NOT NULL, model_group text, prompt_tokens int NOT NULL, completion_tokens int NOT NULL,
  total_tokens int NOT NULL, cache_hit bool NOT NULL, spend_micros bigint NOT NULL,
  cost_micros bigint NOT NULL, attribution text NOT NULL, started_at timestamptz NOT NULL,
  ended_at timestamptz, metadata text
) ON COMMIT DELETE ROWS`

const INSERT_SQL = `
WITH inserted AS (
  INSERT INTO usage_logs (${STAGE_COLUMNS}, created_at)
  SELECT request_id, user_id, agent_id, project_id, litellm_user, model, model_group,
         prompt_tokens, completion_tokens, total_tokens, cache_hit, spend_micros, cost_micros,
         attribution, started_at, ended_at, metadata::jsonb, now()
    FROM usage_logs_stage
  ON CONFLICT (request_id) DO NOTHING
  RETURNING request_id, attribution
),
${mismatchCtes(
  'SELECT s.request_id, s.spend_micros FROM usage_logs_stage s WHERE NOT EXISTS (SELECT 1 FROM inserted i WHERE i.request_id = s.request_id)',
  '$1'
)}
SELECT (SELECT count(*) FROM inserted)::int AS inserted,
       (SELECT count(*) FROM inserted WHERE attribution = 'unattributed')::int AS unattributed,
       (SELECT count(*) FROM mismatched)::int AS mismatched,
       (SELECT count(*) FROM recorded)::int AS recorded,
       (SELECT count(*) FROM flagged)::int AS flagged
`

/** Connections (pooled sessions) that already have their staging table. */
const staged = new WeakSet<object>()

/** A value as a field of PostgreSQL's COPY text format (`\N` is NULL). */
function copyText(value: string | null): string {
  if (value === null) return '\\N'
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, escapeCopy) : value
}

function escapeCopy(char: string) {
  return char === '\\' ? '\\\\' : char === '\t' ? '\\t' : char === '\n' ? '\\n' : '\\r'
}

const DAY_MS = 86_400_000
const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, '0'))
const THREE_DIGITS = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'))
let isoDay = Number.NaN
let isoDayPrefix = ''

/** `new Date(ms).toISOString()` for the hot path (the day's prefix is reused: rows come in time order). */
function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms >= 253_402_300_800_000) {
    return new Date(ms).toISOString()
  }
  const day = Math.floor(ms / DAY_MS)
  const rest = ms - day * DAY_MS
  if (day !== isoDay) {
    isoDay = day
    isoDayPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11)
  }
  const millis = rest % 1000
  const seconds = Math.floor(rest / 1000)
  return `${isoDayPrefix}${TWO_DIGITS[Math.floor(seconds / 3600)]}:${TWO_DIGITS[Math.floor(seconds / 60) % 60]}:${TWO_DIGITS[seconds % 60]}.${THREE_DIGITS[millis]}Z`
}

function copyNumber(value: number | null): string {
  return value === null ? '\\N' : String(value)
}

/**
 * Requests on their way to usage_logs: attributed and priced, one line of COPY
 * text each (the first copy of a request_id; later copies in the same batch are
 * kept aside for the spend comparison). Small on purpose: a sync holds a few of
 * these, never the rows they came from.
 */
export class UsageBatch {
  /** COPY text as UTF-8, one buffer per add() (outside the JS heap, and flat). */
  readonly chunks: Buffer[] = []
  /** Distinct requests staged. */
  size = 0
  readonly counts = emptyCounts()
  /** Later copies of a request_id already in this batch (request_id, spend_micros). */
  readonly repeatIds: string[] = []
  readonly repeatSpends: number[] = []
  readonly #ids = new Set<string>()

  constructor(readonly source: UsageSource) {}

  has(requestId: string) {
    return this.#ids.has(requestId)
  }

  remember(requestId: string) {
    this.#ids.add(requestId)
    this.size += 1
  }
}

const MISMATCH_SQL = `
WITH ${mismatchCtes('SELECT * FROM unnest($1::text[], $2::bigint[]) AS c(request_id, spend_micros)', '$3')}
SELECT (SELECT count(*) FROM mismatched)::int AS mismatched,
       (SELECT count(*) FROM recorded)::int AS recorded,
       (SELECT count(*) FROM flagged)::int AS flagged
`

/**
 * Rows seen again (`candidates`: request_id, spend_micros) whose spend differs
 * from the stored one: each new difference is recorded once, and the stored
 * row is flagged `spend_mismatch` unless it is already invoiced (invoiced
 * usage never changes). What is billed stays the first figure.
 */
function mismatchCtes(candidates: string, sourceParam: string) {
  return `
candidates AS (${candidates}),
mismatched AS (
  SELECT l.id, l.request_id, l.spend_micros AS stored, c.spend_micros AS seen,
         l.usage_invoice_id, l.spend_mismatch
    FROM candidates c JOIN usage_logs l ON l.request_id = c.request_id
   WHERE l.spend_micros <> c.spend_micros
),
recorded AS (
  INSERT INTO usage_spend_mismatches (usage_log_id, request_id, stored_spend_micros,
    seen_spend_micros, source, created_at)
  SELECT DISTINCT ON (request_id, seen) id, request_id, stored, seen, ${sourceParam}, now() FROM mismatched
  ON CONFLICT (request_id, seen_spend_micros) DO NOTHING
  RETURNING request_id
),
flagged AS (
  UPDATE usage_logs l SET spend_mismatch = true
    FROM (SELECT DISTINCT id FROM mismatched WHERE usage_invoice_id IS NULL AND NOT spend_mismatch) m
   WHERE l.id = m.id
  RETURNING l.id
)`
}

/**
 * The one store of LiteLLM usage, shared by the pull sync and the push intake:
 * attributes and prices each request once, then writes a batch (COPY into a
 * temporary staging table, then one INSERT … SELECT … ON CONFLICT (request_id)
 * DO NOTHING, in one transaction), so a request is
 * stored once however often and from wherever it arrives. It never updates a
 * stored row's money; a different spend seen later is only recorded.
 */
export default class UsageStore {
  readonly attributor = new UsageAttributor()

  constructor(
    protected pricing: PricingSettings = {
      markupBps: usageConfig.markupBps,
      modelPrices: usageConfig.modelPrices,
    }
  ) {}

  /** Stores a batch (a page, or a callback body); returns what happened to its rows. */
  async ingest(records: (UsageRecord | null)[], source: UsageSource): Promise<IngestCounts> {
    const batch = new UsageBatch(source)
    await this.add(batch, records)
    return this.write(batch)
  }

  /**
   * Attributes and prices records into a batch (looking up users, agents and
   * projects it has not met yet); nothing is stored until write().
   */
  async add(batch: UsageBatch, records: (UsageRecord | null)[]): Promise<void> {
    const counts = batch.counts
    counts.seen += records.length
    const valid: UsageRecord[] = []
    for (const record of records) {
      if (record) valid.push(record)
      else counts.invalid += 1
    }
    if (valid.length === 0) return
    await this.attributor.prepare(valid)

    let lines = ''
    for (const record of valid) {
      if (batch.has(record.requestId)) {
        // One row per request_id per statement; later copies are compared after the insert.
        batch.repeatIds.push(record.requestId)
        batch.repeatSpends.push(record.spendMicros)
        this.prepare(record, batch.source, counts)
        continue
      }
      batch.remember(record.requestId)
      lines += this.line(record, batch.source, counts)
    }
    if (lines !== '') batch.chunks.push(Buffer.from(lines, 'utf8'))
  }

  /**
   * Writes a batch in one transaction: COPY into the session's staging table,
   * one INSERT … SELECT … ON CONFLICT (request_id) DO NOTHING that also records
   * spend mismatches of requests already stored, and the same comparison for
   * the batch's own repeats.
   */
  async write(batch: UsageBatch): Promise<IngestCounts> {
    const counts = { ...batch.counts, unpriced: { ...batch.counts.unpriced } }
    const valid = counts.seen - counts.invalid
    if (batch.size === 0) return counts
    await withConnection(async (connection) => {
      if (!staged.has(connection)) {
        await connection.query(STAGE_SQL)
        staged.add(connection)
      }
      await connection.query('BEGIN')
      try {
        const sink = (connection as unknown as { query: (stream: unknown) => unknown }).query(
          copyFrom(`COPY usage_logs_stage (${STAGE_COLUMNS}) FROM STDIN`)
        ) as NodeJS.WritableStream
        await pipeline(Readable.from(batch.chunks), sink)
        const result = await connection.query<{
          inserted: number
          unattributed: number
          mismatched: number
          recorded: number
        }>(INSERT_SQL, [batch.source])
        const summary = result.rows[0]
        counts.inserted = summary.inserted
        counts.unattributed = summary.unattributed
        counts.mismatchesSeen = summary.mismatched
        counts.mismatches = summary.recorded
        if (batch.repeatIds.length > 0) {
          const repeated = await connection.query<{ mismatched: number; recorded: number }>(
            MISMATCH_SQL,
            [batch.repeatIds, batch.repeatSpends, batch.source]
          )
          counts.mismatchesSeen += repeated.rows[0].mismatched
          counts.mismatches += repeated.rows[0].recorded
        }
        await connection.query('COMMIT')
      } catch (error) {
        // The staging table may have gone with the transaction it was used in: recreate it next time.
        staged.delete(connection)
        await connection.query('ROLLBACK').catch(() => {})
        throw error
      }
    })
    counts.duplicates = valid - counts.inserted
    return counts
  }

  /** The COPY line of a record (attributed and priced), counting an unpriced model group. */
  protected line(record: UsageRecord, source: UsageSource, counts: IngestCounts): string {
    const prepared = this.prepare(record, source, counts)
    return (
      `${copyText(record.requestId)}\t${copyNumber(prepared.userId)}\t${copyNumber(prepared.agentId)}` +
      `\t${copyNumber(prepared.projectId)}\t${copyText(record.userRefs[0] ?? null)}` +
      `\t${copyText(record.model)}\t${copyText(record.modelGroup)}\t${record.promptTokens}` +
      `\t${record.completionTokens}\t${record.totalTokens}\t${record.cacheHit ? 't' : 'f'}` +
      `\t${record.spendMicros}\t${prepared.costMicros}` +
      `\t${prepared.userId === null ? 'unattributed' : 'attributed'}` +
      `\t${isoTime(record.startedAtMs)}` +
      `\t${record.endedAtMs === null ? '\\N' : isoTime(record.endedAtMs)}` +
      `\t${copyText(prepared.metadata)}\n`
    )
  }

  protected prepare(record: UsageRecord, source: UsageSource, counts: IngestCounts): Prepared {
    const userId = this.attributor.user(record)
    const agent = this.attributor.agent(record)
    const projectId = this.attributor.project(record, userId)
    const modelGroup = record.modelGroup ?? record.model
    const priced = priceRequest(
      {
        modelGroup,
        promptTokens: record.promptTokens,
        completionTokens: record.completionTokens,
        totalTokens: record.totalTokens,
        spendMicros: record.spendMicros,
        cacheHit: record.cacheHit,
        agent,
      },
      this.pricing
    )
    if (priced.unpriced) counts.unpriced[modelGroup] = (counts.unpriced[modelGroup] ?? 0) + 1
    // Small on purpose (a million rows a run): what a reader of a row needs to trust its cost.
    const metadata: Record<string, unknown> = { source, pricing: priced.source }
    if (record.status && record.status !== 'success') metadata.status = record.status
    if (record.userRefs.length > 1) metadata.end_user = record.userRefs[1]
    if (record.agentRefs.length > 0 && !agent) metadata.agent_ref = record.agentRefs[0]
    if (record.projectRef && projectId === null) metadata.project_ref = record.projectRef
    if (record.sessionId) metadata.session_id = record.sessionId
    return {
      userId,
      agentId: agent?.id ?? null,
      projectId,
      costMicros: priced.costMicros,
      pricing: priced.source,
      metadata: JSON.stringify(metadata),
    }
  }
}
