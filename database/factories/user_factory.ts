import factory from '@adonisjs/lucid/factories'
import User from '#models/user'

let sequence = 0

/** Users for tests; `.apply('premium')` for a Premium user. Password: "secret-password". */
export const UserFactory = factory
  .define(User, () => {
    sequence += 1
    return {
      fullName: `Test User ${sequence}`,
      email: `user${sequence}.${Date.now()}@studio.test`,
      password: 'secret-password',
    }
  })
  .state('premium', (user) => {
    user.plan = 'premium'
  })
  .build()
