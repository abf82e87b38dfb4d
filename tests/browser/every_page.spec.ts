import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import type { Page } from 'playwright'
import { UserFactory } from '#database/factories/user_factory'
import type User from '#models/user'
import type MarketplaceAgent from '#models/marketplace_agent'
import Project from '#models/project'
import HttpExceptionHandler from '#exceptions/handler'
import PlansController from '#controllers/plans_controller'
import CheckoutService from '#services/checkout_service'
import CreditService from '#services/credit_service'
import SubscriptionService from '#services/subscription_service'
import AgentCatalogService from '#services/marketplace/agent_catalog_service'
import ConnectService from '#services/marketplace/connect_service'
import EntitlementService from '#services/marketplace/entitlement_service'
import { stripeSandbox } from '#tests/support/stripe'
import { completeCheckoutSession } from '../../sandbox/stripe/resources/checkout_sessions.js'
import {
  DESKTOP,
  PHONE,
  focused,
  horizontalOverflow,
  screenshot,
  setUpBrowser,
  tabThrough,
  uniqueEmail,
  unexpectedConsoleErrors,
  unlabelledControls,
  watchRequests,
} from '#tests/browser/helpers'

/**
 * Every page of the product, and the Stripe sandbox's hosted pages a user
 * passes through, at desktop (1280x800) and phone (390x844) widths: a
 * screenshot of each (tmp/screenshots/<page>-<width>.png), no console
 * errors, no failed requests, no sideways scrolling on a phone, every form
 * control named, and Tab reaching every control with a visible focus ring.
 * One seeded member (with a project, credits, agents, usage and a paid
 * Checkout) serves every page.
 */

type Seed = {
  member: User
  boughtAgent: MarketplaceAgent
  paidSessionId: string
}

type PageCase = {
  /** The screenshot's name: tmp/screenshots/<name>-<width>.png. */
  name: string
  /** Where the page is; hosted pages get a fresh URL per visit. */
  url: (seed: Seed) => string | Promise<string>
  /** Text the page's h1 contains. */
  heading: string | ((seed: Seed) => string)
  /** Where to look for it instead of h1 (the sandbox's Checkout and portal have no h1). */
  headingIn?: string
  member: boolean
  /** The status the page answers with on purpose (error pages). */
  status?: number
  /** A Stripe sandbox page: its markup is the sandbox's, not ours. */
  hosted?: boolean
  /** Arranges what the page needs for its visit; returns how to undo it. */
  arrange?: () => () => void
}

/**
 * The error pages render only where status pages are on (production, see
 * app/exceptions/handler.ts): for their visit, the handler renders them.
 */
function renderStatusPages(): () => void {
  const prototype = HttpExceptionHandler.prototype as unknown as {
    handle: (this: { renderStatusPages: boolean }, ...args: unknown[]) => Promise<unknown>
  }
  const original = prototype.handle
  prototype.handle = async function (...args) {
    const before = this.renderStatusPages
    this.renderStatusPages = true
    try {
      return await original.apply(this, args)
    } finally {
      this.renderStatusPages = before
    }
  }
  return () => {
    prototype.handle = original
  }
}

/** A server fault for the 500 page: the plans page's controller throws, with status pages on. */
function failingPlansPage(): () => void {
  const undoStatusPages = renderStatusPages()
  const original = PlansController.prototype.show
  PlansController.prototype.show = async () => {
    throw new Error('Simulated fault for the error page test')
  }
  return () => {
    PlansController.prototype.show = original
    undoStatusPages()
  }
}

const pages: PageCase[] = [
  { name: 'login', url: () => '/login', heading: 'Log in', member: false },
  { name: 'register', url: () => '/register', heading: 'Create your account', member: false },
  { name: 'plans-guest', url: () => '/plans', heading: 'Plans', member: false },
  { name: 'projects', url: () => '/projects', heading: 'Projects', member: true },
  { name: 'plans', url: () => '/plans', heading: 'Plans', member: true },
  { name: 'billing', url: () => '/billing', heading: 'Billing', member: true },
  {
    name: 'billing-success',
    url: (seed) => `/billing/checkout/success?session_id=${seed.paidSessionId}`,
    heading: 'Payment received',
    member: true,
  },
  { name: 'marketplace', url: () => '/marketplace', heading: 'Marketplace', member: true },
  {
    name: 'marketplace-agent',
    url: (seed) => `/marketplace/${seed.boughtAgent.slug}`,
    heading: (seed) => seed.boughtAgent.name,
    member: true,
  },
  { name: 'my-agents', url: () => '/marketplace/mine', heading: 'My agents', member: true },
  { name: 'creator', url: () => '/creator', heading: 'Creator earnings', member: true },
  { name: 'usage', url: () => '/usage?range=30d', heading: 'AI usage', member: true },
  { name: 'profile', url: () => '/profile', heading: 'Profile', member: true },
  {
    name: 'not-found',
    url: () => '/marketplace/no-such-agent',
    heading: 'Page not found',
    member: true,
    status: 404,
    arrange: renderStatusPages,
  },
  {
    name: 'server-error',
    url: () => '/plans',
    heading: 'Something went wrong',
    member: true,
    status: 500,
    arrange: failingPlansPage,
  },
  {
    name: 'stripe-checkout',
    url: async (seed) => {
      const checkout = await app.container.make(CheckoutService)
      const session = await checkout.start(seed.member, { kind: 'premium' })
      return session.url!
    },
    heading: 'Studio Premium',
    headingIn: 'body',
    member: true,
    hosted: true,
  },
  {
    name: 'stripe-portal',
    url: async (seed) => {
      const subscriptions = await app.container.make(SubscriptionService)
      return subscriptions.portalUrl(seed.member)
    },
    heading: 'Payment method',
    headingIn: 'body',
    member: true,
    hosted: true,
  },
  {
    name: 'stripe-connect-onboarding',
    url: async (seed) => {
      const connect = await app.container.make(ConnectService)
      const link = await connect.onboardingLink(seed.member)
      return link.url
    },
    heading: 'Set up payouts for',
    member: true,
    hosted: true,
  },
]

/** The member every page is seen as: a project, credits, agents bought and published, usage. */
async function seedMember(): Promise<Seed> {
  const tag = randomBytes(3).toString('hex')
  const member = await UserFactory.merge({
    fullName: 'Margaret Hamilton',
    email: uniqueEmail('every-page'),
  }).create()
  const maker = await UserFactory.merge({ fullName: 'Grace Maker' }).create()
  const apollo = await Project.create({
    userId: member.id,
    name: 'Apollo guidance computer',
    slug: `apollo-${tag}`,
  })
  await new CreditService().operatorAdjust(member, {
    amountCents: 2500,
    reason: 'welcome credits',
    operator: 'every_page',
  })

  const catalog = await app.container.make(AgentCatalogService)
  const boughtAgent = await catalog.create({
    slug: `copy-polisher-${tag}`,
    name: 'Copy polisher',
    description: 'Tightens the words on your landing page.',
    creatorId: maker.id,
    pricing: { pricingType: 'one_time', priceCents: 1500 },
  })
  const summarizer = await catalog.create({
    slug: `summarizer-${tag}`,
    name: 'Summarizer',
    description: 'Turns long threads into three lines.',
    creatorId: maker.id,
    pricing: { pricingType: 'free' },
  })
  await catalog.create({
    slug: `seo-coach-${tag}`,
    name: 'SEO coach',
    description: 'Reviews your pages every month.',
    creatorId: maker.id,
    pricing: { pricingType: 'monthly', priceCents: 900 },
  })
  await catalog.create({
    slug: `code-reviewer-${tag}`,
    name: 'Code reviewer',
    description: 'Reviews pull requests and explains what to change.',
    creatorId: member.id,
    pricing: { pricingType: 'monthly', priceCents: 999 },
  })
  const entitlements = await app.container.make(EntitlementService)
  await entitlements.acquire(member, summarizer)

  // Twelve requests over the last days, by model, agent and project.
  const models = ['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet']
  for (let index = 0; index < 12; index++) {
    const started = new Date(Date.now() - (index * 2 + 1) * 36e5 * 11)
    await db.table('usage_logs').insert({
      request_id: `every-page-${tag}-${index}`,
      user_id: member.id,
      agent_id: index % 3 === 0 ? summarizer.id : null,
      project_id: index % 2 === 0 ? apollo.id : null,
      model: models[index % 3],
      model_group: models[index % 3],
      prompt_tokens: 1200 * (index + 1),
      completion_tokens: 300 * (index + 1),
      total_tokens: 1500 * (index + 1),
      spend_micros: 4_500 * (index + 1),
      cost_micros: 4_500 * (index + 1),
      attribution: 'attributed',
      started_at: started,
      created_at: new Date(),
    })
  }

  // A paid Checkout for the success page.
  const checkout = await app.container.make(CheckoutService)
  const session = await checkout.start(member, { kind: 'credits', packageKey: 'small' })
  const completed = completeCheckoutSession(stripeSandbox().context, session.id)
  if (completed.error) throw new Error(`Could not pay the seeded checkout: ${completed.error}`)
  return { member, boughtAgent, paidSessionId: session.id }
}

/** Failed requests and console errors, less the deliberate status of an error page. */
function unexpected(problems: string[], status?: number) {
  if (!status) return problems
  return problems.filter(
    (problem) =>
      !problem.startsWith(`${status}: GET`) &&
      !problem.includes(`the server responded with a status of ${status}`)
  )
}

const viewports = [
  { label: 'desktop', ...DESKTOP },
  { label: 'phone', ...PHONE },
]

test.group('Every page at desktop and phone widths', (group) => {
  let seed: Seed
  group.setup(async () => {
    seed = await seedMember()
  })

  for (const target of pages) {
    test(`${target.name}: screenshots, no errors or failed requests, no sideways scroll, labelled and keyboard-reachable controls`, async ({
      browserContext,
      assert,
    }) => {
      const errors = await setUpBrowser(browserContext)
      const failures = watchRequests(browserContext)
      if (target.member) await browserContext.loginAs(seed.member)
      const undo = target.arrange?.()
      const heading = typeof target.heading === 'string' ? target.heading : target.heading(seed)

      try {
        for (const viewport of viewports) {
          const page = await browserContext.newPage()
          await page.setViewportSize({ width: viewport.width, height: viewport.height })
          const response = await page.goto(await target.url(seed))
          assert.equal(response?.status(), target.status ?? 200, `${target.name} status`)
          await page.assertTextContains(target.headingIn ?? 'h1', heading)
          await page.waitForLoadState('networkidle')

          const file = await screenshot(page, `${target.name}-${viewport.width}`)
          assert.isTrue(existsSync(file))
          assert.deepEqual(await unlabelledControls(page), [], `${target.name}: unnamed controls`)
          if (viewport.width === PHONE.width) {
            assert.equal(
              await horizontalOverflow(page),
              0,
              `${target.name} scrolls sideways at ${viewport.width}px`
            )
          }

          const walk = await tabThrough(page)

          assert.isAbove(walk.stops.length, 0, `${target.name}: Tab reaches nothing`)
          assert.deepEqual(walk.unreached, [], `${target.name}: controls Tab never reaches`)
          // The sandbox's stand-ins for Stripe's pages have their own styles (not shipped).
          if (!target.hosted) {
            assert.deepEqual(walk.invisible, [], `${target.name}: focus not visible`)
          }
          await page.close()
        }
      } finally {
        undo?.()
      }
      assert.deepEqual(unexpected([...errors, ...failures], target.status), [])
    })
  }
})

test.group('Phone layout with long content', () => {
  test('a long one-word project name does not make the projects page scroll sideways', async ({
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.merge({ email: uniqueEmail('long') }).create()
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

/** Presses Tab until `target` has focus (at most `limit` presses); fails with the path taken. */
async function tabTo(page: Page, target: string, limit = 40) {
  const path: string[] = []
  for (let presses = 0; presses < limit; presses++) {
    if ((await focused(page)) === target) return
    await page.keyboard.press('Tab')
    path.push(await focused(page))
  }
  throw new Error(`Tab never reached ${target}: ${path.join(' → ')}`)
}

test.group('Every form by keyboard alone', () => {
  test('login: Tab goes email, password, submit in order and Enter submits', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.merge({
      fullName: 'Alan Turing',
      email: uniqueEmail('keyboard'),
    }).create()

    const page = await visit('/login')
    await page.assertText('h1', 'Log in')
    await tabTo(page, 'input#email', 5)
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

  test('register, then a project created, renamed and a profile saved, all from the keyboard', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const failures = watchRequests(browserContext)
    const email = uniqueEmail('keyboard-register')

    const page = await visit('/register')
    await tabTo(page, 'input#fullName', 5)
    await page.keyboard.type('Katherine Johnson')
    await page.keyboard.press('Tab')
    await page.keyboard.type(email)
    await page.keyboard.press('Tab')
    await page.keyboard.type('secret-password')
    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'input#passwordConfirmation')
    await page.keyboard.type('secret-password')
    await page.keyboard.press('Enter')
    await page.waitForURL('**/projects')
    await page.assertText('.avatar', 'KJ')

    // New project: type its name, Enter.
    await tabTo(page, 'input#project-name')
    await page.keyboard.type('Trajectory tables')
    await page.keyboard.press('Enter')
    await page.assertTextContains('.project-body h3', 'Trajectory tables')

    // Rename: Enter on the Rename button focuses the name field; Enter saves.
    await page.getByRole('button', { name: 'Rename Trajectory tables' }).focus()
    await page.keyboard.press('Enter')
    await page.assertVisible(page.getByLabel('New name for Trajectory tables'))
    assert.match(await focused(page), /^input#rename-/)
    assert.deepEqual(await unlabelledControls(page), [], '/projects while renaming')
    await page.keyboard.press('ControlOrMeta+A')
    await page.keyboard.type('Orbital mechanics')
    await page.keyboard.press('Enter')
    await page.assertTextContains('.project-body h3', 'Orbital mechanics')

    // Profile: change the name, Enter saves.
    await page.goto('/profile')
    await tabTo(page, 'input#fullName')
    await page.keyboard.press('ControlOrMeta+A')
    await page.keyboard.type('Katherine G. Johnson')
    await page.keyboard.press('Enter')
    await page.assertTextContains('[role=status]', 'Profile saved.')
    assert.equal(await page.locator('.avatar').getAttribute('aria-label'), 'Katherine G. Johnson')
    assert.deepEqual([...errors, ...failures], [])
  })

  test('creator: publishing an agent and the usage range form work from the keyboard', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const failures = watchRequests(browserContext)
    const user = await UserFactory.merge({ email: uniqueEmail('keyboard-creator') }).create()
    await browserContext.loginAs(user)

    const page = await visit('/creator')
    await tabTo(page, 'input#agent-name', 60)
    await page.keyboard.type('Release notes writer')
    await page.keyboard.press('Tab')
    await page.keyboard.type('Writes release notes from merged pull requests.')
    await page.keyboard.press('Tab')
    assert.equal(
      await focused(page),
      'select:FreeMonthly subscriptionOne-time purchasePer token (API)'
    )
    // Monthly is chosen first; one step down is one-time.
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'input#new-agent-price')
    await page.assertText('label[for=new-agent-price]', 'Price (USD)')
    await page.keyboard.type('12.50')
    await page.keyboard.press('Enter')
    await page.assertTextContains('[role=status]', '"Release notes writer" is published.')
    await page.assertTextContains('[data-testid=agents]', '$12.50 once')

    // Usage: the custom range opens from the keyboard and submits with Enter.
    await page.goto('/usage')
    await page.getByRole('button', { name: 'Custom' }).focus()
    await page.keyboard.press('Enter')
    await page.assertVisible(page.locator('#range-from'))
    await page.keyboard.press('Tab')
    assert.equal(await focused(page), 'input#range-from')
    await page.keyboard.press('Enter')
    await page.waitForURL(/\/usage\?range=custom&from=.+&to=.+/)
    await page.assertText('h1', 'AI usage')
    assert.deepEqual([...errors, ...failures], [])
  })

  test('billing: the credits dialog opens, traps and closes from the keyboard; a purchase leaves for Checkout', async ({
    visit,
    browserContext,
    assert,
  }) => {
    const errors = await setUpBrowser(browserContext)
    const user = await UserFactory.merge({ email: uniqueEmail('keyboard-billing') }).create()
    await browserContext.loginAs(user)

    const page = await visit('/billing')
    await page.getByRole('button', { name: 'Buy credits' }).focus()
    await page.keyboard.press('Enter')
    const dialog = page.getByRole('dialog', { name: 'Buy credits' })
    await page.assertVisible(dialog)
    await page.keyboard.press('Escape')
    assert.equal(await dialog.count(), 0)
    assert.equal(await focused(page), 'button:Buy credits')

    await page.keyboard.press('Enter')
    await page.assertVisible(dialog)
    // The page behind the open dialog is out of Tab's reach.
    for (let presses = 0; presses < 3; presses++) {
      await page.keyboard.press('Tab')
      assert.isTrue(
        await page.evaluate(() => !!document.activeElement?.closest('dialog')),
        'focus left the open dialog'
      )
    }
    await page.getByRole('button', { name: /Buy \$5\.00 of credits/ }).focus()
    await page.keyboard.press('Enter')
    await page.waitForURL(`${stripeSandbox().url}/c/pay/**`)
    await page.assertTextContains('body', '$5.00')
    assert.deepEqual(unexpectedConsoleErrors(errors), [])
  })
})
