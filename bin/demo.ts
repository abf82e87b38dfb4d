/*
|--------------------------------------------------------------------------
| `npm run demo`: the whole product on one machine, no setup
|--------------------------------------------------------------------------
|
| Creates .env if missing, starts the embedded PostgreSQL (unless
| DATABASE_URL / DB_HOST name a server), starts the Stripe sandbox, runs
| the migrations and the demo seeder, then serves the app and prints the
| URL and the demo login. `npm run dev` does the same with file watching.
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
if (!setting('STRIPE_API_BASE') && !setting('STRIPE_SECRET_KEY')?.startsWith('sk_live_')) {
  const { StripeSandbox } = await import('../sandbox/stripe/sandbox.js')
  mkdirSync(new URL('tmp/', APP_ROOT), { recursive: true })
  const sandbox = await StripeSandbox.start({
    port: Number(setting('STRIPE_SANDBOX_PORT') ?? 12111),
    dataFile: fileURLToPath(new URL('tmp/stripe-sandbox.json', APP_ROOT)),
    tickMs: 1000,
  })
  process.env.STRIPE_API_BASE = sandbox.url
  stopSandbox = () => sandbox.stop()
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
