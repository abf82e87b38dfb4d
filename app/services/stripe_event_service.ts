import { inject } from '@adonisjs/core'
import logger from '@adonisjs/core/services/logger'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import Stripe from 'stripe'
import stripeConfig from '#config/stripe'
import InvalidWebhookException from '#exceptions/invalid_webhook_exception'
import StripeEvent, { type StripeEventStatus } from '#models/stripe_event'
import { handlers } from '#services/webhooks/handlers'
import { fromStripeTime } from '#support/stripe_time'

/**
 * What became of one event:
 * - processed: its handler ran and committed (now, by this call);
 * - ignored: no handler for its type, recorded as such;
 * - already: processed or ignored before (a duplicate or concurrent delivery, a replay);
 * - failed: the handler threw; its writes were rolled back and the row is `failed`
 *   (attempts + 1, last_error). A later delivery or a replay tries again.
 */
export type ProcessOutcome = 'processed' | 'ignored' | 'already' | 'failed'

export interface ReceiveResult {
  stripeEventId: string
  type: string
  outcome: ProcessOutcome
}

/** Which recorded events to list (newest first). */
export interface ListFilters {
  status?: StripeEventStatus
  type?: string
  /** Received at or after. */
  since?: DateTime
  /** Received before. */
  until?: DateTime
  limit?: number
}

/**
 * Which events to replay: `ids`, or every event not yet done (received or
 * failed; only failed with `failed`) narrowed by `type` / `since`, oldest first.
 */
export interface ReplaySelection {
  ids?: string[]
  failed?: boolean
  type?: string
  since?: DateTime
  /** Received before. */
  until?: DateTime
  limit?: number
  /** Only say what would be replayed. */
  dryRun?: boolean
  /** Called after each event (for a progress bar). */
  onProgress?: (done: number, total: number) => void
}

export interface ReplayResult {
  stripeEventId: string
  type: string | null
  /** The status before the replay (null: no such event). */
  statusBefore: StripeEventStatus | null
  /** 'pending' in a dry run; 'not_found' for an unknown id. */
  outcome: ProcessOutcome | 'pending' | 'not_found'
  attempts: number
  lastError: string | null
}

export const EVENT_STATUSES: StripeEventStatus[] = [
  'received',
  'processing',
  'processed',
  'failed',
  'ignored',
]

/** The longest last_error kept (the full error goes to the log). */
const LAST_ERROR_MAX = 2000

/**
 * The longest an event's transaction waits for a row lock (the event's, a
 * user's) before failing; the event is then delivered again. Nothing slow
 * runs under these locks, so reaching it means something is stuck.
 */
const LOCK_TIMEOUT = '15s'

/**
 * Stripe webhooks: verify, record each event once (`stripe_events`, unique
 * `stripe_event_id`), then process it exactly once with the handler table
 * (app/services/webhooks/handlers.ts). The handler reads Stripe first;
 * then one transaction locks the event row: the handler's writes and the
 * "processed" mark commit together or not at all, and a concurrent delivery
 * of the same event waits for the lock and then finds it done.
 */
/**
 * Signature timestamps (`t=` in Stripe-Signature) further in the future than
 * the tolerance. The SDK's check only bounds a signature's age, so a
 * future-dated one would stay replayable for as long as it claims; Stripe
 * signs with its current time, so only a skewed clock or a forgery sends one.
 */
function futureTimestamp(signature: string, nowSeconds: number, toleranceSeconds: number) {
  const stamps = signature
    .split(',')
    .map((part) => /^\s*t=(\d+)\s*$/.exec(part)?.[1])
    .filter((value): value is string => value !== undefined)
    .map(Number)
  return stamps.some((stamp) => stamp > nowSeconds + Math.max(toleranceSeconds, 0))
}

@inject()
export default class StripeEventService {
  /**
   * Verifies the signature over the exact body received (and its timestamp
   * against the tolerance), records the event once and processes it.
   * Throws InvalidWebhookException (400) when the event can't be trusted.
   */
  async receive(rawBody: string, signature: string): Promise<ReceiveResult> {
    const event = this.verify(rawBody, signature)
    const recorded = await this.recordOrPeek(event, rawBody)
    // A duplicate of an event done before: one round trip, nothing else read.
    if (recorded === 'processed' || recorded === 'ignored') {
      return { stripeEventId: event.id, type: event.type, outcome: 'already' }
    }
    // Recorded now: the verified event is the stored payload, no need to read it back.
    const outcome = recorded === 'inserted' ? await this.run(event) : await this.process(event.id)
    return { stripeEventId: event.id, type: event.type, outcome }
  }

  /** The verified event, or InvalidWebhookException with the reason. */
  verify(rawBody: string, signature: string): Stripe.Event {
    if (!signature) {
      throw new InvalidWebhookException('Missing Stripe-Signature header')
    }
    if (!rawBody) {
      throw new InvalidWebhookException('The body is not a Stripe event: it is empty')
    }
    const secret = stripeConfig.webhookSecret?.release()
    if (!secret) {
      // Not a client error: without a secret no webhook can be verified (start/env.ts requires it in production).
      throw new Error('STRIPE_WEBHOOK_SECRET is not set: webhooks cannot be verified')
    }
    if (
      futureTimestamp(
        signature,
        Math.floor(Date.now() / 1000),
        stripeConfig.webhookToleranceSeconds
      )
    ) {
      throw new InvalidWebhookException(
        'Invalid signature: the timestamp is in the future, outside the tolerance zone'
      )
    }
    let event: Stripe.Event
    try {
      event = Stripe.webhooks.constructEvent(
        rawBody,
        signature,
        secret,
        stripeConfig.webhookToleranceSeconds
      )
    } catch (error) {
      if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
        throw new InvalidWebhookException(`Invalid signature: ${error.message}`, { cause: error })
      }
      throw new InvalidWebhookException('The body is not a Stripe event: it is not valid JSON', {
        cause: error,
      })
    }
    const candidate = event as Partial<Stripe.Event> | null
    if (
      !candidate ||
      typeof candidate !== 'object' ||
      typeof candidate.id !== 'string' ||
      !candidate.id ||
      typeof candidate.type !== 'string' ||
      typeof candidate.created !== 'number' ||
      !candidate.data ||
      typeof candidate.data !== 'object'
    ) {
      throw new InvalidWebhookException(
        'The body is not a Stripe event: it lacks id, type, created or data'
      )
    }
    return event
  }

  /** Inserts the event unless its id is already recorded. True when this call inserted it. */
  async record(event: Stripe.Event, rawBody: string): Promise<boolean> {
    return (await this.recordOrPeek(event, rawBody)) === 'inserted'
  }

  /**
   * Inserts the event unless its id is already recorded, in one round trip:
   * 'inserted' when this call inserted it, else the recorded row's status
   * (null when that row is not visible yet: a concurrent delivery's insert).
   */
  protected async recordOrPeek(
    event: Stripe.Event,
    rawBody: string
  ): Promise<'inserted' | StripeEventStatus | null> {
    const now = DateTime.utc().toSQL()
    const result = await db.rawQuery<{
      rows: { inserted: boolean; status: StripeEventStatus | null }[]
    }>(
      `WITH inserted AS (
         INSERT INTO stripe_events
           (stripe_event_id, type, api_version, livemode, account, stripe_created_at, payload,
            status, attempts, received_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?::jsonb, 'received', 0, ?, ?, ?)
         ON CONFLICT (stripe_event_id) DO NOTHING
         RETURNING 1
       )
       SELECT EXISTS (SELECT 1 FROM inserted) AS inserted,
              (SELECT status FROM stripe_events WHERE stripe_event_id = ?) AS status`,
      [
        event.id,
        event.type,
        event.api_version ?? null,
        event.livemode === true,
        event.account ?? null,
        fromStripeTime(event.created).toSQL(),
        rawBody,
        now,
        now,
        now,
        event.id,
      ]
    )
    const row = result.rows[0]
    return row.inserted ? 'inserted' : row.status
  }

  /**
   * Processes a recorded event from its stored payload (so replays work
   * without Stripe). Safe to call any number of times, concurrently too:
   * the handler's effects are applied at most once.
   *
   * Two phases, so no lock is held across a network call: the handler's
   * `fetch` reads what it needs from Stripe first, with no transaction open;
   * then one short transaction locks the event row, checks it is not done
   * yet, runs `apply` and marks the event processed. A concurrent delivery
   * waits only for that transaction (bounded by LOCK_TIMEOUT), then finds
   * the event done.
   */
  async process(stripeEventId: string): Promise<ProcessOutcome> {
    const recorded = await StripeEvent.findBy('stripeEventId', stripeEventId)
    if (!recorded) throw new UnknownStripeEventError(stripeEventId)
    if (recorded.isDone) return 'already'
    return this.run(recorded.payload)
  }

  /** process() of a recorded event whose payload is at hand. */
  protected async run(event: Stripe.Event): Promise<ProcessOutcome> {
    const stripeEventId = event.id
    const handler = handlers[event.type]
    try {
      const fetched = handler?.fetch ? await handler.fetch(event) : undefined
      return await db.transaction(async (trx) => {
        // The lock timeout is set by the statement that takes the event's lock (one round
        // trip): set_config runs as the row is read, before the lock is waited for, and
        // covers the user locks the handler takes next.
        const locked = await trx.rawQuery<{
          rows: { status: StripeEventStatus; received_at: Date }[]
        }>(
          `SELECT status, received_at, set_config('lock_timeout', ?, true) AS lock_timeout
             FROM stripe_events WHERE stripe_event_id = ? FOR UPDATE`,
          [LOCK_TIMEOUT, stripeEventId]
        )
        const row = locked.rows[0]
        if (!row) throw new UnknownStripeEventError(stripeEventId)
        if (row.status === 'processed' || row.status === 'ignored') return 'already'
        const now = DateTime.utc().toSQL()

        if (!handler) {
          await trx.rawQuery(
            `UPDATE stripe_events SET status = 'ignored', last_error = NULL, updated_at = ?
              WHERE stripe_event_id = ?`,
            [now, stripeEventId]
          )
          return 'ignored'
        }

        await handler.apply(
          { event, trx, receivedAt: DateTime.fromJSDate(row.received_at, { zone: 'utc' }) },
          fetched
        )

        await trx.rawQuery(
          `UPDATE stripe_events
              SET status = 'processed', processed_at = ?, attempts = attempts + 1,
                  last_error = NULL, updated_at = ?
            WHERE stripe_event_id = ?`,
          [now, now, stripeEventId]
        )
        return 'processed'
      })
    } catch (error) {
      logger.error({ err: error, stripeEventId }, 'Stripe event %s failed', stripeEventId)
      await this.markFailed(stripeEventId, error)
      return 'failed'
    }
  }

  /**
   * Applies Stripe's current copy of an object through the handler of
   * `type`, as though an event carrying it had just arrived: the same fetch
   * (which re-reads Stripe), the same apply and its guards, in one
   * transaction. Used by `stripe:reconcile --fix` for a difference no
   * recorded or listable event explains; nothing goes into stripe_events.
   * Throws when the handler does (nothing is then written).
   */
  async applyCurrent(type: Stripe.Event.Type, object: { id?: string }): Promise<void> {
    const handler = handlers[type]
    if (!handler) throw new Error(`No webhook handler for ${type}`)
    const now = DateTime.utc()
    // A stand-in event: handlers read only type, created and data (ids are for logs).
    const event = {
      id: `reconcile_${object.id ?? 'object'}`,
      object: 'event',
      type,
      created: Math.floor(now.toSeconds()),
      data: { object },
      livemode: false,
      pending_webhooks: 0,
      request: null,
      api_version: null,
    } as unknown as Stripe.Event
    const fetched = handler.fetch ? await handler.fetch(event) : undefined
    await db.transaction(async (trx) => {
      await trx.rawQuery(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`)
      await handler.apply({ event, trx, receivedAt: now }, fetched)
    })
  }

  /** Recorded events, newest first. */
  async list(filters: ListFilters = {}): Promise<StripeEvent[]> {
    return StripeEvent.query()
      .if(filters.status, (query) => query.where('status', filters.status!))
      .if(filters.type, (query) => query.where('type', filters.type!))
      .if(filters.since, (query) => query.where('receivedAt', '>=', filters.since!.toSQL()!))
      .if(filters.until, (query) => query.where('receivedAt', '<', filters.until!.toSQL()!))
      .orderBy('receivedAt', 'desc')
      .orderBy('id', 'desc')
      .limit(filters.limit ?? 50)
  }

  /**
   * Processes the selected events again from their stored payloads (one
   * process() each, oldest first), e.g. after fixing what made them fail.
   * Events already done answer 'already'; nothing is applied twice.
   */
  async replay(selection: ReplaySelection): Promise<ReplayResult[]> {
    const rows = await this.selectForReplay(selection)
    const results: ReplayResult[] = []
    for (const entry of rows) {
      if (typeof entry === 'string') {
        results.push({
          stripeEventId: entry,
          type: null,
          statusBefore: null,
          outcome: 'not_found',
          attempts: 0,
          lastError: null,
        })
        continue
      }
      if (selection.dryRun) {
        results.push({
          stripeEventId: entry.stripeEventId,
          type: entry.type,
          statusBefore: entry.status,
          outcome: entry.isDone ? 'already' : 'pending',
          attempts: entry.attempts,
          lastError: entry.lastError,
        })
        continue
      }
      const outcome = await this.process(entry.stripeEventId)
      const after = await StripeEvent.findByOrFail('stripeEventId', entry.stripeEventId)
      results.push({
        stripeEventId: entry.stripeEventId,
        type: entry.type,
        statusBefore: entry.status,
        outcome,
        attempts: after.attempts,
        lastError: after.lastError,
      })
      selection.onProgress?.(results.length, rows.length)
    }
    return results
  }

  /** Rows to replay in order; an unknown id stays as its string. */
  protected async selectForReplay(selection: ReplaySelection): Promise<(StripeEvent | string)[]> {
    if (selection.ids && selection.ids.length > 0) {
      const found = await StripeEvent.query().whereIn('stripeEventId', selection.ids)
      const byId = new Map(found.map((row) => [row.stripeEventId, row]))
      return [...new Set(selection.ids)].map((id) => byId.get(id) ?? id)
    }
    return StripeEvent.query()
      .if(
        selection.failed,
        (query) => query.where('status', 'failed'),
        (query) => query.whereIn('status', ['received', 'processing', 'failed'])
      )
      .if(selection.type, (query) => query.where('type', selection.type!))
      .if(selection.since, (query) => query.where('receivedAt', '>=', selection.since!.toSQL()!))
      .if(selection.until, (query) => query.where('receivedAt', '<', selection.until!.toSQL()!))
      .orderBy('stripeCreatedAt', 'asc')
      .orderBy('id', 'asc')
      .limit(selection.limit ?? 500)
  }

  /** After the rollback: count the attempt and keep the reason (never over a finished row). */
  protected async markFailed(stripeEventId: string, error: unknown) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    await db
      .from('stripe_events')
      .where('stripe_event_id', stripeEventId)
      .whereNotIn('status', ['processed', 'ignored'])
      .update({
        status: 'failed',
        attempts: db.raw('attempts + 1'),
        last_error: message.slice(0, LAST_ERROR_MAX),
        updated_at: DateTime.utc().toSQL(),
      })
  }
}

/** process() was given an id that was never recorded. */
export class UnknownStripeEventError extends Error {
  constructor(readonly stripeEventId: string) {
    super(`No recorded Stripe event '${stripeEventId}'`)
    this.name = 'UnknownStripeEventError'
  }
}
