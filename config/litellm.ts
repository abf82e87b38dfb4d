import env from '#start/env'

/**
 * The LiteLLM proxy whose spend logs we bill (GET /spend/logs/v2).
 */
const litellmConfig = {
  baseUrl: env.get('LITELLM_BASE_URL'),
  apiKey: env.get('LITELLM_API_KEY'),
  /** Per-request timeout; a timed-out or 5xx/429 call is retried `maxRetries` times with backoff. */
  timeoutMs: Math.max(1, env.get('LITELLM_TIMEOUT_MS')),
  maxRetries: env.get('LITELLM_MAX_RETRIES'),
  /** `page_size` sent to /spend/logs/v2: 1000 on LiteLLM >= mid-2026, 100 on older proxies. */
  pageSize: Math.min(1000, Math.max(1, env.get('LITELLM_PAGE_SIZE'))),
  /** Bearer secret the generic_api callback must send to POST /api/litellm/callback. */
  callbackSecret: env.get('LITELLM_CALLBACK_SECRET'),
}

export default litellmConfig
