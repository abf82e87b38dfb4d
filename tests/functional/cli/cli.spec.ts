import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import type User from '#models/user'
import { UserFactory } from '#database/factories/user_factory'
import { truncate } from '#tests/support/database'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { runCli } from '#tests/support/cli'

/** The real CLI in a child process (tests/support/cli.ts). */
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { env })

/** What `users:list --json` prints per user. */
type UserRow = {
  id: number
  email: string
  name: string
  plan: string
  creditsBalanceCents: number
  stripeCustomerId: string | null
  createdAt: string
}

type SyncResult = { userId: number; email: string; customerId: string | null; error: string | null }

/** Table lines that mention `text` (cli-table3 draws one line per row). */
function linesWith(output: string, text: string) {
  return output.split('\n').filter((line) => line.includes(text))
}

async function customersByEmail(email: string) {
  const list = await stripeClient().customers.list({ email, limit: 10 })
  return list.data
}

/*
| The CLI is another process, so a global transaction cannot hide these rows
| from it: tables are truncated instead (truncate() cascades to every table
| that references users). Each test also starts user ids in its own range:
| CustomerService derives the Stripe idempotency key from the user id and the
| creation second, and RESTART IDENTITY would otherwise hand the same id to
| users of two tests that run within one second, on the same sandbox.
*/
let idRange = 0
async function resetUsers() {
  await truncate('users')
  idRange += 1
  await db.rawQuery(`SELECT setval(pg_get_serial_sequence('users', 'id'), ?, false)`, [
    idRange * 1000,
  ])
}

/** Every command the CLI registers (cli/main.ts). */
const COMMANDS = [
  'users:list',
  'customers:sync',
  'credits:grant',
  'credits:show',
  'webhooks:list',
  'webhooks:replay',
  'subscriptions:check-grace',
  'payouts:run',
  'payouts:reconcile',
  'earnings:show',
  'agents:sync',
  'usage:sync',
  'usage:show',
  'invoices:generate',
  'invoices:list',
  'audit',
  'stripe:reconcile',
  'jobs:status',
]

test.group('CLI', (group) => {
  group.each.setup(async () => {
    await resetUsers()
    return async () => {
      stripeSandbox().clearFaults()
      await truncate('users')
    }
  })

  test('--help lists the commands and exits 0', async ({ assert }) => {
    const run = await cli(['--help'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stderr, '')
    assert.match(run.stdout, /^Usage: studio-billing /)
    assert.lengthOf(linesWith(run.stdout, 'users:list'), 1)
    assert.lengthOf(linesWith(run.stdout, 'customers:sync'), 1)
    assert.include(run.stdout, 'List users with plan, credits and Stripe customer')
    assert.include(run.stdout, 'Create missing Stripe customers')
    assert.include(
      run.stdout,
      'Exit codes: 0 ok, 1 failed, 2 bad usage, 3 partial (needs attention).'
    )
    // Every command of the product, one line each with its description.
    for (const name of COMMANDS) {
      const lines = run.stdout.split('\n').filter((line) => line.trim().startsWith(`${name} `))
      assert.lengthOf(lines, 1, name)
      assert.match(lines[0], new RegExp(`^\\s*${name}\\b.*\\s{2,}\\S`), `${name} has a description`)
    }
  })

  test('every command has --help with examples', async ({ assert }) => {
    for (const name of COMMANDS) {
      const run = await cli([name, '--help'])
      assert.equal(run.code, 0, `${name}: ${run.stderr}`)
      assert.match(run.stdout, new RegExp(`^Usage: studio-billing ${name}`), name)
      assert.match(run.stdout, /Examples?:/, `${name} shows examples`)
    }
  })

  test('users:list prints a table with the users', async ({ assert }) => {
    const user = await UserFactory.merge({
      fullName: 'Table Person',
      creditsBalanceCents: 1234,
    }).create()
    const other = await UserFactory.merge({ stripeCustomerId: 'cus_table_other' })
      .apply('premium')
      .create()

    const run = await cli(['users:list'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stderr, '')
    const [header] = linesWith(run.stdout, 'Email')
    assert.match(
      header,
      /ID\s+│\s+Email\s+│\s+Name\s+│\s+Plan\s+│\s+Credits\s+│\s+Stripe customer\s+│\s+Created/
    )

    const userLines = linesWith(run.stdout, user.email)
    assert.lengthOf(userLines, 1)
    assert.match(
      userLines[0],
      new RegExp(
        `│\\s*${user.id}\\s*│\\s*${user.email.replace(/\./g, '\\.')}\\s*│\\s*Table Person\\s*│\\s*free\\s*│\\s*\\$12\\.34\\s*│\\s*\\(none\\)\\s*│`
      )
    )
    const otherLines = linesWith(run.stdout, other.email)
    assert.lengthOf(otherLines, 1)
    assert.match(otherLines[0], /│\s*premium\s*│\s*\$0\.00\s*│\s*cus_table_other\s*│/)
    // Newest first.
    assert.isBelow(run.stdout.indexOf(other.email), run.stdout.indexOf(user.email))
  })

  test('users:list with no users says so', async ({ assert }) => {
    const run = await cli(['users:list'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout, 'No users.\n')
  })

  test('users:list --json prints the users without their password', async ({ assert }) => {
    const first = await UserFactory.merge({ creditsBalanceCents: 250 }).create()
    const second = await UserFactory.merge({ stripeCustomerId: 'cus_json_second' })
      .apply('premium')
      .create()

    const run = await cli(['users:list', '--json'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stderr, '')
    const rows = JSON.parse(run.stdout) as UserRow[]
    assert.isArray(rows)
    assert.lengthOf(rows, 2)
    for (const row of rows) {
      assert.sameMembers(Object.keys(row), [
        'id',
        'email',
        'name',
        'plan',
        'creditsBalanceCents',
        'stripeCustomerId',
        'createdAt',
      ])
      assert.notProperty(row, 'password')
    }
    assert.notInclude(run.stdout, '$scrypt$')

    const expected = (user: User) => ({
      id: user.id,
      email: user.email,
      name: user.fullName,
      plan: user.plan,
      creditsBalanceCents: user.creditsBalanceCents,
      stripeCustomerId: user.stripeCustomerId ?? null,
    })
    const withoutDate = rows.map(({ createdAt: _createdAt, ...rest }) => rest)
    await first.refresh()
    await second.refresh()
    assert.deepEqual(withoutDate, [expected(second), expected(first)])
    assert.equal(rows[0].plan, 'premium')
    assert.equal(rows[0].stripeCustomerId, 'cus_json_second')
    assert.equal(rows[1].creditsBalanceCents, 250)
    assert.equal(DateTime.fromISO(rows[0].createdAt).toMillis(), second.createdAt.toMillis())
    assert.equal(DateTime.fromISO(rows[1].createdAt).toMillis(), first.createdAt.toMillis())
  })

  test('users:list --limit x exits 2 with a one-line error', async ({ assert }) => {
    const run = await cli(['users:list', '--limit', 'x'])
    assert.equal(run.code, 2)
    assert.equal(run.stdout, '')
    assert.equal(run.stderr, 'Error: --limit must be a whole number >= 1 (got "x")\n')
  })

  test('an unknown command exits 2', async ({ assert }) => {
    const run = await cli(['users:nuke'])
    assert.equal(run.code, 2)
    assert.equal(run.stdout, '')
    assert.include(run.stderr, "error: unknown command 'users:nuke'")
  })

  test('customers:sync --dry-run lists users without a customer and changes nothing', async ({
    assert,
  }) => {
    const [a, b] = await UserFactory.createMany(2)
    const withCustomer = await UserFactory.merge({ stripeCustomerId: 'cus_dry_existing' }).create()

    const run = await cli(['customers:sync', '--dry-run'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stderr, '')
    assert.lengthOf(linesWith(run.stdout, 'Would create'), 1)
    assert.match(
      linesWith(run.stdout, a.email)[0] ?? '',
      new RegExp(`│\\s*${a.id}\\s*│.*│\\s*yes\\s*│`)
    )
    assert.match(
      linesWith(run.stdout, b.email)[0] ?? '',
      new RegExp(`│\\s*${b.id}\\s*│.*│\\s*yes\\s*│`)
    )
    assert.notInclude(run.stdout, withCustomer.email)
    assert.include(run.stdout, '2 user(s) without a customer (dry run, nothing changed).\n')

    await a.refresh()
    await b.refresh()
    await withCustomer.refresh()
    assert.isNull(a.stripeCustomerId)
    assert.isNull(b.stripeCustomerId)
    assert.equal(withCustomer.stripeCustomerId, 'cus_dry_existing')
    assert.lengthOf(await customersByEmail(a.email), 0)
    assert.lengthOf(await customersByEmail(b.email), 0)
  })

  test('customers:sync creates the missing customer once; a second run has nothing to do', async ({
    assert,
  }) => {
    const user = await UserFactory.merge({ fullName: 'Sync Person' }).create()

    const first = await cli(['customers:sync'])
    assert.equal(first.code, 0, first.stderr)
    assert.equal(first.stderr, '')
    assert.include(first.stdout, '1 customer(s) created, 0 failed.\n')

    await user.refresh()
    const customerId = user.stripeCustomerId
    assert.match(customerId ?? '', /^cus_/)
    assert.lengthOf(linesWith(first.stdout, customerId!), 1)
    const customer = await stripeClient().customers.retrieve(customerId!)
    assert.isFalse(customer.deleted ?? false)
    if (!customer.deleted) {
      assert.equal(customer.email, user.email)
      assert.equal(customer.name, 'Sync Person')
      assert.equal(customer.metadata.user_id, String(user.id))
    }

    const second = await cli(['customers:sync'])
    assert.equal(second.code, 0, second.stderr)
    assert.equal(second.stderr, '')
    assert.equal(second.stdout, 'Every user has a Stripe customer.\n')
    await user.refresh()
    assert.equal(user.stripeCustomerId, customerId)
    const customers = await customersByEmail(user.email)
    assert.deepEqual(
      customers.map((found) => found.id),
      [customerId]
    )
  })

  test('customers:sync exits 3 when Stripe is unreachable, and a later run repairs it without a duplicate', async ({
    assert,
  }) => {
    const user = await UserFactory.create()
    stripeSandbox().failNext({ mode: 'reset', count: 50, path: '/v1/customers' })

    const failed = await cli(['customers:sync'])
    assert.equal(failed.code, 3, failed.stderr)
    assert.equal(
      failed.stderr,
      '1 customer(s) could not be created; run customers:sync again later.\n'
    )
    assert.include(failed.stdout, '0 customer(s) created, 1 failed.\n')
    assert.match(
      linesWith(failed.stdout, user.email)[0] ?? '',
      /Payments are temporarily unavailable/
    )
    await user.refresh()
    assert.isNull(user.stripeCustomerId)

    // The resets dropped the responses after the sandbox created the customer
    // (Stripe may well have done the work); the idempotency key makes the rerun reuse it.
    stripeSandbox().clearFaults()
    const repaired = await cli(['customers:sync'])
    assert.equal(repaired.code, 0, repaired.stderr)
    assert.include(repaired.stdout, '1 customer(s) created, 0 failed.\n')
    await user.refresh()
    assert.match(user.stripeCustomerId ?? '', /^cus_/)
    const customers = await customersByEmail(user.email)
    assert.deepEqual(
      customers.map((found) => found.id),
      [user.stripeCustomerId]
    )
  })

  test('customers:sync --json prints { dryRun, results }', async ({ assert }) => {
    const user = await UserFactory.create()

    const dry = await cli(['customers:sync', '--dry-run', '--json'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.deepEqual(JSON.parse(dry.stdout), {
      dryRun: true,
      results: [{ userId: user.id, email: user.email, customerId: null, error: null }],
    })

    const real = await cli(['customers:sync', '--json'])
    assert.equal(real.code, 0, real.stderr)
    const parsed = JSON.parse(real.stdout) as { dryRun: boolean; results: SyncResult[] }
    await user.refresh()
    assert.match(user.stripeCustomerId ?? '', /^cus_/)
    assert.deepEqual(parsed, {
      dryRun: false,
      results: [
        { userId: user.id, email: user.email, customerId: user.stripeCustomerId, error: null },
      ],
    })

    const nothing = await cli(['customers:sync', '--json'])
    assert.equal(nothing.code, 0, nothing.stderr)
    assert.deepEqual(JSON.parse(nothing.stdout), { dryRun: false, results: [] })
  })
})
