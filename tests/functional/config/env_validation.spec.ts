import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import { EnvParser } from '@adonisjs/core/env'
import billingConfig from '#config/billing'

const APP_ROOT = fileURLToPath(app.appRoot)

type CliRun = { code: number | null; stdout: string; stderr: string }

/** Runs the real CLI (`cli/main.ts`) in a child process; never rejects. */
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import=@poppinss/ts-exec', 'cli/main.ts', ...args], {
      cwd: APP_ROOT,
      env: { ...process.env, NODE_ENV: 'test', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000)
    child.on('error', (error) => (stderr += `spawn failed: ${error.message}\n`))
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** .env.test as a plain object (production reads only .env, so these are passed explicitly). */
async function dotEnvTest(): Promise<Record<string, string>> {
  const contents = await readFile(new URL('.env.test', app.appRoot), 'utf8')
  const parsed = await new EnvParser(contents, app.appRoot).parse()
  const values: Record<string, string> = {}
  for (const [key, value] of Object.entries(parsed)) {
    if (value !== undefined) values[key] = value
  }
  return values
}

type InvalidCase = { title: string; env: NodeJS.ProcessEnv; variable: string; message: string }

const INVALID: InvalidCase[] = [
  {
    title: 'STRIPE_WEBHOOK_TOLERANCE of 0 (it would switch the signature age check off)',
    env: { STRIPE_WEBHOOK_TOLERANCE: '0' },
    variable: 'STRIPE_WEBHOOK_TOLERANCE',
    message: 'STRIPE_WEBHOOK_TOLERANCE must be at least 1 second (got "0")',
  },
  {
    title: 'PREMIUM_PAST_DUE_GRACE_DAYS not a whole number',
    env: { PREMIUM_PAST_DUE_GRACE_DAYS: '1.5' },
    variable: 'PREMIUM_PAST_DUE_GRACE_DAYS',
    message: 'PREMIUM_PAST_DUE_GRACE_DAYS must be a whole number >= 0 (got "1.5")',
  },
  {
    title: 'CREATOR_REVENUE_SHARE above 1',
    env: { CREATOR_REVENUE_SHARE: '1.5' },
    variable: 'CREATOR_REVENUE_SHARE',
    message: 'CREATOR_REVENUE_SHARE must be a fraction between 0 and 1, like 0.90 (got "1.5")',
  },
  {
    title: 'CREATOR_REVENUE_SHARE with 5 decimals',
    env: { CREATOR_REVENUE_SHARE: '0.12345' },
    variable: 'CREATOR_REVENUE_SHARE',
    message: 'CREATOR_REVENUE_SHARE must have at most 4 decimal places (got "0.12345")',
  },
  {
    title: 'negative PREMIUM_SUBSCRIPTION_PRICE',
    env: { PREMIUM_SUBSCRIPTION_PRICE: '-5' },
    variable: 'PREMIUM_SUBSCRIPTION_PRICE',
    message: 'PREMIUM_SUBSCRIPTION_PRICE must be a whole number of cents >= 0 (got "-5")',
  },
  {
    title: 'non-numeric CREDIT_PACKAGE_SMALL',
    env: { CREDIT_PACKAGE_SMALL: 'abc' },
    variable: 'CREDIT_PACKAGE_SMALL',
    message: 'CREDIT_PACKAGE_SMALL must be a whole number of cents >= 0 (got "abc")',
  },
  {
    title: 'APP_URL that is not a URL',
    env: { APP_URL: 'not-a-url' },
    variable: 'APP_URL',
    message: 'APP_URL must be an absolute http(s) URL (got "not-a-url")',
  },
  {
    title: 'STRIPE_API_BASE with an ftp scheme',
    env: { STRIPE_API_BASE: 'ftp://x' },
    variable: 'STRIPE_API_BASE',
    message: 'STRIPE_API_BASE must be an absolute http(s) URL (got "ftp://x")',
  },
  {
    title: 'STRIPE_SECRET_KEY that is a publishable key',
    env: { STRIPE_SECRET_KEY: 'pk_test_x' },
    variable: 'STRIPE_SECRET_KEY',
    message: 'STRIPE_SECRET_KEY must start with sk_test_, sk_live_, rk_test_ or rk_live_',
  },
]

test.group('Environment validation (real CLI boot)', (group) => {
  /*
  | Every CLI run is started once, in parallel, when the group starts; each
  | test awaits its own run. A boot takes about a second, so this keeps the
  | group fast without merging the cases into one test.
  */
  const runs = new Map<string, Promise<CliRun>>()
  const runOf = (key: string) => {
    const run = runs.get(key)
    if (!run) throw new Error(`No CLI run was started for "${key}"`)
    return run
  }

  group.setup(async () => {
    for (const invalid of INVALID) runs.set(invalid.title, runCli(['users:list'], invalid.env))
    runs.set('valid share', runCli(['users:list', '--json'], { CREATOR_REVENUE_SHARE: '0.85' }))

    const production = {
      ...(await dotEnvTest()),
      DATABASE_URL: process.env.DATABASE_URL,
      STRIPE_API_BASE: process.env.STRIPE_API_BASE,
      NODE_ENV: 'production',
    }
    runs.set(
      'production without secret',
      runCli(['users:list', '--json'], { ...production, STRIPE_WEBHOOK_SECRET: '' })
    )
    runs.set('production with secret', runCli(['users:list', '--json'], production))
    await Promise.all(runs.values())
  })

  for (const invalid of INVALID) {
    test(`refuses to boot with ${invalid.title}`, async ({ assert }) => {
      const run = await runOf(invalid.title)
      assert.equal(run.code, 1, `exit code (stderr: ${run.stderr})`)
      assert.equal(run.stdout, '')
      assert.include(run.stderr, invalid.variable)
      assert.include(run.stderr, invalid.message)
    })
  }

  test('production refuses to start without STRIPE_WEBHOOK_SECRET', async ({ assert }) => {
    assert.isString(process.env.DATABASE_URL)
    const run = await runOf('production without secret')
    assert.equal(run.code, 1, `exit code (stderr: ${run.stderr})`)
    assert.equal(run.stdout, '')
    assert.include(
      run.stderr,
      'STRIPE_WEBHOOK_SECRET is required in production: without it webhooks cannot be verified'
    )
  })

  test('production starts with the same settings plus STRIPE_WEBHOOK_SECRET (control)', async ({
    assert,
  }) => {
    const run = await runOf('production with secret')
    assert.equal(run.code, 0, `exit code (stderr: ${run.stderr})`)
    assert.equal(run.stderr, '')
    assert.isArray(JSON.parse(run.stdout))
  })

  test('a valid override (CREATOR_REVENUE_SHARE=0.85) boots and runs the command', async ({
    assert,
  }) => {
    const run = await runOf('valid share')
    assert.equal(run.code, 0, `exit code (stderr: ${run.stderr})`)
    assert.equal(run.stderr, '')
    assert.isArray(JSON.parse(run.stdout))
  })
})

test.group('Billing config parsed from the test environment', () => {
  test('share in basis points and the default prices and limits', ({ assert }) => {
    assert.deepEqual(billingConfig, {
      currency: 'usd',
      premium: { priceCents: 500, interval: 'month', pastDueGraceDays: 7 },
      creditPackages: [
        { key: 'small', amountCents: 500 },
        { key: 'medium', amountCents: 1000 },
        { key: 'large', amountCents: 5000 },
      ],
      deploySlot: { priceCents: 1000 },
      limits: {
        free: { projects: 1, deploys: 1 },
        premium: { projects: 5, deploys: 5 },
      },
      creatorShareBps: 9000,
      marketplace: {
        payoutHoldDays: 7,
        onboardingReturnPath: '/creator/payouts?onboarding=done',
        onboardingRefreshPath: '/creator/payouts/onboarding',
        maxPriceCents: 99_999_999,
        minPriceCents: 50,
      },
      usageInvoices: { minimumChargeCents: 50, concurrency: 8 },
    })
  })
})
