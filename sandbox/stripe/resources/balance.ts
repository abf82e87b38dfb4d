/**
 * The ledger: `balance_transaction` objects (`txn_…`) for every movement of money,
 * on the platform or on a connected account, and `/v1/balance` computed from them.
 *
 * A transaction counts as `pending` until its `available_on` (charges: created +
 * 2 days of sandbox time), then `available`; the stored `status` is refreshed on
 * reads and when the clock moves (which also emits `balance.available`).
 */
import type Stripe from 'stripe'
import type { ResourceContext, ResourceModule } from '../context.js'
import { resourceMissing } from '../errors.js'
import { newId } from '../ids.js'
import { paginate } from '../list.js'
import { enumOf, matchesRange, paginationShape, range, string } from '../params.js'

declare module '../store.js' {
  interface CollectionTypes {
    balance_transaction: Stripe.BalanceTransaction
  }
}

/** Days a card payment stays pending before it becomes available. */
export const PENDING_DAYS = 2
export const DAY = 86_400

/** Stripe's standard card pricing: 2.9% + 30¢, rounded to the nearest unit. */
export function stripeFee(amount: number): number {
  return Math.round(amount * 0.029) + 30
}

/** The dispute fee Stripe debits when a charge is disputed. */
export const DISPUTE_FEE = 1500

export interface NewBalanceTransaction {
  amount: number
  currency: string
  type: Stripe.BalanceTransaction.Type
  reportingCategory: string
  source: string | null
  description: string | null
  fees?: Stripe.BalanceTransaction.FeeDetail[]
  /** Unix time the funds become available (default: now). */
  availableOn?: number
  /** Connected account whose ledger this is; undefined for the platform. */
  account?: string
}

export function feeDetail(
  amount: number,
  currency: string,
  type: 'stripe_fee' | 'application_fee',
  description: string,
  application: string | null = null
): Stripe.BalanceTransaction.FeeDetail {
  return { amount, application, currency, description, type }
}

/** Writes one balance transaction into the platform's or an account's ledger. */
export function addBalanceTransaction(
  ctx: ResourceContext,
  input: NewBalanceTransaction
): Stripe.BalanceTransaction {
  const now = ctx.clock.now()
  const fees = input.fees ?? []
  const fee = fees.reduce((sum, detail) => sum + detail.amount, 0)
  const availableOn = input.availableOn ?? now
  const txn: Stripe.BalanceTransaction = {
    id: newId('balance_transaction'),
    object: 'balance_transaction',
    amount: input.amount,
    available_on: availableOn,
    balance_type: 'payments',
    created: now,
    currency: input.currency,
    description: input.description,
    exchange_rate: null,
    fee,
    fee_details: fees,
    net: input.amount - fee,
    reporting_category: input.reportingCategory,
    source: input.source,
    status: availableOn <= now ? 'available' : 'pending',
    type: input.type,
  }
  ctx.store.insert('balance_transaction', txn.id, txn, { account: input.account })
  return txn
}

/** Marks transactions whose `available_on` has passed as available; returns the accounts touched. */
function refreshStatuses(ctx: ResourceContext): Set<string | undefined> {
  const now = ctx.clock.now()
  const touched = new Set<string | undefined>()
  for (const record of ctx.store.records('balance_transaction')) {
    if (record.deleted || record.value.status !== 'pending' || record.value.available_on > now)
      continue
    ctx.store.replace('balance_transaction', record.id, { ...record.value, status: 'available' })
    touched.add(record.account)
  }
  return touched
}

/** Every transaction of one ledger (platform = undefined), newest first. */
export function ledger(ctx: ResourceContext, account: string | undefined) {
  return ctx.store
    .records('balance_transaction')
    .filter((record) => !record.deleted && record.account === account)
}

/** Net funds available now in one currency of one ledger. */
export function availableFunds(
  ctx: ResourceContext,
  account: string | undefined,
  currency: string
): number {
  const now = ctx.clock.now()
  return ledger(ctx, account)
    .filter(({ value }) => value.currency === currency && value.available_on <= now)
    .reduce((sum, { value }) => sum + value.net, 0)
}

/** `/v1/balance` for one ledger. */
export function computeBalance(ctx: ResourceContext, account: string | undefined): Stripe.Balance {
  const now = ctx.clock.now()
  const sums = new Map<string, { available: number; pending: number }>()
  for (const { value } of ledger(ctx, account)) {
    const entry = sums.get(value.currency) ?? { available: 0, pending: 0 }
    if (value.available_on <= now) entry.available += value.net
    else entry.pending += value.net
    sums.set(value.currency, entry)
  }
  if (sums.size === 0) sums.set('usd', { available: 0, pending: 0 })
  const currencies = [...sums.keys()].sort()
  const balance: Stripe.Balance = {
    object: 'balance',
    available: currencies.map((currency) => {
      const amount = sums.get(currency)?.available ?? 0
      return { amount, currency, source_types: { card: amount } }
    }),
    livemode: false,
    pending: currencies.map((currency) => {
      const amount = sums.get(currency)?.pending ?? 0
      return { amount, currency, source_types: { card: amount } }
    }),
  }
  if (account === undefined) {
    balance.connect_reserved = currencies.map((currency) => ({ amount: 0, currency }))
  }
  return balance
}

const listShape = {
  ...paginationShape,
  created: range(),
  currency: string(),
  payout: string(),
  source: string(),
  type: enumOf([
    'adjustment',
    'application_fee',
    'application_fee_refund',
    'charge',
    'payment',
    'payment_refund',
    'refund',
    'stripe_fee',
    'transfer',
    'transfer_cancel',
    'transfer_failure',
    'transfer_refund',
    'payout',
    'topup',
  ]),
}

export const balance: ResourceModule = {
  name: 'balance',
  register(ctx) {
    ctx.clock.onAdvance(() => {
      for (const account of refreshStatuses(ctx)) {
        ctx.events.emit('balance.available', computeBalance(ctx, account), {
          request: null,
          account,
        })
      }
    })

    ctx.route({
      method: 'GET',
      path: '/v1/balance',
      params: {},
      returns: 'balance',
      handler({ request }) {
        refreshStatuses(ctx)
        return computeBalance(ctx, request.stripeAccount)
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/balance_transactions/:id',
      params: {},
      returns: 'balance_transaction',
      handler({ path, request }) {
        refreshStatuses(ctx)
        const txn = ctx.store.getFor('balance_transaction', path.id, request.stripeAccount)
        if (!txn) throw resourceMissing('balance transaction', path.id)
        return txn
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/balance_transactions',
      params: listShape,
      returns: 'list:balance_transaction',
      handler({ params, request }) {
        refreshStatuses(ctx)
        const records = ledger(ctx, request.stripeAccount).filter(
          ({ value }) =>
            (!params.type || value.type === params.type) &&
            (!params.source || value.source === params.source) &&
            (!params.currency || value.currency === params.currency) &&
            matchesRange(value.created, params.created)
        )
        return paginate(records, params, {
          url: '/v1/balance_transactions',
          label: 'balance transaction',
          seqOf: (id) => ctx.store.seqOf('balance_transaction', id),
        })
      },
    })

    // `source` points at the object that moved the money (charge, refund, transfer…).
    ctx.expandable('balance_transaction', 'source', {
      kind: 'reference',
      resolve: (id) => {
        for (const name of [
          'charge',
          'refund',
          'transfer',
          'transfer_reversal',
          'application_fee',
          'fee_refund',
          'dispute',
        ]) {
          const found = ctx.store.find(name, id)
          if (found) return found
        }
        return undefined
      },
    })
  },
}
