/*
| Child processes the benchmarks start: the Stripe sandbox (its own process,
| as Stripe is another machine), the LiteLLM sandbox, the built app server.
*/

import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface Started {
  url: string
  child: ChildProcess
  pid: number
  stop: () => Promise<void>
}

/**
 * Spawns `node args…` and resolves once its stdout matches `ready` (the
 * first capture group is the URL), or rejects when it exits or times out.
 */
export async function startProcess(options: {
  name: string
  args: string[]
  env: NodeJS.ProcessEnv
  /** Ready when stdout matches (first group: the URL); null: at once (the caller checks). */
  ready: RegExp | null
  cwd?: string
  timeoutMs?: number
  stopSignal?: NodeJS.Signals
  /** Keep the child's stdout (after ready) on ours. */
  echo?: boolean
  url?: (match: RegExpExecArray) => string
}): Promise<Started> {
  const child = spawn(process.execPath, options.args, {
    cwd: options.cwd ?? ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    if (options.ready === null) {
      child.stdout!.on('data', (data) => (options.echo ? process.stdout.write(data) : undefined))
      return resolve(options.url ? options.url([] as unknown as RegExpExecArray) : '')
    }
    const ready = options.ready
    let seen = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${options.name} did not start in time`))
    }, options.timeoutMs ?? 60_000)
    const onData = (chunk: string) => {
      seen += chunk
      const match = ready.exec(seen)
      if (match) {
        clearTimeout(timer)
        child.stdout!.off('data', onData)
        if (options.echo) child.stdout!.on('data', (data) => process.stdout.write(data))
        else child.stdout!.resume()
        resolve(options.url ? options.url(match) : match[1])
      }
    }
    child.stdout!.setEncoding('utf8').on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(
        new Error(`${options.name} exited (${code}) before it was ready: ${seen.slice(-2000)}`)
      )
    })
  })
  return {
    url,
    child,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
        child.once('exit', () => {
          clearTimeout(timer)
          resolve()
        })
        child.kill(options.stopSignal ?? 'SIGTERM')
      }),
  }
}

/** The Stripe sandbox in its own process (`npm run sandbox:stripe`), no webhook endpoint. */
export function startStripeSandbox(env: NodeJS.ProcessEnv = {}) {
  return startProcess({
    name: 'the Stripe sandbox',
    args: ['--import=@poppinss/ts-exec', 'sandbox/stripe/main.ts'],
    env: { ...process.env, STRIPE_SANDBOX_PORT: '0', STRIPE_SANDBOX_WEBHOOK_URL: '', ...env },
    ready: /listening on (http:\/\/\S+)/,
    timeoutMs: 30_000,
    stopSignal: 'SIGINT',
  })
}

/** Finds a free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}
