/**
 * Standalone runner: `npm run sandbox:litellm`.
 *
 * Env:
 *   LITELLM_SANDBOX_PORT       port (default 4000, LiteLLM's)
 *   LITELLM_SANDBOX_HOST       interface (default 127.0.0.1)
 *   LITELLM_API_KEY            master key (default sk-litellm-master; must start with sk-)
 *   LITELLM_SANDBOX_SEED       generator seed (default 1)
 *   LITELLM_SANDBOX_ROWS       generated rows (default 10000)
 *   LITELLM_SANDBOX_SINCE / _UNTIL  startTime span (ISO; default the 7 days before this hour)
 *   LITELLM_SANDBOX_USERS      comma-separated known user ids (default 1,2,3,4,5)
 *   LITELLM_SANDBOX_AGENTS     comma-separated agent slugs (default code-reviewer,sql-helper,ui-designer)
 *   LITELLM_SANDBOX_WRITE_DELAY_MS  ms after endTime before a row is visible (default 0)
 *   LITELLM_SANDBOX_PAGE_SIZE_MAX   100 or 1000 (default 1000)
 *   LITELLM_SANDBOX_ROWS_FILE  JSON array / NDJSON of v2 rows to load
 */
import { LiteLLMSandbox } from './sandbox.js'

function integer(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) throw new Error(`Invalid ${name}: ${raw}`)
  return value
}

function list(name: string): string[] | undefined {
  const raw = process.env[name]
  if (!raw) return undefined
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
}

const port = integer('LITELLM_SANDBOX_PORT', 4000)
if (port > 65535) throw new Error(`Invalid LITELLM_SANDBOX_PORT: ${port}`)

const sandbox = await LiteLLMSandbox.start({
  port,
  host: process.env.LITELLM_SANDBOX_HOST || '127.0.0.1',
  masterKey: process.env.LITELLM_API_KEY || undefined,
  seed: integer('LITELLM_SANDBOX_SEED', 1),
  rows: integer('LITELLM_SANDBOX_ROWS', 10_000),
  since: process.env.LITELLM_SANDBOX_SINCE || undefined,
  until: process.env.LITELLM_SANDBOX_UNTIL || undefined,
  users: list('LITELLM_SANDBOX_USERS'),
  agents: list('LITELLM_SANDBOX_AGENTS'),
  writeDelayMs: integer('LITELLM_SANDBOX_WRITE_DELAY_MS', 0),
  pageSizeMax: integer('LITELLM_SANDBOX_PAGE_SIZE_MAX', 1000),
  rowsFile: process.env.LITELLM_SANDBOX_ROWS_FILE || undefined,
})

const { generated } = sandbox.describe()
process.stdout.write(
  `LiteLLM sandbox listening on ${sandbox.url} (key ${sandbox.masterKey.slice(0, 6)}…, ` +
    `${generated.rows} rows ${generated.since} → ${generated.until}, seed ${generated.seed}; controls under /_sim)\n`
)

let stopping = false
const shutdown = () => {
  if (stopping) return
  stopping = true
  sandbox.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`LiteLLM sandbox failed to stop cleanly: ${String(error)}\n`)
      process.exit(1)
    }
  )
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
