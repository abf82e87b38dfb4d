import { test } from '@japa/runner'
import User from '#models/user'
import Project from '#models/project'
import { focused, setUpBrowser, uniqueEmail, unlabelledInputs } from '#tests/browser/helpers'

test.group('Keyboard use of the login form', () => {
  test('Tab goes email, password, submit in order and Enter submits', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await User.create({
      fullName: 'Alan Turing',
      email: uniqueEmail('keyboard'),
      password: 'secret-password',
    })

    const page = await visit('/login')
    await page.assertText('h1', 'Log in')

    // Whatever comes before the form (the brand link), email is reached within a few Tabs.
    const before: string[] = []
    for (let presses = 0; presses < 5 && (await focused(page)) !== 'input#email'; presses++) {
      await page.keyboard.press('Tab')
      before.push(await focused(page))
    }
    assert.equal(await focused(page), 'input#email', `focus went ${before.join(' → ')}`)
    await page.keyboard.type(user.email)

    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'input#password')
    await page.keyboard.type('secret-password')

    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'button:Log in')

    await page.keyboard.press('Shift+Tab')
    assert.equal(await focused(page), 'input#password')
    await page.keyboard.press('Enter')

    await page.waitForURL('**/projects')
    await page.assertText('h1', 'Projects')
    await page.assertText('.avatar', 'AT')
    assert.deepEqual(errors, [])
  })
})

test.group('Every input has a label', () => {
  test('on the login and registration pages', async ({ visit, browserContext, assert }) => {
    const errors = await setUpBrowser(browserContext)
    for (const path of ['/login', '/register']) {
      const page = await visit(path)
      await page.waitForSelector('form input')
      assert.deepEqual(await unlabelledInputs(page), [], path)
      assert.isAbove(await page.locator('input').count(), 1, path)
      await page.close()
    }
    assert.deepEqual(errors, [])
  })

  test('on the projects page (list and rename form) and the profile page', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await User.create({
      fullName: 'Hedy Lamarr',
      email: uniqueEmail('labels'),
      password: 'secret-password',
    })
    await Project.create({ userId: user.id, name: 'Frequency hopping', slug: 'frequency-hopping' })
    await browserContext.loginAs(user)

    const projects = await visit('/projects')
    await projects.waitForSelector('form input')
    assert.deepEqual(await unlabelledInputs(projects), [], '/projects')

    await projects.getByRole('button', { name: 'Rename Frequency hopping' }).click()
    await projects.assertVisible(projects.getByLabel('New name for Frequency hopping'))
    assert.deepEqual(await unlabelledInputs(projects), [], '/projects while renaming')

    const profile = await visit('/profile')
    await profile.waitForSelector('form input')
    assert.deepEqual(await unlabelledInputs(profile), [], '/profile')
    assert.equal(await profile.locator('input:not([type=hidden])').count(), 5)
    assert.deepEqual(errors, [])
  })
})
