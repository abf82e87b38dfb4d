import { test } from '@japa/runner'
import { DateTime } from 'luxon'
import type { Page } from 'playwright'
import db from '@adonisjs/lucid/services/db'
import type User from '#models/user'
import Project from '#models/project'
import { UserFactory } from '#database/factories/user_factory'
import { stripeSandbox } from '#tests/support/stripe'
import { payWith, screenshot, setUpBrowser, unexpectedConsoleErrors } from '#tests/browser/helpers'

/** Projects made directly (past the plan's limit when a test needs it), the first `deployed` live. */
async function makeProjects(user: User, names: string[], deployed = 0) {
  let minutes = names.length
  for (const [index, name] of names.entries()) {
    const live = index < deployed
    await Project.create({
      userId: user.id,
      name,
      slug: name.toLowerCase().replace(/\W+/g, '-'),
      isDeployed: live,
      deployedAt: live ? DateTime.utc().minus({ minutes: minutes-- }) : null,
    })
  }
}

function projectRow(page: Page, name: string) {
  return page.getByRole('list', { name: 'Your projects' }).locator('li', { hasText: name })
}

function button(page: Page, name: string) {
  return page.getByRole('button', { name, exact: true })
}

async function deployedNames(user: User) {
  const rows = await Project.query().where('user_id', user.id).where('is_deployed', true)
  return rows.map((project) => project.name).sort()
}

test.group('Deploy limits on the projects page', () => {
  test('a free user deploys, undeploys and deploys again; a second project opens the upgrade modal', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.create()
    await browserContext.loginAs(user)

    const page = await visit('/projects')
    await page.assertVisible(page.locator('[role=meter][aria-valuetext="0 of 1 deploys used"]'))
    await page.assertNotExists('[data-testid=project-limit-banner]')

    await page.getByLabel('Project name').fill('Difference Engine')
    await button(page, 'Create project').click()
    await page.assertTextContains('[role=status]', 'Project "Difference Engine" created.')
    await page.assertTextContains(projectRow(page, 'Difference Engine'), 'Not deployed')
    // 1 of 1 projects: the banner says the plan is used up.
    await page.assertTextContains(
      '[data-testid=project-limit-banner]',
      'You have used all 1 project of your plan. Premium gives you 5.'
    )

    // Deploy
    await button(page, 'Deploy Difference Engine').click()
    await page.assertTextContains('[role=status]', 'Project "Difference Engine" is deployed.')
    await page.assertTextContains(projectRow(page, 'Difference Engine'), 'Deployed since')
    await page.assertVisible(page.locator('[role=meter][aria-valuetext="1 of 1 deploys used"]'))
    assert.deepEqual(await deployedNames(user), ['Difference Engine'])

    // Undeploy
    await button(page, 'Undeploy Difference Engine').click()
    await page.assertTextContains(
      '[role=status]',
      'Project "Difference Engine" is no longer deployed.'
    )
    await page.assertTextContains(projectRow(page, 'Difference Engine'), 'Stopped')
    await page.assertVisible(page.locator('[role=meter][aria-valuetext="0 of 1 deploys used"]'))
    assert.deepEqual(await deployedNames(user), [])

    // Deploy again
    await button(page, 'Deploy Difference Engine').click()
    await page.assertTextContains('[role=status]', 'Project "Difference Engine" is deployed.')
    await page.assertTextContains(projectRow(page, 'Difference Engine'), 'Deployed since')
    assert.deepEqual(await deployedNames(user), ['Difference Engine'])

    // A second project is refused: the modal says which limit and why.
    await page.getByLabel('Project name').fill('Analytical Engine')
    await button(page, 'Create project').click()
    const modal = page.getByRole('dialog', { name: 'Project limit reached' })
    await page.assertVisible(modal)
    await page.assertTextContains(
      modal,
      'Your Free plan allows 1 project, and you have used them all.'
    )
    await page.assertVisible(modal.getByRole('button', { name: 'Upgrade to Premium' }))
    await page.assertNotExists(modal.getByRole('button', { name: 'Buy a deploy slot' }))
    await screenshot(page, 'projects-limits-project-modal')
    assert.lengthOf(await Project.query().where('user_id', user.id), 1)

    await modal.getByRole('button', { name: 'Close' }).click()
    await page.assertNotExists(page.getByRole('dialog'))
    // The page works again once the modal is closed, and a second hit opens it again.
    await page.getByLabel('Project name').fill('Analytical Engine')
    await button(page, 'Create project').click()
    await page.assertVisible(page.getByRole('dialog', { name: 'Project limit reached' }))
    await page.keyboard.press('Escape')
    await page.assertNotExists(page.getByRole('dialog'))

    assert.deepEqual(errors, [])
  })

  test('a free user over the limits sees why, and the deploy modal offers Premium and a slot', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.create()
    // As after a downgrade: two projects (one live) on the free plan's 1/1.
    await makeProjects(user, ['Loom', 'Mill'], 1)
    const reason = 'Stopped automatically: your Premium subscription ended.'
    await Project.query()
      .where('user_id', user.id)
      .where('name', 'Mill')
      .update({ deployedAt: DateTime.utc().minus({ days: 1 }), stoppedReason: reason })
    await browserContext.loginAs(user)

    const page = await visit('/projects')
    await page.assertTextContains(
      '[data-testid=project-limit-banner]',
      "You are over your plan's limit: 2 projects on a plan that allows 1. Your projects stay readable, but new projects need Premium."
    )
    await page.assertVisible(page.locator('[role=meter][aria-valuetext="2 of 1 projects used"]'))
    await page.assertVisible(page.locator('[role=meter][aria-valuetext="1 of 1 deploys used"]'))

    await page.assertTextContains(projectRow(page, 'Mill'), `Stopped ${reason}`)
    await page.assertTextContains(projectRow(page, 'Loom'), 'Deployed since')

    await button(page, 'Deploy Mill').click()
    const modal = page.getByRole('dialog', { name: 'Deploy limit reached' })
    await page.assertVisible(modal)
    await page.assertTextContains(
      modal,
      'Your Free plan runs 1 deployment at a time, and all of them are in use.'
    )
    await page.assertVisible(modal.getByRole('button', { name: 'Upgrade to Premium' }))
    await page.assertVisible(modal.getByRole('button', { name: 'Buy a deploy slot' }))
    await page.assertTextContains(
      '[role=alert]',
      'Your free plan allows 1 deployment at a time. Undeploy a project, upgrade to Premium or buy a deploy slot to deploy another.'
    )
    assert.deepEqual(await deployedNames(user), ['Loom'])
    await screenshot(page, 'projects-limits')

    // Upgrade to Premium goes to the hosted Checkout for Premium.
    await modal.getByRole('button', { name: 'Upgrade to Premium' }).click()
    await page.waitForURL(`${stripeSandbox().url}/c/pay/**`)
    await page.assertTextContains('[data-testid=submit]', 'Subscribe')
    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })

  test('a Premium user at the deploy limit buys a deploy slot through Checkout and deploys', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.apply('premium').create()
    // Six projects (made directly, past the five Premium allows), five of them live.
    await makeProjects(user, ['One', 'Two', 'Three', 'Four', 'Five', 'Six'], 5)
    await browserContext.loginAs(user)

    const page = await visit('/projects')
    await page.assertVisible(page.locator('[role=meter][aria-valuetext="5 of 5 deploys used"]'))
    await button(page, 'Deploy Six').click()
    const modal = page.getByRole('dialog', { name: 'Deploy limit reached' })
    await page.assertVisible(modal)
    await page.assertTextContains(modal, 'Your Premium plan runs 5 deployments at a time')
    await page.assertNotExists(modal.getByRole('button', { name: 'Upgrade to Premium' }))
    assert.lengthOf(await deployedNames(user), 5)

    await modal.getByRole('button', { name: 'Buy a deploy slot' }).click()
    await page.waitForURL(`${stripeSandbox().url}/c/pay/**`)
    await page.assertTextContains('body', '$10.00')
    await payWith(page, '4242 4242 4242 4242')
    await page.waitForURL('**/billing/checkout/success?session_id=cs_test_*')
    await stripeSandbox().waitForIdle()

    const slots = await db
      .from('deploy_slot_purchases')
      .where('user_id', user.id)
      .where('status', 'active')
      .count('* as count')
    assert.equal(Number(slots[0].count), 1)

    const projects = await visit('/projects')
    await projects.assertVisible(
      projects.locator('[role=meter][aria-valuetext="5 of 6 deploys used"]')
    )
    await projects.assertTextContains('.meters', 'incl. 1 slot')
    await button(projects, 'Deploy Six').click()
    await projects.assertTextContains('[role=status]', 'Project "Six" is deployed.')
    await projects.assertTextContains(projectRow(projects, 'Six'), 'Deployed since')
    await projects.assertVisible(
      projects.locator('[role=meter][aria-valuetext="6 of 6 deploys used"]')
    )
    await projects.assertNotExists(projects.getByRole('dialog'))
    assert.lengthOf(await deployedNames(user), 6)
    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })

  test('the project limit banner shows from 80% of the limit (4 of 5 projects)', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.apply('premium').create()
    await makeProjects(user, ['Alpha', 'Beta', 'Gamma'], 0)
    await browserContext.loginAs(user)

    // 3 of 5 is 60%: no banner.
    const page = await visit('/projects')
    await page.assertVisible(page.locator('[role=meter][aria-valuetext="3 of 5 projects used"]'))
    await page.assertNotExists('[data-testid=project-limit-banner]')

    await page.getByLabel('Project name').fill('Delta')
    await button(page, 'Create project').click()
    await page.assertTextContains('[role=status]', 'Project "Delta" created.')
    await page.assertTextContains(
      '[data-testid=project-limit-banner]',
      'You have used 4 of 5 projects.'
    )
    await page.assertVisible(page.locator('[role=meter][aria-valuetext="4 of 5 projects used"]'))
    await page.assertNotExists(page.getByRole('dialog'))
    await screenshot(page, 'projects-limits-banner')

    await page.getByLabel('Project name').fill('Epsilon')
    await button(page, 'Create project').click()
    await page.assertTextContains('[role=status]', 'Project "Epsilon" created.')
    await page.assertTextContains(
      '[data-testid=project-limit-banner]',
      'You have used all 5 projects of your plan. Delete one to start another.'
    )
    assert.deepEqual(errors, [])
  })
})
