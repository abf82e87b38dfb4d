/**
 * `/v1/transfers` and `/v1/transfers/:id/reversals` (Connect).
 *
 * A transfer debits the platform's ledger and creates, in the destination
 * account's store, the `py_…` payment (a Charge with `source_transfer`) and its
 * balance transaction. With `source_transaction` the funds come from that charge
 * (they stay pending as long as the charge's do); without it the platform's
 * available balance must cover the amount.
 */
import type Stripe from 'stripe'
import type { ResourceContext, ResourceModule } from '../context.js'
import { invalidRequest, resourceMissing } from '../errors.js'
import { type EventOrigin, saveUpdate } from '../events.js'
import { formatAmount } from '../hosted/html.js'
import { newId, randomBase62 } from '../ids.js'
import { previousAttributes } from '../json.js'
import { paginate } from '../list.js'
import {
  applyMetadata,
  boolean,
  integer,
  matchesRange,
  metadata,
  paginationShape,
  range,
  required,
  string,
} from '../params.js'
import { findAccount } from './accounts.js'
import { addBalanceTransaction, availableFunds, feeDetail } from './balance.js'

declare module '../store.js' {
  interface CollectionTypes {
    transfer: Stripe.Transfer
    transfer_reversal: Stripe.TransferReversal
  }
}

/** The platform's Connect application id (shown on application fees). */
export const PLATFORM_APPLICATION = 'ca_SandboxPlatformApplication00'

function emptyList<T>(url: string): Stripe.ApiList<T> {
  return { object: 'list', data: [], has_more: false, url }
}

/**
 * Checks a transfer destination as Stripe does: it must exist (400 resource_missing
 * on `param`) and have an active `transfers` capability.
 */
export function requireTransferDestination(
  ctx: ResourceContext,
  id: string,
  param: string
): Stripe.Account {
  const account = findAccount(ctx, id)
  if (!account) throw resourceMissing('account', id, param)
  const capabilities = account.capabilities ?? {}
  const active = capabilities.transfers === 'active' || capabilities.legacy_payments === 'active'
  if (!active) {
    throw invalidRequest(
      'Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments',
      { param, code: 'insufficient_capabilities_for_transfer', validation: true }
    )
  }
  return account
}

/** Sum already transferred out of a charge (net of reversals). */
export function transferredFrom(ctx: ResourceContext, chargeId: string): number {
  return ctx.store
    .list('transfer')
    .filter((transfer) => transfer.source_transaction === chargeId)
    .reduce((sum, transfer) => sum + transfer.amount - transfer.amount_reversed, 0)
}

export interface NewTransfer {
  amount: number
  currency: string
  destination: string
  sourceTransaction?: string | null
  transferGroup?: string | null
  description?: string | null
  metadata?: Record<string, string>
  /** Destination charges: the application fee the connected account pays on its payment. */
  applicationFeeAmount?: number | null
  /** When the moved funds become available (default: with the source charge's, else now). */
  availableOn?: number
  origin: EventOrigin | null
}

/** Validates a transfer before anything is written (throws Stripe's 400s). */
export function validateTransfer(ctx: ResourceContext, input: NewTransfer) {
  requireTransferDestination(ctx, input.destination, 'destination')
  if (input.sourceTransaction) {
    const charge = ctx.store.getFor('charge', input.sourceTransaction, undefined)
    if (!charge) throw resourceMissing('charge', input.sourceTransaction, 'source_transaction')
    if (charge.status !== 'succeeded') {
      throw invalidRequest(
        `The source_transaction ${charge.id} must be a succeeded charge to create a transfer from it.`,
        { param: 'source_transaction' }
      )
    }
    if (charge.currency !== input.currency) {
      throw invalidRequest(
        `The currency of source_transaction's balance transaction (${charge.currency}) must be the same as the transfer currency (${input.currency}).`,
        { param: 'currency' }
      )
    }
    const remaining = charge.amount - charge.amount_refunded - transferredFrom(ctx, charge.id)
    if (input.amount > remaining) {
      throw invalidRequest(
        `Insufficient funds in the source transaction: the transfer amount (${formatAmount(input.amount, input.currency)}) is greater than the amount that can still be transferred from ${charge.id} (${formatAmount(Math.max(0, remaining), input.currency)}).`,
        { param: 'amount', code: 'balance_insufficient' }
      )
    }
  } else if (availableFunds(ctx, undefined, input.currency) < input.amount) {
    throw invalidRequest(
      'You have insufficient available funds in your Stripe account. Try adding funds directly to your available balance by creating Charges using the 4000000000000077 test card. See: https://stripe.com/docs/testing#available-balance',
      { code: 'balance_insufficient' }
    )
  }
}

/** When funds moved out of a charge become available: with the charge's. */
function availableOnFor(ctx: ResourceContext, sourceTransaction: string | null | undefined) {
  if (!sourceTransaction) return ctx.clock.now()
  const charge = ctx.store.get('charge', sourceTransaction)
  const txnId = typeof charge?.balance_transaction === 'string' ? charge.balance_transaction : null
  const txn = txnId ? ctx.store.get('balance_transaction', txnId) : undefined
  return Math.max(txn?.available_on ?? 0, ctx.clock.now())
}

/**
 * Writes a (validated) transfer: the `tr_`, the platform's balance transaction, the
 * `py_` payment and its balance transaction on the destination account. Returns
 * `emit` so a caller (destination charges) can order `transfer.created`.
 */
export function createTransfer(
  ctx: ResourceContext,
  input: NewTransfer
): { transfer: Stripe.Transfer; payment: Stripe.Charge; emit: () => void } {
  const now = ctx.clock.now()
  const id = newId('transfer')
  const availableOn = input.availableOn ?? availableOnFor(ctx, input.sourceTransaction)
  const platformTxn = addBalanceTransaction(ctx, {
    amount: -input.amount,
    currency: input.currency,
    type: 'transfer',
    reportingCategory: 'transfer',
    source: id,
    description: input.description ?? null,
    availableOn,
  })
  const paymentId = `py_${randomBase62(24)}`
  const fee = input.applicationFeeAmount ?? 0
  const paymentTxn = addBalanceTransaction(ctx, {
    amount: input.amount,
    currency: input.currency,
    type: 'payment',
    reportingCategory: 'charge',
    source: paymentId,
    description: null,
    fees:
      fee > 0
        ? [
            feeDetail(
              fee,
              input.currency,
              'application_fee',
              'Application fee',
              PLATFORM_APPLICATION
            ),
          ]
        : [],
    availableOn,
    account: input.destination,
  })
  const payment: Stripe.Charge = {
    id: paymentId,
    object: 'charge',
    amount: input.amount,
    amount_captured: input.amount,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: fee > 0 ? fee : null,
    balance_transaction: paymentTxn.id,
    billing_details: {
      address: null,
      email: null,
      name: null,
      phone: null,
      tax_id: null,
    },
    calculated_statement_descriptor: null,
    captured: true,
    created: now,
    currency: input.currency,
    customer: null,
    description: null,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    fraud_details: {},
    livemode: false,
    metadata: {},
    on_behalf_of: null,
    outcome: null,
    paid: true,
    payment_intent: null,
    payment_method: null,
    payment_method_details: { type: 'stripe_account', stripe_account: {} },
    receipt_email: null,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: id,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: 'succeeded',
    transfer_data: null,
    transfer_group: input.transferGroup ?? null,
  }
  ctx.store.insert('charge', paymentId, payment, { account: input.destination })
  const transfer: Stripe.Transfer = {
    id,
    object: 'transfer',
    amount: input.amount,
    amount_reversed: 0,
    balance_transaction: platformTxn.id,
    created: now,
    currency: input.currency,
    description: input.description ?? null,
    destination: input.destination,
    destination_payment: paymentId,
    livemode: false,
    metadata: input.metadata ?? {},
    reversals: emptyList(`/v1/transfers/${id}/reversals`),
    reversed: false,
    source_transaction: input.sourceTransaction ?? null,
    source_type: 'card',
    transfer_group: input.transferGroup ?? null,
  }
  ctx.store.insert('transfer', id, transfer)
  return {
    transfer,
    payment,
    emit: () => {
      ctx.events.emit('transfer.created', transfer, { request: input.origin })
    },
  }
}

export interface NewReversal {
  amount?: number | null
  description?: string | null
  metadata?: Record<string, string>
  /** The platform refund that caused it (refunds with `reverse_transfer`). */
  sourceRefund?: string | null
  origin: EventOrigin | null
}

export function findTransfer(ctx: ResourceContext, id: string, param = 'id'): Stripe.Transfer {
  const transfer = ctx.store.get('transfer', id)
  if (!transfer) throw resourceMissing('transfer', id, param)
  return transfer
}

/** Throws Stripe's 400 when a reversal would exceed what is left of the transfer. */
export function validateReversal(transfer: Stripe.Transfer, amount: number) {
  const remaining = transfer.amount - transfer.amount_reversed
  if (remaining <= 0) {
    throw invalidRequest(`Transfer ${transfer.id} has already been fully reversed.`, {
      code: 'transfer_already_reversed',
    })
  }
  if (amount > remaining) {
    throw invalidRequest(
      `Transfer reversal amount (${formatAmount(amount, transfer.currency)}) is greater than the amount remaining on transfer ${transfer.id} (${formatAmount(remaining, transfer.currency)}).`,
      { param: 'amount' }
    )
  }
}

/**
 * Reverses (part of) a transfer: `trr_`, a platform balance transaction, and on the
 * destination account a refund of the `py_` payment with its balance transaction.
 * Returns `emit` for `transfer.reversed` + `transfer.updated`.
 */
export function createReversal(
  ctx: ResourceContext,
  transferId: string,
  input: NewReversal
): { reversal: Stripe.TransferReversal; transfer: Stripe.Transfer; emit: () => void } {
  const transfer = findTransfer(ctx, transferId)
  const amount = input.amount ?? transfer.amount - transfer.amount_reversed
  validateReversal(transfer, amount)
  const now = ctx.clock.now()
  const id = newId('transfer_reversal')
  const platformTxn = addBalanceTransaction(ctx, {
    amount,
    currency: transfer.currency,
    type: 'transfer_refund',
    reportingCategory: 'transfer_reversal',
    source: id,
    description: input.description ?? null,
  })
  const destination = typeof transfer.destination === 'string' ? transfer.destination : null
  const paymentId =
    typeof transfer.destination_payment === 'string' ? transfer.destination_payment : null
  let paymentRefundId: string | null = null
  if (destination && paymentId) {
    const payment = ctx.store.getFor('charge', paymentId, destination)
    paymentRefundId = `pyr_${randomBase62(24)}`
    const refundTxn = addBalanceTransaction(ctx, {
      amount: -amount,
      currency: transfer.currency,
      type: 'payment_refund',
      reportingCategory: 'refund',
      source: paymentRefundId,
      description: null,
      account: destination,
    })
    const paymentRefund: Stripe.Refund = {
      id: paymentRefundId,
      object: 'refund',
      amount,
      balance_transaction: refundTxn.id,
      charge: paymentId,
      created: now,
      currency: transfer.currency,
      customer: null,
      customer_account: null,
      metadata: {},
      payment_intent: null,
      payment_method: null,
      reason: null,
      receipt_number: null,
      source_transfer_reversal: id,
      status: 'succeeded',
      transfer_reversal: null,
    }
    ctx.store.insert('refund', paymentRefundId, paymentRefund, { account: destination })
    if (payment) {
      const refunded = payment.amount_refunded + amount
      ctx.store.replace('charge', paymentId, {
        ...payment,
        amount_refunded: refunded,
        refunded: refunded >= payment.amount,
      })
    }
  }
  const reversal: Stripe.TransferReversal = {
    id,
    object: 'transfer_reversal',
    amount,
    balance_transaction: platformTxn.id,
    created: now,
    currency: transfer.currency,
    destination_payment_refund: paymentRefundId,
    metadata: input.metadata ?? {},
    source_refund: input.sourceRefund ?? null,
    transfer: transfer.id,
  }
  ctx.store.insert('transfer_reversal', id, reversal)
  const amountReversed = transfer.amount_reversed + amount
  const next: Stripe.Transfer = {
    ...transfer,
    amount_reversed: amountReversed,
    reversed: amountReversed >= transfer.amount,
    reversals: reversalList(ctx, transfer.id),
  }
  ctx.store.replace('transfer', transfer.id, next)
  const previous = previousAttributes(transfer, next)
  return {
    reversal,
    transfer: next,
    emit: () => {
      ctx.events.emit('transfer.reversed', next, { request: input.origin })
      ctx.events.emit('transfer.updated', next, {
        request: input.origin,
        previousAttributes: previous,
      })
    },
  }
}

function reversalRecords(ctx: ResourceContext, transferId: string) {
  return ctx.store
    .records('transfer_reversal')
    .filter(({ value, deleted }) => !deleted && value.transfer === transferId)
}

/** The embedded `reversals` list of a transfer (first 10, newest first). */
function reversalList(
  ctx: ResourceContext,
  transferId: string
): Stripe.ApiList<Stripe.TransferReversal> {
  const records = reversalRecords(ctx, transferId)
  return {
    object: 'list',
    data: records.slice(0, 10).map(({ value }) => value),
    has_more: records.length > 10,
    url: `/v1/transfers/${transferId}/reversals`,
  }
}

const createShape = {
  amount: required(integer({ min: 1 })),
  currency: required(string()),
  destination: required(string()),
  source_transaction: string(),
  transfer_group: string(),
  description: string({ maxLength: 5000 }),
  metadata: metadata(),
  source_type: string(),
}

const listShape = {
  ...paginationShape,
  created: range(),
  destination: string(),
  transfer_group: string(),
}

const reversalShape = {
  amount: integer({ min: 1 }),
  description: string({ maxLength: 5000 }),
  metadata: metadata(),
  refund_application_fee: boolean(),
}

export const transfers: ResourceModule = {
  name: 'transfers',
  register(ctx) {
    ctx.route({
      method: 'POST',
      path: '/v1/transfers',
      params: createShape,
      returns: 'transfer',
      handler({ params, origin }) {
        const input: NewTransfer = {
          amount: params.amount,
          currency: params.currency.toLowerCase(),
          destination: params.destination,
          sourceTransaction: params.source_transaction ?? null,
          transferGroup: params.transfer_group ?? null,
          description: params.description ?? null,
          metadata: applyMetadata({}, params.metadata),
          origin,
        }
        validateTransfer(ctx, input)
        const { transfer, emit } = createTransfer(ctx, input)
        emit()
        return transfer
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/transfers/:id',
      params: {},
      returns: 'transfer',
      handler({ path }) {
        return findTransfer(ctx, path.id)
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/transfers/:id',
      params: { description: string({ maxLength: 5000 }), metadata: metadata() },
      returns: 'transfer',
      handler({ params, path, origin }) {
        const current = findTransfer(ctx, path.id)
        const next: Stripe.Transfer = {
          ...current,
          metadata: applyMetadata(current.metadata, params.metadata),
        }
        if (params.description !== undefined) next.description = params.description
        return saveUpdate(ctx, 'transfer', current.id, current, next, 'transfer.updated', {
          request: origin,
        })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/transfers',
      params: listShape,
      returns: 'list:transfer',
      handler({ params, request }) {
        const records = ctx.store
          .records('transfer')
          .filter(
            ({ value, deleted, account }) =>
              !deleted &&
              account === request.stripeAccount &&
              (!params.destination || value.destination === params.destination) &&
              (!params.transfer_group || value.transfer_group === params.transfer_group) &&
              matchesRange(value.created, params.created)
          )
        return paginate(records, params, {
          url: '/v1/transfers',
          label: 'transfer',
          seqOf: (id) => ctx.store.seqOf('transfer', id),
        })
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/transfers/:id/reversals',
      params: reversalShape,
      returns: 'transfer_reversal',
      handler({ params, path, origin }) {
        const transfer = findTransfer(ctx, path.id)
        validateReversal(transfer, params.amount ?? transfer.amount - transfer.amount_reversed)
        const { reversal, emit } = createReversal(ctx, transfer.id, {
          amount: params.amount,
          description: params.description,
          metadata: applyMetadata({}, params.metadata),
          origin,
        })
        emit()
        return reversal
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/transfers/:id/reversals',
      params: paginationShape,
      returns: 'list:transfer_reversal',
      handler({ params, path }) {
        findTransfer(ctx, path.id)
        return paginate(reversalRecords(ctx, path.id), params, {
          url: `/v1/transfers/${path.id}/reversals`,
          label: 'transfer_reversal',
          seqOf: (id) => ctx.store.seqOf('transfer_reversal', id),
        })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/transfers/:transfer/reversals/:id',
      params: {},
      returns: 'transfer_reversal',
      handler({ path }) {
        findTransfer(ctx, path.transfer)
        const reversal = ctx.store.get('transfer_reversal', path.id)
        if (!reversal || reversal.transfer !== path.transfer)
          throw resourceMissing('transfer_reversal', path.id)
        return reversal
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/transfers/:transfer/reversals/:id',
      params: { metadata: metadata() },
      returns: 'transfer_reversal',
      handler({ params, path }) {
        findTransfer(ctx, path.transfer)
        const reversal = ctx.store.get('transfer_reversal', path.id)
        if (!reversal || reversal.transfer !== path.transfer)
          throw resourceMissing('transfer_reversal', path.id)
        const next = {
          ...reversal,
          metadata: applyMetadata(reversal.metadata ?? {}, params.metadata),
        }
        ctx.store.replace('transfer_reversal', reversal.id, next)
        return next
      },
    })

    ctx.references('transfer', { balance_transaction: 'balance_transaction' }, { target: false })
    ctx.references('transfer', {
      destination: 'account',
      destination_payment: 'charge',
      source_transaction: 'charge',
    })
    ctx.references(
      'transfer_reversal',
      { balance_transaction: 'balance_transaction', transfer: 'transfer' },
      { target: false }
    )
    ctx.references('transfer_reversal', {
      source_refund: 'refund',
      destination_payment_refund: 'refund',
    })
  },
}
