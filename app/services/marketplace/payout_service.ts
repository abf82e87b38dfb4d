import { inject } from '@adonisjs/core'
import logger from '@adonisjs/core/services/logger'
import { DateTime } from 'luxon'
import Stripe from 'stripe'
import db from '@adonisjs/lucid/services/db'
import { processLock } from '#services/job_runner'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import billingConfig from '#config/billing'
import stripeConfig from '#config/stripe'
import User from '#models/user'
import CreatorPayout from '#models/creator_payout'
import CreatorTransferReversal from '#models/creator_transfer_reversal'
import MarketplaceTransaction from '#models/marketplace_transaction'
import StripeGateway from '#services/stripe_gateway'
import EarningsService from '#services/marketplace/earnings_service'
import { fromStripeTime } from '#support/stripe_time'

/** `would_pay`: a dry run's plan (nothing was transferred). */
export type PayoutOutcomeStatus = 'paid' | 'skipped' | 'failed' | 'retry' | 'would_pay'

/** What a run did for one creator's payout. */
export interface PayoutOutcome {
  creatorId: number
  payoutId: number | null
  amountCents: number
  status: PayoutOutcomeStatus
  stripeTransferId: string | null
  reason: string | null
}

export interface ReversalOutcome {
  reversalId: number
  creatorId: number
  payoutId: number
  amountCents: number
  /** `would_reverse`: a dry run's plan (nothing was reversed). */
  status: 'succeeded' | 'failed' | 'retry' | 'waiting' | 'would_reverse'
  stripeTransferReversalId: string | null
  reason: string | null
}

export interface RunResult {
  madePayable: number
  payouts: PayoutOutcome[]
  reversals: ReversalOutcome[]
}

export type MismatchKind =
  | 'transfer_missing'
  | 'transfer_unrecorded'
  | 'amount_differs'
  | 'reversal_unrecorded'
  | 'unknown_transfer'

export interface Mismatch {
  kind: MismatchKind
  payoutId: number | null
  creatorId: number | null
  stripeTransferId: string | null
  detail: string
  /** What a repair did (null: report only, or not repaired). */
  repaired: string | null
}

export interface ReconcileResult {
  checkedPayouts: number
  mismatches: Mismatch[]
}

/** One Stripe call at most between extensions: its timeout x attempts, plus slack. */
const CALL_SECONDS = Math.ceil(
  (stripeConfig.timeoutMs * (1 + stripeConfig.maxNetworkRetries)) / 1000
)
const LOCK_TTL = `${CALL_SECONDS * 2 + 60}s`
/** How long a second run waits for a creator's lock before reporting it busy. */
const LOCK_WAIT_MS = (CALL_SECONDS * 2 + 60) * 1000
/** Stripe keeps idempotency keys 24 h; past this age a retry looks the transfer up first. */
const KEY_SAFE_HOURS = 23

/** Errors where Stripe refused the request itself: retrying the same call gives the same answer. */
function isRefusal(error: unknown) {
  return (
    error instanceof Stripe.errors.StripeInvalidRequestError ||
    error instanceof Stripe.errors.StripePermissionError ||
    error instanceof Stripe.errors.StripeCardError
  )
}

/**
 * The platform's available balance cannot cover the transfer (Stripe's
 * `balance_insufficient`). Not the creator's fault and not final: card funds
 * become available a few days after each charge, so a later run pays.
 */
function isBalanceShort(error: unknown) {
  return (
    error instanceof Stripe.errors.StripeInvalidRequestError &&
    error.code === 'balance_insufficient'
  )
}

function message(error: unknown) {
  return (error instanceof Error ? error.message : String(error)).slice(0, 2000)
}

function sum(values: number[]) {
  return values.reduce((total, value) => total + value, 0)
}

/**
 * Paying creators through Stripe Connect transfers, crash-safe:
 * 1. under a named lock per creator, one transaction creates the payout row
 *    (its key `studio:payout:<id>` is derived from the row) and attaches the
 *    payable earnings, negative entries included (net > 0 only, and only when
 *    the account can receive funds), then commits;
 * 2. the transfer is created outside any transaction with that key, the
 *    payout id in `transfer_group` and metadata;
 * 3. a second transaction records the transfer and marks everything paid.
 * A crash between 2 and 3 leaves the payout `processing`: the next run (or
 * reconcile) finishes it with the same key, so Stripe answers with the same
 * transfer; after 24 h, when Stripe has forgotten the key, it is found by its
 * transfer_group first. A partial unique index allows one open payout per
 * creator, so concurrent runs cannot start a second transfer beside it.
 * Transfer reversals (refunds of paid earnings) are made the same way.
 */
@inject()
export default class PayoutService {
  constructor(
    protected gateway: StripeGateway,
    protected earnings: EarningsService
  ) {}

  /**
   * Pays every creator (or one) what is payable at `now`, and makes recorded
   * transfer reversals. With `dryRun`, only says what it would do (see `plan`).
   */
  async run(
    options: {
      now?: DateTime
      creatorId?: number
      dryRun?: boolean
      /** Called after each creator (for a progress bar). */
      onProgress?: (done: number, total: number) => void
    } = {}
  ): Promise<RunResult> {
    const now = options.now ?? DateTime.utc()
    if (options.dryRun) return this.plan(now, options.creatorId)
    const madePayable = await this.earnings.makePayable(now)
    const result: RunResult = { madePayable, payouts: [], reversals: [] }
    const creators = await this.creatorsToVisit(options.creatorId)
    for (const [index, creatorId] of creators.entries()) {
      options.onProgress?.(index, creators.length)
      const lock = await processLock(`payouts:creator:${creatorId}`, LOCK_TTL)
      const acquired = await lock.acquire({ retry: { timeout: LOCK_WAIT_MS } })
      if (!acquired) {
        result.payouts.push(
          this.outcome(creatorId, null, 'retry', 'another payout run holds this creator')
        )
        continue
      }
      try {
        const extend = () => lock.extend(LOCK_TTL)
        result.payouts.push(...(await this.payCreator(creatorId, now, extend)))
        result.reversals.push(...(await this.reverseForCreator(creatorId, extend)))
      } catch (error) {
        logger.error({ err: error, creatorId }, 'payout run failed for a creator')
        result.payouts.push(this.outcome(creatorId, null, 'retry', message(error)))
      } finally {
        await lock.release()
      }
    }
    options.onProgress?.(creators.length, creators.length)
    return result
  }

  /**
   * A dry run of `run` at `now`: the earnings that would become payable, the
   * payout each creator would get (an open payout finished, then one new
   * payout of the net payable) and the reversals that would be made. Reads
   * only: no lock, no row, no Stripe call. The amounts are the recorded ones;
   * a real run may still cap a reversal or find a payout already paid.
   */
  protected async plan(now: DateTime, only?: number): Promise<RunResult> {
    // What makePayable would move from pending to payable.
    const [{ count }] = await db
      .from('marketplace_transactions')
      .where('status', 'pending')
      .whereNotNull('creator_id')
      .where('payable_at', '<=', now.toJSDate())
      .count('* as count')
    const result: RunResult = { madePayable: Number(count), payouts: [], reversals: [] }
    const rows = await db.rawQuery(
      `SELECT creator_id FROM creator_payouts WHERE status IN ('pending', 'processing')
       UNION SELECT creator_id FROM marketplace_transactions
         WHERE creator_payout_id IS NULL AND creator_id IS NOT NULL
           AND (status = 'payable' OR (status = 'pending' AND payable_at <= :now))
       UNION SELECT creator_id FROM creator_transfer_reversals WHERE status = 'pending'
       ORDER BY 1`,
      { now: now.toJSDate() }
    )
    const creators = (rows.rows as { creator_id: string }[])
      .map((row) => Number(row.creator_id))
      .filter((id) => only === undefined || id === only)
    for (const creatorId of creators) {
      const open = await CreatorPayout.query()
        .where('creator_id', creatorId)
        .whereIn('status', ['pending', 'processing'])
        .first()
      if (open) {
        result.payouts.push(
          this.outcome(creatorId, open, 'would_pay', `finish open payout ${open.id}`)
        )
      }
      const earnings = await MarketplaceTransaction.query()
        .where('creator_id', creatorId)
        .whereNull('creator_payout_id')
        .where((query) =>
          query
            .where('status', 'payable')
            .orWhere((pending) =>
              pending.where('status', 'pending').where('payable_at', '<=', now.toJSDate())
            )
        )
      const net = sum(earnings.map((row) => row.creatorCents))
      const creator = await User.findOrFail(creatorId)
      const skipped =
        earnings.length === 0
          ? 'nothing payable'
          : net <= 0
            ? `net payable ${net} cents: refunds exceed earnings, carried forward`
            : !creator.creatorStripeAccountId || !creator.creatorPayoutsEnabled
              ? 'Connect account cannot receive funds yet; earnings kept'
              : null
      if (skipped === null) {
        result.payouts.push({
          ...this.outcome(creatorId, null, 'would_pay', null),
          amountCents: net,
          reason: `${open ? 'then ' : ''}new payout of ${earnings.length} earning(s)`,
        })
      } else if (!open) {
        result.payouts.push(this.outcome(creatorId, null, 'skipped', skipped))
      }
      const reversals = await CreatorTransferReversal.query()
        .where('creator_id', creatorId)
        .where('status', 'pending')
        .orderBy('id')
      for (const reversal of reversals) {
        result.reversals.push(this.reversalOutcome(reversal, 'would_reverse', null))
      }
    }
    return result
  }

  /** Creators with an open payout, unpaid payable earnings or a pending transfer reversal. */
  protected async creatorsToVisit(only?: number): Promise<number[]> {
    const rows = await db.rawQuery(
      `SELECT creator_id FROM creator_payouts WHERE status IN ('pending', 'processing')
       UNION SELECT creator_id FROM marketplace_transactions
         WHERE status = 'payable' AND creator_payout_id IS NULL AND creator_id IS NOT NULL
       UNION SELECT creator_id FROM creator_transfer_reversals WHERE status = 'pending'
       ORDER BY 1`
    )
    const ids = (rows.rows as { creator_id: string }[]).map((row) => Number(row.creator_id))
    return only === undefined ? ids : ids.filter((id) => id === only)
  }

  protected outcome(
    creatorId: number,
    payout: CreatorPayout | null,
    status: PayoutOutcomeStatus,
    reason: string | null
  ): PayoutOutcome {
    return {
      creatorId,
      payoutId: payout?.id ?? null,
      amountCents: payout?.amountCents ?? 0,
      status,
      stripeTransferId: payout?.stripeTransferId ?? null,
      reason,
    }
  }

  /** Finishes the creator's open payout (a crashed run's), then opens and pays a new one. */
  protected async payCreator(creatorId: number, now: DateTime, extend: () => Promise<void>) {
    const outcomes: PayoutOutcome[] = []
    const open = await CreatorPayout.query()
      .where('creator_id', creatorId)
      .whereIn('status', ['pending', 'processing'])
      .first()
    if (open) {
      await extend()
      const finished = await this.finish(open, now)
      outcomes.push(finished)
      if (finished.status === 'retry') return outcomes
    }
    const opened = await this.open(creatorId)
    if ('skipped' in opened) {
      if (outcomes.length === 0)
        outcomes.push(this.outcome(creatorId, null, 'skipped', opened.skipped))
      return outcomes
    }
    await extend()
    outcomes.push(await this.finish(opened.payout, now))
    return outcomes
  }

  /** Phase 1: the payout row and its earnings, in one transaction (no Stripe call). */
  protected async open(
    creatorId: number
  ): Promise<{ payout: CreatorPayout } | { skipped: string }> {
    return db.transaction(async (trx) => {
      const creator = await User.query({ client: trx })
        .where('id', creatorId)
        .forUpdate()
        .firstOrFail()
      const already = await CreatorPayout.query({ client: trx })
        .where('creator_id', creatorId)
        .whereIn('status', ['pending', 'processing'])
        .first()
      if (already) return { skipped: `payout ${already.id} is still open` }
      const rows = await MarketplaceTransaction.query({ client: trx })
        .where('creator_id', creatorId)
        .withScopes((scopes) => scopes.unpaidPayable())
        .orderBy('id')
        .forUpdate()
      if (rows.length === 0) return { skipped: 'nothing payable' }
      const net = sum(rows.map((row) => row.creatorCents))
      if (net <= 0) {
        return { skipped: `net payable ${net} cents: refunds exceed earnings, carried forward` }
      }
      // Earnings keep accruing (payable) until the account can take them.
      if (!creator.creatorStripeAccountId || !creator.creatorPayoutsEnabled) {
        return { skipped: 'Connect account cannot receive funds yet; earnings kept' }
      }
      const inserted = await trx.rawQuery(
        `INSERT INTO creator_payouts
           (id, creator_id, amount_cents, currency, status, idempotency_key, stripe_account_id,
            attempts, reversed_cents, created_at, updated_at)
         SELECT next.id, :creatorId, :amount, :currency, 'processing', 'studio:payout:' || next.id,
                :account, 0, 0, :now, :now
           FROM (SELECT nextval(pg_get_serial_sequence('creator_payouts', 'id')) AS id) next
         RETURNING id`,
        {
          creatorId,
          amount: net,
          currency: billingConfig.currency,
          account: creator.creatorStripeAccountId,
          now: new Date(),
        }
      )
      const payoutId = Number(inserted.rows[0].id)
      await trx
        .from('marketplace_transactions')
        .whereIn(
          'id',
          rows.map((row) => row.id)
        )
        .update({ creator_payout_id: payoutId, updated_at: new Date() })
      const payout = await CreatorPayout.query({ client: trx }).where('id', payoutId).firstOrFail()
      return { payout }
    })
  }

  /** The transfer params, a pure function of the payout row (so every retry sends the same). */
  protected transferParams(payout: CreatorPayout): Stripe.TransferCreateParams {
    return {
      amount: payout.amountCents,
      currency: payout.currency,
      destination: payout.stripeAccountId!,
      transfer_group: payout.transferGroup,
      description: `Studio marketplace payout ${payout.id}`,
      metadata: { payout_id: String(payout.id), creator_id: String(payout.creatorId) },
    }
  }

  /** The transfer Stripe holds for a payout, found by its transfer_group (none: null). */
  async findTransfer(payout: CreatorPayout): Promise<Stripe.Transfer | null> {
    const listed = await this.gateway.client.transfers.list({
      transfer_group: payout.transferGroup,
      limit: 10,
    })
    return (
      listed.data.find((transfer) => transfer.metadata?.payout_id === String(payout.id)) ?? null
    )
  }

  /** Phases 2 and 3: the transfer (same key every time), then recording it. */
  async finish(payout: CreatorPayout, now: DateTime = DateTime.utc()): Promise<PayoutOutcome> {
    const previousAttempts = payout.attempts
    await db.rawQuery(
      `UPDATE creator_payouts SET attempts = attempts + 1, last_attempt_at = :now, updated_at = :now
        WHERE id = :id`,
      { id: payout.id, now: new Date() }
    )
    let transfer: Stripe.Transfer | null = null
    try {
      const keyMayBeForgotten =
        payout.createdAt < now.minus({ hours: KEY_SAFE_HOURS }) ||
        payout.createdAt < DateTime.utc().minus({ hours: KEY_SAFE_HOURS })
      if (previousAttempts > 0 && keyMayBeForgotten) transfer = await this.findTransfer(payout)
      transfer ??= await this.gateway.client.transfers.create(this.transferParams(payout), {
        idempotencyKey: payout.idempotencyKey,
      })
    } catch (error) {
      // Stripe keeps its answer under the key for 24 h, so even a short balance retries under
      // a new payout (new key); the outcome says "retry", and the operator is told to fund it.
      if (isBalanceShort(error)) {
        const reason = `platform balance too low for this transfer; earnings kept payable, the next run retries (${message(error)})`
        logger.error(
          { payoutId: payout.id, amountCents: payout.amountCents },
          'payout transfer refused: the platform Stripe balance is insufficient'
        )
        return { ...(await this.markFailed(payout, reason)), status: 'retry' }
      }
      if (isRefusal(error)) return this.markFailed(payout, message(error))
      await db
        .from('creator_payouts')
        .where('id', payout.id)
        .update({ failure_reason: message(error), updated_at: new Date() })
      logger.warn(
        { err: error, payoutId: payout.id },
        'payout transfer not confirmed; a rerun finishes it'
      )
      return this.outcome(payout.creatorId, payout, 'retry', message(error))
    }
    const recorded = await this.recordTransfer(payout.id, transfer)
    return this.outcome(payout.creatorId, recorded, 'paid', null)
  }

  /** Phase 3: the payout is paid by `transfer`; its earnings are paid. Idempotent. */
  async recordTransfer(
    payoutId: number,
    transfer: Stripe.Transfer,
    trx?: TransactionClientContract
  ) {
    const run = async (client: TransactionClientContract) => {
      const payout = await CreatorPayout.query({ client })
        .where('id', payoutId)
        .forUpdate()
        .firstOrFail()
      if (payout.stripeTransferId) return payout
      payout.merge({
        stripeTransferId: transfer.id,
        status: 'paid',
        paidAt: fromStripeTime(transfer.created),
        failureReason: null,
      })
      await payout.useTransaction(client).save()
      await client
        .from('marketplace_transactions')
        .where('creator_payout_id', payout.id)
        .update({ status: 'paid', updated_at: new Date() })
      return payout
    }
    return trx ? run(trx) : db.transaction(run)
  }

  /**
   * Stripe refused the transfer (e.g. the account lost its transfers
   * capability, or the platform balance was short): the payout is failed, its earnings
   * go back to payable for a later run, which opens a new payout (new key:
   * no transfer exists under the old one).
   */
  protected async markFailed(payout: CreatorPayout, reason: string): Promise<PayoutOutcome> {
    const failed = await db.transaction(async (trx) => {
      const locked = await CreatorPayout.query({ client: trx })
        .where('id', payout.id)
        .forUpdate()
        .firstOrFail()
      if (!locked.isOpen) return locked
      locked.merge({ status: 'failed', failureReason: reason })
      await locked.useTransaction(trx).save()
      await trx
        .from('marketplace_transactions')
        .where('creator_payout_id', locked.id)
        .update({ creator_payout_id: null, status: 'payable', updated_at: new Date() })
      return locked
    })
    logger.warn({ payoutId: payout.id, reason }, 'payout transfer refused by Stripe')
    return this.outcome(payout.creatorId, failed, 'failed', reason)
  }

  /** Makes the creator's recorded transfer reversals, oldest first. */
  protected async reverseForCreator(creatorId: number, extend: () => Promise<void>) {
    const pending = await CreatorTransferReversal.query()
      .where('creator_id', creatorId)
      .where('status', 'pending')
      .orderBy('id')
    const outcomes: ReversalOutcome[] = []
    for (const reversal of pending) {
      await extend()
      outcomes.push(await this.reverse(reversal))
    }
    return outcomes
  }

  protected reversalOutcome(
    reversal: CreatorTransferReversal,
    status: ReversalOutcome['status'],
    reason: string | null
  ): ReversalOutcome {
    return {
      reversalId: reversal.id,
      creatorId: reversal.creatorId,
      payoutId: reversal.creatorPayoutId,
      amountCents: reversal.amountCents,
      status,
      stripeTransferReversalId: reversal.stripeTransferReversalId,
      reason,
    }
  }

  /**
   * One transfer reversal. Capped at what is left of the transfer: the rest
   * (and all of it if the payout failed or Stripe refuses) becomes a negative
   * entry that nets against the next payout, so no reversal is ever lost.
   */
  protected async reverse(reversal: CreatorTransferReversal): Promise<ReversalOutcome> {
    const planned = await db.transaction(async (trx) => {
      const row = await CreatorTransferReversal.query({ client: trx })
        .where('id', reversal.id)
        .forUpdate()
        .firstOrFail()
      if (row.status !== 'pending') return { row, wait: null }
      const payout = await CreatorPayout.query({ client: trx })
        .where('id', row.creatorPayoutId)
        .forUpdate()
        .firstOrFail()
      if (payout.isOpen) return { row, wait: 'its payout is not paid yet' }
      if (payout.status === 'failed' || !payout.stripeTransferId) {
        await this.netInstead(row, 'its payout failed: netted against the next payout', trx)
        return { row, wait: null }
      }
      // Reversals made before this one (by id) are already in reversed_cents, so the cap is
      // the same on every retry of this one: the idempotent request never changes.
      const left = payout.amountCents - payout.reversedCents
      if (row.attempts === 0 && row.amountCents > left) {
        if (left <= 0) {
          await this.netInstead(row, 'nothing left on the transfer: netted instead', trx)
          return { row, wait: null }
        }
        await this.netShortfall(row, row.amountCents - left, trx)
        row.amountCents = left
      }
      row.attempts += 1
      await row.useTransaction(trx).save()
      return { row, wait: null, transferId: payout.stripeTransferId }
    })
    const { row } = planned
    if (planned.wait) return this.reversalOutcome(row, 'waiting', planned.wait)
    if (!('transferId' in planned) || !planned.transferId) {
      return this.reversalOutcome(
        row,
        row.status === 'succeeded' ? 'succeeded' : 'failed',
        row.failureReason
      )
    }

    let made: Stripe.TransferReversal
    try {
      made = await this.gateway.client.transfers.createReversal(
        planned.transferId,
        {
          amount: row.amountCents,
          description: `Refund or dispute of marketplace earning (reversal ${row.id})`,
          metadata: { reversal_id: String(row.id), payout_id: String(row.creatorPayoutId) },
        },
        { idempotencyKey: row.idempotencyKey }
      )
    } catch (error) {
      if (isRefusal(error)) {
        await db.transaction(async (trx) => {
          const locked = await CreatorTransferReversal.query({ client: trx })
            .where('id', row.id)
            .forUpdate()
            .firstOrFail()
          if (locked.status === 'pending') {
            await this.netInstead(locked, `Stripe refused: ${message(error)}`, trx)
          }
        })
        return this.reversalOutcome(row, 'failed', message(error))
      }
      await db
        .from('creator_transfer_reversals')
        .where('id', row.id)
        .update({ failure_reason: message(error), updated_at: new Date() })
      return this.reversalOutcome(row, 'retry', message(error))
    }
    const recorded = await this.recordReversal(row.id, made)
    return this.reversalOutcome(recorded, 'succeeded', null)
  }

  /** Records a made transfer reversal on its row and payout. Idempotent. */
  async recordReversal(reversalId: number, made: Stripe.TransferReversal) {
    return db.transaction(async (trx) => {
      const row = await CreatorTransferReversal.query({ client: trx })
        .where('id', reversalId)
        .forUpdate()
        .firstOrFail()
      if (row.status === 'succeeded') return row
      const payout = await CreatorPayout.query({ client: trx })
        .where('id', row.creatorPayoutId)
        .forUpdate()
        .firstOrFail()
      row.merge({
        status: 'succeeded',
        amountCents: made.amount,
        stripeTransferReversalId: made.id,
        reversedAt: fromStripeTime(made.created),
        failureReason: null,
      })
      await row.useTransaction(trx).save()
      payout.reversedCents = Math.min(payout.amountCents, payout.reversedCents + made.amount)
      if (payout.reversedCents === payout.amountCents) payout.status = 'reversed'
      await payout.useTransaction(trx).save()
      return row
    })
  }

  /**
   * The part of a reversal the transfer cannot cover: the refund entry keeps
   * what the transfer reversal takes back, and a `reversal_shortfall` entry
   * (payable now) carries the rest, to net against the next payout. The two
   * add up to the refund entry as it was, so the ledger's totals do not move.
   */
  protected async netShortfall(
    row: CreatorTransferReversal,
    cents: number,
    trx: TransactionClientContract
  ) {
    const entry = await MarketplaceTransaction.query({ client: trx })
      .where('id', row.marketplaceTransactionId)
      .forUpdate()
      .firstOrFail()
    entry.merge({ grossCents: entry.grossCents + cents, creatorCents: entry.creatorCents + cents })
    await entry.useTransaction(trx).save()
    await MarketplaceTransaction.create(
      {
        agentId: entry.agentId,
        creatorId: entry.creatorId,
        buyerId: entry.buyerId,
        kind: entry.kind,
        sourceType: 'reversal_shortfall',
        sourceId: String(row.id),
        grossCents: 0 - cents,
        creatorCents: 0 - cents,
        platformCents: 0,
        currency: entry.currency,
        stripeChargeId: entry.stripeChargeId,
        reversesTransactionId: entry.reversesTransactionId,
        creatorPayoutId: null,
        payableAt: DateTime.utc(),
        status: 'payable',
      },
      { client: trx }
    )
  }

  /** No transfer reversal after all: the refund entry nets against the next payout instead. */
  protected async netInstead(
    row: CreatorTransferReversal,
    reason: string,
    trx: TransactionClientContract
  ) {
    await trx.from('marketplace_transactions').where('id', row.marketplaceTransactionId).update({
      status: 'payable',
      payable_at: new Date(),
      creator_payout_id: null,
      updated_at: new Date(),
    })
    row.merge({ status: 'failed', failureReason: reason })
    await row.useTransaction(trx).save()
  }

  /**
   * Compares our payouts and transfer reversals with Stripe's transfers:
   * - transfer_unrecorded: Stripe has the payout's transfer, we do not (a crash): record it;
   * - transfer_missing: a payout says processing/paid but Stripe has no transfer: finish it
   *   (same key) or, for a paid one, report;
   * - amount_differs: the transfer's amount is not the payout's: below it, a top-up
   *   payout pays the difference; above it, reported for a person to decide;
   * - reversal_unrecorded: Stripe reversed more of a transfer than we recorded: our
   *   pending reversal is recorded; a reversal made outside the run is added to the payout;
   * - unknown_transfer: a transfer naming a payout we do not have (reported).
   * With `repair: false` it only reports; with `repair` and `dryRun` each
   * mismatch says the repair it would make ("would …"), and nothing is changed.
   */
  async reconcile(
    options: { repair?: boolean; since?: DateTime; dryRun?: boolean } = {}
  ): Promise<ReconcileResult> {
    const repair = options.repair ?? false
    const dryRun = options.dryRun ?? false
    const since = options.since ?? DateTime.utc().minus({ days: 90 })
    const payouts = await CreatorPayout.query()
      .whereNot('status', 'failed')
      .where('created_at', '>=', since.toJSDate())
      .orderBy('id')
    const mismatches: Mismatch[] = []
    const ours = new Set(payouts.map((payout) => String(payout.id)))

    for (const payout of payouts) {
      const found = payout.stripeTransferId
        ? await this.retrieveTransfer(payout.stripeTransferId)
        : await this.findTransfer(payout)
      const base = { payoutId: payout.id, creatorId: payout.creatorId }
      if (!found) {
        const mismatch: Mismatch = {
          kind: 'transfer_missing',
          ...base,
          stripeTransferId: payout.stripeTransferId,
          detail: payout.stripeTransferId
            ? `payout ${payout.id} is ${payout.status} with transfer ${payout.stripeTransferId}, which Stripe does not have`
            : `payout ${payout.id} (${payout.amountCents} cents) is ${payout.status} and no transfer exists`,
          repaired: null,
        }
        if (repair && payout.isOpen && dryRun) {
          mismatch.repaired = `would finish payout ${payout.id} (create its transfer)`
        } else if (repair && payout.isOpen) {
          const outcome = await this.finishUnderLock(payout)
          mismatch.repaired =
            outcome.status === 'paid'
              ? `transfer ${outcome.stripeTransferId} created`
              : `not repaired: ${outcome.status} (${outcome.reason})`
        }
        mismatches.push(mismatch)
        continue
      }
      if (!payout.stripeTransferId) {
        const mismatch: Mismatch = {
          kind: 'transfer_unrecorded',
          ...base,
          stripeTransferId: found.id,
          detail: `transfer ${found.id} exists for payout ${payout.id}, which is still ${payout.status}`,
          repaired: null,
        }
        if (repair && dryRun) {
          mismatch.repaired = `would record transfer ${found.id}; payout paid`
        } else if (repair) {
          await this.recordTransfer(payout.id, found)
          mismatch.repaired = `recorded transfer ${found.id}; payout paid`
        }
        mismatches.push(mismatch)
      }
      if (found.amount !== payout.amountCents) {
        const difference = payout.amountCents - found.amount
        const mismatch: Mismatch = {
          kind: 'amount_differs',
          ...base,
          stripeTransferId: found.id,
          detail: `payout ${payout.id} is ${payout.amountCents} cents, transfer ${found.id} is ${found.amount}`,
          repaired: null,
        }
        if (repair && difference > 0 && dryRun) {
          mismatch.repaired = `would top up: a new payout of ${difference} cents`
        } else if (repair && difference > 0) {
          const topUp = await this.topUp(payout, found, difference)
          mismatch.repaired = `top-up payout ${topUp.payoutId}: ${topUp.status}${topUp.stripeTransferId ? ` (${topUp.stripeTransferId})` : ''}`
        } else if (difference < 0) {
          mismatch.repaired = null
          mismatch.detail += ': overpaid, reverse the excess by hand if intended'
        }
        mismatches.push(mismatch)
      }
      if (found.amount_reversed > payout.reversedCents) {
        const reversalMismatches = await this.reconcileReversals(payout, found, repair, dryRun)
        mismatches.push(...reversalMismatches)
      }
    }

    // Transfers to our creators' accounts naming a payout we do not know (another
    // platform's or environment's transfers, to accounts that are not ours, are not looked at).
    const creatorRows = await db
      .from('users')
      .whereNotNull('creator_stripe_account_id')
      .select('creator_stripe_account_id')
    const accounts = new Set(creatorRows.map((row) => row.creator_stripe_account_id as string))
    for await (const transfer of this.gateway.client.transfers.list({
      created: { gte: Math.floor(since.toSeconds()) },
      limit: 100,
    })) {
      const payoutId = transfer.metadata?.payout_id
      const destination =
        typeof transfer.destination === 'string' ? transfer.destination : transfer.destination?.id
      if (payoutId && !ours.has(payoutId) && destination && accounts.has(destination)) {
        const known = await CreatorPayout.find(Number(payoutId))
        if (known && known.status !== 'failed') continue
        mismatches.push({
          kind: 'unknown_transfer',
          payoutId: known?.id ?? null,
          creatorId: known?.creatorId ?? null,
          stripeTransferId: transfer.id,
          detail: known
            ? `transfer ${transfer.id} exists for payout ${payoutId}, which we marked failed`
            : `transfer ${transfer.id} names payout ${payoutId}, which we do not have`,
          repaired: null,
        })
      }
    }
    return { checkedPayouts: payouts.length, mismatches }
  }

  protected retrieveTransfer(id: string): Promise<Stripe.Transfer | null> {
    return StripeGateway.orNull(() => this.gateway.client.transfers.retrieve(id))
  }

  /** Finishes an open payout under its creator's lock (reconcile's repair). */
  protected async finishUnderLock(payout: CreatorPayout): Promise<PayoutOutcome> {
    const lock = await processLock(`payouts:creator:${payout.creatorId}`, LOCK_TTL)
    if (!(await lock.acquire({ retry: { timeout: LOCK_WAIT_MS } }))) {
      return this.outcome(
        payout.creatorId,
        payout,
        'retry',
        'another payout run holds this creator'
      )
    }
    try {
      const fresh = await CreatorPayout.findOrFail(payout.id)
      if (!fresh.isOpen) return this.outcome(fresh.creatorId, fresh, 'paid', null)
      return await this.finish(fresh)
    } finally {
      await lock.release()
    }
  }

  /**
   * Stripe paid less than the payout: the payout is corrected to the transfer
   * and a new payout (with its own key, no earnings attached) pays the rest.
   */
  protected async topUp(payout: CreatorPayout, transfer: Stripe.Transfer, difference: number) {
    const created = await db.transaction(async (trx) => {
      await User.query({ client: trx }).where('id', payout.creatorId).forUpdate().firstOrFail()
      const locked = await CreatorPayout.query({ client: trx })
        .where('id', payout.id)
        .forUpdate()
        .firstOrFail()
      if (locked.amountCents === transfer.amount) return null
      const open = await CreatorPayout.query({ client: trx })
        .where('creator_id', payout.creatorId)
        .whereIn('status', ['pending', 'processing'])
        .first()
      if (open) return open
      locked.amountCents = transfer.amount
      locked.reversedCents = Math.min(locked.reversedCents, transfer.amount)
      await locked.useTransaction(trx).save()
      const inserted = await trx.rawQuery(
        `INSERT INTO creator_payouts
           (id, creator_id, amount_cents, currency, status, idempotency_key, stripe_account_id,
            attempts, reversed_cents, failure_reason, created_at, updated_at)
         SELECT next.id, :creatorId, :amount, :currency, 'processing', 'studio:payout:' || next.id,
                :account, 0, 0, :why, :now, :now
           FROM (SELECT nextval(pg_get_serial_sequence('creator_payouts', 'id')) AS id) next
         RETURNING id`,
        {
          creatorId: payout.creatorId,
          amount: difference,
          currency: payout.currency,
          account: payout.stripeAccountId ?? '',
          why: `top-up of payout ${payout.id} (transfer ${transfer.id} was ${transfer.amount})`,
          now: new Date(),
        }
      )
      return CreatorPayout.query({ client: trx }).where('id', inserted.rows[0].id).firstOrFail()
    })
    if (!created) return this.outcome(payout.creatorId, null, 'skipped', 'already corrected')
    return this.finishUnderLock(created)
  }

  /** Reversals Stripe made on a payout's transfer that we have not recorded. */
  protected async reconcileReversals(
    payout: CreatorPayout,
    transfer: Stripe.Transfer,
    repair: boolean,
    dryRun = false
  ) {
    const mismatches: Mismatch[] = []
    const recorded = await CreatorTransferReversal.query()
      .where('creator_payout_id', payout.id)
      .where('status', 'succeeded')
    const knownIds = new Set(recorded.map((row) => row.stripeTransferReversalId))
    for await (const made of this.gateway.client.transfers.listReversals(transfer.id, {
      limit: 100,
    })) {
      if (knownIds.has(made.id)) continue
      const ourId = Number(made.metadata?.reversal_id)
      const ours = Number.isSafeInteger(ourId)
        ? await CreatorTransferReversal.query()
            .where('id', ourId)
            .where('creator_payout_id', payout.id)
            .first()
        : null
      const mismatch: Mismatch = {
        kind: 'reversal_unrecorded',
        payoutId: payout.id,
        creatorId: payout.creatorId,
        stripeTransferId: transfer.id,
        detail: ours
          ? `reversal ${made.id} (${made.amount} cents) made for our reversal ${ours.id}, still ${ours.status}`
          : `reversal ${made.id} (${made.amount} cents) was made outside the payout run`,
        repaired: null,
      }
      if (repair && dryRun) {
        mismatch.repaired = ours
          ? `would record on reversal ${ours.id}`
          : `would add ${made.amount} cents to payout ${payout.id}'s reversed amount`
      } else if (repair) {
        if (ours) {
          await this.recordReversal(ours.id, made)
          mismatch.repaired = `recorded on reversal ${ours.id}`
        } else {
          await db.transaction(async (trx) => {
            const locked = await CreatorPayout.query({ client: trx })
              .where('id', payout.id)
              .forUpdate()
              .firstOrFail()
            locked.reversedCents = Math.min(locked.amountCents, locked.reversedCents + made.amount)
            if (locked.reversedCents === locked.amountCents) locked.status = 'reversed'
            await locked.useTransaction(trx).save()
          })
          mismatch.repaired = `added ${made.amount} cents to payout ${payout.id}'s reversed amount`
        }
      }
      mismatches.push(mismatch)
    }
    return mismatches
  }
}
