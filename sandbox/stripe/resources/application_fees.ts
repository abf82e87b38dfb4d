/**
 * `/v1/application_fees` (Connect): the fee the platform takes on a destination
 * charge. Created by payments (`application_fee_amount`), refunded by refunds with
 * `refund_application_fee` or through `/v1/application_fees/:id/refunds`.
 */
import type Stripe from 'stripe'
import type { ResourceContext, ResourceModule } from '../context.js'
import { invalidRequest, resourceMissing } from '../errors.js'
import type { EventOrigin } from '../events.js'
import { formatAmount } from '../hosted/html.js'
import { newId, randomBase62 } from '../ids.js'
import { paginate } from '../list.js'
import {
  applyMetadata,
  integer,
  matchesRange,
  metadata,
  paginationShape,
  range,
  string,
} from '../params.js'
import { addBalanceTransaction } from './balance.js'
import { PLATFORM_APPLICATION } from './transfers.js'

declare module '../store.js' {
  interface CollectionTypes {
    application_fee: Stripe.ApplicationFee
    fee_refund: Stripe.FeeRefund
  }
}

export interface NewApplicationFee {
  amount: number
  currency: string
  /** The connected account that paid it. */
  account: string
  /** The `py_` payment on the connected account it was taken from. */
  charge: string
  /** The platform charge (`ch_`) of a destination charge; null for direct charges. */
  originatingTransaction: string | null
  availableOn: number
  origin: EventOrigin | null
}

/** Writes the fee and its platform balance transaction; `emit` sends application_fee.created. */
export function createApplicationFee(
  ctx: ResourceContext,
  input: NewApplicationFee
): { fee: Stripe.ApplicationFee; emit: () => void } {
  const id = newId('application_fee')
  const txn = addBalanceTransaction(ctx, {
    amount: input.amount,
    currency: input.currency,
    type: 'application_fee',
    reportingCategory: 'platform_earning',
    source: id,
    description: null,
    availableOn: input.availableOn,
  })
  const fee: Stripe.ApplicationFee = {
    id,
    object: 'application_fee',
    account: input.account,
    amount: input.amount,
    amount_refunded: 0,
    application: PLATFORM_APPLICATION,
    balance_transaction: txn.id,
    charge: input.charge,
    created: ctx.clock.now(),
    currency: input.currency,
    fee_source: { charge: input.charge, type: 'charge' },
    livemode: false,
    originating_transaction: input.originatingTransaction,
    refunded: false,
    refunds: {
      object: 'list',
      data: [],
      has_more: false,
      url: `/v1/application_fees/${id}/refunds`,
    },
  }
  ctx.store.insert('application_fee', id, fee)
  return {
    fee,
    emit: () => {
      ctx.events.emit('application_fee.created', fee, { request: input.origin })
    },
  }
}

export function findApplicationFee(ctx: ResourceContext, id: string): Stripe.ApplicationFee {
  const fee = ctx.store.get('application_fee', id)
  if (!fee) throw resourceMissing('application fee', id)
  return fee
}

export function validateFeeRefund(fee: Stripe.ApplicationFee, amount: number) {
  const remaining = fee.amount - fee.amount_refunded
  if (remaining <= 0) {
    throw invalidRequest(`Application fee ${fee.id} has already been refunded.`, {
      code: 'charge_already_refunded',
    })
  }
  if (amount > remaining) {
    throw invalidRequest(
      `Refund amount (${formatAmount(amount, fee.currency)}) is greater than unrefunded amount on fee (${formatAmount(remaining, fee.currency)})`,
      { param: 'amount' }
    )
  }
}

/**
 * Refunds (part of) an application fee back to the connected account; `emit`
 * sends application_fee.refunded.
 */
export function refundApplicationFee(
  ctx: ResourceContext,
  feeId: string,
  input: { amount?: number | null; metadata?: Record<string, string>; origin: EventOrigin | null }
): { refund: Stripe.FeeRefund; fee: Stripe.ApplicationFee; emit: () => void } {
  const fee = findApplicationFee(ctx, feeId)
  const amount = input.amount ?? fee.amount - fee.amount_refunded
  validateFeeRefund(fee, amount)
  const id = `fr_${randomBase62(24)}`
  const txn = addBalanceTransaction(ctx, {
    amount: -amount,
    currency: fee.currency,
    type: 'application_fee_refund',
    reportingCategory: 'platform_earning_refund',
    source: id,
    description: null,
  })
  const account = typeof fee.account === 'string' ? fee.account : fee.account.id
  addBalanceTransaction(ctx, {
    amount,
    currency: fee.currency,
    type: 'application_fee_refund',
    reportingCategory: 'platform_earning_refund',
    source: id,
    description: null,
    account,
  })
  const refund: Stripe.FeeRefund = {
    id,
    object: 'fee_refund',
    amount,
    balance_transaction: txn.id,
    created: ctx.clock.now(),
    currency: fee.currency,
    fee: fee.id,
    metadata: input.metadata ?? {},
  }
  ctx.store.insert('fee_refund', id, refund)
  const refunded = fee.amount_refunded + amount
  const records = refundRecords(ctx, fee.id)
  const next: Stripe.ApplicationFee = {
    ...fee,
    amount_refunded: refunded,
    refunded: refunded >= fee.amount,
    refunds: {
      object: 'list',
      data: records.slice(0, 10).map(({ value }) => value),
      has_more: records.length > 10,
      url: `/v1/application_fees/${fee.id}/refunds`,
    },
  }
  ctx.store.replace('application_fee', fee.id, next)
  return {
    refund,
    fee: next,
    emit: () => {
      ctx.events.emit('application_fee.refunded', next, { request: input.origin })
    },
  }
}

function refundRecords(ctx: ResourceContext, feeId: string) {
  return ctx.store
    .records('fee_refund')
    .filter(({ value, deleted }) => !deleted && value.fee === feeId)
}

export const applicationFees: ResourceModule = {
  name: 'application_fees',
  register(ctx) {
    ctx.route({
      method: 'GET',
      path: '/v1/application_fees/:id',
      params: {},
      returns: 'application_fee',
      handler({ path }) {
        return findApplicationFee(ctx, path.id)
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/application_fees',
      params: { ...paginationShape, charge: string(), created: range() },
      returns: 'list:application_fee',
      handler({ params }) {
        const records = ctx.store
          .records('application_fee')
          .filter(
            ({ value, deleted }) =>
              !deleted &&
              (!params.charge ||
                value.charge === params.charge ||
                value.originating_transaction === params.charge) &&
              matchesRange(value.created, params.created)
          )
        return paginate(records, params, {
          url: '/v1/application_fees',
          label: 'application fee',
          seqOf: (id) => ctx.store.seqOf('application_fee', id),
        })
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/application_fees/:id/refunds',
      params: { amount: integer({ min: 1 }), metadata: metadata() },
      returns: 'fee_refund',
      handler({ params, path, origin }) {
        const fee = findApplicationFee(ctx, path.id)
        validateFeeRefund(fee, params.amount ?? fee.amount - fee.amount_refunded)
        const { refund, emit } = refundApplicationFee(ctx, fee.id, {
          amount: params.amount,
          metadata: applyMetadata({}, params.metadata),
          origin,
        })
        emit()
        return refund
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/application_fees/:id/refunds',
      params: paginationShape,
      returns: 'list:fee_refund',
      handler({ params, path }) {
        findApplicationFee(ctx, path.id)
        return paginate(refundRecords(ctx, path.id), params, {
          url: `/v1/application_fees/${path.id}/refunds`,
          label: 'fee_refund',
          seqOf: (id) => ctx.store.seqOf('fee_refund', id),
        })
      },
    })

    ctx.references(
      'application_fee',
      { balance_transaction: 'balance_transaction', charge: 'charge', account: 'account' },
      { target: false }
    )
    ctx.references('application_fee', { originating_transaction: 'charge' })
    ctx.references('fee_refund', { balance_transaction: 'balance_transaction' }, { target: false })
    ctx.references('fee_refund', { fee: 'application_fee' })
  },
}
