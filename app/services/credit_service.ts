import { createHash } from 'node:crypto'
import { DateTime } from 'luxon'
import db from '@adonisjs/lucid/services/db'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import User from '#models/user'
import CreditLedgerEntry, { type CreditLedgerEntryKind } from '#models/credit_ledger_entry'
import CreditPurchase from '#models/credit_purchase'
import InsufficientCreditsException from '#exceptions/insufficient_credits_exception'

export interface LedgerEntryOptions {
  /** Unique per fact (a Stripe id, an operator run): recording it twice changes nothing. */
  idempotencyKey: string
  creditPurchaseId?: number | null
  usageInvoiceId?: number | null
  description?: string | null
  /** Who wrote it: 'checkout', 'webhook', 'operator:<name>', … */
  createdBy: string
}

export interface RecordResult {
  entry: CreditLedgerEntry
  /** false when an entry with the same idempotency key already existed (nothing changed). */
  created: boolean
}

export interface ClawbackResult {
  entry: CreditLedgerEntry | null
  /** Credits taken back now. */
  clawedCents: number
  /** Credits the user had already spent and so could not be taken back. */
  shortfallCents: number
  /** The key was used before: nothing changed. */
  already: boolean
}

const REFUND_KINDS = ['refund_clawback'] as const

/** An operator's grant or debit (`credits:grant`). */
export interface OperatorAdjustment {
  amountCents: number
  debit?: boolean
  reason: string
  operator: string
  idempotencyKey?: string
}

/** What an operator adjustment would record (a dry run). */
export interface AdjustmentPreview {
  /** false: an entry with the same key exists, a real run changes nothing. */
  wouldCreate: boolean
  existingEntryId: number | null
  userId: number
  kind: CreditLedgerEntryKind
  amountCents: number
  balanceBeforeCents: number
  balanceAfterCents: number
  description: string
  createdBy: string
}

/**
 * The credit ledger: append-only entries (1 credit = 1 cent) and the cached
 * `users.credits_balance_cents`, which always equals the ledger sum. Every
 * write locks the user's row first, so check-then-insert on the idempotency
 * key is safe and the balance can never go negative (a CHECK backs it up).
 */
export default class CreditService {
  /**
   * Appends one signed entry and moves the cached balance. Idempotent on
   * `idempotencyKey`; refuses (InsufficientCreditsException) a debit larger
   * than the balance. Runs in `trx` when given, else in its own transaction.
   */
  async record(
    userId: number,
    amountCents: number,
    kind: CreditLedgerEntryKind,
    options: LedgerEntryOptions,
    trx?: TransactionClientContract
  ): Promise<RecordResult> {
    if (!Number.isSafeInteger(amountCents) || amountCents === 0) {
      throw new Error(`A ledger entry needs a non-zero whole number of cents (got ${amountCents})`)
    }
    if (!trx)
      return db.transaction((inner) => this.record(userId, amountCents, kind, options, inner))

    const user = await User.query({ client: trx }).where('id', userId).forUpdate().firstOrFail()
    const existing = await CreditLedgerEntry.query({ client: trx })
      .where('idempotency_key', options.idempotencyKey)
      .first()
    if (existing) {
      // A key names one entry: reused for another user, amount or kind it is a mistake, not a replay.
      if (
        existing.userId !== userId ||
        existing.amountCents !== amountCents ||
        existing.kind !== kind
      ) {
        throw new Error(
          `The idempotency key "${options.idempotencyKey}" was already used for a different ledger entry (#${existing.id}); use another key`
        )
      }
      return { entry: existing, created: false }
    }

    const balanceAfter = user.creditsBalanceCents + amountCents
    if (balanceAfter < 0) {
      throw InsufficientCreditsException.forDebit(-amountCents, user.creditsBalanceCents)
    }
    const entry = await CreditLedgerEntry.create(
      {
        userId,
        amountCents,
        balanceAfterCents: balanceAfter,
        kind,
        idempotencyKey: options.idempotencyKey,
        creditPurchaseId: options.creditPurchaseId ?? null,
        usageInvoiceId: options.usageInvoiceId ?? null,
        description: options.description ? options.description.slice(0, 255) : null,
        createdBy: options.createdBy,
      },
      { client: trx }
    )
    await trx.from('users').where('id', userId).update({
      credits_balance_cents: balanceAfter,
      updated_at: new Date(),
    })
    return { entry, created: true }
  }

  /** Adds credits (kind purchase or operator_grant). */
  grant(
    userId: number,
    amountCents: number,
    kind: 'purchase' | 'operator_grant',
    options: LedgerEntryOptions,
    trx?: TransactionClientContract
  ) {
    if (amountCents <= 0) throw new Error('A grant must be a positive amount of cents')
    return this.record(userId, amountCents, kind, options, trx)
  }

  /**
   * An operator's grant or debit, with the reason in the ledger and
   * `created_by = 'operator:<name>'`. A debit past the balance is refused.
   */
  operatorAdjust(user: User, input: OperatorAdjustment) {
    const { amountCents, kind, options } = this.operatorEntry(user, input)
    return this.record(user.id, amountCents, kind, options)
  }

  /**
   * What `operatorAdjust` would do, read-only (`credits:grant --dry-run`):
   * the same checks (a key already used, a debit past the balance) and the
   * balance after, without writing or locking anything.
   */
  async previewOperatorAdjust(user: User, input: OperatorAdjustment): Promise<AdjustmentPreview> {
    const { amountCents, kind, options } = this.operatorEntry(user, input)
    const fresh = await User.findOrFail(user.id)
    const existing = await CreditLedgerEntry.findBy('idempotency_key', options.idempotencyKey)
    if (
      existing &&
      (existing.userId !== user.id ||
        existing.amountCents !== amountCents ||
        existing.kind !== kind)
    ) {
      throw new Error(
        `The idempotency key "${options.idempotencyKey}" was already used for a different ledger entry (#${existing.id}); use another key`
      )
    }
    const balanceAfter = existing
      ? fresh.creditsBalanceCents
      : fresh.creditsBalanceCents + amountCents
    if (balanceAfter < 0) {
      throw InsufficientCreditsException.forDebit(-amountCents, fresh.creditsBalanceCents)
    }
    return {
      wouldCreate: !existing,
      existingEntryId: existing?.id ?? null,
      userId: user.id,
      kind,
      amountCents,
      balanceBeforeCents: fresh.creditsBalanceCents,
      balanceAfterCents: balanceAfter,
      description: options.description,
      createdBy: options.createdBy,
    }
  }

  /** The ledger entry an operator adjustment makes (amount signed, kind, key). */
  protected operatorEntry(user: User, input: OperatorAdjustment) {
    const reason = input.reason.trim()
    if (!reason) throw new Error('An operator adjustment needs a reason')
    if (!Number.isSafeInteger(input.amountCents) || input.amountCents <= 0) {
      throw new Error(`The amount must be a whole number of cents > 0 (got ${input.amountCents})`)
    }
    const operator = input.operator.trim() || 'unknown'
    const kind: CreditLedgerEntryKind = input.debit ? 'operator_debit' : 'operator_grant'
    return {
      amountCents: input.debit ? -input.amountCents : input.amountCents,
      kind,
      options: {
        // Without an explicit key, the same operator giving the same user the same
        // amount for the same reason on the same (UTC) day is one adjustment: a rerun
        // after a crash or timeout cannot apply it twice. A second, deliberate one
        // the same day passes its own --key.
        idempotencyKey:
          input.idempotencyKey ??
          `operator:${user.id}:${input.debit ? 'debit' : 'grant'}:${input.amountCents}:${DateTime.utc().toISODate()}:${createHash('sha256').update(`${operator}\n${reason}`).digest('hex').slice(0, 16)}`,
        description: reason.slice(0, 255),
        createdBy: `operator:${operator}`,
      },
    }
  }

  /**
   * Takes back up to `wantedCents` of a purchase's credits (refund or
   * dispute), never more than the balance: what the user already spent is
   * the shortfall, written into the entry's description. Idempotent on the key.
   */
  async clawBack(
    purchase: CreditPurchase,
    wantedCents: number,
    input: { idempotencyKey: string; reason: string; createdBy: string },
    trx: TransactionClientContract
  ): Promise<ClawbackResult> {
    const user = await User.query({ client: trx })
      .where('id', purchase.userId)
      .forUpdate()
      .firstOrFail()
    const existing = await CreditLedgerEntry.query({ client: trx })
      .where('idempotency_key', input.idempotencyKey)
      .first()
    if (existing) {
      return {
        entry: existing,
        clawedCents: -existing.amountCents,
        shortfallCents: 0,
        already: true,
      }
    }
    const wanted = Math.max(
      0,
      Math.min(wantedCents, purchase.creditsCents - (await this.clawedBack(purchase, trx)))
    )
    const clawed = Math.min(wanted, user.creditsBalanceCents)
    const shortfall = wanted - clawed
    if (clawed === 0)
      return { entry: null, clawedCents: 0, shortfallCents: shortfall, already: false }
    const description =
      `${input.reason}: ${clawed} of ${wanted} credits taken back` +
      (shortfall > 0 ? ` (shortfall ${shortfall}: already spent)` : '')
    const { entry } = await this.record(
      user.id,
      -clawed,
      'refund_clawback',
      {
        idempotencyKey: input.idempotencyKey,
        creditPurchaseId: purchase.id,
        description,
        createdBy: input.createdBy,
      },
      trx
    )
    return { entry, clawedCents: clawed, shortfallCents: shortfall, already: false }
  }

  /** Credits already taken back from a purchase (a positive number). */
  async clawedBack(purchase: CreditPurchase, trx?: TransactionClientContract): Promise<number> {
    const [row] = await (trx ?? db)
      .from('credit_ledger_entries')
      .where('credit_purchase_id', purchase.id)
      .whereIn('kind', [...REFUND_KINDS])
      .sum('amount_cents as total')
    return -Number(row?.total ?? 0)
  }

  /** The cached balance (equal to the ledger sum). */
  async balance(user: User): Promise<number> {
    const fresh = await User.findOrFail(user.id)
    return fresh.creditsBalanceCents
  }

  /** The ledger sum, computed (for checks and audits). */
  async ledgerSum(user: User, trx?: TransactionClientContract): Promise<number> {
    const [row] = await (trx ?? db)
      .from('credit_ledger_entries')
      .where('user_id', user.id)
      .sum('amount_cents as total')
    return Number(row?.total ?? 0)
  }

  /** Ledger entries, newest first. */
  history(user: User, { page = 1, perPage = 20 }: { page?: number; perPage?: number } = {}) {
    return CreditLedgerEntry.query()
      .where('user_id', user.id)
      .orderBy('id', 'desc')
      .paginate(page, perPage)
  }

  /** Credit packs bought (any status), newest first. */
  purchases(user: User) {
    return CreditPurchase.query()
      .where('user_id', user.id)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
  }

  /**
   * Everything that moved money or credits for a user, newest first:
   * ledger entries, credit pack purchases and deploy slot purchases.
   */
  async transactions(
    user: User,
    { page = 1, perPage = 20 }: { page?: number; perPage?: number } = {}
  ) {
    const offset = (page - 1) * perPage
    const union = `
      SELECT 'credit_ledger' AS source, id, kind AS type, amount_cents, NULL::text AS status,
             description, created_at AS occurred_at
        FROM credit_ledger_entries WHERE user_id = :user
      UNION ALL
      SELECT 'credit_purchase', id, 'credit_pack_' || package_key, amount_cents, status,
             credits_cents || ' credits', created_at
        FROM credit_purchases WHERE user_id = :user
      UNION ALL
      SELECT 'deploy_slot_purchase', id, 'deploy_slot', amount_cents, status,
             'Extra deploy slot', purchased_at
        FROM deploy_slot_purchases WHERE user_id = :user`
    const rows = await db.rawQuery(
      `SELECT * FROM (${union}) t ORDER BY occurred_at DESC, source, id DESC LIMIT :limit OFFSET :offset`,
      { user: user.id, limit: perPage, offset }
    )
    const counted = await db.rawQuery(`SELECT count(*) AS total FROM (${union}) t`, {
      user: user.id,
    })
    const total = Number(counted.rows[0].total)
    type Row = {
      source: string
      id: string
      type: string
      amount_cents: string
      status: string | null
      description: string | null
      occurred_at: Date
    }
    return {
      meta: {
        total,
        perPage,
        currentPage: page,
        lastPage: Math.max(1, Math.ceil(total / perPage)),
      },
      data: (rows.rows as Row[]).map((row) => ({
        source: row.source,
        id: Number(row.id),
        type: row.type,
        amountCents: Number(row.amount_cents),
        status: row.status,
        description: row.description,
        occurredAt: new Date(row.occurred_at).toISOString(),
      })),
    }
  }
}
