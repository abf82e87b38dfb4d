import env from '#start/env'

/** Our base price for one model group, in micro-dollars per million tokens. */
export type ModelPrice = {
  inputMicrosPerMillion: number
  outputMicrosPerMillion: number
}

/**
 * AI usage: how often and how far back `usage:sync` reads LiteLLM, and what
 * we charge per request (integer micro-dollars, computed once at ingestion).
 *
 * Pricing, per request (app/services/usage/usage_pricing.ts):
 * - a LiteLLM cache hit costs 0;
 * - an agent priced `api` costs its own input/output prices per million tokens
 *   (no markup: the creator set the price, and earns 90% of it per invoice);
 * - a model group listed in `modelPrices` costs tokens x that price, plus
 *   `markupBps`;
 * - any other model group falls back to LiteLLM's own `spend` plus `markupBps`,
 *   and is reported as unpriced (a warning per model group in every sync and
 *   in the intake's answer) so an operator adds it to the table.
 */
const usageConfig = {
  /** Markup in basis points over the base price (1500 = +15%). USAGE_MARKUP_BPS. */
  markupBps: env.get('USAGE_MARKUP_BPS'),

  /**
   * Base prices by LiteLLM `model_group` (the name clients ask for). Keep in
   * step with the proxy's model list: groups missing here are billed at
   * LiteLLM's spend and reported.
   */
  modelPrices: {
    'openai/gpt-4o-mini': { inputMicrosPerMillion: 150_000, outputMicrosPerMillion: 600_000 },
    'gpt-4o-mini': { inputMicrosPerMillion: 150_000, outputMicrosPerMillion: 600_000 },
    'gpt-4o': { inputMicrosPerMillion: 2_500_000, outputMicrosPerMillion: 10_000_000 },
    'claude-sonnet': { inputMicrosPerMillion: 3_000_000, outputMicrosPerMillion: 15_000_000 },
  } as Record<string, ModelPrice>,

  sync: {
    /**
     * Each run re-reads this far before the watermark (USAGE_SYNC_LOOKBACK_SECONDS,
     * default 2 h): LiteLLM writes a row when the request ends but files it under
     * its start, so it must exceed the proxy's longest request (`request_timeout`)
     * plus its write delay.
     */
    lookbackSeconds: env.get('USAGE_SYNC_LOOKBACK_SECONDS'),
    /** Rows newer than now minus this are left for the next run (LiteLLM's batch writer lags ~10 s). */
    settleSeconds: env.get('USAGE_SYNC_SETTLE_SECONDS'),
    /** The window is read in sub-windows of this length (keeps offsets shallow, under the 10k cap). */
    chunkMinutes: Math.max(1, env.get('USAGE_SYNC_CHUNK_MINUTES')),
    /** With no watermark yet, the first run starts this many days back. */
    initialDays: env.get('USAGE_SYNC_INITIAL_DAYS'),
    /** Named lock held by a run, so two cron hosts never sync at once. */
    lockName: 'usage:sync:litellm',
    /** The lock's time to live; a run extends it as it goes, a crashed host's lock expires. */
    lockTtl: '5m',
  },
}

export default usageConfig
