import db from '@adonisjs/lucid/services/db'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import billingConfig from '#config/billing'
import type User from '#models/user'

/**
 * Project and deploy limits of a user's plan, from config (free 1/1,
 * Premium 5/5 by default), plus deploy slots bought (rows of their own).
 */
export default class PlanLimits {
  static forUser(user: User) {
    return user.isPremium ? billingConfig.limits.premium : billingConfig.limits.free
  }

  /** Active deploy slots the user bought (one row per paid checkout; refunded ones do not count). */
  static async activeSlots(user: User, trx?: TransactionClientContract): Promise<number> {
    const [{ count }] = await (trx ?? db)
      .from('deploy_slot_purchases')
      .where('user_id', user.id)
      .where('status', 'active')
      .count('* as count')
    return Number(count)
  }

  /** Deployments the user may run at once: the plan's deploys plus active purchased slots. */
  static async deployLimit(user: User, trx?: TransactionClientContract): Promise<number> {
    return PlanLimits.forUser(user).deploys + (await PlanLimits.activeSlots(user, trx))
  }
}
