import ConflictException from '#exceptions/conflict_exception'

/**
 * A subscription action that does not fit the subscription's state:
 * subscribing while Premium is live, cancelling without a subscription,
 * resuming one that is not set to cancel. Nothing was changed.
 */
export default class SubscriptionConflictException extends ConflictException {
  static code = 'E_SUBSCRIPTION_CONFLICT'
}
