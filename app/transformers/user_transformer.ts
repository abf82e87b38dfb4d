import type User from '#models/user'
import { BaseTransformer } from '@adonisjs/core/transformers'

/**
 * What pages may know about the logged-in user: no password, no Stripe ids.
 */
export default class UserTransformer extends BaseTransformer<User> {
  toObject() {
    return {
      ...this.pick(this.resource, ['id', 'fullName', 'email', 'plan', 'initials']),
      creditsBalanceCents: this.resource.creditsBalanceCents,
    }
  }
}
