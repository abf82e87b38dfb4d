import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import AccountService from '#services/account_service'
import UserTransformer from '#transformers/user_transformer'
import { updatePasswordValidator, updateProfileValidator } from '#validators/account'

/**
 * The profile changes name, email and password only; the validators drop
 * every other field (plan, credits, Stripe ids, limits).
 */
@inject()
export default class ProfileController {
  constructor(protected accounts: AccountService) {}

  async show({ inertia, auth }: HttpContext) {
    return inertia.render('profile/show', {
      profile: UserTransformer.transform(auth.getUserOrFail()),
    })
  }

  async update({ request, response, auth, session }: HttpContext) {
    const user = auth.getUserOrFail()
    const payload = await request.validateUsing(updateProfileValidator, {
      meta: { userId: user.id },
    })
    await this.accounts.updateProfile(user, payload)
    session.flash('success', 'Profile saved.')
    return response.redirect().toPath('/profile')
  }

  async updatePassword({ request, response, auth, session }: HttpContext) {
    const payload = await request.validateUsing(updatePasswordValidator)
    await this.accounts.changePassword(auth.getUserOrFail(), payload)
    session.flash('success', 'Password changed.')
    return response.redirect().toPath('/profile')
  }

  /** JSON API: the current user. */
  async apiShow({ auth, serialize }: HttpContext) {
    return serialize(UserTransformer.transform(auth.getUserOrFail()))
  }

  /** JSON API: same rules as the profile form. */
  async apiUpdate({ request, auth, serialize }: HttpContext) {
    const user = auth.getUserOrFail()
    const payload = await request.validateUsing(updateProfileValidator, {
      meta: { userId: user.id },
    })
    await this.accounts.updateProfile(user, payload)
    return serialize(UserTransformer.transform(user))
  }
}
