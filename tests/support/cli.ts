import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import app from '@adonisjs/core/services/app'
import { stripeSandbox } from '#tests/support/stripe'

export type CliRun = { code: number | null; stdout: string; stderr: string }

/**
 * Runs the real CLI (`cli/main.ts`) in a child process against the test
 * database (DATABASE_URL is inherited) and this run's Stripe sandbox; never
 * rejects. `preload` modules are imported first (e.g. test-only handlers).
 */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; preload?: string[]; timeoutMs?: number } = {}
): Promise<CliRun> {
  const imports = (options.preload ?? []).map((file) => `--import=${file}`)
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import=@poppinss/ts-exec', ...imports, 'cli/main.ts', ...args],
      {
        cwd: fileURLToPath(app.appRoot),
        env: {
          ...process.env,
          NODE_ENV: 'test',
          STRIPE_API_BASE: stripeSandbox().url,
          ...options.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }
    )
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 50_000)
    child.on('error', (error) => (stderr += `spawn failed: ${error.message}\n`))
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}
