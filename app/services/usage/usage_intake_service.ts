import { createHash, timingSafeEqual } from 'node:crypto'
import litellmConfig from '#config/litellm'
import UsageIntakeException from '#exceptions/usage_intake_exception'
import { parseLiteLLMTime } from '#services/usage/litellm_client'
import { spendToMicros } from '#services/usage/usage_pricing'
import UsageStore, { type IngestCounts, type UsageRecord } from '#services/usage/usage_store'

/** One element of a generic_api batch: LiteLLM's StandardLoggingPayload (only what we read). */
export type StandardLoggingPayload = {
  id: string
  startTime: number
  endTime?: number | null
  response_cost?: number | string | null
  model?: string | null
  model_group?: string | null
  prompt_tokens?: number | null
  completion_tokens?: number | null
  total_tokens?: number | null
  cache_hit?: boolean | null
  status?: string | null
  end_user?: string | null
  request_tags?: string[] | null
  trace_id?: string | null
  metadata?: Record<string, unknown> | null
  hidden_params?: Record<string, unknown> | null
  [key: string]: unknown
}

export type IntakeResult = IngestCounts & {
  /** LiteLLM cache hits: left to the pull sync (see below), not stored from the push. */
  skippedCacheHits: number
}

const MAX_PROBLEMS = 10

function str(value: unknown): string | null {
  if (typeof value !== 'string') return null
  const trimmed = value.trim()
  return trimmed === '' || trimmed === 'None' ? null : trimmed
}

function sha256(value: string) {
  return createHash('sha256').update(value).digest()
}

/**
 * POST /api/litellm/callback: LiteLLM's `generic_api` logging callback
 * (reference/litellm.md §4). A fast path only: LiteLLM drops a batch on any
 * error and never retries, so the pull sync stays the source of truth. Both
 * feed the same store, keyed on request_id, so a request pushed and then
 * pulled (or pushed twice) is stored once.
 *
 * Cache hits are skipped here: the push carries the original response id,
 * while the spend log keys the hit as `<id>_cache_hit<epoch>` with an epoch
 * the push does not carry. Storing it would collide with the original
 * request; the pull stores it under its own id (at cost 0).
 */
export default class UsageIntakeService {
  /** Throws a 401 unless `authorization` is `Bearer <LITELLM_CALLBACK_SECRET>`. */
  authenticate(
    authorization: string | undefined,
    secret = litellmConfig.callbackSecret?.release()
  ) {
    if (!secret) {
      throw UsageIntakeException.unauthorized(
        'LiteLLM callbacks are disabled: set LITELLM_CALLBACK_SECRET'
      )
    }
    const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '')
    if (!match || !timingSafeEqual(sha256(match[1]), sha256(secret))) {
      throw UsageIntakeException.unauthorized('Missing or wrong callback secret')
    }
  }

  /** Parses a callback body (json_array, ndjson or single) into payloads, or throws a 422. */
  parse(body: string): StandardLoggingPayload[] {
    const trimmed = body.trim()
    if (trimmed === '') throw UsageIntakeException.malformed(['the body is empty'])
    let items: unknown[]
    try {
      const parsed: unknown = JSON.parse(trimmed)
      items = Array.isArray(parsed) ? parsed : [parsed]
    } catch {
      // log_format: ndjson, one payload per line.
      items = []
      const lines = trimmed.split('\n')
      for (const [index, line] of lines.entries()) {
        if (line.trim() === '') continue
        try {
          items.push(JSON.parse(line))
        } catch {
          throw UsageIntakeException.malformed([
            lines.length > 1 ? `line ${index + 1} is not JSON` : 'the body is not JSON',
          ])
        }
      }
    }
    const problems: string[] = []
    for (const [index, item] of items.entries()) {
      if (problems.length >= MAX_PROBLEMS) break
      if (!item || typeof item !== 'object' || Array.isArray(item)) {
        problems.push(`[${index}] is not an object`)
        continue
      }
      const payload = item as Record<string, unknown>
      if (!str(payload.id)) problems.push(`[${index}].id must be a non-empty string`)
      if (typeof payload.startTime !== 'number' || !Number.isFinite(payload.startTime)) {
        problems.push(`[${index}].startTime must be epoch seconds (a number)`)
      }
      const cost = payload.response_cost
      if (cost !== undefined && cost !== null && typeof cost !== 'number') {
        problems.push(`[${index}].response_cost must be a number`)
      } else {
        try {
          spendToMicros(cost as number | null | undefined)
        } catch {
          problems.push(`[${index}].response_cost is out of range`)
        }
      }
    }
    if (items.length === 0) problems.push('the batch has no payloads')
    if (problems.length > 0) throw UsageIntakeException.malformed(problems)
    return items as StandardLoggingPayload[]
  }

  /** Parses, normalises and stores one callback batch. */
  async receive(body: string): Promise<IntakeResult> {
    const payloads = this.parse(body)
    const records: UsageRecord[] = []
    let skippedCacheHits = 0
    for (const payload of payloads) {
      if (payload.cache_hit === true) skippedCacheHits += 1
      else records.push(recordFromCallback(payload))
    }
    const counts = await new UsageStore().ingest(records, 'push')
    return { ...counts, skippedCacheHits }
  }
}

/** A StandardLoggingPayload as the same UsageRecord its spend-log row gives. */
export function recordFromCallback(payload: StandardLoggingPayload): UsageRecord {
  const metadata = payload.metadata && typeof payload.metadata === 'object' ? payload.metadata : {}
  const spendLogsMetadata =
    metadata.spend_logs_metadata && typeof metadata.spend_logs_metadata === 'object'
      ? (metadata.spend_logs_metadata as Record<string, unknown>)
      : {}
  const tags = Array.isArray(payload.request_tags)
    ? payload.request_tags.filter((tag): tag is string => typeof tag === 'string')
    : []
  const tag = (prefix: string) => str(tags.find((t) => t.startsWith(prefix))?.slice(prefix.length))
  const endedAtMs = parseLiteLLMTime(payload.endTime)
  const count = (value: unknown) =>
    typeof value === 'number' && value > 0 ? Math.min(Math.trunc(value), 2_147_483_647) : 0
  const userRefs = [
    str(metadata.user_api_key_user_id),
    str(payload.end_user) ?? str(metadata.user_api_key_end_user_id),
  ].filter((ref): ref is string => ref !== null)
  const agentRefs = [
    str(spendLogsMetadata.agent_slug),
    str(spendLogsMetadata.agent_id),
    tag('agent:'),
  ].filter((ref): ref is string => ref !== null)
  const hidden = payload.hidden_params ?? {}
  return {
    requestId: payload.id.trim(),
    startedAtMs: parseLiteLLMTime(payload.startTime),
    endedAtMs: Number.isFinite(endedAtMs) ? endedAtMs : null,
    model:
      str(hidden.litellm_model_name) ?? str(payload.model) ?? str(payload.model_group) ?? 'unknown',
    modelGroup: str(payload.model_group),
    promptTokens: count(payload.prompt_tokens),
    completionTokens: count(payload.completion_tokens),
    totalTokens: count(payload.total_tokens),
    cacheHit: payload.cache_hit === true,
    spendMicros: spendToMicros(payload.response_cost),
    userRefs: [...new Set(userRefs)],
    agentRefs: [...new Set(agentRefs)],
    projectRef: tag('project:') ?? str(spendLogsMetadata.project_slug),
    status: str(payload.status),
    sessionId: str(payload.trace_id),
  }
}
