import { test } from '@japa/runner'
import app from '@adonisjs/core/services/app'
import db from '@adonisjs/lucid/services/db'
import StripeEvent from '#models/stripe_event'
import StripeEventService, { UnknownStripeEventError } from '#services/stripe_event_service'
import { defineHandler } from '#services/webhooks/types'
import { appWebhookEndpoint, stripeSandbox } from '#tests/support/stripe'
import {
  TEST_EVENT_TYPE,
  applyOnly,
  renameUserFromCustomer,
  withTestHandler,
} from '#tests/support/webhook_test_handlers'
import {
  deleteEvents,
  eventBytes,
  postWebhook,
  renamedCustomer,
  signed,
  waitForEvent,
} from './helpers.js'

/**
 * Processing: each event's handler runs once, in the transaction that marks
 * it processed; a failing handler leaves nothing behind and the event is
 * retried (by Stripe's next delivery, or a replay). The handler here is a
 * test-only one on customer.updated that renames the customer's user.
 */
test.group('Webhooks: processing once', (group) => {
  const eventIds: string[] = []
  const userIds: number[] = []
  group.each.teardown(async () => {
    await stripeSandbox().releaseWebhooks()
    await stripeSandbox().waitForIdle()
    await deleteEvents(eventIds.splice(0))
    await db.from('users').whereIn('id', userIds.splice(0)).delete()
  })

  async function scenario(name: string) {
    const result = await renamedCustomer(name)
    eventIds.push(...result.eventIds)
    userIds.push(result.user.id)
    return result
  }

  test('the same event delivered twice is applied once', async ({ assert }) => {
    let calls = 0
    const counting = applyOnly(async (context) => {
      calls += 1
      await renameUserFromCustomer.apply(context, undefined)
    })
    await withTestHandler(TEST_EVENT_TYPE, counting, async () => {
      const { user, event } = await scenario('Renamed once')
      await stripeSandbox().waitForIdle()
      await stripeSandbox().duplicateEvent(event.id)
      await stripeSandbox().waitForIdle()

      assert.equal(calls, 1)
      const row = await waitForEvent(event.id)
      assert.equal(row.status, 'processed')
      assert.equal(row.attempts, 1)
      assert.isNotNull(row.processedAt)
      await user.refresh()
      assert.equal(user.fullName, 'Renamed once')
      const deliveries = stripeSandbox().deliveries({
        eventId: event.id,
        endpointId: appWebhookEndpoint().id,
      })
      assert.lengthOf(deliveries, 2)
      assert.deepEqual(
        deliveries.map((delivery) => delivery.attempts.at(-1)?.status),
        [200, 200]
      )
      assert.lengthOf(await StripeEvent.query().where('stripeEventId', event.id), 1)
    })
  })

  test('parallel deliveries of the same signed bytes: one applies it, the others answer already', async ({
    assert,
  }) => {
    let calls = 0
    const slow = applyOnly(async (context) => {
      calls += 1
      await new Promise((resolve) => setTimeout(resolve, 150))
      await renameUserFromCustomer.apply(context, undefined)
    })
    await withTestHandler(TEST_EVENT_TYPE, slow, async () => {
      stripeSandbox().holdWebhooks()
      const { user, event } = await scenario('Renamed in parallel')
      const body = eventBytes(event)
      const header = signed(body)

      const responses = await Promise.all(
        Array.from({ length: 8 }, () => postWebhook(body, header))
      )
      assert.deepEqual(
        responses.map((response) => response.status),
        Array(8).fill(200)
      )
      const outcomes = responses.map((response) => response.json.outcome).sort()
      assert.deepEqual(outcomes, [
        'already',
        'already',
        'already',
        'already',
        'already',
        'already',
        'already',
        'processed',
      ])
      assert.equal(calls, 1)

      // Stripe's own (held) delivery arrives afterwards: already done.
      await stripeSandbox().releaseWebhooks()
      await stripeSandbox().waitForIdle()
      assert.equal(calls, 1)
      const rows = await StripeEvent.query().where('stripeEventId', event.id)
      assert.lengthOf(rows, 1)
      assert.equal(rows[0].status, 'processed')
      assert.equal(rows[0].attempts, 1)
      await user.refresh()
      assert.equal(user.fullName, 'Renamed in parallel')
    })
  })

  test('a handler reads Stripe before any lock: fetch holds no row, apply gets what it read; a failed read is kept for replay', async ({
    assert,
  }) => {
    stripeSandbox().holdWebhooks()
    const { user, event } = await scenario('Renamed from the fetch')
    const body = eventBytes(event)
    let reads = 0
    let fail = true
    const twoPhase = defineHandler<string>({
      fetch: async (fetchedEvent) => {
        reads += 1
        // No transaction is open: the event's and the user's rows can be locked by anyone.
        await db.transaction(async (trx) => {
          await trx.rawQuery(
            'SELECT id FROM stripe_events WHERE stripe_event_id = ? FOR UPDATE NOWAIT',
            [fetchedEvent.id]
          )
          await trx.rawQuery('SELECT id FROM users WHERE id = ? FOR UPDATE NOWAIT', [user.id])
        })
        if (fail) throw new Error('Stripe read timed out')
        return `${(fetchedEvent.data.object as { name: string }).name} (read)`
      },
      apply: async ({ trx }, name) => {
        await trx.from('users').where('id', user.id).update({ full_name: name })
      },
    })
    await withTestHandler(TEST_EVENT_TYPE, twoPhase, async () => {
      const failed = await postWebhook(body, signed(body))
      assert.equal(failed.status, 500)
      const row = await waitForEvent(event.id)
      assert.equal(row.status, 'failed')
      assert.equal(row.attempts, 1)
      assert.match(row.lastError ?? '', /Stripe read timed out/)
      await user.refresh()
      assert.equal(user.fullName, 'Before')

      fail = false
      const service = await app.container.make(StripeEventService)
      assert.equal(await service.process(event.id), 'processed')
      await user.refresh()
      assert.equal(user.fullName, 'Renamed from the fetch (read)')
      // Done: a later delivery neither reads Stripe nor applies again.
      assert.equal(await service.process(event.id), 'already')
      assert.equal(reads, 2)
    })
  })

  test('a failing handler: 500, row failed with the error, its writes rolled back; a replay applies it', async ({
    assert,
  }) => {
    const exploding = applyOnly(async (context) => {
      await renameUserFromCustomer.apply(context, undefined)
      throw new Error('handler exploded halfway')
    })
    stripeSandbox().holdWebhooks()
    const { user, event } = await scenario('Renamed after the fix')
    const body = eventBytes(event)

    await withTestHandler(TEST_EVENT_TYPE, exploding, async () => {
      const first = await postWebhook(body, signed(body))
      assert.equal(first.status, 500)
      assert.match(String(first.json.error), /will be retried/)
      let row = await waitForEvent(event.id)
      assert.equal(row.status, 'failed')
      assert.equal(row.attempts, 1)
      assert.match(row.lastError ?? '', /handler exploded halfway/)
      assert.isNull(row.processedAt)
      await user.refresh()
      assert.equal(user.fullName, 'Before')

      const second = await postWebhook(body, signed(body))
      assert.equal(second.status, 500)
      row = await waitForEvent(event.id)
      assert.equal(row.attempts, 2)
      await user.refresh()
      assert.equal(user.fullName, 'Before')
    })

    await withTestHandler(TEST_EVENT_TYPE, renameUserFromCustomer, async () => {
      const service = await app.container.make(StripeEventService)
      assert.equal(await service.process(event.id), 'processed')
      const row = await waitForEvent(event.id)
      assert.equal(row.status, 'processed')
      assert.equal(row.attempts, 3)
      assert.isNull(row.lastError)
      assert.isNotNull(row.processedAt)
      await user.refresh()
      assert.equal(user.fullName, 'Renamed after the fix')

      assert.equal(await service.process(event.id), 'already')
      const again = await postWebhook(body, signed(body))
      assert.equal(again.status, 200)
      assert.equal(again.json.outcome, 'already')
    })
  })

  test("Stripe's retries deliver a failed event again until the handler succeeds", async ({
    assert,
  }) => {
    let calls = 0
    const flaky = applyOnly(async (context) => {
      calls += 1
      await renameUserFromCustomer.apply(context, undefined)
      if (calls <= 2) throw new Error(`transient failure ${calls}`)
    })
    await withTestHandler(TEST_EVENT_TYPE, flaky, async () => {
      const { user, event } = await scenario('Renamed on the third try')
      await stripeSandbox().waitForIdle()

      const [delivery] = stripeSandbox().deliveries({
        eventId: event.id,
        endpointId: appWebhookEndpoint().id,
      })
      assert.deepEqual(
        delivery.attempts.map((attempt) => attempt.status),
        [500, 500, 200]
      )
      const row = await waitForEvent(event.id)
      assert.equal(row.status, 'processed')
      assert.equal(row.attempts, 3)
      await user.refresh()
      assert.equal(user.fullName, 'Renamed on the third try')
    })
  })

  test('replays use the stored payload, need no Stripe, and refuse unknown ids', async ({
    assert,
  }) => {
    stripeSandbox().holdWebhooks()
    const { user, event } = await scenario('Renamed offline')
    const body = eventBytes(event)
    // Recorded with no handler for its type yet: ignored, and done.
    const ignored = await postWebhook(body, signed(body))
    assert.equal(ignored.json.outcome, 'ignored')
    const service = await app.container.make(StripeEventService)
    await withTestHandler(TEST_EVENT_TYPE, renameUserFromCustomer, async () => {
      assert.equal(await service.process(event.id), 'already')
      // A failed event is replayed from the row even with Stripe unreachable.
      await StripeEvent.query()
        .where('stripeEventId', event.id)
        .update({ status: 'failed', last_error: 'simulated' })
      stripeSandbox().failNext({ count: 100 })
      try {
        assert.equal(await service.process(event.id), 'processed')
      } finally {
        stripeSandbox().clearFaults()
      }
    })
    await user.refresh()
    assert.equal(user.fullName, 'Renamed offline')
    await assert.rejects(() => service.process('evt_never_recorded'), UnknownStripeEventError)
  })
})
