import { createHash } from 'node:crypto'
import { DateTime } from 'luxon'
import db from '@adonisjs/lucid/services/db'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import type { RawQueryBindings } from '@adonisjs/lucid/types/querybuilder'
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
  /** The caller already holds the user's row lock in the transaction given (`FOR UPDATE`). */
  userLocked?: boolean
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

/** A ledger write waiting for its user's group (CreditService.drain). */
interface PendingEntry {
  userId: number
  amountCents: number
  kind: CreditLedgerEntryKind
  options: LedgerEntryOptions
  resolve: (result: RecordResult) => void
  reject: (error: unknown) => void
}

/** Ledger writes waiting, per user, in this process; users whose queue is being written. */
const pendingByUser = new Map<number, PendingEntry[]>()
const draining = new Set<number>()
/** The most entries written in one transaction. */
const MAX_GROUP = 256

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
    if (!trx) return this.enqueue({ userId, amountCents, kind, options })
    return this.recordIn(userId, amountCents, kind, options, trx)
  }

  /**
   * A ledger write with no transaction of the caller's: queued per user and
   * written in groups (see drain). Resolves once its group has committed.
   */
  protected enqueue(request: Omit<PendingEntry, 'resolve' | 'reject'>) {
    return new Promise<RecordResult>((resolve, reject) => {
      const queue = pendingByUser.get(request.userId) ?? []
      queue.push({ ...request, resolve, reject })
      pendingByUser.set(request.userId, queue)
      if (!draining.has(request.userId)) void this.drain(request.userId)
    })
  }

  /**
   * Writes one user's queued entries. The first goes alone at once; what
   * queues meanwhile (concurrent spends on the same balance) goes as one
   * group: one transaction, one row lock and one commit for all of them,
   * with the same outcome each would have had alone, in arrival order (a
   * debit past the balance refused, a key used before answered with its
   * entry). On one balance the row lock serialises writers anyway; grouped,
   * they share its hold and the commit instead of queueing for them one by
   * one. Other processes still serialise on the row lock.
   */
  protected async drain(userId: number) {
    draining.add(userId)
    try {
      for (;;) {
        const queue = pendingByUser.get(userId)
        if (!queue || queue.length === 0) break
        const group = queue.splice(0, MAX_GROUP)
        if (group.length === 1) {
          await this.recordAlone(group[0])
          continue
        }
        let settle: (() => void) | null = null
        try {
          settle = await db.transaction((trx) => this.recordGroup(userId, group, trx))
        } catch {
          // The group's transaction failed as a whole (say a key used at the same moment by
          // another user's write): each entry again on its own, with its own outcome.
          for (const entry of group) await this.recordAlone(entry)
        }
        settle?.()
      }
    } finally {
      draining.delete(userId)
      if ((pendingByUser.get(userId)?.length ?? 0) > 0) void this.drain(userId)
      else pendingByUser.delete(userId)
    }
  }

  protected async recordAlone(entry: PendingEntry) {
    try {
      entry.resolve(
        await db.transaction((trx) =>
          this.recordIn(entry.userId, entry.amountCents, entry.kind, entry.options, trx)
        )
      )
    } catch (error) {
      entry.reject(error)
    }
  }

  /**
   * A group's writes in one transaction: the user's row lock, the keys
   * already used, then every accepted entry and the new balance in one
   * statement. Returns how to settle each caller once committed.
   */
  protected async recordGroup(
    userId: number,
    group: PendingEntry[],
    trx: TransactionClientContract
  ): Promise<() => void> {
    const user = await User.query({ client: trx }).where('id', userId).forUpdate().firstOrFail()
    const keys = [...new Set(group.map((entry) => entry.options.idempotencyKey))]
    const used = await CreditLedgerEntry.query({ client: trx }).whereIn('idempotency_key', keys)
    const known = new Map(used.map((entry) => [entry.idempotencyKey, entry]))
    const accepted = new Map<string, { entry: PendingEntry; balanceAfter: number }>()
    const outcomes: ((written: Map<string, CreditLedgerEntry>) => void)[] = []
    let balance = user.creditsBalanceCents
    for (const entry of group) {
      const { idempotencyKey } = entry.options
      const earlier = known.get(idempotencyKey) ?? accepted.get(idempotencyKey)
      if (earlier) {
        const same =
          earlier instanceof CreditLedgerEntry
            ? earlier.userId === userId &&
              earlier.amountCents === entry.amountCents &&
              earlier.kind === entry.kind
            : earlier.entry.amountCents === entry.amountCents && earlier.entry.kind === entry.kind
        if (!same) {
          const id = earlier instanceof CreditLedgerEntry ? `#${earlier.id}` : 'in this group'
          const error = new Error(
            `The idempotency key "${idempotencyKey}" was already used for a different ledger entry (${id}); use another key`
          )
          outcomes.push(() => entry.reject(error))
        } else if (earlier instanceof CreditLedgerEntry) {
          outcomes.push(() => entry.resolve({ entry: earlier, created: false }))
        } else {
          outcomes.push((written) =>
            entry.resolve({ entry: written.get(idempotencyKey)!, created: false })
          )
        }
        continue
      }
      if (balance + entry.amountCents < 0) {
        const error = InsufficientCreditsException.forDebit(-entry.amountCents, balance)
        outcomes.push(() => entry.reject(error))
        continue
      }
      balance += entry.amountCents
      accepted.set(idempotencyKey, { entry, balanceAfter: balance })
      outcomes.push((written) =>
        entry.resolve({ entry: written.get(idempotencyKey)!, created: true })
      )
    }

    const written = new Map<string, CreditLedgerEntry>()
    if (accepted.size > 0) {
      const rows = [...accepted.values()]
      const column = <T>(pick: (row: (typeof rows)[number]) => T) => rows.map(pick)
      const now = new Date()
      const result = await trx.rawQuery<{ rows: Record<string, unknown>[] }>(
        `WITH moved AS (
           UPDATE users SET credits_balance_cents = ?, updated_at = ? WHERE id = ?
         )
         INSERT INTO credit_ledger_entries (user_id, amount_cents, balance_after_cents, kind,
           idempotency_key, credit_purchase_id, usage_invoice_id, description, created_by,
           created_at)
         SELECT ?, e.amount, e.balance_after, e.kind, e.key, e.purchase, e.invoice,
                e.description, e.created_by, ?
           FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::bigint[], ?::bigint[],
                       ?::text[], ?::text[])
                WITH ORDINALITY
                AS e(amount, balance_after, kind, key, purchase, invoice, description, created_by, n)
          ORDER BY e.n
         RETURNING *`,
        [
          balance,
          now,
          userId,
          userId,
          now,
          column((row) => row.entry.amountCents),
          column((row) => row.balanceAfter),
          column((row) => row.entry.kind),
          column((row) => row.entry.options.idempotencyKey),
          column((row) => row.entry.options.creditPurchaseId ?? null),
          column((row) => row.entry.options.usageInvoiceId ?? null),
          column((row) =>
            row.entry.options.description ? row.entry.options.description.slice(0, 255) : null
          ),
          column((row) => row.entry.options.createdBy),
        ] as unknown as RawQueryBindings
      )
      for (const row of result.rows) {
        const entry = CreditLedgerEntry.$createFromAdapterResult(row)!
        written.set(entry.idempotencyKey, entry)
      }
    }
    return () => {
      for (const outcome of outcomes) outcome(written)
    }
  }

  /** record() inside the caller's transaction. */
  protected async recordIn(
    userId: number,
    amountCents: number,
    kind: CreditLedgerEntryKind,
    options: LedgerEntryOptions,
    trx: TransactionClientContract
  ): Promise<RecordResult> {
    // The user's row lock first (unless the caller holds it): every later statement of
    // this transaction then sees any entry a concurrent writer for this user committed.
    if (!options.userLocked) {
      await trx.rawQuery('SELECT id FROM users WHERE id = ? FOR UPDATE', [userId])
    }
    // One round trip: the balance moves and the entry is written together, only when the
    // key is unused and the balance stays >= 0; nothing is written otherwise.
    const now = new Date()
    const written = await trx.rawQuery<{ rows: Record<string, unknown>[] }>(
      `WITH moved AS (
         UPDATE users SET credits_balance_cents = credits_balance_cents + :amount, updated_at = :now
          WHERE id = :user AND credits_balance_cents + :amount >= 0
            AND NOT EXISTS (SELECT 1 FROM credit_ledger_entries WHERE idempotency_key = :key)
          RETURNING credits_balance_cents
       )
       INSERT INTO credit_ledger_entries (user_id, amount_cents, balance_after_cents, kind,
         idempotency_key, credit_purchase_id, usage_invoice_id, description, created_by,
         created_at)
       SELECT :user, :amount, moved.credits_balance_cents, :kind, :key, :purchase, :invoice,
              :description, :createdBy, :now
         FROM moved
       RETURNING *`,
      {
        user: userId,
        amount: amountCents,
        now,
        key: options.idempotencyKey,
        kind,
        purchase: options.creditPurchaseId ?? null,
        invoice: options.usageInvoiceId ?? null,
        description: options.description ? options.description.slice(0, 255) : null,
        createdBy: options.createdBy,
      } as unknown as RawQueryBindings
    )
    if (written.rows.length > 0) {
      return { entry: CreditLedgerEntry.$createFromAdapterResult(written.rows[0])!, created: true }
    }

    // Nothing written: the key was used before (a replay), or the balance is too low.
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
    const user = await User.query({ client: trx }).where('id', userId).firstOrFail()
    throw InsufficientCreditsException.forDebit(-amountCents, user.creditsBalanceCents)
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
