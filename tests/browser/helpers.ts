import { randomBytes } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import app from '@adonisjs/core/services/app'
import type { BrowserContext, Page } from 'playwright'

export const DESKTOP = { width: 1280, height: 800 } as const
export const PHONE = { width: 390, height: 844 } as const

/** An email no other test (or earlier run against the same database) uses. */
export function uniqueEmail(tag: string) {
  return `${tag}.${Date.now()}.${randomBytes(3).toString('hex')}@studio.test`
}

/**
 * Prepares a test's browser context and returns the list it fills with
 * console errors and uncaught page errors of every page it opens.
 *
 * The pages load through the test server's Vite dev server, whose HMR client
 * opens a WebSocket. Vite's HMR port is picked per run (24678 when free), so a
 * run started at the same moment elsewhere on the machine can take it and the
 * page would talk to the other run's Vite (token refused: console errors that
 * have nothing to do with the app). Tests do not need HMR: the socket is
 * answered here, in the browser, and never reaches any server.
 */
export async function setUpBrowser(context: BrowserContext) {
  await context.routeWebSocket(/^wss?:\/\//, (socket) =>
    socket.send(JSON.stringify({ type: 'connected' }))
  )

  const errors: string[] = []
  const watch = (page: Page) => {
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()} (${page.url()})`)
    })
    page.on('pageerror', (error) => errors.push(`pageerror: ${error.message} (${page.url()})`))
  }
  context.pages().forEach(watch)
  context.on('page', watch)
  return errors
}

/** Inputs without an accessible label: no `label[for=id]` with text, aria-label or aria-labelledby. */
export function unlabelledInputs(page: Page) {
  return page.evaluate(() => {
    const problems: string[] = []
    for (const input of document.querySelectorAll('input')) {
      if (input.type === 'hidden') continue
      const describe = `input[name=${input.name || '?'}]#${input.id || '(no id)'}`
      if (input.getAttribute('aria-label')?.trim()) continue
      const labelledBy = input.getAttribute('aria-labelledby')
      if (
        labelledBy &&
        labelledBy.split(/\s+/).some((id) => document.getElementById(id)?.textContent?.trim())
      )
        continue
      if (!input.id) {
        problems.push(`${describe}: no id, aria-label or aria-labelledby`)
        continue
      }
      if (document.querySelectorAll(`[id="${CSS.escape(input.id)}"]`).length > 1) {
        problems.push(`${describe}: id is not unique`)
        continue
      }
      const label = document.querySelector(`label[for="${CSS.escape(input.id)}"]`)
      if (!label?.textContent?.trim()) problems.push(`${describe}: no label[for] with text`)
    }
    return problems
  })
}

/** How far the page is wider than its viewport (0 when nothing overflows). */
export function horizontalOverflow(page: Page) {
  return page.evaluate(() => {
    const scroller = document.scrollingElement ?? document.documentElement
    return Math.max(0, scroller.scrollWidth - window.innerWidth)
  })
}

/** Saves a full-page screenshot to tmp/screenshots/<name>.png and returns the path. */
export async function screenshot(page: Page, name: string) {
  const folder = app.makePath('tmp/screenshots')
  await mkdir(folder, { recursive: true })
  const path = `${folder}/${name}.png`
  await page.screenshot({ path, fullPage: true })
  return path
}

/** Describes the focused element for keyboard tests. */
export function focused(page: Page) {
  return page.evaluate(() => {
    const element = document.activeElement
    if (!element || element === document.body) return 'body'
    if (element instanceof HTMLInputElement) return `input#${element.id}`
    return `${element.tagName.toLowerCase()}:${element.textContent?.trim() ?? ''}`
  })
}

/**
 * Console errors other than the expected ones: Inertia's external redirect
 * (to Checkout or the portal) answers 409 with X-Inertia-Location, and a
 * declined payment answers 402, as Stripe's own confirm call does.
 */
export function unexpectedConsoleErrors(errors: string[]) {
  return errors.filter(
    (error) => !/status of (409 \(Conflict\)|402 \(Payment Required\))/.test(error)
  )
}

/** Fills the Stripe sandbox's hosted Checkout form and presses Pay/Subscribe. */
export async function payWith(page: Page, card: string) {
  await page.locator('#cardNumber').fill(card)
  await page.locator('#cardExpiry').fill('12 / 34')
  await page.locator('#cardCvc').fill('123')
  await page.locator('#billingName').fill('Ada Lovelace')
  await page.locator('[data-testid=submit]').click()
}
