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

/**
 * Watches the context's requests and returns the list it fills with failed
 * ones: requests that never got an answer (`requestfailed`) and answers with
 * a status of 400 or more. Callers drop the deliberate ones (see `deliberate`).
 */
export function watchRequests(context: BrowserContext) {
  const failures: string[] = []
  const watch = (page: Page) => {
    page.on('requestfailed', (request) =>
      failures.push(
        `requestfailed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`
      )
    )
    page.on('response', (response) => {
      if (response.status() >= 400) {
        failures.push(`${response.status()}: ${response.request().method()} ${response.url()}`)
      }
    })
  }
  context.pages().forEach(watch)
  context.on('page', watch)
  return failures
}

/**
 * Form controls without an accessible name: every visible input (not hidden),
 * select and textarea needs a unique id with a `label[for]` that has text, a
 * wrapping label, aria-label or aria-labelledby pointing at text. Buttons need
 * text or aria-label too.
 */
export function unlabelledControls(page: Page) {
  return page.evaluate(() => {
    const problems: string[] = []
    const text = (element: Element | null) => !!element?.textContent?.trim()
    for (const control of document.querySelectorAll<HTMLElement>(
      'input, select, textarea, button'
    )) {
      if (control instanceof HTMLInputElement && control.type === 'hidden') continue
      const name = control.getAttribute('name') ?? '?'
      const describe = `${control.tagName.toLowerCase()}[name=${name}]#${control.id || '(no id)'}`
      if (control.getAttribute('aria-label')?.trim()) continue
      const labelledBy = control.getAttribute('aria-labelledby')
      if (labelledBy?.split(/\s+/).some((id) => text(document.getElementById(id)))) continue
      if (control instanceof HTMLButtonElement) {
        if (!text(control)) problems.push(`${describe}: a button without text or aria-label`)
        continue
      }
      if (text(control.closest('label'))) continue
      if (!control.id) {
        problems.push(`${describe}: no id, aria-label or aria-labelledby`)
        continue
      }
      if (document.querySelectorAll(`[id="${CSS.escape(control.id)}"]`).length > 1) {
        problems.push(`${describe}: id is not unique`)
        continue
      }
      if (!text(document.querySelector(`label[for="${CSS.escape(control.id)}"]`))) {
        problems.push(`${describe}: no label[for] with text`)
      }
    }
    return problems
  })
}

/** What one Tab press landed on, and whether a person can see it has focus. */
export type FocusStop = { element: string; visible: boolean; why: string }

/** Marks the page's visible, enabled form controls (data-tab-check) and returns how many. */
function markControls(page: Page) {
  return page.evaluate(() => {
    let count = 0
    for (const control of document.querySelectorAll<HTMLElement>(
      'input:not([type=hidden]), select, textarea, button'
    )) {
      const disabled = (control as HTMLButtonElement).disabled
      const box = control.getBoundingClientRect()
      const shown =
        box.width > 0 && box.height > 0 && getComputedStyle(control).visibility !== 'hidden'
      if (disabled || !shown || control.closest('[inert], [aria-hidden=true]')) continue
      control.dataset.tabCheck = String(count++)
    }
    return count
  })
}

/** Describes the focused element and checks its focus indicator (outline of 3:1 contrast, or a ring). */
function focusStop(page: Page) {
  return page.evaluate(
    (): FocusStop & { check: string | null; atBody: boolean; again: boolean } => {
      const element = document.activeElement as HTMLElement | null
      if (!element || element === document.body) {
        return { element: 'body', visible: true, why: '', check: null, atBody: true, again: false }
      }
      const again = element.dataset.tabSeen === 'yes'
      element.dataset.tabSeen = 'yes'
      const label =
        element.getAttribute('aria-label') ??
        (element.id
          ? document.querySelector(`label[for="${CSS.escape(element.id)}"]`)?.textContent
          : null) ??
        element.textContent ??
        ''
      const described = `${element.tagName.toLowerCase()}${element.id ? `#${element.id}` : ''}:${label.trim().slice(0, 40)}`
      const channels = (color: string) => {
        const match = color.match(/rgba?\(([^)]+)\)/)
        if (!match) return null
        const [r, g, b, a = '1'] = match[1].split(/[\s,/]+/).filter(Boolean)
        return { rgb: [r, g, b].map(Number), alpha: Number(a) }
      }
      const luminance = (rgb: number[]) => {
        const [r, g, b] = rgb.map((value) => {
          const c = value / 255
          return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
        })
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
      }
      // The colour behind the outline: the first ancestor with an opaque background.
      let background = [255, 255, 255]
      for (let node = element.parentElement; node; node = node.parentElement) {
        const color = channels(getComputedStyle(node).backgroundColor)
        if (color && color.alpha >= 0.99) {
          background = color.rgb
          break
        }
      }
      const style = getComputedStyle(element)
      const outline = channels(style.outlineColor)
      const width = Number.parseFloat(style.outlineWidth)
      let visible = false
      let why = 'no outline or box-shadow when focused'
      if (style.outlineStyle !== 'none' && width >= 2 && outline && outline.alpha >= 0.99) {
        const [light, dark] = [luminance(outline.rgb), luminance(background)].sort((x, y) => y - x)
        const contrast = (light + 0.05) / (dark + 0.05)
        visible = contrast >= 3
        why = `outline ${style.outlineColor} has contrast ${contrast.toFixed(2)}:1 with ${`rgb(${background.join(', ')})`} (3:1 needed)`
      } else if (style.outlineStyle !== 'none' && width >= 2) {
        why = `outline ${style.outlineColor} is translucent`
      }
      return {
        element: described,
        visible,
        why: visible ? '' : why,
        check: element.dataset.tabCheck ?? null,
        atBody: false,
        again,
      }
    }
  )
}

/**
 * Walks the page with Tab from the top until focus comes back round (or
 * `limit` presses): every stop must show its focus, and every visible form
 * control must be reached. Returns the stops, the ones without visible focus
 * and the controls Tab never reached.
 */
export async function tabThrough(page: Page, limit = 120) {
  const controls = await markControls(page)
  await page.evaluate(() => {
    ;(document.activeElement as HTMLElement | null)?.blur()
    for (const seen of document.querySelectorAll<HTMLElement>('[data-tab-seen]')) {
      delete seen.dataset.tabSeen
    }
    window.scrollTo(0, 0)
  })
  const stops: FocusStop[] = []
  const reached = new Set<string>()
  for (let presses = 0; presses < limit; presses++) {
    await page.keyboard.press('Tab')
    const stop = await focusStop(page)
    if (stop.atBody) {
      if (stops.length > 0) break
      continue
    }
    if (stop.again) break
    if (stop.check !== null) reached.add(stop.check)
    stops.push({ element: stop.element, visible: stop.visible, why: stop.why })
  }
  const unreached = await page.evaluate(
    (seen) =>
      [...document.querySelectorAll<HTMLElement>('[data-tab-check]')]
        .filter((control) => !seen.includes(control.dataset.tabCheck!))
        .map((control) => control.outerHTML.slice(0, 120)),
    [...reached]
  )
  return {
    controls,
    stops,
    invisible: stops.filter((stop) => !stop.visible).map((stop) => `${stop.element}: ${stop.why}`),
    unreached,
  }
}
