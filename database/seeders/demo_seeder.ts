import app from '@adonisjs/core/services/app'
import { BaseSeeder } from '@adonisjs/lucid/seeders'
import User from '#models/user'
import Project from '#models/project'
import AccountService from '#services/account_service'
import CustomerService from '#services/customer_service'
import MarketplaceSeeder from '#database/seeders/marketplace_seeder'

/** Demo login printed by `npm run demo`. */
export const DEMO_USER = {
  email: 'demo@studio.test',
  password: 'demo-password',
  fullName: 'Dana Demo',
}

/**
 * Demo data for `npm run demo`: a user with a project, and the marketplace's
 * demo creators and agents. Safe to run again: existing rows are kept.
 */
export default class DemoSeeder extends BaseSeeder {
  static environment = ['development', 'test']

  async run() {
    let user = await User.findBy('email', DEMO_USER.email)
    if (!user) {
      const accounts = await app.container.make(AccountService)
      user = await accounts.register(DEMO_USER)
    } else if (!user.stripeCustomerId) {
      // A previous run may have found the Stripe sandbox down.
      const customers = await app.container.make(CustomerService)
      await customers.tryEnsureCustomer(user)
    }
    await Project.firstOrCreate(
      { userId: user.id, slug: 'landing-page-builder' },
      { userId: user.id, slug: 'landing-page-builder', name: 'Landing page builder' }
    )
    await new MarketplaceSeeder(this.client).run()
  }
}
