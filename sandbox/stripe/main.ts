/**
 * Standalone runner: `npm run sandbox:stripe`.
 *
 * Env:
 *   STRIPE_SANDBOX_PORT         port (default 12111)
 *   STRIPE_SANDBOX_WEBHOOK_URL  endpoint to register (optional)
 *   STRIPE_WEBHOOK_SECRET       its signing secret (random `whsec_…` if unset)
 *   STRIPE_SANDBOX_DATA         JSON state file (optional; memory only without it)
 *   STRIPE_SANDBOX_WEBHOOK_RETRY_MS  retry delays, e.g. "1000,5000,30000"
 */
import { StripeSandbox } from './sandbox.js'

function retrySchedule(value: string | undefined): number[] {
  if (!value) return [1_000, 5_000, 30_000]
  const delays = value.split(',').map((item) => Number(item.trim()))
  if (delays.some((delay) => !Number.isFinite(delay) || delay < 0)) {
    throw new Error(`Invalid STRIPE_SANDBOX_WEBHOOK_RETRY_MS: ${value}`)
  }
  return delays
}

const port = Number(process.env.STRIPE_SANDBOX_PORT ?? 12111)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  throw new Error(`Invalid STRIPE_SANDBOX_PORT: ${process.env.STRIPE_SANDBOX_PORT}`)
}

const sandbox = await StripeSandbox.start({
  port,
  dataFile: process.env.STRIPE_SANDBOX_DATA || undefined,
  webhookRetrySchedule: retrySchedule(process.env.STRIPE_SANDBOX_WEBHOOK_RETRY_MS),
  tickMs: 1000,
})

let webhookNote = ''
const webhookUrl = process.env.STRIPE_SANDBOX_WEBHOOK_URL
if (webhookUrl) {
  // A persisted state may already hold this endpoint: replace it so the secret matches the env.
  for (const endpoint of sandbox.webhookEndpoints()) {
    if (endpoint.url === webhookUrl) sandbox.removeWebhookEndpoint(endpoint.id)
  }
  const added = sandbox.addWebhookEndpoint({
    url: webhookUrl,
    secret: process.env.STRIPE_WEBHOOK_SECRET || undefined,
  })
  webhookNote = process.env.STRIPE_WEBHOOK_SECRET
    ? ` (webhooks → ${webhookUrl})`
    : ` (webhooks → ${webhookUrl}, secret ${added.secret})`
}

process.stdout.write(`Stripe sandbox listening on ${sandbox.url}${webhookNote}\n`)

let stopping = false
const shutdown = () => {
  if (stopping) return
  stopping = true
  sandbox.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`Stripe sandbox failed to stop cleanly: ${String(error)}\n`)
      process.exit(1)
    }
  )
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
