import { test } from '@japa/runner'
import { createHash } from 'node:crypto'
import { isolate, world } from './helpers.js'

/*
| Shield's headers on every page: no framing, no MIME sniffing, HSTS, and a
| Content-Security-Policy that allows exactly what the pages run: every
| inline script a page carries is allowed by the policy's nonce or a hash
| (the browser suite, `npm test -- browser`, proves the pages render with no
| console error under it).
*/

/** The CSP directives of a header value, by name. */
function directives(csp: string): Record<string, string[]> {
  return Object.fromEntries(
    csp
      .split(';')
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part) => {
        const [name, ...values] = part.split(/\s+/)
        return [name, values]
      })
  )
}

/** Inline <script> elements that a browser would execute (not JSON data blocks). */
function inlineScripts(html: string) {
  return [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)]
    .map(([, attributes, body]) => ({ attributes, body }))
    .filter(({ attributes }) => !/\bsrc=/i.test(attributes))
    .filter(({ attributes }) => !/type=["']?application\/(ld\+)?json/i.test(attributes))
}

test.group('Security: headers from Shield', (group) => {
  group.each.setup(() => isolate())
  group.each.timeout(60_000)

  test('pages carry X-Frame-Options, nosniff, HSTS and a CSP that allows their own scripts only', async ({
    client,
    assert,
  }) => {
    const { alice } = await world()
    const pages: Array<[string, boolean]> = [
      ['/login', false],
      ['/plans', false],
      ['/projects', true],
      ['/billing', true],
      ['/usage', true],
      ['/marketplace', true],
      ['/creator', true],
      ['/profile', true],
      ['/no-such-page', true],
    ]
    let inlineChecked = 0
    for (const [url, signedIn] of pages) {
      const call = client.get(url).header('accept', 'text/html').redirects(0)
      const response = await (signedIn ? call.loginAs(alice) : call)
      assert.include([200, 404], response.status(), url)
      assert.equal(response.header('x-frame-options'), 'DENY', url)
      assert.equal(response.header('x-content-type-options'), 'nosniff', url)
      assert.match(response.header('strict-transport-security') ?? '', /max-age=\d{7,}/, url)

      const csp = response.header('content-security-policy') ?? ''
      const policy = directives(csp)
      assert.deepEqual(policy['default-src'], [`'self'`], url)
      assert.deepEqual(policy['object-src'], [`'none'`], url)
      assert.deepEqual(policy['frame-ancestors'], [`'none'`], url)
      assert.deepEqual(policy['base-uri'], [`'self'`], url)
      const scriptSrc = policy['script-src'] ?? []
      assert.include(scriptSrc, `'self'`, url)
      assert.notInclude(scriptSrc, `'unsafe-inline'`, url)
      assert.notInclude(scriptSrc, `'unsafe-eval'`, url)
      assert.notInclude(scriptSrc, '*', url)

      if (response.status() === 200 && (response.header('content-type') ?? '').includes('html')) {
        const nonce = scriptSrc.find((value) => value.startsWith(`'nonce-`))?.slice(7, -1)
        for (const script of inlineScripts(response.text())) {
          const hash = `'sha256-${createHash('sha256').update(script.body).digest('base64')}'`
          inlineChecked += 1
          const nonced = nonce !== undefined && script.attributes.includes(`nonce="${nonce}"`)
          assert.isTrue(
            nonced || scriptSrc.includes(hash),
            `${url}: an inline script the CSP blocks: ${script.body.slice(0, 80)}`
          )
        }
      }
    }
    // The dev server's React refresh preamble, at least, was checked on every page.
    assert.isAtLeast(inlineChecked, pages.length - 1)
  })

  test('JSON answers are not sniffable or framable either', async ({ client, assert }) => {
    const { alice } = await world()
    const response = await client.get('/api/me').loginAs(alice)
    response.assertStatus(200)
    assert.equal(response.header('x-content-type-options'), 'nosniff')
    assert.equal(response.header('x-frame-options'), 'DENY')
  })
})
