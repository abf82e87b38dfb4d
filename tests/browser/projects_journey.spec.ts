import { test } from '@japa/runner'
import User from '#models/user'
import Project from '#models/project'
import { setUpBrowser, uniqueEmail } from '#tests/browser/helpers'

test.group('Journey: register, then manage a project on the free plan', () => {
  test('registers through the form, creates, renames, hits the limit and deletes a project', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const email = uniqueEmail('journey')

    const page = await visit('/register')
    await page.getByLabel('Full name').fill('Ada Lovelace')
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password', { exact: true }).fill('analytical-engine')
    await page.getByLabel('Confirm password').fill('analytical-engine')
    await page.getByRole('button', { name: 'Create account' }).click()

    await page.waitForURL('**/projects')
    await page.assertTextContains('[role=status]', 'Welcome to Studio, Ada Lovelace!')
    await page.assertText('h1', 'Projects')
    await page.assertVisible(page.getByRole('heading', { name: 'No projects yet' }))
    const user = await User.findByOrFail('email', email)
    assert.equal(user.fullName, 'Ada Lovelace')

    // Create
    await page.getByLabel('Project name').fill('Difference Engine')
    await page.getByRole('button', { name: 'Create project' }).click()
    await page.assertTextContains('[role=status]', 'Project "Difference Engine" created.')
    await page.assertElementsText(page.getByRole('list', { name: 'Your projects' }).locator('h3'), [
      'Difference Engine',
    ])
    await page.assertInputValue(page.getByLabel('Project name'), '')
    const created = await Project.query().where('user_id', user.id)
    assert.deepEqual(
      created.map(({ name, slug }) => ({ name, slug })),
      [{ name: 'Difference Engine', slug: 'difference-engine' }]
    )

    // At the limit: the notice and the meter say so
    await page.assertTextContains('.notice', 'You have used all 1 project of your plan.')
    await page.assertVisible(page.locator('[role=meter][aria-valuetext="1 of 1 projects used"]'))

    // Rename
    await page.getByRole('button', { name: 'Rename Difference Engine' }).click()
    const renameInput = page.getByLabel('New name for Difference Engine')
    await page.assertInputValue(renameInput, 'Difference Engine')
    await renameInput.fill('Analytical Engine')
    await page.getByRole('button', { name: 'Save' }).click()
    await page.assertTextContains('[role=status]', 'Project renamed to "Analytical Engine".')
    await page.assertElementsText(page.getByRole('list', { name: 'Your projects' }).locator('h3'), [
      'Analytical Engine',
    ])
    await page.assertNotExists(page.getByLabel('New name for Difference Engine'))
    const renamed = await Project.findOrFail(created[0].id)
    assert.equal(renamed.name, 'Analytical Engine')

    // A second project is refused on the free plan
    await page.getByLabel('Project name').fill('Second Engine')
    await page.getByRole('button', { name: 'Create project' }).click()
    await page.assertTextContains(
      '[role=alert]',
      'Your free plan allows 1 project. Upgrade to Premium or delete a project to create another.'
    )
    await page.assertElementsText(page.getByRole('list', { name: 'Your projects' }).locator('h3'), [
      'Analytical Engine',
    ])
    assert.lengthOf(await Project.query().where('user_id', user.id), 1)
    // The upgrade modal says which limit was hit; Close returns to the page.
    const modal = page.getByRole('dialog', { name: 'Project limit reached' })
    await page.assertTextContains(modal, 'Your Free plan allows 1 project')
    await modal.getByRole('button', { name: 'Close' }).click()
    await page.assertNotExists(page.getByRole('dialog'))

    // Delete, accepting the confirmation
    const dialogs: string[] = []
    page.once('dialog', async (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`)
      await dialog.accept()
    })
    await page.getByRole('button', { name: 'Delete Analytical Engine' }).click()
    await page.assertTextContains('[role=status]', 'Project "Analytical Engine" deleted.')
    await page.assertVisible(page.getByRole('heading', { name: 'No projects yet' }))
    await page.assertNotExists('.notice')
    assert.deepEqual(dialogs, ['confirm: Delete "Analytical Engine"? This cannot be undone.'])
    assert.lengthOf(await Project.query().where('user_id', user.id), 0)

    assert.deepEqual(errors, [])
  })

  test('a blank rename is refused with the error next to the rename input', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await User.create({
      fullName: 'Ada Byron',
      email: uniqueEmail('rename'),
      password: 'secret-password',
    })
    const project = await Project.create({ userId: user.id, name: 'Notes', slug: 'notes' })
    await browserContext.loginAs(user)

    const page = await visit('/projects')
    await page.getByRole('button', { name: 'Rename Notes' }).click()
    // Spaces pass the browser's `required` check; the server trims them away.
    const input = page.getByLabel('New name for Notes')
    await input.fill('   ')
    await page.getByRole('button', { name: 'Save' }).click()

    const error = page.locator('.project-rename .field-error')
    await page.assertVisible(error)
    assert.match(await error.innerText(), /\S/)
    await page.assertNotExists('#project-name-error')
    assert.equal(await input.getAttribute('aria-invalid'), 'true')
    const describedBy = await input.getAttribute('aria-describedby')
    assert.isString(describedBy, 'the rename input does not point at its error (aria-describedby)')
    assert.equal(await page.locator(`[id="${describedBy}"]`).innerText(), await error.innerText())

    await project.refresh()
    assert.equal(project.name, 'Notes')
    assert.deepEqual(errors, [])
  })

  test('dismissing the delete confirmation keeps the project', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await User.create({
      fullName: 'Charles Babbage',
      email: uniqueEmail('keep'),
      password: 'secret-password',
    })
    await Project.create({ userId: user.id, name: 'Keep Me', slug: 'keep-me' })
    await browserContext.loginAs(user)

    const page = await visit('/projects')
    page.once('dialog', (dialog) => dialog.dismiss())
    await page.getByRole('button', { name: 'Delete Keep Me' }).click()

    // Give a (wrongly) submitted delete time to land before checking nothing happened.
    await page.waitForLoadState('networkidle')
    await page.assertElementsText(page.getByRole('list', { name: 'Your projects' }).locator('h3'), [
      'Keep Me',
    ])
    assert.lengthOf(await Project.query().where('user_id', user.id), 1)
    assert.deepEqual(errors, [])
  })
})
