import billingConfig from '#config/billing'
import type User from '#models/user'

/**
 * Project and deploy limits of a user's plan, from config (free 1/1,
 * Premium 5/5 by default).
 */
export default class PlanLimits {
  static forUser(user: User) {
    return user.isPremium ? billingConfig.limits.premium : billingConfig.limits.free
  }
}
