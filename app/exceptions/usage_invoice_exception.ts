import { Exception } from '@adonisjs/core/exceptions'

/**
 * A usage invoicing request that cannot be honoured as asked (a malformed
 * period, a month that has not ended yet). Nothing was changed.
 */
export default class UsageInvoiceException extends Exception {
  static status = 422
  static code = 'E_USAGE_INVOICE'

  static invalidPeriod(period: string) {
    return new UsageInvoiceException(
      `"${period}" is not a billing period: give a calendar month like 2026-11`,
      { status: 422, code: 'E_USAGE_INVOICE_PERIOD' }
    )
  }

  /** Invoicing a month before it ends would bill part of it; its late usage would roll over. */
  static periodNotOver(period: string, endsAt: string) {
    return new UsageInvoiceException(
      `The period ${period} is not over yet (it ends ${endsAt} UTC): invoice it after that`,
      { status: 422, code: 'E_USAGE_INVOICE_PERIOD_OPEN' }
    )
  }

  /** Usage could not be synced first: invoicing now would leave late usage to next month. */
  static syncFailed(period: string, reason: string) {
    return new UsageInvoiceException(
      `Usage could not be synced before closing ${period} (${reason}): fix LiteLLM and rerun, or invoice the usage already stored with --skip-sync`,
      { status: 503, code: 'E_USAGE_INVOICE_SYNC' }
    )
  }

  /** Another run (maybe on another host) is invoicing the same period. */
  static runInProgress(period: string) {
    return new UsageInvoiceException(
      `Another invoices:generate run for ${period} is in progress; let it finish (a rerun afterwards finishes anything it leaves)`,
      { status: 409, code: 'E_USAGE_INVOICE_BUSY' }
    )
  }
}
