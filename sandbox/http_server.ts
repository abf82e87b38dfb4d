import http from 'node:http'
import type { Socket } from 'node:net'

/**
 * The HTTP plumbing the sandboxes share (sandbox/stripe, sandbox/litellm):
 * one node:http server with keep-alive, `listen` answering the bound port
 * (port 0 picks a free one), `close` that also ends connections a `timeout`
 * fault left hanging, and the two transport faults: a TCP reset, or no
 * answer until the client gives up.
 */
export abstract class SandboxHttpServer {
  readonly server: http.Server
  #hung = new Map<Socket, NodeJS.Timeout>()

  constructor() {
    this.server = http.createServer((req, res) => this.onRequest(req, res))
    this.server.keepAliveTimeout = 5_000
  }

  /** Answers one request; must not throw (a sandbox answers its own errors). */
  protected abstract onRequest(req: http.IncomingMessage, res: http.ServerResponse): void

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        const address = this.server.address()
        resolve(typeof address === 'object' && address ? address.port : port)
      })
    })
  }

  close(): Promise<void> {
    for (const [socket, timer] of this.#hung) {
      clearTimeout(timer)
      socket.destroy()
    }
    this.#hung.clear()
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  /** A transport fault: `reset` drops the connection now; `timeout` never answers (closed after `hangMs`). */
  protected transportFault(req: http.IncomingMessage, mode: 'reset' | 'timeout', hangMs: number) {
    const socket = req.socket
    if (mode === 'reset') {
      socket.resetAndDestroy()
      return
    }
    const timer = setTimeout(() => {
      this.#hung.delete(socket)
      socket.destroy()
    }, hangMs)
    this.#hung.set(socket, timer)
    socket.once('close', () => {
      clearTimeout(timer)
      this.#hung.delete(socket)
    })
  }
}

/** The request body as text, or `tooLarge(limit)` once it passes `limit` bytes (the rest is drained). */
export function readBody(
  req: http.IncomingMessage,
  limit: number,
  tooLarge: (limit: number) => Error
): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
    })
    req.on('end', () =>
      size > limit ? reject(tooLarge(limit)) : resolve(Buffer.concat(chunks).toString('utf8'))
    )
    req.on('error', reject)
  })
}
