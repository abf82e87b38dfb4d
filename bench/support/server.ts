/*
| The production build of the app: `npm run build` (node ace build → build/),
| then `node build/bin/server.js` with the environment it needs. The bench
| process is the client, over loopback.
*/

import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, ROOT, startProcess, type Started } from './processes.js'

export const BUILD_DIR = join(ROOT, 'build')

/** Builds the app unless told not to (`--no-build`) and a build exists. */
export function buildApp(options: { skip?: boolean } = {}) {
  const server = join(BUILD_DIR, 'bin', 'server.js')
  if (options.skip && existsSync(server)) return { built: false, seconds: 0 }
  const started = performance.now()
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const result = spawnSync(npm, ['run', 'build'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, NODE_ENV: 'development' },
  })
  if (result.status !== 0 || !existsSync(server)) {
    process.stderr.write(result.stdout + result.stderr)
    throw new Error('npm run build failed')
  }
  return { built: true, seconds: (performance.now() - started) / 1000 }
}

/** KEY=VALUE lines of an env file (no expansion: .env.example has none). */
function readEnvFile(path: string): Record<string, string> {
  if (!existsSync(path)) return {}
  const values: Record<string, string> = {}
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*([A-Z][A-Z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line)
    if (match && match[2] !== '') values[match[1]] = match[2].replace(/^(['"])(.*)\1$/, '$2')
  }
  return values
}

export interface BuiltServer extends Started {
  port: number
}

/**
 * Starts build/bin/server.js (NODE_ENV=production) on 127.0.0.1. Settings:
 * .env.example's values, then the bench's (database, Stripe sandbox, secrets).
 * The port: `port`, else BENCH_PORT, else a free one.
 */
export async function startBuiltServer(settings: {
  databaseUrl: string
  stripeApiBase: string
  stripeSecretKey: string
  webhookSecret: string
  port?: number
  env?: Record<string, string>
}): Promise<BuiltServer> {
  const port = settings.port ?? (Number(process.env.BENCH_PORT) || (await freePort()))
  const base = readEnvFile(join(ROOT, '.env.example'))
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...base,
    TZ: 'UTC',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    APP_URL: `http://127.0.0.1:${port}`,
    APP_KEY: randomBytes(24).toString('base64url'),
    LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn',
    SESSION_DRIVER: 'cookie',
    DATABASE_URL: settings.databaseUrl,
    STRIPE_API_BASE: settings.stripeApiBase,
    STRIPE_SECRET_KEY: settings.stripeSecretKey,
    STRIPE_WEBHOOK_SECRET: settings.webhookSecret,
    ...settings.env,
  }
  const started = await startProcess({
    name: 'the built server (build/bin/server.js)',
    // BENCH_PROFILE=1: a CPU profile of the server under tmp/bench/profiles (written at exit).
    args: [
      ...(process.env.BENCH_PROFILE
        ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'tmp', 'bench', 'profiles')}`]
        : []),
      'bin/server.js',
    ],
    cwd: BUILD_DIR,
    env,
    ready: null,
    url: () => `http://127.0.0.1:${port}`,
    echo: true,
  })
  // Ready when /health answers (the log level may hide the "started" line).
  const deadline = Date.now() + 60_000
  for (;;) {
    if (started.child.exitCode !== null) throw new Error('the built server exited at start')
    try {
      const response = await fetch(`${started.url}/health`)
      if (response.ok) break
    } catch {}
    if (Date.now() > deadline) throw new Error('the built server does not answer /health')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { ...started, port }
}
