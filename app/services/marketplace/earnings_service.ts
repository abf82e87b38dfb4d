import { DateTime } from 'luxon'
import db from '@adonisjs/lucid/services/db'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import billingConfig from '#config/billing'
import type MarketplaceAgent from '#models/marketplace_agent'
import MarketplaceTransaction, {
  type MarketplaceTransactionKind,
  type MarketplaceTransactionSourceType,
} from '#models/marketplace_transaction'
import CreatorTransferReversal from '#models/creator_transfer_reversal'
import MarketplaceException from '#exceptions/marketplace_exception'
import { splitGross, splitReversal } from '#services/marketplace/split'

/** One positive earning: a paid sale, a paid renewal invoice, or an agent's share of a usage charge. */
export interface EarningInput {
  agent: MarketplaceAgent
  buyerId: number
  /** The Stripe (or our) object this money came from; unique per agent. */
  sourceId: string
  grossCents: number
  /** The charge that paid it (refunds and disputes are found by it). */
  stripeChargeId?: string | null
  /** When it was paid; the hold period runs from here. Default: now. */
  at?: DateTime
  currency?: string
}

/** Which earning a refund or dispute takes back. */
export type EarningReference =
  | MarketplaceTransaction
  | { sourceType: MarketplaceTransactionSourceType; sourceId: string; agentId: number }

export interface ReversalInput {
  earning: EarningReference
  kind: 'refund' | 'dispute'
  /** The refund (re_…) or dispute (dp_…) id, or any id naming this one step. */
  sourceId: string
  /** Gross taken back by this step (cents > 0); capped at what is left of the earning. */
  grossCents: number
  at?: DateTime
}

export interface RecordedEarning {
  transaction: MarketplaceTransaction
  /** false: that source was recorded before; nothing changed. */
  created: boolean
}

export interface RecordedReversal {
  /** null when the earning had nothing left to take back. */
  transaction: MarketplaceTransaction | null
  created: boolean
  /** Set when the earning was already in a payout: the run reverses its transfer. */
  transferReversal: CreatorTransferReversal | null
}

/** A creator's money, in cents. */
export interface CreatorBalances {
  /** Earned, still in the hold period. */
  pendingCents: number
  /** Past the hold period, not in a payout yet (negative: the creator owes it back). */
  payableCents: number
  /** In a payout whose transfer is not confirmed yet. */
  inFlightCents: number
  /** Transferred to the creator's Connect account (before reversals). */
  paidCents: number
  /** Taken back from paid transfers by transfer reversals. */
  reversedCents: number
  /** Transfer reversals recorded, not made yet (the next run makes them). */
  reversalPendingCents: number
  /** Everything earned, net of refunds and disputes. */
  netEarnedCents: number
}

export interface AgentEarnings {
  agentId: number
  slug: string
  name: string
  sales: number
  reversals: number
  grossCents: number
  creatorCents: number
  platformCents: number
}

/**
 * The creators' earnings ledger. Every paid sale, renewal and usage charge is
 * one row, split on integers (creator = floor(gross x bps / 10000)); a refund
 * or dispute is a negative row naming the earning it takes back. Rows are
 * unique on (source_type, source_id, agent_id): recording a source twice
 * returns the first row and changes nothing. Every method that writes takes
 * the caller's `trx` and never calls Stripe: what Stripe must do (a transfer
 * reversal) is written down for the payout run.
 */
export default class EarningsService {
  static holdDays() {
    return billingConfig.marketplace.payoutHoldDays
  }

  static creatorShareBps() {
    return billingConfig.creatorShareBps
  }

  /**
   * A paid one-time purchase (source: the Checkout Session, or a PaymentIntent)
   * or a subscription's first invoice (source: the invoice).
   */
  recordSale(
    input: EarningInput & { sourceType?: 'checkout_session' | 'payment_intent' | 'invoice' },
    trx: TransactionClientContract
  ) {
    return this.recordEarning('sale', input.sourceType ?? 'checkout_session', input, trx)
  }

  /** A paid subscription renewal invoice (source: the invoice id). */
  recordRenewal(input: EarningInput, trx: TransactionClientContract) {
    return this.recordEarning('renewal', 'invoice', input, trx)
  }

  /** An agent's share of a paid usage charge (source: our usage invoice id; one row per agent). */
  recordUsage(input: EarningInput, trx: TransactionClientContract) {
    return this.recordEarning('usage', 'usage_invoice', input, trx)
  }

  protected async recordEarning(
    kind: Extract<MarketplaceTransactionKind, 'sale' | 'renewal' | 'usage'>,
    sourceType: MarketplaceTransactionSourceType,
    input: EarningInput,
    trx: TransactionClientContract
  ): Promise<RecordedEarning> {
    const { agent } = input
    if (!input.sourceId?.trim()) throw MarketplaceException.invalid('An earning needs a source id')
    const split = splitGross(
      input.grossCents,
      agent.creatorId === null ? 0 : EarningsService.creatorShareBps()
    )
    const at = input.at ?? DateTime.utc()
    const isCreators = agent.creatorId !== null
    const now = new Date()
    // ON CONFLICT DO NOTHING: a concurrent duplicate waits for the first insert, then finds it.
    const inserted: { id: string }[] = await trx
      .knexQuery()
      .table('marketplace_transactions')
      .insert({
        agent_id: agent.id,
        creator_id: agent.creatorId,
        buyer_id: input.buyerId,
        kind,
        source_type: sourceType,
        source_id: input.sourceId,
        gross_cents: split.grossCents,
        creator_cents: split.creatorCents,
        platform_cents: split.platformCents,
        currency: input.currency ?? billingConfig.currency,
        stripe_charge_id: input.stripeChargeId ?? null,
        payable_at: isCreators ? at.plus({ days: EarningsService.holdDays() }).toJSDate() : null,
        status: 'pending',
        created_at: now,
        updated_at: now,
      })
      .onConflict(['source_type', 'source_id', 'agent_id'])
      .ignore()
      .returning('id')
    const created = inserted.length > 0
    const transaction = await MarketplaceTransaction.query({ client: trx })
      .where('source_type', sourceType)
      .where('source_id', input.sourceId)
      .where('agent_id', agent.id)
      .firstOrFail()
    if (
      !created &&
      (transaction.kind !== kind ||
        transaction.grossCents !== split.grossCents ||
        transaction.buyerId !== input.buyerId)
    ) {
      // The same source naming different money is a bug upstream, not a replay.
      throw MarketplaceException.conflictingSource(sourceType, input.sourceId, transaction.id)
    }
    if (!created && !transaction.stripeChargeId && input.stripeChargeId) {
      transaction.stripeChargeId = input.stripeChargeId
      await transaction.useTransaction(trx).save()
    }
    return { transaction, created }
  }

  /**
   * A refund or dispute of an earning, possibly partial: the negative row takes
   * back the creator's share in proportion (cumulatively floored, so reversals
   * never exceed what was earned, and a full refund takes it all). If the
   * earning is not in a payout, the row nets against the next payout; if it is
   * (paid, or being paid), a transfer reversal is recorded for the run to make.
   */
  async recordReversal(
    input: ReversalInput,
    trx: TransactionClientContract
  ): Promise<RecordedReversal> {
    if (!input.sourceId?.trim()) throw MarketplaceException.invalid('A reversal needs a source id')
    const reference = input.earning
    const earningQuery = MarketplaceTransaction.query({ client: trx }).forUpdate()
    const earning = await (
      reference instanceof MarketplaceTransaction
        ? earningQuery.where('id', reference.id)
        : earningQuery
            .where('source_type', reference.sourceType)
            .where('source_id', reference.sourceId)
            .where('agent_id', reference.agentId)
    ).first()
    if (!earning) throw MarketplaceException.earningNotFound(reference)
    if (earning.isReversal) {
      throw MarketplaceException.invalid(`Transaction ${earning.id} is itself a ${earning.kind}`)
    }

    const existing = await MarketplaceTransaction.query({ client: trx })
      .where('source_type', input.kind)
      .where('source_id', input.sourceId)
      .where('agent_id', earning.agentId)
      .first()
    if (existing) {
      const transferReversal = await CreatorTransferReversal.query({ client: trx })
        .where('marketplace_transaction_id', existing.id)
        .first()
      return { transaction: existing, created: false, transferReversal: transferReversal ?? null }
    }

    const [sums] = await trx
      .from('marketplace_transactions')
      .where('reverses_transaction_id', earning.id)
      .select(
        trx.raw('COALESCE(-SUM(gross_cents), 0) AS gross'),
        trx.raw('COALESCE(-SUM(creator_cents), 0) AS creator')
      )
    const split = splitReversal(
      earning,
      { grossCents: Number(sums.gross), creatorCents: Number(sums.creator) },
      input.grossCents
    )
    if (!split) return { transaction: null, created: false, transferReversal: null }

    const at = input.at ?? DateTime.utc()
    const inPayout = earning.creatorPayoutId !== null && earning.creatorId !== null
    const settlesByTransferReversal = inPayout && split.creatorCents < 0
    const transaction = await MarketplaceTransaction.create(
      {
        agentId: earning.agentId,
        creatorId: earning.creatorId,
        buyerId: earning.buyerId,
        kind: input.kind,
        sourceType: input.kind,
        sourceId: input.sourceId,
        ...split,
        currency: earning.currency,
        stripeChargeId: earning.stripeChargeId,
        reversesTransactionId: earning.id,
        creatorPayoutId: null,
        // Netted: due no earlier than the earning itself, so a refund in the hold
        // period does not eat into other, already payable earnings first.
        payableAt:
          earning.creatorId === null || settlesByTransferReversal
            ? null
            : DateTime.max(at, earning.payableAt ?? at),
        status: settlesByTransferReversal ? 'reversed' : 'pending',
      },
      { client: trx }
    )
    let transferReversal: CreatorTransferReversal | null = null
    if (settlesByTransferReversal) {
      transferReversal = await this.recordTransferReversal(
        earning.creatorId!,
        earning.creatorPayoutId!,
        transaction,
        trx
      )
    }
    return { transaction, created: true, transferReversal }
  }

  /** The pending transfer reversal for a negative entry of a paid earning (key derived from its id). */
  protected async recordTransferReversal(
    creatorId: number,
    payoutId: number,
    transaction: MarketplaceTransaction,
    trx: TransactionClientContract
  ) {
    const result = await trx.rawQuery(
      `INSERT INTO creator_transfer_reversals
         (id, creator_id, creator_payout_id, marketplace_transaction_id, amount_cents, currency,
          status, idempotency_key, created_at, updated_at)
       SELECT next.id, :creatorId, :payoutId, :transactionId, :amount, :currency, 'pending',
              'studio:transfer-reversal:' || next.id, :now, :now
         FROM (SELECT nextval(pg_get_serial_sequence('creator_transfer_reversals', 'id')) AS id) next
       RETURNING id`,
      {
        creatorId,
        payoutId,
        transactionId: transaction.id,
        amount: -transaction.creatorCents,
        currency: transaction.currency,
        now: new Date(),
      }
    )
    return CreatorTransferReversal.query({ client: trx })
      .where('id', result.rows[0].id)
      .firstOrFail()
  }

  /**
   * Earnings whose hold period is over at `now` become payable (creators'
   * rows only). Safe to run any number of times; returns how many changed.
   */
  async makePayable(now: DateTime = DateTime.utc(), trx?: TransactionClientContract) {
    const updated = await (trx ?? db)
      .from('marketplace_transactions')
      .where('status', 'pending')
      .whereNotNull('creator_id')
      .whereNotNull('payable_at')
      .where('payable_at', '<=', now.toJSDate())
      .update({ status: 'payable', updated_at: new Date() })
    return Array.isArray(updated) ? updated.length : Number(updated)
  }

  /** A creator's pending / payable / in flight / paid / reversed money. */
  async balances(creatorId: number): Promise<CreatorBalances> {
    const [ledger] = await db
      .from('marketplace_transactions')
      .where('creator_id', creatorId)
      .select(
        db.raw(`COALESCE(SUM(creator_cents) FILTER (WHERE status = 'pending'), 0) AS pending`),
        db.raw(
          `COALESCE(SUM(creator_cents) FILTER (WHERE status = 'payable' AND creator_payout_id IS NULL), 0) AS payable`
        ),
        db.raw(`COALESCE(SUM(creator_cents), 0) AS net`)
      )
    const [inFlight] = await db
      .from('marketplace_transactions as t')
      .join('creator_payouts as p', 'p.id', 't.creator_payout_id')
      .where('t.creator_id', creatorId)
      .whereIn('p.status', ['pending', 'processing'])
      .sum('t.creator_cents as total')
    const [paid] = await db
      .from('creator_payouts')
      .where('creator_id', creatorId)
      .whereIn('status', ['paid', 'reversed'])
      .select(
        db.raw('COALESCE(SUM(amount_cents), 0) AS paid'),
        db.raw('COALESCE(SUM(reversed_cents), 0) AS reversed')
      )
    const [reversalPending] = await db
      .from('creator_transfer_reversals')
      .where('creator_id', creatorId)
      .where('status', 'pending')
      .sum('amount_cents as total')
    return {
      pendingCents: Number(ledger.pending),
      payableCents: Number(ledger.payable),
      inFlightCents: Number(inFlight?.total ?? 0),
      paidCents: Number(paid.paid),
      reversedCents: Number(paid.reversed),
      reversalPendingCents: Number(reversalPending?.total ?? 0),
      netEarnedCents: Number(ledger.net),
    }
  }

  /** Per-agent figures for a creator (every agent of theirs, with or without sales). */
  async byAgent(creatorId: number): Promise<AgentEarnings[]> {
    const rows = await db
      .from('marketplace_agents as a')
      .leftJoin('marketplace_transactions as t', 't.agent_id', 'a.id')
      .where('a.creator_id', creatorId)
      .groupBy('a.id', 'a.slug', 'a.name')
      .orderBy('a.id')
      .select(
        'a.id',
        'a.slug',
        'a.name',
        db.raw(`COUNT(t.id) FILTER (WHERE t.kind IN ('sale', 'renewal', 'usage')) AS sales`),
        db.raw(`COUNT(t.id) FILTER (WHERE t.kind IN ('refund', 'dispute')) AS reversals`),
        db.raw('COALESCE(SUM(t.gross_cents), 0) AS gross'),
        db.raw('COALESCE(SUM(t.creator_cents), 0) AS creator'),
        db.raw('COALESCE(SUM(t.platform_cents), 0) AS platform')
      )
    return rows.map((row) => ({
      agentId: Number(row.id),
      slug: row.slug,
      name: row.name,
      sales: Number(row.sales),
      reversals: Number(row.reversals),
      grossCents: Number(row.gross),
      creatorCents: Number(row.creator),
      platformCents: Number(row.platform),
    }))
  }

  /** A creator's ledger rows, newest first. */
  history(
    creatorId: number,
    { limit = 50, since, until }: { limit?: number; since?: DateTime; until?: DateTime } = {}
  ) {
    return MarketplaceTransaction.query()
      .where('creator_id', creatorId)
      .if(since, (query) => query.where('created_at', '>=', since!.toJSDate()))
      .if(until, (query) => query.where('created_at', '<', until!.toJSDate()))
      .orderBy('id', 'desc')
      .limit(limit)
  }

  /** Earnings (not reversals) paid by a charge: what a refund or dispute of it takes back. */
  earningsOfCharge(chargeId: string, trx?: TransactionClientContract) {
    return MarketplaceTransaction.query(trx ? { client: trx } : {})
      .where('stripe_charge_id', chargeId)
      .whereIn('kind', ['sale', 'renewal', 'usage'])
      .orderBy('id')
  }
}
