/*
| A small HTTP client for loopback load: node:http with a keep-alive agent
| (one socket per concurrent worker), timing each request.
*/

import http from 'node:http'

export interface TimedResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  /** Request sent to last byte received, in ms. */
  ms: number
}

export function keepAliveAgent(sockets: number) {
  return new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets })
}

export function request(
  agent: http.Agent,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}
): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const target = new URL(url)
    const body = options.body
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: options.method ?? 'GET',
        headers: {
          ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          })
        )
        res.on('error', reject)
      }
    )
    req.on('error', reject)
    if (body !== undefined) req.write(body)
    req.end()
  })
}

/** Cookies a response sets, as name -> value. */
export function cookiesOf(headers: http.IncomingHttpHeaders, into: Map<string, string>) {
  for (const line of headers['set-cookie'] ?? []) {
    const [pair] = line.split(';')
    const at = pair.indexOf('=')
    if (at > 0) into.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim())
  }
  return into
}

export function cookieHeader(cookies: Map<string, string>) {
  return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ')
}

/**
 * `concurrency` workers sending requests made by `make(i)` for i in 0..total-1
 * as fast as answers come; latencies in ms and the wall time.
 */
export async function closedLoop(
  total: number,
  concurrency: number,
  send: (index: number) => Promise<TimedResponse>,
  check?: (response: TimedResponse, index: number) => void
) {
  const latencies: number[] = new Array(total)
  let next = 0
  const started = performance.now()
  const worker = async () => {
    while (next < total) {
      const index = next++
      const response = await send(index)
      latencies[index] = response.ms
      check?.(response, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker))
  return { latencies, seconds: (performance.now() - started) / 1000 }
}

/**
 * Open loop: request i starts at i / rate seconds whatever the answers
 * (latency includes any queueing at the server). Latencies from the
 * scheduled start, so a client falling behind shows up as latency too.
 */
export async function paced(
  total: number,
  ratePerSecond: number,
  send: (index: number) => Promise<TimedResponse>,
  check?: (response: TimedResponse, index: number) => void
) {
  const latencies: number[] = new Array(total)
  const started = performance.now()
  const inFlight: Promise<void>[] = []
  for (let index = 0; index < total; index++) {
    const due = started + (index * 1000) / ratePerSecond
    const wait = due - performance.now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    inFlight.push(
      send(index).then((response) => {
        latencies[index] = performance.now() - due
        check?.(response, index)
      })
    )
  }
  await Promise.all(inFlight)
  return { latencies, seconds: (performance.now() - started) / 1000 }
}
