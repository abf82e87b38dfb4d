/*
|--------------------------------------------------------------------------
| `npm run demo`: the whole product on one machine, no setup
|--------------------------------------------------------------------------
|
| Creates .env if missing, starts the embedded PostgreSQL (unless
| DATABASE_URL / DB_HOST name a server), starts the Stripe sandbox and the
| LiteLLM sandbox (a month of AI requests by the demo user), runs the
| migrations and the demo seeder, syncs the usage, then serves the app and
| prints the URL and the demo login. `npm run dev` does the same with file
| watching.
|
*/

import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdirSync } from 'node:fs'
import { APP_ROOT } from './app_root.js'
import { ensureDatabase, ensureDotEnv, localSettings } from './local_environment.js'

const root = fileURLToPath(APP_ROOT)
const watch = process.argv.includes('--watch')

ensureDotEnv()
const setting = await localSettings()
const appUrl = setting('APP_URL') ?? 'http://localhost:3333'

const database = await ensureDatabase('dev')

// The Stripe sandbox stands in for Stripe unless a real Stripe (or another stand-in) is configured.
let stopSandbox = async () => {}
let webhookNote = ''
if (!setting('STRIPE_API_BASE') && !setting('STRIPE_SECRET_KEY')?.startsWith('sk_live_')) {
  const { StripeSandbox } = await import('../sandbox/stripe/sandbox.js')
  mkdirSync(new URL('tmp/', APP_ROOT), { recursive: true })
  const sandbox = await StripeSandbox.start({
    port: Number(setting('STRIPE_SANDBOX_PORT') ?? 12111),
    dataFile: fileURLToPath(new URL('tmp/stripe-sandbox.json', APP_ROOT)),
    tickMs: 1000,
    // Events from the seeding arrive before the app listens: retry for a couple of minutes.
    webhookRetrySchedule: [1_000, 5_000, 30_000, 120_000],
  })
  process.env.STRIPE_API_BASE = sandbox.url
  stopSandbox = () => sandbox.stop()

  // Deliver the sandbox's events to the app, signed with the secret the app verifies. The
  // persisted state may hold this endpoint already: replace it so the secret matches .env.
  const webhookUrl = new URL('/api/webhooks/stripe', appUrl).href
  for (const endpoint of sandbox.webhookEndpoints()) {
    if (endpoint.url === webhookUrl) sandbox.removeWebhookEndpoint(endpoint.id)
  }
  const added = sandbox.addWebhookEndpoint({
    url: webhookUrl,
    secret: setting('STRIPE_WEBHOOK_SECRET') || undefined,
  })
  // Without a secret in .env the sandbox made one: hand it to the app (process env wins over .env).
  process.env.STRIPE_WEBHOOK_SECRET = added.secret
  webhookNote = `  Webhooks:      ${webhookUrl}`
}

// The LiteLLM sandbox stands in for the proxy unless one is configured: 30 days of requests by
// the demo user (by email, as the proxy would pass it), some through the demo agents.
let stopLiteLLM = async () => {}
if (!setting('LITELLM_BASE_URL')) {
  const { LiteLLMSandbox } = await import('../sandbox/litellm/sandbox.js')
  const masterKey = setting('LITELLM_API_KEY') || 'sk-litellm-demo'
  const until = new Date()
  const litellm = await LiteLLMSandbox.start({
    port: Number(setting('LITELLM_SANDBOX_PORT') ?? 4000),
    masterKey,
    seed: 42,
    rows: 3_000,
    since: new Date(until.getTime() - 30 * 24 * 3600 * 1000).toISOString(),
    until: new Date(until.getTime() - 10 * 60 * 1000).toISOString(),
    users: ['demo@studio.test'],
    unknownUserRate: 0.02,
    agents: ['sql-tutor', 'studio-assistant'],
  })
  process.env.LITELLM_BASE_URL = litellm.url
  process.env.LITELLM_API_KEY = masterKey
  stopLiteLLM = () => litellm.stop()
}

/** Runs an ace command; asynchronously, so the in-process Stripe sandbox keeps answering. */
function ace(args: string[]) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['ace', ...args], {
      cwd: root,
      stdio: 'inherit',
      env: process.env,
    })
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`ace ${args.join(' ')} failed`))
    )
  })
}

async function shutdown(code: number) {
  await stopLiteLLM()
  await stopSandbox()
  await database.stop()
  process.exit(code)
}

try {
  await ace(['migration:run', '--force'])
  await ace(['db:seed', '--files', 'database/seeders/demo_seeder.ts'])
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  await shutdown(1)
}

// The demo user's usage, pulled the way cron's `usage:sync` does (a failure is not fatal).
await new Promise<void>((resolve) => {
  const child = spawn(
    process.execPath,
    ['--import=@poppinss/ts-exec', 'cli/main.ts', 'usage:sync'],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: process.env }
  )
  child.on('exit', () => resolve())
})

const server = spawn(process.execPath, ['ace', 'serve', ...(watch ? ['--hmr'] : [])], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: process.env,
})

setTimeout(() => {
  process.stdout.write(
    [
      '',
      '  Studio Billing demo',
      `  App:           ${appUrl}`,
      `  Demo login:    demo@studio.test / demo-password`,
      `  Stripe:        ${process.env.STRIPE_API_BASE ?? 'api.stripe.com'}`,
      `  LiteLLM:       ${process.env.LITELLM_BASE_URL ?? '(not configured)'}`,
      ...(webhookNote ? [webhookNote] : []),
      `  Database:      ${process.env.DATABASE_URL ? process.env.DATABASE_URL.replace(/:[^:@/]+@/, ':****@') : 'DB_* settings'}`,
      '  Stop with Ctrl+C.',
      '',
    ].join('\n')
  )
}, 3000)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.kill('SIGINT')
  })
}
server.on('exit', (code) => shutdown(code ?? 0))
