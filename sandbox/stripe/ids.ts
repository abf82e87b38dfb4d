import { randomBytes } from 'node:crypto'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/** Random base62 string; rejection sampling keeps the distribution uniform. */
export function randomBase62(length: number): string {
  let out = ''
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62]
      if (out.length === length) break
    }
  }
  return out
}

/**
 * Stripe's id prefixes. Lengths follow what real test-mode ids look like closely
 * enough; nothing should depend on them.
 */
export const ID_PREFIXES = {
  customer: 'cus_',
  event: 'evt_',
  request: 'req_',
  webhook_endpoint: 'we_',
  webhook_secret: 'whsec_',
  checkout_session: 'cs_test_',
  subscription: 'sub_',
  subscription_item: 'si_',
  invoice: 'in_',
  invoice_line_item: 'il_',
  invoice_item: 'ii_',
  invoice_payment: 'inpay_',
  payment_intent: 'pi_',
  charge: 'ch_',
  connected_payment: 'py_',
  refund: 're_',
  balance_transaction: 'txn_',
  account: 'acct_',
  transfer: 'tr_',
  transfer_reversal: 'trr_',
  application_fee: 'fee_',
  price: 'price_',
  product: 'prod_',
  billing_portal_session: 'bps_',
  billing_portal_configuration: 'bpc_',
  customer_balance_transaction: 'cbtxn_',
  credit_grant: 'credgr_',
  meter: 'mtr_',
  dispute: 'dp_',
  payment_method: 'pm_',
  setup_intent: 'seti_',
  test_clock: 'clock_',
  webhook_delivery: 'whdel_',
} as const

export type IdKind = keyof typeof ID_PREFIXES

const LENGTHS: Partial<Record<IdKind, number>> = {
  customer: 14,
  request: 14,
  webhook_secret: 32,
  checkout_session: 58,
}

export function newId(kind: IdKind): string {
  return ID_PREFIXES[kind] + randomBase62(LENGTHS[kind] ?? 24)
}
