/*
|--------------------------------------------------------------------------
| Booting the app for the CLI
|--------------------------------------------------------------------------
|
| Commands run inside the real application (console mode: no HTTP server)
| so they share its config, container and services. Outside production,
| a missing database server means the embedded one (tmp/postgres/dev).
|
*/

import 'reflect-metadata'
import { Ignitor } from '@adonisjs/core'
import type { ApplicationService } from '@adonisjs/core/types'
import { APP_ROOT, IMPORTER } from '../bin/app_root.js'
import { prepareLocalEnvironment } from '../bin/local_environment.js'

export type CliApp = {
  app: ApplicationService
  close: () => Promise<void>
}

/** Boots the application in console mode; `close()` releases the pool and any embedded database. */
export async function bootApp(): Promise<CliApp> {
  const database = await prepareLocalEnvironment({ database: true })

  const app = new Ignitor(APP_ROOT, { importer: IMPORTER }).createApp('console')
  app.booting(async () => {
    await import('#start/env')
  })
  try {
    await app.init()
    await app.boot()
  } catch (error) {
    await database.stop()
    throw error
  }

  return {
    app,
    close: async () => {
      await app.terminate()
      await database.stop()
    },
  }
}
