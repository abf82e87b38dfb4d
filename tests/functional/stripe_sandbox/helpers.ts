/**
 * Shared helpers for the Stripe sandbox tests: a sandbox per group with an SDK client,
 * events and errors, Connect accounts, dates and a webhook receiver.
 */
import http from 'node:http'
// Type-only: brings the `assert` property of Japa's TestContext into scope for every spec.
import type {} from '@japa/assert'
import type { Group } from '@japa/runner/core'
import Stripe from 'stripe'
import { completeOnboarding } from '../../../sandbox/stripe/resources/accounts.js'
import { StripeSandbox } from '../../../sandbox/stripe/sandbox.js'

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

/**
 * Starts a sandbox for the group (stopped after it) and hands it with an SDK client to
 * `ready`; the sandbox is reset before each test unless `reset` is false.
 */
export function useSandbox(
  group: Group,
  ready: (sandbox: StripeSandbox, stripe: Stripe) => void | Promise<void>,
  { reset = true }: { reset?: boolean } = {}
) {
  let sandbox: StripeSandbox | undefined
  group.setup(async () => {
    const started = await StripeSandbox.start({ port: 0 })
    sandbox = started
    await ready(started, sdk(started))
    return () => started.stop()
  })
  if (reset) group.each.setup(() => sandbox?.reset())
}

/** The Stripe error a rejected SDK call threw (fails the test when it resolved). */
export async function stripeError(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof Stripe.errors.StripeError) return error
    throw error
  }
  throw new Error('expected the call to fail')
}

/** Events (chronological) created while `action` ran. */
export async function eventsDuring(
  sandbox: StripeSandbox,
  action: () => Promise<unknown>
): Promise<Stripe.Event[]> {
  const before = markOf(sandbox)
  await action()
  return eventsSince(sandbox, before, { balance: true })
}

/** The ids of the events so far: a mark that survives the 30-day event retention. */
export function markOf(sandbox: StripeSandbox): Set<string> {
  return new Set(sandbox.eventLog().map((event) => event.id))
}

/** Events emitted since `mark`, oldest first; without balance.* noise unless `balance`. */
export function eventsSince(
  sandbox: StripeSandbox,
  mark: Set<string>,
  { balance = false }: { balance?: boolean } = {}
): Stripe.Event[] {
  const events = sandbox
    .eventLog()
    .filter((event) => !mark.has(event.id))
    .reverse()
  return balance ? events : events.filter((event) => !event.type.startsWith('balance.'))
}

/** The subscription's status as the API reports it now. */
export async function statusOf(stripe: Stripe, id: string): Promise<string> {
  const subscription = await stripe.subscriptions.retrieve(id)
  return subscription.status
}

/** `ts` plus `months` calendar months (day clamped to the month's end), as Stripe bills. */
export function addMonths(ts: number, months: number): number {
  const date = new Date(ts * 1000)
  const target = new Date(
    Date.UTC(
      date.getUTCFullYear(),
      date.getUTCMonth() + months,
      1,
      date.getUTCHours(),
      date.getUTCMinutes(),
      date.getUTCSeconds()
    )
  )
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate()
  target.setUTCDate(Math.min(date.getUTCDate(), last))
  return target.getTime() / 1000
}

/** A recurring price (monthly, in usd, unless told) of a new product called `name`. */
export function recurringPrice(
  stripe: Stripe,
  unitAmount: number,
  name: string,
  {
    interval = 'month',
    currency = 'usd',
  }: { interval?: Stripe.PriceCreateParams.Recurring.Interval; currency?: string } = {}
): Promise<Stripe.Price> {
  return stripe.prices.create({
    currency,
    unit_amount: unitAmount,
    recurring: { interval },
    product_data: { name },
  })
}

/**
 * A new customer with `card` as a new PaymentMethod attached to it, also its invoice
 * default unless `makeDefault` is false.
 */
export async function customerWithCard(
  stripe: Stripe,
  customerParams: Stripe.CustomerCreateParams,
  card: NonNullable<Stripe.PaymentMethodCreateParams['card']>,
  { makeDefault = true }: { makeDefault?: boolean } = {}
): Promise<{ customer: Stripe.Customer; pm: Stripe.PaymentMethod }> {
  const pm = await stripe.paymentMethods.create({ type: 'card', card })
  const customer = await stripe.customers.create(customerParams)
  await stripe.paymentMethods.attach(pm.id, { customer: customer.id })
  if (makeDefault) {
    await stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: pm.id },
    })
  }
  return { customer, pm }
}

/** How many customers have this email. */
export async function countByEmail(stripe: Stripe, email: string): Promise<number> {
  const list = await stripe.customers.list({ email, limit: 100 })
  return list.data.length
}

/** POSTs JSON to a `/_sim/…` control route of the sandbox. */
export async function simPost(
  sandbox: StripeSandbox,
  path: string,
  body: Record<string, unknown> = {}
) {
  const response = await fetch(`${sandbox.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

export const EXPRESS_ACCOUNT: Stripe.AccountCreateParams = {
  type: 'express',
  country: 'US',
  email: 'seller@example.com',
  capabilities: { transfers: { requested: true }, card_payments: { requested: true } },
}

/** A connected account (an Express one by default); onboarded unless `onboard` is false. */
export async function connectedAccount(
  stripe: Stripe,
  sandbox: StripeSandbox,
  onboard = true,
  params: Stripe.AccountCreateParams = EXPRESS_ACCOUNT
): Promise<string> {
  const account = await stripe.accounts.create(params)
  if (onboard) completeOnboarding(sandbox.context, account.id, 'complete')
  return account.id
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
