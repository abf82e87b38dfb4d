import { test } from '@japa/runner'
import hash from '@adonisjs/core/services/hash'
import User from '#models/user'
import { UserFactory } from '#database/factories/user_factory'
import { setUpBrowser, uniqueEmail } from '#tests/browser/helpers'

test.group('Profile page', () => {
  test('changing the name saves it and updates the header initials', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.merge({
      fullName: 'Test Person',
      email: uniqueEmail('profile'),
    }).create()
    await browserContext.loginAs(user)

    const page = await visit('/profile')
    await page.assertText('h1', 'Profile')
    await page.assertText('.avatar', 'TP')
    await page.assertInputValue(page.getByLabel('Full name'), 'Test Person')
    await page.assertInputValue(page.getByLabel('Email'), user.email)

    await page.getByLabel('Full name').fill('Grace Hopper')
    await page.getByRole('button', { name: 'Save changes' }).click()
    await page.assertTextContains('[role=status]', 'Profile saved.')
    await page.assertText('.avatar', 'GH')
    await page.assertInputValue(page.getByLabel('Full name'), 'Grace Hopper')

    await user.refresh()
    assert.equal(user.fullName, 'Grace Hopper')

    // The new name survives a reload (it came from the server, not from form state).
    await page.reload()
    await page.assertInputValue(page.getByLabel('Full name'), 'Grace Hopper')
    await page.assertText('.avatar', 'GH')
    assert.deepEqual(errors, [])
  })

  test('a wrong current password shows the error next to that field and keeps the password', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.merge({ email: uniqueEmail('password') }).create()
    await browserContext.loginAs(user)

    const page = await visit('/profile')
    await page.getByLabel('Current password').fill('not-the-password')
    await page.getByLabel('New password', { exact: true }).fill('brand-new-password')
    await page.getByLabel('Confirm new password').fill('brand-new-password')
    await page.getByRole('button', { name: 'Change password' }).click()

    const current = page.getByLabel('Current password')
    await page.assertText('#currentPassword-error', 'The current password is incorrect')
    // "Next to the field": the error sits in the field's wrapper and is the input's description.
    await page.assertExists(
      page
        .locator('.field', { has: page.locator('#currentPassword') })
        .locator('#currentPassword-error')
    )
    assert.equal(await current.getAttribute('aria-invalid'), 'true')
    assert.equal(await current.getAttribute('aria-describedby'), 'currentPassword-error')
    await page.assertNotExists('#password-error')
    await page.assertPath('/profile')
    await page.assertNotExists('[role=status]')

    const stored = await User.findOrFail(user.id)
    assert.isTrue(await hash.verify(stored.password, 'secret-password'))
    assert.deepEqual(errors, [])
  })
})
