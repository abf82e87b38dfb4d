import { test } from '@japa/runner'
import { UserFactory } from '#database/factories/user_factory'
import { setUpBrowser, uniqueEmail } from '#tests/browser/helpers'

test.group('Journey: log out and back in', () => {
  test('logs out, is refused with a wrong password, then logs in with the right one', async ({
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
    await page.getByLabel('Password').fill('not-my-password')
    // Wait for the refused POST and the page it redirects back to before looking.
    const refused = page.waitForResponse(
      (response) => response.url().endsWith('/login') && response.request().method() === 'GET'
    )
    await page.getByRole('button', { name: 'Log in' }).click()
    await refused
    await page.assertTextContains('[role=alert]', 'Invalid user credentials')
    await page.assertPath('/login')
    await page.assertInputValue(page.getByLabel('Email'), user.email)
    await page.assertInputValue(page.getByLabel('Password'), '')

    await page.getByLabel('Password').fill('secret-password')
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.waitForURL('**/projects')
    await page.assertText('h1', 'Projects')
    await page.assertText('.avatar', 'LW')
    await page.assertNotExists('[role=alert]')

    assert.deepEqual(errors, [])
  })
})
