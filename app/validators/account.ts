import vine from '@vinejs/vine'

/**
 * Only these fields are accepted from users. Anything else sent with the
 * request (plan, credits, Stripe ids, limits) is dropped by the validator
 * and can never reach the model.
 */
const fullName = () => vine.string().trim().minLength(1).maxLength(120)
const email = () => vine.string().trim().toLowerCase().email().maxLength(254)
const newPassword = () =>
  vine.string().minLength(8).maxLength(72).confirmed({ confirmationField: 'passwordConfirmation' })

/** Self-registration. */
export const registerValidator = vine.create({
  fullName: fullName(),
  email: email().unique({ table: 'users', column: 'email' }),
  password: newPassword(),
})

/** Login form: the checks are the credentials themselves. */
export const loginValidator = vine.create({
  email: email(),
  password: vine.string().maxLength(72),
})

/** Profile: name and email only. `meta.userId` excludes the user's own row from the unique check. */
export const updateProfileValidator = vine.withMetaData<{ userId: number }>().create({
  fullName: fullName(),
  email: email().unique({
    table: 'users',
    column: 'email',
    filter: (query, _value, field) => {
      query.whereNot('id', field.meta.userId)
    },
  }),
})

/** Password change: requires the current password. */
export const updatePasswordValidator = vine.create({
  currentPassword: vine.string().maxLength(72),
  password: newPassword(),
})
