import { test } from '@japa/runner'
import { existsSync } from 'node:fs'
import User from '#models/user'
import Project from '#models/project'
import {
  DESKTOP,
  PHONE,
  horizontalOverflow,
  screenshot,
  setUpBrowser,
  uniqueEmail,
} from '#tests/browser/helpers'

type PageCase = { name: string; path: string; heading: string; member: boolean }

const pages: PageCase[] = [
  { name: 'login', path: '/login', heading: 'Log in', member: false },
  { name: 'register', path: '/register', heading: 'Create your account', member: false },
  { name: 'projects', path: '/projects', heading: 'Projects', member: true },
  { name: 'profile', path: '/profile', heading: 'Profile', member: true },
  { name: 'billing', path: '/billing', heading: 'Billing', member: true },
  { name: 'plans', path: '/plans', heading: 'Plans', member: false },
]

const viewports = [
  { label: 'desktop', ...DESKTOP },
  { label: 'phone', ...PHONE },
]

test.group('Every page at desktop and phone widths', () => {
  for (const target of pages) {
    for (const viewport of viewports) {
      test(`${target.name} at ${viewport.label} width (${viewport.width}x${viewport.height})`, async ({
        browserContext,
        assert,
      }) => {
        const errors = await setUpBrowser(browserContext)
        if (target.member) {
          const user = await User.create({
            fullName: 'Margaret Hamilton',
            email: uniqueEmail(`${target.name}-${viewport.width}`),
            password: 'secret-password',
          })
          await Project.create({
            userId: user.id,
            name: 'Apollo guidance computer',
            slug: 'apollo-guidance-computer',
          })
          await browserContext.loginAs(user)
        }

        const page = await browserContext.newPage()
        await page.setViewportSize({ width: viewport.width, height: viewport.height })
        await page.goto(target.path)
        await page.assertPath(target.path)
        await page.assertText('h1', target.heading)
        await page.waitForLoadState('networkidle')

        const file = await screenshot(page, `${target.name}-${viewport.width}`)
        assert.isTrue(existsSync(file))

        if (viewport.width === PHONE.width) {
          assert.equal(
            await horizontalOverflow(page),
            0,
            `${target.path} scrolls sideways at ${viewport.width}px`
          )
        }
        assert.deepEqual(errors, [])
      })
    }
  }
})

test.group('Phone layout with long content', () => {
  test('a long one-word project name does not make the projects page scroll sideways', async ({
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await User.create({
      fullName: 'Grace Murray Hopper',
      email: uniqueEmail('long'),
      password: 'secret-password',
    })
    const name = 'Supercalifragilisticexpialidocious'.repeat(2)
    await Project.create({ userId: user.id, name, slug: name.toLowerCase() })
    await browserContext.loginAs(user)

    const page = await browserContext.newPage()
    await page.setViewportSize(PHONE)
    await page.goto('/projects')
    await page.assertTextContains('.project-body h3', name)
    assert.equal(await horizontalOverflow(page), 0)
    assert.deepEqual(errors, [])
  })
})
