/**
 * The `generic_api` logging callback: LiteLLM POSTs batches of
 * `StandardLoggingPayload` (reference/litellm.md §4) to a URL. Delivery is
 * at-most-once: no retries, and a batch that fails (non-2xx, timeout, connection
 * error) is dropped.
 */
import { markFloats, pythonJson, type SpendRow } from './rows.js'

export type LogFormat = 'json_array' | 'ndjson' | 'single'

export interface SendCallbacksOptions {
  /** Payloads per POST (LiteLLM's code default is 512). */
  batchSize?: number
  /** `json_array` (default): one array per POST; `ndjson`: one object per line; `single`: one POST per payload, in parallel. */
  logFormat?: LogFormat
  /** Extra headers (e.g. `Authorization: Bearer <shared secret>`). */
  headers?: Record<string, string>
  /** Per-POST timeout (default 10 s). */
  timeoutMs?: number
  /** Price lookup for `saved_cache_cost` of cache hits: USD per token by model_group. */
  prices?: Map<string, { input: number; output: number }>
}

export interface BatchReport {
  size: number
  ids: string[]
  /** HTTP status, or null when the request failed before an answer. */
  status: number | null
  error: string | null
  delivered: boolean
}

export interface CallbackReport {
  batches: BatchReport[]
  delivered: number
  dropped: number
}

/** `<id>_cache_hit<epoch>` → `<id>`: the payload's `id` is the response id without the suffix. */
function responseId(requestId: string): string {
  const cut = requestId.indexOf('_cache_hit')
  return cut === -1 ? requestId : requestId.slice(0, cut)
}

/** The StandardLoggingPayload LiteLLM would have pushed for this spend-log row. */
export function toStandardLoggingPayload(
  row: SpendRow,
  prices?: Map<string, { input: number; output: number }>
): Record<string, unknown> {
  const meta = row.metadata ?? {}
  const cacheHit = row.cache_hit === 'True' ? true : row.cache_hit === 'False' ? false : null
  const price = prices?.get(row.model_group)
  const savedCacheCost =
    cacheHit && price ? row.prompt_tokens * price.input + row.completion_tokens * price.output : 0
  const failed = row.status === 'failure'
  const spendLogsMetadata = (meta.spend_logs_metadata as Record<string, unknown> | null) ?? null
  return {
    id: responseId(row.request_id),
    trace_id: row.session_id,
    litellm_call_id: (meta.litellm_call_id as string | undefined) ?? null,
    session_id: row.session_id,
    call_type: row.call_type,
    stream: false,
    response_cost: row.spend,
    cost_breakdown: meta.cost_breakdown ?? null,
    response_cost_failure_debug_info: null,
    status: failed ? 'failure' : 'success',
    status_fields: { llm_api_status: failed ? 'failure' : 'success', guardrail_status: 'not_run' },
    custom_llm_provider: row.custom_llm_provider || null,
    total_tokens: row.total_tokens,
    prompt_tokens: row.prompt_tokens,
    completion_tokens: row.completion_tokens,
    startTime: row.startTime / 1000,
    endTime: row.endTime / 1000,
    completionStartTime: (row.completionStartTime ?? row.endTime) / 1000,
    response_time: ((row.completionStartTime ?? row.endTime) - row.startTime) / 1000,
    model_map_information: { model_map_key: row.model_group, model_map_value: null },
    model: row.model_group,
    model_id: row.model_id,
    model_group: row.model_group,
    api_base: row.api_base,
    metadata: {
      user_api_key_hash: row.api_key,
      user_api_key_alias: meta.user_api_key_alias ?? null,
      user_api_key_user_id: row.user || null,
      user_api_key_team_id: row.team_id || null,
      user_api_key_org_id: row.organization_id || null,
      user_api_key_end_user_id: row.end_user || null,
      spend_logs_metadata: spendLogsMetadata,
      requester_metadata: spendLogsMetadata ? { spend_logs_metadata: spendLogsMetadata } : {},
      requester_ip_address: row.requester_ip_address,
    },
    cache_hit: cacheHit,
    cache_key: row.cache_key === 'Cache OFF' ? null : row.cache_key,
    saved_cache_cost: savedCacheCost,
    request_tags: row.request_tags,
    end_user: row.end_user || null,
    requester_ip_address: row.requester_ip_address,
    messages: [{ role: 'user', content: '…' }],
    response: failed ? null : { id: responseId(row.request_id), object: 'chat.completion' },
    error_str: failed
      ? ((meta.error_information as { error_message?: string } | null)?.error_message ?? null)
      : null,
    error_information: meta.error_information ?? null,
    model_parameters: {},
    hidden_params: {
      model_id: row.model_id,
      cache_key: row.cache_key === 'Cache OFF' ? null : row.cache_key,
      api_base: row.api_base,
      response_cost: row.spend,
      additional_headers: {},
      litellm_overhead_time_ms: 2.5,
      batch_models: null,
      litellm_model_name: row.model,
      usage_object: null,
    },
  }
}

async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number
): Promise<{ status: number | null; error: string | null }> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    })
    await response.arrayBuffer().catch(() => undefined)
    return {
      status: response.status,
      error: response.ok ? null : `HTTP ${response.status}`,
    }
  } catch (error) {
    return { status: null, error: error instanceof Error ? error.message : String(error) }
  }
}

/**
 * Sends the rows as generic_api batches, one batch after the other (a flush
 * sends one batch). Never retries: a failed batch is dropped and reported.
 */
export async function sendCallbacks(
  url: string,
  rows: SpendRow[],
  options: SendCallbacksOptions = {}
): Promise<CallbackReport> {
  const batchSize = Math.max(1, options.batchSize ?? 512)
  const format = options.logFormat ?? 'json_array'
  const headers = options.headers ?? {}
  const timeoutMs = options.timeoutMs ?? 10_000
  const batches: BatchReport[] = []
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = rows.slice(start, start + batchSize)
    const payloads = batch.map((row) => markFloats(toStandardLoggingPayload(row, options.prices)))
    const ids = batch.map((row) => responseId(row.request_id))
    if (format === 'single') {
      const results = await Promise.all(
        payloads.map((payload) => post(url, pythonJson(payload), headers, timeoutMs))
      )
      results.forEach((result, index) =>
        batches.push({
          size: 1,
          ids: [ids[index]],
          ...result,
          delivered: result.error === null,
        })
      )
      continue
    }
    const body =
      format === 'ndjson'
        ? payloads.map((payload) => pythonJson(payload)).join('\n')
        : pythonJson(payloads)
    const result = await post(url, body, headers, timeoutMs)
    batches.push({ size: batch.length, ids, ...result, delivered: result.error === null })
  }
  const delivered = batches.filter((batch) => batch.delivered).reduce((sum, b) => sum + b.size, 0)
  return { batches, delivered, dropped: rows.length - delivered }
}
