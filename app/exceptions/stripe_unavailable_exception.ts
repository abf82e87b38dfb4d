import { Exception } from '@adonisjs/core/exceptions'

/**
 * Stripe could not be reached or answered with a server error. Nothing was
 * recorded on our side; the action can be retried safely.
 */
export default class StripeUnavailableException extends Exception {
  static status = 503
  static code = 'E_STRIPE_UNAVAILABLE'

  static fromError(error: unknown) {
    const reason = error instanceof Error ? error.message : String(error)
    return new StripeUnavailableException(
      `Payments are temporarily unavailable (${reason}). Nothing was charged; please try again in a minute.`,
      { cause: error }
    )
  }
}
