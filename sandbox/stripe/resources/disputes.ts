/**
 * Disputes (`dp_…`). A customer's bank opens them, so the sandbox does it through
 * `createDispute` / `POST /_sim/charges/:id/dispute`, and decides them through
 * `closeDispute` / `POST /_sim/disputes/:id/close {outcome: won|lost}`.
 * API: `/v1/disputes` retrieve, list, update (evidence, metadata, submit), close
 * (accept the loss). An unanswered dispute is lost once its `due_by` passes.
 *
 * Money: opening debits the amount plus Stripe's $15 dispute fee
 * (charge.dispute.funds_withdrawn); winning credits both back
 * (charge.dispute.funds_reinstated).
 */
import type Stripe from 'stripe'
import type { ResourceContext, ResourceModule } from '../context.js'
import { ApiError, invalidRequest, resourceMissing } from '../errors.js'
import { type EventOrigin, saveUpdate } from '../events.js'
import { newId } from '../ids.js'
import { previousAttributes } from '../json.js'
import { paginate } from '../list.js'
import {
  applyMetadata,
  boolean,
  matchesRange,
  metadata,
  object,
  paginationShape,
  range,
  string,
} from '../params.js'
import { SimError, num, str } from '../sim.js'
import { DAY, DISPUTE_FEE, addBalanceTransaction, feeDetail } from './balance.js'

declare module '../store.js' {
  interface CollectionTypes {
    dispute: Stripe.Dispute
  }
}

/** Days the merchant has to respond before the dispute is lost. */
export const DISPUTE_RESPONSE_DAYS = 7

const EVIDENCE_FIELDS = [
  'access_activity_log',
  'billing_address',
  'cancellation_policy',
  'cancellation_policy_disclosure',
  'cancellation_rebuttal',
  'customer_communication',
  'customer_email_address',
  'customer_name',
  'customer_purchase_ip',
  'customer_signature',
  'duplicate_charge_documentation',
  'duplicate_charge_explanation',
  'duplicate_charge_id',
  'product_description',
  'receipt',
  'refund_policy',
  'refund_policy_disclosure',
  'refund_refusal_explanation',
  'service_date',
  'service_documentation',
  'shipping_address',
  'shipping_carrier',
  'shipping_date',
  'shipping_documentation',
  'shipping_tracking_number',
  'uncategorized_file',
  'uncategorized_text',
] as const

type EvidenceField = (typeof EVIDENCE_FIELDS)[number]

const REASONS = [
  'bank_cannot_process',
  'check_returned',
  'credit_not_processed',
  'customer_initiated',
  'debit_not_authorized',
  'duplicate',
  'fraudulent',
  'general',
  'incorrect_account_details',
  'insufficient_funds',
  'noncompliant',
  'product_not_received',
  'product_unacceptable',
  'subscription_canceled',
  'unrecognized',
]

/** Visa reason codes for the card details of a dispute. */
const NETWORK_REASON: Record<string, string> = {
  fraudulent: '10.4',
  duplicate: '12.6.1',
  product_not_received: '13.1',
  product_unacceptable: '13.3',
  credit_not_processed: '13.6',
  subscription_canceled: '13.2',
  unrecognized: '10.4',
  general: '13.7',
}

const CLOSED: ReadonlyArray<Stripe.Dispute.Status> = ['won', 'lost', 'warning_closed', 'prevented']

function emptyEvidence(): Stripe.Dispute.Evidence {
  const evidence: Partial<Record<EvidenceField, null>> = {}
  for (const field of EVIDENCE_FIELDS) evidence[field] = null
  return { ...(evidence as Record<EvidenceField, null>), enhanced_evidence: {} }
}

function chargeIdOf(dispute: Stripe.Dispute): string {
  return typeof dispute.charge === 'string' ? dispute.charge : dispute.charge.id
}

/** Opens a dispute on a succeeded charge (what the cardholder's bank does). */
export function createDispute(
  ctx: ResourceContext,
  chargeId: string,
  options: { reason?: string | null; amount?: number | null } = {}
): Stripe.Dispute {
  const record = ctx.store.getRecord('charge', chargeId)
  const account = record?.account
  // Looked up directly (not through payments.ts, which opens disputes for 0259 cards).
  const charge = ctx.store.getFor('charge', chargeId, account)
  if (!charge) throw resourceMissing('charge', chargeId, 'charge')
  if (charge.status !== 'succeeded') {
    throw invalidRequest(`Charge ${charge.id} did not succeed and cannot be disputed.`)
  }
  if (charge.disputed) throw invalidRequest(`Charge ${charge.id} is already disputed.`)
  const reason = options.reason ?? 'fraudulent'
  if (!REASONS.includes(reason)) {
    throw invalidRequest(`Invalid reason: must be one of ${REASONS.join(', ')}`, {
      param: 'reason',
    })
  }
  const amount = options.amount ?? charge.amount
  if (!Number.isInteger(amount) || amount < 1 || amount > charge.amount) {
    throw invalidRequest(`The dispute amount must be between 1 and ${charge.amount}.`, {
      param: 'amount',
    })
  }
  const now = ctx.clock.now()
  const id = newId('dispute')
  const txn = addBalanceTransaction(ctx, {
    amount: -amount,
    currency: charge.currency,
    type: 'adjustment',
    reportingCategory: 'dispute',
    source: id,
    description: `Chargeback withdrawal for ${charge.id}`,
    fees: [feeDetail(DISPUTE_FEE, charge.currency, 'stripe_fee', 'Dispute fee')],
    account,
  })
  const card = charge.payment_method_details?.card
  const networkReason = NETWORK_REASON[reason] ?? '13.7'
  const dispute: Stripe.Dispute = {
    id,
    object: 'dispute',
    amount,
    balance_transactions: [txn],
    charge: charge.id,
    created: now,
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence: emptyEvidence(),
    evidence_details: {
      due_by: now + DISPUTE_RESPONSE_DAYS * DAY,
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
      submission_method: 'not_submitted',
    },
    intended_submission_method: null,
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    network_reason_code: networkReason,
    payment_intent:
      typeof charge.payment_intent === 'string'
        ? charge.payment_intent
        : (charge.payment_intent?.id ?? null),
    payment_method_details: {
      card: {
        brand: card?.brand ?? 'visa',
        case_type: 'chargeback',
        network: card?.network ?? 'visa',
        network_reason_code: networkReason,
      },
      type: 'card',
    },
    reason,
    status: 'needs_response',
  }
  ctx.store.insert('dispute', id, dispute, { account })
  ctx.store.replace('charge', charge.id, { ...charge, disputed: true })
  ctx.events.emit('charge.dispute.created', dispute, { request: null, account })
  ctx.events.emit('charge.dispute.funds_withdrawn', dispute, { request: null, account })
  return dispute
}

export function findDispute(ctx: ResourceContext, id: string, account?: string): Stripe.Dispute {
  const dispute = ctx.store.getFor('dispute', id, account)
  if (!dispute) throw resourceMissing('dispute', id)
  return dispute
}

function requireOpen(dispute: Stripe.Dispute) {
  if (CLOSED.includes(dispute.status)) {
    throw invalidRequest(
      `This dispute is already closed (status ${dispute.status}) and cannot be changed.`,
      { code: 'dispute_already_closed' }
    )
  }
}

/**
 * Decides a dispute: `won` credits the amount and the fee back
 * (charge.dispute.closed, then charge.dispute.funds_reinstated); `lost` keeps the
 * debit (charge.dispute.closed).
 */
export function closeDispute(
  ctx: ResourceContext,
  id: string,
  outcome: 'won' | 'lost',
  origin: EventOrigin | null = null
): Stripe.Dispute {
  const account = ctx.store.accountOf('dispute', id)
  const current = findDispute(ctx, id, account)
  requireOpen(current)
  const next: Stripe.Dispute = { ...current, status: outcome }
  if (outcome === 'won') {
    const txn = addBalanceTransaction(ctx, {
      amount: current.amount,
      currency: current.currency,
      type: 'adjustment',
      reportingCategory: 'dispute_reversal',
      source: current.id,
      description: `Chargeback reversal for ${chargeIdOf(current)}`,
      fees: [feeDetail(-DISPUTE_FEE, current.currency, 'stripe_fee', 'Dispute fee refund')],
      account,
    })
    next.balance_transactions = [...current.balance_transactions, txn]
  }
  ctx.store.replace('dispute', id, next)
  const previous = previousAttributes(current, next)
  ctx.events.emit('charge.dispute.closed', next, {
    request: origin,
    previousAttributes: previous,
    account,
  })
  if (outcome === 'won')
    ctx.events.emit('charge.dispute.funds_reinstated', next, { request: origin, account })
  return next
}

const evidenceShape = object(
  Object.fromEntries(
    EVIDENCE_FIELDS.map((field) => [field, string({ maxLength: 20000 })])
  ) as Record<EvidenceField, ReturnType<typeof string>>
)

const updateShape = {
  evidence: evidenceShape,
  metadata: metadata(),
  submit: boolean(),
}

const listShape = {
  ...paginationShape,
  charge: string(),
  payment_intent: string(),
  created: range(),
}

function simError(error: unknown): never {
  if (error instanceof ApiError) throw new SimError(error.status, error.message)
  throw error
}

export const disputes: ResourceModule = {
  name: 'disputes',
  register(ctx) {
    // An unanswered dispute is lost when its response window closes.
    ctx.clock.onAdvance((now) => {
      for (const dispute of ctx.store.list('dispute')) {
        const dueBy = dispute.evidence_details.due_by
        if (dispute.status !== 'needs_response' || dueBy === null || dueBy > now) continue
        const pastDue: Stripe.Dispute = {
          ...dispute,
          evidence_details: { ...dispute.evidence_details, past_due: true },
        }
        ctx.store.replace('dispute', dispute.id, pastDue)
        closeDispute(ctx, dispute.id, 'lost', null)
      }
    })

    ctx.sim({
      method: 'POST',
      path: '/_sim/charges/:id/dispute',
      describe: 'POST /_sim/charges/:id/dispute {reason?, amount?} — the cardholder disputes',
      run(body, params) {
        try {
          return createDispute(ctx, params.id, {
            reason: str(body, 'reason'),
            amount: num(body, 'amount'),
          })
        } catch (error) {
          return simError(error)
        }
      },
    })

    ctx.sim({
      method: 'POST',
      path: '/_sim/disputes/:id/close',
      describe: 'POST /_sim/disputes/:id/close {outcome: won|lost} — the bank decides',
      run(body, params) {
        const outcome = str(body, 'outcome')
        if (outcome !== 'won' && outcome !== 'lost')
          throw new SimError(400, 'outcome must be won or lost')
        try {
          return closeDispute(ctx, params.id, outcome, null)
        } catch (error) {
          return simError(error)
        }
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/disputes/:id',
      params: {},
      returns: 'dispute',
      handler({ path, request }) {
        return findDispute(ctx, path.id, request.stripeAccount)
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/disputes/:id',
      params: updateShape,
      returns: 'dispute',
      handler({ params, path, origin, request }) {
        const current = findDispute(ctx, path.id, request.stripeAccount)
        const changesEvidence = params.evidence !== undefined || params.submit === true
        if (changesEvidence) requireOpen(current)
        if (changesEvidence && current.status === 'under_review') {
          throw invalidRequest(
            'This dispute has already been submitted and its evidence can no longer be updated.',
            { code: 'dispute_already_submitted' }
          )
        }
        const next: Stripe.Dispute = {
          ...current,
          evidence: { ...current.evidence },
          evidence_details: { ...current.evidence_details },
          metadata: applyMetadata(current.metadata, params.metadata),
        }
        if (params.evidence) {
          for (const field of EVIDENCE_FIELDS) {
            const value = params.evidence[field]
            if (value !== undefined) next.evidence[field] = value
          }
          next.evidence_details.has_evidence = EVIDENCE_FIELDS.some(
            (field) => next.evidence[field] !== null
          )
        }
        if (params.submit) {
          next.status = 'under_review'
          next.evidence_details.submission_count += 1
          next.evidence_details.submission_method = 'manual'
        }
        return saveUpdate(ctx, 'dispute', current.id, current, next, 'charge.dispute.updated', {
          request: origin,
          account: request.stripeAccount,
        })
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/disputes/:id/close',
      params: {},
      returns: 'dispute',
      handler({ path, origin, request }) {
        findDispute(ctx, path.id, request.stripeAccount)
        return closeDispute(ctx, path.id, 'lost', origin)
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/disputes',
      params: listShape,
      returns: 'list:dispute',
      handler({ params, request }) {
        const records = ctx.store
          .records('dispute')
          .filter(
            ({ value, deleted, account }) =>
              !deleted &&
              account === request.stripeAccount &&
              (!params.charge || chargeIdOf(value) === params.charge) &&
              (!params.payment_intent || value.payment_intent === params.payment_intent) &&
              matchesRange(value.created, params.created)
          )
        return paginate(records, params, {
          url: '/v1/disputes',
          label: 'dispute',
          seqOf: (id) => ctx.store.seqOf('dispute', id),
        })
      },
    })

    ctx.references(
      'dispute',
      { charge: 'charge', payment_intent: 'payment_intent' },
      { target: false }
    )
  },
}
