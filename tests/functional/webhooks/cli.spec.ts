import { test } from '@japa/runner'
import { runCli } from '#tests/support/cli'
import db from '@adonisjs/lucid/services/db'
import StripeEvent from '#models/stripe_event'
import { truncate } from '#tests/support/database'
import { stripeSandbox } from '#tests/support/stripe'
import {
  TEST_EVENT_TYPE,
  applyOnly,
  renameUserFromCustomer,
  withTestHandler,
} from '#tests/support/webhook_test_handlers'
import { eventBytes, postWebhook, renamedCustomer, signed, waitForEvent } from './helpers.js'

/** The real CLI in a child process (tests/support/cli.ts). */
const cli = (args: string[], options: { handlers?: boolean } = {}) =>
  runCli(args, { preload: options.handlers ? ['./tests/support/cli_test_handlers.ts'] : [] })

type ListRow = {
  id: string
  type: string
  status: string
  attempts: number
  receivedAt: string
  processedAt: string | null
  lastError: string | null
}

type ReplayOutput = {
  dryRun: boolean
  results: {
    stripeEventId: string
    statusBefore: string | null
    outcome: string
    attempts: number
  }[]
}

/*
| The CLI is another process: rows are committed (the app's webhook route
| wrote them) and stripe_events is emptied before each test, so --failed
| sees only this test's events.
*/
test.group('CLI: webhooks', (group) => {
  const userIds: number[] = []
  group.each.setup(async () => {
    await stripeSandbox().waitForIdle()
    await truncate('stripe_events')
  })
  group.each.teardown(async () => {
    await stripeSandbox().releaseWebhooks()
    await stripeSandbox().waitForIdle()
    await truncate('stripe_events')
    await db.from('users').whereIn('id', userIds.splice(0)).delete()
  })

  /** A customer.updated event recorded as failed (the handler threw), its delivery by the sandbox held. */
  async function failedEvent(name: string) {
    stripeSandbox().holdWebhooks()
    const scenario = await renamedCustomer(name)
    userIds.push(scenario.user.id)
    const body = eventBytes(scenario.event)
    const exploding = applyOnly(async (context) => {
      await renameUserFromCustomer.apply(context, undefined)
      throw new Error('ledger unavailable')
    })
    await withTestHandler(TEST_EVENT_TYPE, exploding, async () => {
      const response = await postWebhook(body, signed(body))
      if (response.status !== 500) throw new Error(`expected a 500, got ${response.status}`)
    })
    return scenario
  }

  test('webhooks:list shows events with status, attempts and the last error; filters validate', async ({
    assert,
  }) => {
    const { event } = await failedEvent('Listed')
    const ignoredBody = JSON.stringify({
      id: 'evt_cli_ignored',
      object: 'event',
      type: 'customer.created',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      data: { object: { id: 'cus_cli', object: 'customer' } },
    })
    const ignored = await postWebhook(ignoredBody, signed(ignoredBody))
    assert.equal(ignored.json.outcome, 'ignored')

    const json = await cli(['webhooks:list', '--status', 'failed', '--json'])
    assert.equal(json.code, 0, json.stderr)
    const rows = JSON.parse(json.stdout) as ListRow[]
    assert.deepEqual(
      rows.map((row) => [row.id, row.type, row.status, row.attempts]),
      [[event.id, 'customer.updated', 'failed', 1]]
    )
    assert.match(rows[0].lastError ?? '', /ledger unavailable/)

    const table = await cli(['webhooks:list', '--since', '1h'])
    assert.equal(table.code, 0, table.stderr)
    for (const header of ['ID', 'Type', 'Status', 'Attempts', 'Received', 'Last error']) {
      assert.include(table.stdout, header)
    }
    const failedLine = table.stdout.split('\n').find((line) => line.includes(event.id)) ?? ''
    assert.match(failedLine, /customer\.updated.*failed.*1.*ledger unavailable/)
    assert.match(
      table.stdout.split('\n').find((line) => line.includes('evt_cli_ignored')) ?? '',
      /customer\.created.*ignored/
    )

    const byType = await cli(['webhooks:list', '--type', 'customer.created', '--json'])
    assert.deepEqual(
      (JSON.parse(byType.stdout) as ListRow[]).map((row) => row.id),
      ['evt_cli_ignored']
    )
    const none = await cli(['webhooks:list', '--status', 'processing'])
    assert.equal(none.code, 0)
    assert.include(none.stdout, 'No events.')

    const badStatus = await cli(['webhooks:list', '--status', 'broken'])
    assert.equal(badStatus.code, 2)
    assert.include(badStatus.stderr, '--status must be one of')
    const badSince = await cli(['webhooks:list', '--since', 'yesterday-ish'])
    assert.equal(badSince.code, 2)
    assert.include(badSince.stderr, '--since must be')
  })

  test('webhooks:replay --failed: a dry run changes nothing, then the event is processed once', async ({
    assert,
  }) => {
    const { event, user } = await failedEvent('Replayed by the CLI')

    const dry = await cli(['webhooks:replay', '--failed', '--dry-run'], { handlers: true })
    assert.equal(dry.code, 0, dry.stderr)
    assert.include(dry.stdout, event.id)
    assert.include(dry.stdout, '1 event(s) would be replayed (dry run, nothing changed).')
    const untouched = await waitForEvent(event.id)
    assert.equal(untouched.status, 'failed')

    const replay = await cli(['webhooks:replay', '--failed', '--json'], { handlers: true })
    assert.equal(replay.code, 0, replay.stderr)
    const output = JSON.parse(replay.stdout) as ReplayOutput
    assert.deepEqual(
      output.results.map((r) => [r.stripeEventId, r.statusBefore, r.outcome, r.attempts]),
      [[event.id, 'failed', 'processed', 2]]
    )
    const row = await waitForEvent(event.id)
    assert.equal(row.status, 'processed')
    assert.isNull(row.lastError)
    await user.refresh()
    assert.equal(user.fullName, 'Replayed by the CLI')

    const again = await cli(['webhooks:replay', event.id], { handlers: true })
    assert.equal(again.code, 0, again.stderr)
    assert.match(
      again.stdout.split('\n').find((l) => l.includes(event.id)) ?? '',
      /processed.*already/
    )
    assert.include(again.stdout, '0 processed, 0 ignored, 1 already done, 0 failed, 0 not found.')
    const unchanged = await waitForEvent(event.id)
    assert.equal(unchanged.attempts, 2)

    const nothing = await cli(['webhooks:replay', '--failed'], { handlers: true })
    assert.equal(nothing.code, 0)
    assert.include(nothing.stdout, 'No events to replay.')
  })

  test('webhooks:replay exits 3 when an event fails again or is unknown, 2 on bad usage', async ({
    assert,
  }) => {
    const { event } = await failedEvent('Still failing')
    // A stored payload the handler cannot apply (no data): the replay fails again.
    await StripeEvent.query()
      .where('stripeEventId', event.id)
      .update({ payload: JSON.stringify({ ...event, data: null }) })
    const failing = await cli(['webhooks:replay', event.id, 'evt_not_recorded'], {
      handlers: true,
    })
    assert.equal(failing.code, 3, failing.stderr)
    assert.match(failing.stdout.split('\n').find((l) => l.includes(event.id)) ?? '', /failed.*2/)
    assert.match(
      failing.stdout.split('\n').find((l) => l.includes('evt_not_recorded')) ?? '',
      /not_found.*no such event recorded/
    )
    assert.include(failing.stderr, '2 event(s) not replayed')
    const row = await waitForEvent(event.id)
    assert.equal(row.status, 'failed')
    assert.equal(row.attempts, 2)

    for (const args of [
      ['webhooks:replay'],
      ['webhooks:replay', event.id, '--failed'],
      ['webhooks:replay', 'not-an-event-id'],
      ['webhooks:replay', '--failed', '--limit', '0'],
    ]) {
      const run = await cli(args)
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`)
    }
  })

  test('webhooks --help shows examples without a database', async ({ assert }) => {
    const help = await cli(['webhooks:replay', '--help'])
    assert.equal(help.code, 0)
    assert.include(help.stdout, 'npm run cli -- webhooks:replay --failed --dry-run')
    assert.include(help.stdout, 'Exit codes: 0 all replayed')
    const list = await cli(['webhooks:list', '--help'])
    assert.include(list.stdout, 'npm run cli -- webhooks:list --status failed')
  })
})
