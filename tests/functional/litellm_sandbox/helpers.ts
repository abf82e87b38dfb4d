/**
 * Shared helpers for the LiteLLM sandbox tests: a sandbox per group, spend-log
 * calls through real HTTP (fetch), a naive pager, and a receiver standing in for
 * the app's generic_api callback endpoint.
 */
import http from 'node:http'
// Type-only: brings the `assert` property of Japa's TestContext into scope for every spec.
import type {} from '@japa/assert'
import type { Group } from '@japa/runner/core'
import { LiteLLMSandbox, type LiteLLMSandboxOptions } from '../../../sandbox/litellm/sandbox.js'

export const MASTER_KEY = 'sk-sandbox-suite-master'

/** A day of generated spend on 2026-11-01 UTC. */
export const DAY = {
  seed: 11,
  rows: 3_000,
  since: '2026-11-01T00:00:00.000Z',
  until: '2026-11-02T00:00:00.000Z',
} as const

/** Starts a sandbox for the group (stopped after it) and hands it to `ready`; reset before each test. */
export function useLiteLLM(
  group: Group,
  options: LiteLLMSandboxOptions,
  ready: (sandbox: LiteLLMSandbox) => void
) {
  let sandbox: LiteLLMSandbox | undefined
  group.setup(async () => {
    sandbox = await LiteLLMSandbox.start({ port: 0, masterKey: MASTER_KEY, ...options })
    ready(sandbox)
    return () => sandbox?.stop()
  })
  group.each.setup(() => sandbox?.reset())
}

export interface SpendLogsPage {
  data: Array<Record<string, any>>
  total: number
  page: number
  page_size: number
  total_pages: number
  total_is_capped?: boolean
}

export interface Answer<T = any> {
  status: number
  body: T
  text: string
}

/** GET /spend/logs/v2 with these query params and the master key (or `key`; null = no header). */
export async function spendLogs(
  sandbox: LiteLLMSandbox,
  params: Record<string, string | number>,
  key: string | null = MASTER_KEY,
  path = '/spend/logs/v2'
): Promise<Answer> {
  const query = new URLSearchParams(
    Object.entries(params).map(([name, value]) => [name, String(value)])
  )
  const response = await fetch(`${sandbox.url}${path}?${query}`, {
    headers: key === null ? {} : { Authorization: `Bearer ${key}` },
  })
  const text = await response.text()
  return { status: response.status, body: JSON.parse(text), text }
}

/**
 * Pages a window the naive way (page 1, 2, … until `data` is empty) and returns
 * every request_id in arrival order, duplicates included.
 */
export async function pageAll(
  sandbox: LiteLLMSandbox,
  params: Record<string, string | number>,
  pageSize: number
): Promise<{ ids: string[]; rows: Array<Record<string, any>>; pages: number }> {
  const rows: Array<Record<string, any>> = []
  let page = 1
  for (; ; page++) {
    const answer = await spendLogs(sandbox, { ...params, page, page_size: pageSize })
    if (answer.status !== 200) throw new Error(`page ${page}: HTTP ${answer.status} ${answer.text}`)
    if (answer.body.data.length === 0) break
    rows.push(...answer.body.data)
  }
  return { ids: rows.map((row) => row.request_id as string), rows, pages: page - 1 }
}

/** POSTs JSON to a `/_sim/…` control route. */
export async function simPost(sandbox: LiteLLMSandbox, path: string, body: unknown = {}) {
  const response = await fetch(`${sandbox.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as any }
}

export async function simGet(sandbox: LiteLLMSandbox, path: string) {
  const response = await fetch(`${sandbox.url}${path}`)
  return { status: response.status, body: (await response.json()) as any }
}

export interface ReceivedBatch {
  headers: http.IncomingHttpHeaders
  raw: string
}

/** A local HTTP server standing in for the app's generic_api callback endpoint. */
export class CallbackReceiver {
  readonly received: ReceivedBatch[] = []
  /** Status to answer for the n-th request (0-based). */
  responder: (index: number) => number = () => 200
  #server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const index =
        this.received.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') }) -
        1
      const status = this.responder(index)
      res.writeHead(status, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ ok: status < 300 }))
    })
  })
  #port = 0

  static async start(): Promise<CallbackReceiver> {
    const receiver = new CallbackReceiver()
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve))
    const address = receiver.#server.address()
    receiver.#port = typeof address === 'object' && address ? address.port : 0
    return receiver
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/api/litellm/callbacks`
  }

  reset() {
    this.received.length = 0
    this.responder = () => 200
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve())
      this.#server.closeAllConnections()
    })
  }
}

/** LiteLLM's date format for an ISO time. */
export function litellmDate(iso: string | number): string {
  return new Date(iso).toISOString().slice(0, 19).replace('T', ' ')
}

/** The HTTP status of a spend-log call. */
export async function statusOf(...args: Parameters<typeof spendLogs>): Promise<number> {
  const answer = await spendLogs(...args)
  return answer.status
}

/** `total` of a spend-log call. */
export async function totalOf(...args: Parameters<typeof spendLogs>): Promise<number> {
  const answer = await spendLogs(...args)
  return answer.body.total as number
}

/** `data` of a spend-log call. */
export async function dataOf(
  ...args: Parameters<typeof spendLogs>
): Promise<Array<Record<string, any>>> {
  const answer = await spendLogs(...args)
  return answer.body.data
}

/** Every row of a naive full paging. */
export async function rowsOf(...args: Parameters<typeof pageAll>) {
  const result = await pageAll(...args)
  return result.rows
}
