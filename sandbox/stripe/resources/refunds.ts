/**
 * `/v1/refunds`: create (by charge or PaymentIntent, full or partial, with
 * `reverse_transfer` / `refund_application_fee` on destination charges), retrieve,
 * update, cancel, list; `/v1/charges/:id/refunds`.
 *
 * Card refunds succeed at once: the ledger gets a `refund` debit (Stripe keeps its
 * processing fee), the charge's `amount_refunded`/`refunded` move, and
 * `charge.refunded` then `refund.created` are emitted (then `transfer.reversed` +
 * `transfer.updated`, `application_fee.refunded` when those apply).
 */
import type Stripe from 'stripe'
import type { ResourceContext, ResourceModule } from '../context.js'
import { invalidRequest, resourceMissing } from '../errors.js'
import { type EventOrigin, saveUpdate } from '../events.js'
import { formatAmount } from '../hosted/html.js'
import { newId, randomBase62 } from '../ids.js'
import { previousAttributes } from '../json.js'
import { paginate } from '../list.js'
import { customerIdOf, findCharge, findPaymentIntent } from '../payments.js'
import {
  applyMetadata,
  boolean,
  enumOf,
  integer,
  matchesRange,
  metadata,
  paginationShape,
  range,
  string,
} from '../params.js'
import { refundApplicationFee, validateFeeRefund } from './application_fees.js'
import { addBalanceTransaction } from './balance.js'
import { createReversal, validateReversal } from './transfers.js'

declare module '../store.js' {
  interface CollectionTypes {
    refund: Stripe.Refund
  }
}

export type RefundReason = 'duplicate' | 'fraudulent' | 'requested_by_customer'

export interface NewRefund {
  charge?: string | null
  paymentIntent?: string | null
  amount?: number | null
  reason?: RefundReason | null
  metadata?: Record<string, string>
  reverseTransfer?: boolean | null
  refundApplicationFee?: boolean | null
  origin: EventOrigin | null
  /** Connect: refund a direct charge on this connected account (`Stripe-Account`). */
  account?: string
}

interface RefundPlan {
  charge: Stripe.Charge
  amount: number
  reversal: { transfer: string; amount: number } | null
  feeRefund: { fee: string; amount: number } | null
}

function idOf(value: string | { id: string } | null | undefined): string | null {
  if (!value) return null
  return typeof value === 'string' ? value : value.id
}

/** Every check Stripe makes before refunding (throws; writes nothing). */
export function planRefund(ctx: ResourceContext, input: NewRefund): RefundPlan {
  if (!input.charge && !input.paymentIntent) {
    throw invalidRequest(
      'One of the following params should be provided for this request: payment_intent or charge.',
      { code: 'parameter_missing', validation: true }
    )
  }
  let charge: Stripe.Charge
  if (input.paymentIntent) {
    const intent = findPaymentIntent(ctx, input.paymentIntent, 'payment_intent', input.account)
    const latest = idOf(intent.latest_charge)
    const found = latest ? ctx.store.getFor('charge', latest, input.account) : undefined
    if (!found || found.status !== 'succeeded') {
      throw invalidRequest(
        `This PaymentIntent (${intent.id}) does not have a successful charge to refund.`,
        { param: 'payment_intent' }
      )
    }
    if (input.charge && input.charge !== found.id) {
      throw invalidRequest(
        `The charge ${input.charge} does not belong to the PaymentIntent ${intent.id}.`,
        { param: 'charge' }
      )
    }
    charge = found
  } else {
    charge = findCharge(ctx, input.charge ?? '', 'charge', input.account)
    if (charge.status !== 'succeeded') {
      throw invalidRequest(`Charge ${charge.id} has not succeeded and cannot be refunded.`, {
        param: 'charge',
      })
    }
  }
  if (charge.disputed) {
    const open = ctx.store
      .list('dispute')
      .some((dispute) => idOf(dispute.charge) === charge.id && dispute.status !== 'won')
    if (open) {
      throw invalidRequest(`Charge ${charge.id} has been charged back; cannot issue a refund.`, {
        code: 'charge_disputed',
      })
    }
  }
  const remaining = charge.amount - charge.amount_refunded
  if (remaining <= 0) {
    throw invalidRequest(`Charge ${charge.id} has already been refunded.`, {
      code: 'charge_already_refunded',
    })
  }
  const amount = input.amount ?? remaining
  if (amount > remaining) {
    const message =
      charge.amount_refunded === 0
        ? `Refund amount (${formatAmount(amount, charge.currency)}) is greater than charge amount (${formatAmount(charge.amount, charge.currency)})`
        : `Refund amount (${formatAmount(amount, charge.currency)}) is greater than unrefunded amount on charge (${formatAmount(remaining, charge.currency)})`
    throw invalidRequest(message, { param: 'amount' })
  }
  const fullRefund = amount === remaining

  let reversal: RefundPlan['reversal'] = null
  if (input.reverseTransfer) {
    const transferId = idOf(charge.transfer)
    const transfer = transferId ? ctx.store.get('transfer', transferId) : undefined
    if (!transfer) {
      throw invalidRequest(
        'You cannot reverse the transfer of a charge that was not created with transfer_data[destination].',
        { param: 'reverse_transfer' }
      )
    }
    const left = transfer.amount - transfer.amount_reversed
    const share = fullRefund ? left : Math.round((transfer.amount * amount) / charge.amount)
    const reverseAmount = Math.min(share, left)
    if (reverseAmount > 0) {
      validateReversal(transfer, reverseAmount)
      reversal = { transfer: transfer.id, amount: reverseAmount }
    }
  }
  let feeRefund: RefundPlan['feeRefund'] = null
  if (input.refundApplicationFee) {
    const feeId = idOf(charge.application_fee)
    const fee = feeId ? ctx.store.get('application_fee', feeId) : undefined
    if (fee) {
      const left = fee.amount - fee.amount_refunded
      const share = fullRefund ? left : Math.round((fee.amount * amount) / charge.amount)
      const feeAmount = Math.min(share, left)
      if (feeAmount > 0) {
        validateFeeRefund(fee, feeAmount)
        feeRefund = { fee: fee.id, amount: feeAmount }
      }
    }
  }
  return { charge, amount, reversal, feeRefund }
}

/** Refunds a charge (validated first) and emits the events in Stripe's order. */
export function createRefund(ctx: ResourceContext, input: NewRefund): Stripe.Refund {
  const plan = planRefund(ctx, input)
  const { charge, amount } = plan
  const id = newId('refund')
  const txn = addBalanceTransaction(ctx, {
    amount: -amount,
    currency: charge.currency,
    type: 'refund',
    reportingCategory: 'refund',
    source: id,
    description: null,
    account: input.account,
  })
  const reversal = plan.reversal
    ? createReversal(ctx, plan.reversal.transfer, {
        amount: plan.reversal.amount,
        sourceRefund: id,
        origin: input.origin,
      })
    : null
  const feeRefund = plan.feeRefund
    ? refundApplicationFee(ctx, plan.feeRefund.fee, {
        amount: plan.feeRefund.amount,
        origin: input.origin,
      })
    : null
  const refund: Stripe.Refund = {
    id,
    object: 'refund',
    amount,
    balance_transaction: txn.id,
    charge: charge.id,
    created: ctx.clock.now(),
    currency: charge.currency,
    customer: customerIdOf(charge),
    customer_account: null,
    destination_details: {
      card: {
        reference: randomBase62(16).toUpperCase(),
        reference_status: 'pending',
        reference_type: 'acquirer_reference_number',
        type: 'refund',
      },
      type: 'card',
    },
    metadata: input.metadata ?? {},
    payment_intent: idOf(charge.payment_intent),
    payment_method: charge.payment_method,
    reason: input.reason ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: reversal?.reversal.id ?? null,
  }
  ctx.store.insert('refund', id, refund, { account: input.account })
  const refunded = charge.amount_refunded + amount
  const nextCharge: Stripe.Charge = {
    ...charge,
    amount_refunded: refunded,
    refunded: refunded >= charge.amount,
  }
  ctx.store.replace('charge', charge.id, nextCharge)
  ctx.events.emit('charge.refunded', nextCharge, {
    request: input.origin,
    previousAttributes: previousAttributes(charge, nextCharge),
    account: input.account,
  })
  ctx.events.emit('refund.created', refund, { request: input.origin, account: input.account })
  reversal?.emit()
  feeRefund?.emit()
  return refund
}

export function findRefund(
  ctx: ResourceContext,
  id: string,
  account: string | undefined
): Stripe.Refund {
  const refund = ctx.store.getFor('refund', id, account)
  if (!refund) throw resourceMissing('refund', id)
  return refund
}

const createShape = {
  charge: string(),
  payment_intent: string(),
  amount: integer({ min: 1 }),
  reason: enumOf(['duplicate', 'fraudulent', 'requested_by_customer']),
  metadata: metadata(),
  reverse_transfer: boolean(),
  refund_application_fee: boolean(),
  instructions_email: string(),
  origin: enumOf(['customer_balance']),
}

const listShape = {
  ...paginationShape,
  charge: string(),
  payment_intent: string(),
  created: range(),
}

function refundRecords(ctx: ResourceContext, account: string | undefined) {
  return ctx.store
    .records('refund')
    .filter(({ deleted, account: owner }) => !deleted && owner === account)
}

export const refunds: ResourceModule = {
  name: 'refunds',
  register(ctx) {
    ctx.route({
      method: 'POST',
      path: '/v1/refunds',
      params: createShape,
      returns: 'refund',
      handler({ params, origin, request }) {
        return createRefund(ctx, {
          account: request.stripeAccount,
          charge: params.charge,
          paymentIntent: params.payment_intent,
          amount: params.amount,
          reason: params.reason,
          metadata: applyMetadata({}, params.metadata),
          reverseTransfer: params.reverse_transfer,
          refundApplicationFee: params.refund_application_fee,
          origin,
        })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/refunds/:id',
      params: {},
      returns: 'refund',
      handler({ path, request }) {
        return findRefund(ctx, path.id, request.stripeAccount)
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/refunds/:id',
      params: { metadata: metadata() },
      returns: 'refund',
      handler({ params, path, request, origin }) {
        const current = findRefund(ctx, path.id, request.stripeAccount)
        const next: Stripe.Refund = {
          ...current,
          metadata: applyMetadata(current.metadata ?? {}, params.metadata),
        }
        return saveUpdate(ctx, 'refund', current.id, current, next, 'refund.updated', {
          request: origin,
          account: request.stripeAccount,
        })
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/refunds/:id/cancel',
      params: {},
      returns: 'refund',
      handler({ path, request }) {
        const current = findRefund(ctx, path.id, request.stripeAccount)
        throw invalidRequest(
          `You can't cancel this refund because it has a status of ${current.status ?? 'unknown'}. Only refunds with a status of requires_action can be canceled.`,
          { code: 'refund_unexpected_state' }
        )
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/refunds',
      params: listShape,
      returns: 'list:refund',
      handler({ params, request }) {
        const records = refundRecords(ctx, request.stripeAccount).filter(
          ({ value }) =>
            (!params.charge || idOf(value.charge) === params.charge) &&
            (!params.payment_intent || idOf(value.payment_intent) === params.payment_intent) &&
            matchesRange(value.created, params.created)
        )
        return paginate(records, params, {
          url: '/v1/refunds',
          label: 'refund',
          seqOf: (id) => ctx.store.seqOf('refund', id),
        })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/charges/:id/refunds',
      params: paginationShape,
      returns: 'list:refund',
      handler({ params, path, request }) {
        findCharge(ctx, path.id, 'id', request.stripeAccount)
        const records = refundRecords(ctx, request.stripeAccount).filter(
          ({ value }) => idOf(value.charge) === path.id
        )
        return paginate(records, params, {
          url: `/v1/charges/${path.id}/refunds`,
          label: 'refund',
          seqOf: (id) => ctx.store.seqOf('refund', id),
        })
      },
    })

    ctx.references(
      'refund',
      {
        balance_transaction: 'balance_transaction',
        charge: 'charge',
        payment_intent: 'payment_intent',
        customer: 'customer',
        payment_method: 'payment_method',
        transfer_reversal: 'transfer_reversal',
      },
      { target: false }
    )
    ctx.references('refund', { source_transfer_reversal: 'transfer_reversal' })
  },
}
