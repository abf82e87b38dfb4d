import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import AccountService from '#services/account_service'
import { registerValidator } from '#validators/account'

export default class NewAccountController {
  async create({ inertia }: HttpContext) {
    return inertia.render('auth/register', {})
  }

  @inject()
  async store({ request, response, auth, session }: HttpContext, accounts: AccountService) {
    const payload = await request.validateUsing(registerValidator)
    const user = await accounts.register(payload)
    await auth.use('web').login(user)
    session.flash('success', `Welcome to Studio, ${user.fullName}!`)
    return response.redirect().toPath('/projects')
  }
}
