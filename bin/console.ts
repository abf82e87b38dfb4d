/*
|--------------------------------------------------------------------------
| Ace entry point (`npm run ace -- <command>`)
|--------------------------------------------------------------------------
|
| Outside production, ace gets the same zero-setup database as the demo
| (tmp/postgres/dev) when no server is configured.
|
*/

await import('reflect-metadata')
const { Ignitor, prettyPrintError } = await import('@adonisjs/core')
const { APP_ROOT, IMPORTER } = await import('./app_root.js')
const { prepareLocalEnvironment } = await import('./local_environment.js')

const database = await prepareLocalEnvironment({
  database: /^(migration|db|repl)/.test(process.argv[2] ?? ''),
})

new Ignitor(APP_ROOT, { importer: IMPORTER })
  .tap((app) => {
    app.booting(async () => {
      await import('#start/env')
    })
    app.terminating(async () => {
      await database.stop()
    })
    app.listen('SIGTERM', () => app.terminate())
    app.listenIf(app.managedByPm2, 'SIGINT', () => app.terminate())
  })
  .ace()
  .handle(process.argv.splice(2))
  .then(() => database.stop())
  .catch((error) => {
    process.exitCode = 1
    prettyPrintError(error)
  })
