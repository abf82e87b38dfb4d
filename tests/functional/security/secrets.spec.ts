import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import logger from '@adonisjs/core/services/logger'
import testUtils from '@adonisjs/core/services/test_utils'
import env from '#start/env'
import HttpExceptionHandler, { redactSecrets } from '#exceptions/handler'
import { flashed } from '#tests/support/http'
import { stripeSandbox } from '#tests/support/stripe'
import { isolate, world } from './helpers.js'

/*
| Secrets never reach a response or a log line: Stripe's keys, the webhook
| secret, APP_KEY, the database password and the LiteLLM keys. Errors are
| forced for real (Stripe answering with an error that quotes them, as
| drivers and SDKs sometimes do), and the production renderer shows no stack.
*/

/** Every configured secret (the test env sets them all but the database password). */
function secrets(): Record<string, string> {
  const values: Record<string, string | undefined> = {
    STRIPE_SECRET_KEY: env.get('STRIPE_SECRET_KEY')?.release(),
    STRIPE_WEBHOOK_SECRET: env.get('STRIPE_WEBHOOK_SECRET')?.release(),
    APP_KEY: env.get('APP_KEY')?.release(),
    LITELLM_API_KEY: env.get('LITELLM_API_KEY')?.release(),
    LITELLM_CALLBACK_SECRET: env.get('LITELLM_CALLBACK_SECRET')?.release(),
    DB_PASSWORD: env.get('DB_PASSWORD')?.release(),
  }
  const databaseUrl = env.get('DATABASE_URL')
  if (databaseUrl && new URL(databaseUrl).password) {
    values.DATABASE_PASSWORD = decodeURIComponent(new URL(databaseUrl).password)
  }
  return Object.fromEntries(
    Object.entries(values).filter((entry): entry is [string, string] => !!entry[1])
  )
}

/** A message quoting every secret, as a careless driver or SDK error would. */
function leakyMessage() {
  return `upstream refused: ${Object.entries(secrets())
    .map(([name, value]) => `${name}=${value}`)
    .join(' ')}`
}

function assertNoSecret(assert: any, text: string, where: string) {
  for (const [name, value] of Object.entries(secrets())) {
    assert.notInclude(text, value, `${name} in ${where}`)
  }
}

/**
 * The pino instance behind the app's logger service (the manager is itself the
 * default logger, and every request's logger is a child of its pino).
 */
function rootPino(): any {
  return (logger as unknown as { pino: any }).pino
}

/** Everything the app logs while `action` runs, at every level (tests log nothing otherwise). */
async function captureLogs(action: () => Promise<void>): Promise<string> {
  const pino = rootPino()
  const streamSym = Object.getOwnPropertySymbols(pino).find(
    (symbol) => symbol.description === 'pino.stream'
  )!
  const lines: string[] = []
  const previous = { stream: pino[streamSym], level: pino.level }
  pino[streamSym] = { write: (line: string) => lines.push(line) }
  pino.level = 'trace'
  try {
    await action()
  } finally {
    pino.level = previous.level
    pino[streamSym] = previous.stream
  }
  return lines.join('')
}

test.group('Security: secrets stay out of responses and logs', (group) => {
  group.each.setup(() => isolate())
  group.each.teardown(() => stripeSandbox().clearFaults())
  group.each.timeout(30_000)

  test('the test environment has the secrets this suite looks for', ({ assert }) => {
    assert.includeMembers(Object.keys(secrets()), [
      'STRIPE_SECRET_KEY',
      'STRIPE_WEBHOOK_SECRET',
      'APP_KEY',
      'LITELLM_API_KEY',
    ])
    assert.equal(redactSecrets(leakyMessage()).includes('[redacted]'), true)
  })

  test('a 500 (Stripe refusing our key) shows and logs no secret', async ({ client, assert }) => {
    const { alice } = await world()
    let response: any
    const logs = await captureLogs(async () => {
      stripeSandbox().failNext({
        path: '/v1/customers',
        method: 'POST',
        status: 401,
        count: 3,
        message: leakyMessage(),
      })
      response = await client
        .post('/api/billing/checkout')
        .json({ kind: 'deploy_slot' })
        .loginAs(alice)
        .withCsrfToken()
    })
    assert.equal(response.status(), 500)
    assertNoSecret(assert, response.text(), 'the 500 response')
    assert.include(logs, 'upstream refused', 'the error is logged')
    assertNoSecret(assert, logs, 'the logs')
  })

  test('Stripe unavailable (503 and a page flash) quotes no secret either', async ({
    client,
    assert,
  }) => {
    const { alice } = await world()
    let api: any
    let page: any
    const logs = await captureLogs(async () => {
      stripeSandbox().failNext({
        path: '/v1/customers',
        method: 'POST',
        status: 500,
        count: 6,
        message: leakyMessage(),
      })
      api = await client
        .post('/api/billing/checkout')
        .json({ kind: 'deploy_slot' })
        .loginAs(alice)
        .withCsrfToken()
      page = await client
        .post('/billing/checkout')
        .form({ kind: 'deploy_slot' })
        .loginAs(alice)
        .withCsrfToken()
        .redirects(0)
    })
    assert.equal(api.status(), 503)
    assert.match(api.body().error, /Payments are temporarily unavailable/)
    assertNoSecret(assert, api.text(), 'the 503 answer')
    assert.match(flashed(page, 'error') ?? '', /Payments are temporarily unavailable/)
    assertNoSecret(assert, JSON.stringify(page.flashMessages()), 'the flash')
    assertNoSecret(assert, logs, 'the logs')
  })

  test('production renders a 500 without stack or internals; debug follows NODE_ENV', async ({
    assert,
  }) => {
    const handler = new HttpExceptionHandler() as any
    // The handler decides from the environment (NODE_ENV, required by start/env.ts).
    assert.equal(handler.debug, !app.inProduction)
    assert.equal(handler.renderStatusPages, app.inProduction)

    // What production does with an unexpected error.
    handler.debug = false
    for (const accept of ['application/json', 'text/html']) {
      const ctx = await testUtils.createHttpContext()
      ctx.request.request.headers.accept = accept
      const error = new Error(`database said no: ${leakyMessage()}`)
      await handler.handle(error, ctx)
      const body = String(
        typeof ctx.response.getBody() === 'string'
          ? ctx.response.getBody()
          : JSON.stringify(ctx.response.getBody())
      )
      assert.equal(ctx.response.getStatus(), 500, accept)
      assertNoSecret(assert, body, `the production ${accept} 500`)
      assert.notMatch(body, /\bat .*\.(ts|js):\d+/, `a stack in the ${accept} 500`)
      if (accept === 'application/json') {
        assert.notInclude(body, 'database said no', 'internals in the JSON 500')
      }
    }
  })
})
