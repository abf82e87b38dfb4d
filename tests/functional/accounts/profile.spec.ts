import { test } from '@japa/runner'
import hash from '@adonisjs/core/services/hash'
import testUtils from '@adonisjs/core/services/test_utils'
import User from '#models/user'
import { UserFactory } from '#database/factories/user_factory'
import { flashedFieldErrors } from '#tests/support/http'

/** Every billing field a user might try to set on themselves, in both spellings. */
const BILLING_FIELDS = {
  plan: 'premium',
  creditsBalanceCents: 1_000_000,
  credits_balance_cents: 1_000_000,
  stripeCustomerId: 'cus_stolen',
  stripe_customer_id: 'cus_stolen',
  creatorStripeAccountId: 'acct_stolen',
  creator_stripe_account_id: 'acct_stolen',
  creatorPayoutsEnabled: true,
  id: 999_999,
  maxProjects: 100,
}

test.group('Profile', (group) => {
  group.each.setup(() => testUtils.db().withGlobalTransaction())

  test('changes name and email', async ({ client, assert }) => {
    const user = await UserFactory.create()
    const response = await client
      .put('/profile')
      .form({ fullName: 'New Name', email: 'New.Address@Example.com' })
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    response.assertStatus(302)
    response.assertHeader('location', '/profile')
    await user.refresh()
    assert.equal(user.fullName, 'New Name')
    assert.equal(user.email, 'new.address@example.com')
  })

  test('nobody can make themselves Premium, add credits or change Stripe ids through the profile form', async ({
    client,
    assert,
  }) => {
    const user = await UserFactory.create()
    const before = { ...user.$attributes }
    await client
      .put('/profile')
      .form({ fullName: 'Mallory', email: user.email, ...BILLING_FIELDS })
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    await user.refresh()
    assert.equal(user.fullName, 'Mallory')
    assert.equal(user.plan, 'free')
    assert.equal(user.creditsBalanceCents, 0)
    assert.isNull(user.stripeCustomerId)
    assert.isNull(user.creatorStripeAccountId)
    assert.isFalse(user.creatorPayoutsEnabled)
    assert.equal(user.id, before.id)
  })

  test('nor through the JSON API', async ({ client, assert }) => {
    const user = await UserFactory.create()
    const response = await client
      .patch('/api/me')
      .json({ fullName: 'Mallory', email: user.email, ...BILLING_FIELDS })
      .loginAs(user)
      .withCsrfToken()
    response.assertStatus(200)
    assert.equal(response.body().data.plan, 'free')
    assert.equal(response.body().data.creditsBalanceCents, 0)
    assert.notProperty(response.body().data, 'password')
    assert.notProperty(response.body().data, 'stripeCustomerId')
    await user.refresh()
    assert.equal(user.plan, 'free')
    assert.equal(user.creditsBalanceCents, 0)
    assert.isNull(user.stripeCustomerId)
  })

  test('an email already used by someone else is refused and nothing changes', async ({
    client,
    assert,
  }) => {
    const other = await UserFactory.create()
    const user = await UserFactory.merge({ fullName: 'Original' }).create()
    const response = await client
      .put('/profile')
      .form({ fullName: 'Changed', email: other.email })
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    assert.property(flashedFieldErrors(response), 'email')
    await user.refresh()
    assert.equal(user.fullName, 'Original')
    assert.notEqual(user.email, other.email)

    const api = await client
      .patch('/api/me')
      .json({ fullName: 'Changed', email: other.email })
      .loginAs(user)
      .withCsrfToken()
    api.assertStatus(422)
    assert.equal(api.body().errors[0].field, 'email')
  })

  test("keeping one's own email is allowed", async ({ client, assert }) => {
    const user = await UserFactory.create()
    const response = await client
      .patch('/api/me')
      .json({ fullName: 'Same Email', email: user.email })
      .loginAs(user)
      .withCsrfToken()
    response.assertStatus(200)
    assert.equal(response.body().data.fullName, 'Same Email')
  })

  test('the password changes only with the current password', async ({ client, assert }) => {
    const user = await UserFactory.create()
    const wrong = await client
      .put('/profile/password')
      .form({
        currentPassword: 'not-it',
        password: 'brand-new-password',
        passwordConfirmation: 'brand-new-password',
      })
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    assert.property(flashedFieldErrors(wrong), 'currentPassword')
    await user.refresh()
    assert.isTrue(await hash.verify(user.password, 'secret-password'))

    const right = await client
      .put('/profile/password')
      .form({
        currentPassword: 'secret-password',
        password: 'brand-new-password',
        passwordConfirmation: 'brand-new-password',
      })
      .loginAs(user)
      .withCsrfToken()
      .redirects(0)
    right.assertHeader('location', '/profile')
    await user.refresh()
    assert.isTrue(await hash.verify(user.password, 'brand-new-password'))
    assert.isNotNull(await User.verifyCredentials(user.email, 'brand-new-password'))
  })

  test('state-changing forms need the CSRF token', async ({ client, assert }) => {
    const user = await UserFactory.create()
    const response = await client
      .put('/profile')
      .form({ fullName: 'No Token', email: user.email })
      .loginAs(user)
      .redirects(0)
    assert.notEqual(response.status(), 200)
    await user.refresh()
    assert.notEqual(user.fullName, 'No Token')
  })
})
