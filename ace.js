/*
|--------------------------------------------------------------------------
| JavaScript entrypoint for running ace commands
|--------------------------------------------------------------------------
|
| Run it through npm (`npm run ace -- <command>`) so the Node 24 binary from
| node_modules runs it; a bare `node ace` uses the system Node.
|
*/

import '@poppinss/ts-exec'

await import('./bin/console.js')
