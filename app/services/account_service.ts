import { inject } from '@adonisjs/core'
import hash from '@adonisjs/core/services/hash'
import { errors as vineErrors } from '@vinejs/vine'
import User from '#models/user'
import CustomerService from '#services/customer_service'

/**
 * Registration and profile changes. Only name, email and password ever
 * change here; billing fields belong to the billing services.
 */
@inject()
export default class AccountService {
  constructor(protected customers: CustomerService) {}

  /** Creates the account, then tries to create its Stripe customer (never failing the registration). */
  async register(data: { fullName: string; email: string; password: string }) {
    const user = await User.create({
      fullName: data.fullName,
      email: data.email,
      password: data.password,
    })
    await this.customers.tryEnsureCustomer(user)
    return user
  }

  /** Changes name and email; nothing else. */
  async updateProfile(user: User, data: { fullName: string; email: string }) {
    user.merge({ fullName: data.fullName, email: data.email })
    await user.save()
    return user
  }

  /** Changes the password after checking the current one. */
  async changePassword(user: User, data: { currentPassword: string; password: string }) {
    if (!(await hash.verify(user.password, data.currentPassword))) {
      throw new vineErrors.E_VALIDATION_ERROR([
        {
          field: 'currentPassword',
          message: 'The current password is incorrect',
          rule: 'currentPassword',
        },
      ])
    }
    user.password = data.password
    await user.save()
    return user
  }
}
