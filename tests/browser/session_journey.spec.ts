import { test } from '@japa/runner'
import { UserFactory } from '#database/factories/user_factory'
import { setUpBrowser, uniqueEmail } from '#tests/browser/helpers'

test.group('Journey: log out and back in', () => {
  test('logs out, is sent to the login form, then logs in again', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.merge({
      fullName: 'Lin Wei',
      email: uniqueEmail('session'),
    }).create()
    await browserContext.loginAs(user)

    const page = await visit('/projects')
    await page.assertText('.avatar', 'LW')
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL('**/login')
    await page.assertTextContains('[role=status]', 'You are logged out.')

    // The session is really gone: member pages send us back to the login form.
    await page.goto('/profile')
    await page.waitForURL('**/login')

    await page.getByLabel('Email').fill(user.email)
    await page.getByLabel('Password').fill('secret-password')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.waitForURL('**/projects')
    await page.assertText('h1', 'Projects')
    await page.assertText('.avatar', 'LW')
    await page.assertNotExists('[role=alert]')

    assert.deepEqual(errors, [])
  })
})
