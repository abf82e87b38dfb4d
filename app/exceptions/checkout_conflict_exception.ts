import ConflictException from '#exceptions/conflict_exception'

/**
 * A purchase form (or an API call with an Idempotency-Key) submitted again
 * after its Checkout was completed or expired, or with other contents under
 * the same key. Nothing was created; a fresh form (reload) buys again.
 */
export default class CheckoutConflictException extends ConflictException {
  static code = 'E_CHECKOUT_CONFLICT'
}
