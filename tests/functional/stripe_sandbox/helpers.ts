/** Shared helpers for the Stripe sandbox tests: an SDK client and a webhook receiver. */
import http from 'node:http'
// Type-only: brings the `assert` property of Japa's TestContext into scope for every spec.
import type {} from '@japa/assert'
import Stripe from 'stripe'
import type { StripeSandbox } from '../../../sandbox/stripe/sandbox.js'

export const TEST_KEY = 'sk_test_sandbox_suite'

/** An SDK client for the sandbox; retries off unless a test asks for them. */
export function sdk(sandbox: StripeSandbox, config: Stripe.StripeConfig = {}): Stripe {
  return new Stripe(TEST_KEY, {
    host: '127.0.0.1',
    port: sandbox.port,
    protocol: 'http',
    telemetry: false,
    maxNetworkRetries: 0,
    ...config,
  })
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export interface ReceivedWebhook {
  headers: http.IncomingHttpHeaders
  /** Raw body exactly as received. */
  raw: string
  receivedAt: number
}

export type WebhookResponder = (
  hook: ReceivedWebhook,
  index: number
) => number | 'hang' | Promise<number | 'hang'>

/** A local HTTP server standing in for the app's webhook route. */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = []
  responder: WebhookResponder = () => 200
  #server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', async () => {
      const hook: ReceivedWebhook = {
        headers: req.headers,
        raw: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      }
      const index = this.received.push(hook) - 1
      const status = await this.responder(hook, index)
      if (status === 'hang') return
      res.writeHead(status, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ received: status < 300 }))
    })
  })
  #port = 0

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver()
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve))
    const address = receiver.#server.address()
    receiver.#port = typeof address === 'object' && address ? address.port : 0
    return receiver
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/webhooks/stripe`
  }

  /** Parsed `type` of every received event, in arrival order. */
  types(): string[] {
    return this.received.map((hook) => (JSON.parse(hook.raw) as { type: string }).type)
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

export function signatureOf(hook: ReceivedWebhook): string {
  const header = hook.headers['stripe-signature']
  return Array.isArray(header) ? header[0] : (header ?? '')
}
