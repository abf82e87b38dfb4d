import { existsSync } from 'node:fs'
import { chromium, type LaunchOptions } from 'playwright'

/**
 * Where Chromium lives: CHROMIUM_PATH, else Debian's /usr/bin/chromium
 * (bin/run_tests.ts installs it when missing). Playwright never downloads one.
 */
export function chromiumPath() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']
  return candidates.find((path): path is string => !!path && existsSync(path))
}

export async function launchChromium(config: Pick<LaunchOptions, 'headless' | 'slowMo'>) {
  const executablePath = chromiumPath()
  if (!executablePath) {
    throw new Error(
      'Chromium not found: install it (apt-get install -y chromium) or set CHROMIUM_PATH'
    )
  }
  return chromium.launch({
    ...config,
    headless: true,
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      '--no-first-run',
    ],
  })
}
