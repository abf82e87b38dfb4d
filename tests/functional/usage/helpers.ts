import db from '@adonisjs/lucid/services/db'
import { LiteLLMSandbox, type LiteLLMSandboxOptions } from '#sandbox/litellm/sandbox'
import LiteLLMClient from '#services/usage/litellm_client'
import UsageSyncService from '#services/usage/usage_sync_service'
import { truncate } from '#tests/support/database'

/*
| Real tables and truncation (concurrent syncs race on the named lock and on
| request_id, which one global transaction would hide). Each test starts its
| own LiteLLM sandbox with the users it needs, so its rows are known exactly.
*/

export const MASTER_KEY = 'sk-litellm-usage-tests'
export const DAY = '2026-11-01'
export const at = (time: string) => new Date(`${DAY}T${time}Z`)

let range = 0
export async function resetUsage() {
  await truncate(
    'users',
    'projects',
    'marketplace_agents',
    'usage_logs',
    'usage_spend_mismatches',
    'usage_sync_states',
    'usage_invoices',
    'job_runs',
    'locks'
  )
  range += 1
  const start = 8_000_000 + range * 1000
  for (const table of ['users', 'marketplace_agents', 'projects']) {
    await db.rawQuery(`SELECT setval(pg_get_serial_sequence(?, 'id'), ?, false)`, [table, start])
  }
}

export async function createUser(email: string) {
  const result = await db.rawQuery<{ rows: { id: string }[] }>(
    `INSERT INTO users (full_name, email, password, plan, created_at, updated_at)
     VALUES (?, ?, 'x', 'free', now(), now()) RETURNING id`,
    [email.split('@')[0], email]
  )
  return Number(result.rows[0].id)
}

export async function createAgent(
  slug: string,
  pricing: { input: number; output: number } | null = null
) {
  const result = await db.rawQuery<{ rows: { id: string }[] }>(
    `INSERT INTO marketplace_agents (slug, name, description, pricing_type, price_cents,
       input_price_micros_per_million, output_price_micros_per_million, created_at, updated_at)
     VALUES (?, ?, '', ?, NULL, ?, ?, now(), now()) RETURNING id`,
    [slug, slug, pricing ? 'api' : 'free', pricing?.input ?? null, pricing?.output ?? null]
  )
  return Number(result.rows[0].id)
}

export async function createProject(userId: number, slug: string) {
  const result = await db.rawQuery<{ rows: { id: string }[] }>(
    `INSERT INTO projects (user_id, name, slug, created_at, updated_at)
     VALUES (?, ?, ?, now(), now()) RETURNING id`,
    [userId, slug, slug]
  )
  return Number(result.rows[0].id)
}

/** A sandbox of its own: 0 generated rows unless asked, stable tie order unless asked. */
export function startSandbox(options: LiteLLMSandboxOptions = {}) {
  return LiteLLMSandbox.start({
    port: 0,
    masterKey: MASTER_KEY,
    rows: 0,
    since: `${DAY}T00:00:00Z`,
    until: `${DAY}T06:00:00Z`,
    ...options,
  })
}

export function clientFor(sandbox: LiteLLMSandbox) {
  return new LiteLLMClient({
    baseUrl: sandbox.url,
    apiKey: MASTER_KEY,
    maxRetries: 2,
    timeoutMs: 3000,
    backoffMs: 5,
  })
}

export function syncServiceFor(sandbox: LiteLLMSandbox) {
  return new UsageSyncService(clientFor(sandbox))
}

export type StoredRow = {
  request_id: string
  user_id: string | null
  agent_id: string | null
  project_id: string | null
  spend_micros: string
  cost_micros: string
  attribution: string
  spend_mismatch: boolean
  cache_hit: boolean
  usage_invoice_id: string | null
  metadata: Record<string, unknown>
}

export async function storedRows(): Promise<StoredRow[]> {
  const result = await db.rawQuery<{ rows: StoredRow[] }>(
    'SELECT * FROM usage_logs ORDER BY request_id'
  )
  return result.rows
}

export async function storedIds(): Promise<string[]> {
  const rows = await storedRows()
  return rows.map((row) => row.request_id)
}

export async function storedById(): Promise<Record<string, StoredRow>> {
  const rows = await storedRows()
  return Object.fromEntries(rows.map((row) => [row.request_id, row]))
}

/** Distinct request_ids the sandbox serves in the window (what a correct sync stores). */
export function expectedIds(sandbox: LiteLLMSandbox, since: Date, until: Date) {
  return [...new Set(sandbox.rowsBetween(since, until).map((row) => row.request_id))].sort()
}

/** A v2 row for `addRows` (LiteLLM's column defaults fill the rest). */
export function spendRow(
  requestId: string,
  startTime: string,
  fields: Record<string, unknown> = {}
) {
  return {
    request_id: requestId,
    startTime: `${DAY}T${startTime}+00:00`,
    endTime: `${DAY}T${startTime}+00:00`,
    model: 'gpt-4o-mini-2024-07-18',
    model_group: 'openai/gpt-4o-mini',
    prompt_tokens: 1000,
    completion_tokens: 100,
    total_tokens: 1100,
    spend: 0.00021,
    status: 'success',
    cache_hit: 'False',
    ...fields,
  }
}
