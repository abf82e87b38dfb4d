import { LiteLLMSandbox } from '../../sandbox/litellm/sandbox.js'
import { localSettings } from '../../bin/local_environment.js'

/**
 * The LiteLLM sandbox the whole test run talks to. bin/test.ts starts it before
 * the app boots and exports its URL as LITELLM_BASE_URL and its master key as
 * LITELLM_API_KEY (the key is read the way the app will: the process environment
 * first, then .env and .env.test), so the app's usage sync reaches it over HTTP
 * like it would the real proxy.
 *
 * It serves a small fixed data set (seed 7, 2,000 rows on 2026-11-01 UTC); tests
 * add rows (late, duplicates, cache hits) and faults through its API and should
 * `reset()` what they added.
 */
let instance: LiteLLMSandbox | null = null

export const SUITE_LITELLM_DATA = {
  seed: 7,
  rows: 2_000,
  // LiteLLM users that are none of ours (test users' ids restart at 1 after truncation):
  // a sync of the suite data leaves these rows unattributed instead of billing a test user.
  users: ['suite-user-a', 'suite-user-b', 'suite-user-c'],
  since: '2026-11-01T00:00:00.000Z',
  until: '2026-11-02T00:00:00.000Z',
} as const

export async function startLiteLLMSandbox() {
  const setting = await localSettings(['.env', '.env.test'])
  const masterKey = setting('LITELLM_API_KEY') ?? 'sk-litellm-test'
  instance = await LiteLLMSandbox.start({
    port: 0,
    masterKey,
    ...SUITE_LITELLM_DATA,
    users: [...SUITE_LITELLM_DATA.users],
  })
  process.env.LITELLM_BASE_URL = instance.url
  process.env.LITELLM_API_KEY = masterKey
  return instance
}

export function litellmSandbox(): LiteLLMSandbox {
  if (!instance) throw new Error('The LiteLLM sandbox is not running (bin/test.ts starts it)')
  return instance
}
