import { test } from '@japa/runner'
import { UserFactory } from '#database/factories/user_factory'
import { screenshot, setUpBrowser, uniqueEmail } from '#tests/browser/helpers'

test.group('Journey: log out and back in', () => {
  // On failure it prints the responses seen and saves a screenshot (this is how the
  // 500 from a closed database client in the rate limiter was found; see config/database.ts).
  test('logs out, is sent to the login form, then logs in again', async ({
    visit,
    browserContext,
    assert,
    cleanup,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.merge({
      fullName: 'Lin Wei',
      email: uniqueEmail('session'),
    }).create()
    await browserContext.loginAs(user)

    const page = await visit('/projects')
    const trail: string[] = []
    page.on('response', (response) => {
      if (
        response.request().resourceType() === 'document' ||
        response.request().headers()['x-inertia']
      ) {
        trail.push(`${response.request().method()} ${response.url()} ${response.status()}`)
      }
    })
    cleanup(async (hasError) => {
      if (!hasError) return
      await screenshot(page, 'session-journey-failure')
      process.stderr.write(`session journey responses:\n${trail.join('\n')}\n`)
    })
    await page.assertText('.avatar', 'LW')
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.waitForURL('**/login')
    await page.assertTextContains('[role=status]', 'You are logged out.')

    // The session is really gone: member pages send us back to the login form.
    await page.goto('/profile')
    await page.waitForURL('**/login')
    // A full page load: let the client finish booting before typing into it.
    await page.waitForLoadState('networkidle')

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
