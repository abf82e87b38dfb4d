/*
|--------------------------------------------------------------------------
| `npm test`: set up what the suites need, then run them
|--------------------------------------------------------------------------
|
| - Chromium for the browser suite: Debian's package, installed with
|   apt-get when missing and we may (root); Playwright never downloads one.
| - The database: DATABASE_URL / DB_* when set, else the embedded
|   PostgreSQL (started by bin/test.ts).
| - Codegen and the suites themselves: `ace test` (all arguments pass
|   through, e.g. `npm test -- unit` or `npm test -- --files=tests/unit/env.spec.ts`).
|
*/

import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromiumPath } from '../tests/support/chromium.js'

const root = fileURLToPath(new URL('../', import.meta.url))
const args = process.argv.slice(2)
const suites = ['unit', 'functional', 'browser']
const namedSuites = args.filter((arg) => suites.includes(arg))
const wantsBrowser = namedSuites.length === 0 || namedSuites.includes('browser')

if (wantsBrowser && !chromiumPath()) {
  const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')
  if (canInstall) {
    process.stderr.write('Installing Chromium (Debian package) for the browser tests...\n')
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
    spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env })
  }
  if (!chromiumPath()) {
    process.stderr.write(
      'Chromium is not installed, so the browser suite will fail. Install it (sudo apt-get install chromium) ' +
        'or set CHROMIUM_PATH; or run the other suites: npm test -- unit functional\n'
    )
  }
}

const result = spawnSync(process.execPath, ['ace', 'test', ...args], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'test' },
})
process.exit(result.status ?? 1)
