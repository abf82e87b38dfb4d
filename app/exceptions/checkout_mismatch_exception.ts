import { Exception } from '@adonisjs/core/exceptions'

/**
 * A Checkout Session that does not match what we priced or whom it is for
 * (kind, user, customer, mode, currency, amount): refused, nothing granted.
 * In a webhook it fails the event, keeping the message for the operator.
 */
export default class CheckoutMismatchException extends Exception {
  static status = 422
  static code = 'E_CHECKOUT_MISMATCH'

  static for(sessionId: string, problem: string) {
    return new CheckoutMismatchException(
      `Checkout Session ${sessionId} was refused: ${problem}. Nothing was granted.`
    )
  }
}
