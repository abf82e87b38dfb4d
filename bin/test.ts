/*
|--------------------------------------------------------------------------
| Test runner entrypoint
|--------------------------------------------------------------------------
|
| Run through `npm test` (bin/run_tests.ts). Uses DATABASE_URL / DB_* when
| set, else the embedded PostgreSQL tmp/postgres/test; starts the Stripe
| sandbox and points the app at it (STRIPE_API_BASE), and the LiteLLM
| sandbox (LITELLM_BASE_URL, LITELLM_API_KEY).
|
*/

process.env.NODE_ENV = 'test'

import 'reflect-metadata'
import { Ignitor, prettyPrintError } from '@adonisjs/core'
import { configure, processCLIArgs, run } from '@japa/runner'
import { APP_ROOT, IMPORTER } from './app_root.js'
import { ensureDatabase } from './local_environment.js'
import { startStripeSandbox } from '../tests/support/stripe.js'
import { startLiteLLMSandbox } from '../tests/support/litellm.js'

const database = await ensureDatabase('test')
const stripeSandbox = await startStripeSandbox()
const litellmSandbox = await startLiteLLMSandbox()

new Ignitor(APP_ROOT, { importer: IMPORTER })
  .tap((app) => {
    app.booting(async () => {
      await import('#start/env')
    })
    app.listen('SIGTERM', () => app.terminate())
    app.listenIf(app.managedByPm2, 'SIGINT', () => app.terminate())
  })
  .testRunner()
  .configure(async (app) => {
    const { runnerHooks, ...config } = await import('../tests/bootstrap.js')

    processCLIArgs(process.argv.splice(2))
    configure({
      ...app.rcFile.tests,
      ...config,
      ...{
        setup: runnerHooks.setup,
        teardown: runnerHooks.teardown.concat([
          () => app.terminate(),
          () => stripeSandbox.stop(),
          () => litellmSandbox.stop(),
          () => database.stop(),
        ]),
      },
    })
  })
  .run(() => run())
  .catch((error) => {
    process.exitCode = 1
    prettyPrintError(error)
  })
