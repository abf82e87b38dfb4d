import { test } from '@japa/runner'
import db from '@adonisjs/lucid/services/db'
import billingConfig from '#config/billing'
import CreditService from '#services/credit_service'
import PlanLimits from '#services/plan_limits'
import User from '#models/user'
import Project from '#models/project'
import { DateTime } from 'luxon'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { createDispute } from '../../../sandbox/stripe/resources/disputes.js'
import {
  assertBalance,
  buyer,
  creditPurchases,
  DISPUTED_CARD,
  eventsFor,
  ledger,
  pay,
  resetData,
  session,
  startCredits,
  startSlot,
  stripeEvent,
  purchaseStatus,
} from './helpers.js'

const small = billingConfig.creditPackages[0] // 500
const large = billingConfig.creditPackages[2] // 5000

async function paymentIntentOf(sessionId: string) {
  const paid = await session(sessionId)
  return String(paid.payment_intent)
}

async function refund(paymentIntent: string, amount?: number) {
  await stripeClient().refunds.create({ payment_intent: paymentIntent, amount })
  await stripeSandbox().waitForIdle(20_000)
}

test.group('Credits: refunds, disputes and deploy slots', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(60_000)

  test('a partial refund claws back its share; a full refund the rest, and marks the purchase refunded', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const id = await startCredits(client, user, large.key)
    await pay(id)
    const intent = await paymentIntentOf(id)
    await assertBalance(assert, user, large.amountCents)

    await refund(intent, 1000) // a fifth of the price: a fifth of the credits
    await assertBalance(assert, user, large.amountCents - 1000)
    assert.equal(await purchaseStatus(user), 'paid')

    // A duplicate delivery of the same refund event changes nothing.
    const [refunded] = stripeSandbox().eventLog('charge.refunded')
    await stripeSandbox().duplicateEvent(refunded.id)
    await stripeSandbox().waitForIdle(20_000)
    await assertBalance(assert, user, large.amountCents - 1000)

    await refund(intent) // the remaining 4000
    await assertBalance(assert, user, 0)
    const [purchase] = await creditPurchases(user)
    assert.equal(purchase.status, 'refunded')
    assert.isNotNull(purchase.refunded_at)
    const entries = await ledger(user)
    assert.deepEqual(
      entries.map((entry) => [entry.kind, entry.amountCents]),
      [
        ['purchase', 5000],
        ['refund_clawback', -1000],
        ['refund_clawback', -4000],
      ]
    )
    assert.match(entries[1].idempotencyKey, /^refund:ch_.*:1000$/)
  })

  test('credits already spent are not clawed below zero: the shortfall is recorded', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const id = await startCredits(client, user, small.key)
    await pay(id)
    const fresh = await User.findOrFail(user.id)
    await new CreditService().operatorAdjust(fresh, {
      amountCents: 400,
      debit: true,
      reason: 'spent on usage (test)',
      operator: 'test',
    })
    await assertBalance(assert, user, 100)

    await refund(await paymentIntentOf(id))
    await assertBalance(assert, user, 0)
    const entriesAfter = await ledger(user)
    const last = entriesAfter.at(-1)!
    assert.equal(last.kind, 'refund_clawback')
    assert.equal(last.amountCents, -100)
    assert.match(
      last.description ?? '',
      /100 of 500 credits taken back \(shortfall 400: already spent\)/
    )
    assert.equal(await purchaseStatus(user), 'refunded')
  })

  test('a dispute claws back like a full refund, once', async ({ client, assert }) => {
    const user = await buyer()
    const id = await startCredits(client, user, small.key)
    await pay(id, { card: DISPUTED_CARD })
    const [purchase] = await creditPurchases(user)
    assert.equal(purchase.status, 'refunded')
    await assertBalance(assert, user, 0)
    const entries = await ledger(user)
    assert.deepEqual(
      entries.map((entry) => entry.kind),
      ['purchase', 'refund_clawback']
    )
    assert.match(entries[1].idempotencyKey, /^dispute:(du|dp)_/)
    assert.match(entries[1].description ?? '', /^Dispute (du|dp)_/)
    // The dispute was opened before checkout.session.completed: its first delivery failed
    // (purchase not recorded yet) and Stripe's retry applied it.
    const [disputed] = stripeSandbox().eventLog('charge.dispute.created')
    const row = await stripeEvent(disputed.id)
    assert.equal(row?.status, 'processed')
    const attempts = stripeSandbox().deliveries({ eventId: disputed.id })
    assert.isAbove(attempts.flatMap((delivery) => delivery.attempts).length, 1)
    await stripeSandbox().duplicateEvent(disputed.id)
    await stripeSandbox().waitForIdle(20_000)
    assert.lengthOf(await ledger(user), 2)
    await assertBalance(assert, user, 0)
  })

  test('a dispute opened after a partial refund takes back only the rest', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const id = await startCredits(client, user, large.key)
    await pay(id)
    const intent = await paymentIntentOf(id)
    await refund(intent, 2500)
    await assertBalance(assert, user, 2500)
    const retrieved = await stripeClient().paymentIntents.retrieve(intent)
    const charge = retrieved.latest_charge
    createDispute(stripeSandbox().context, String(charge), { reason: 'fraudulent', amount: 2500 })
    await stripeSandbox().waitForIdle(20_000)
    await assertBalance(assert, user, 0)
    assert.equal(await purchaseStatus(user), 'refunded')
    assert.lengthOf(await ledger(user), 3)
  })

  test('a deploy slot raises the deploy limit once; a refund lowers it again', async ({
    client,
    assert,
  }) => {
    const user = await buyer()
    const base = billingConfig.limits.free.deploys
    assert.equal(await PlanLimits.deployLimit(user), base)
    const id = await startSlot(client, user)
    await pay(id)
    const [completed] = eventsFor('checkout.session.completed', id)
    await stripeSandbox().duplicateEvent(completed.id)
    await stripeSandbox().waitForIdle(20_000)
    const page = await client
      .get(`/billing/checkout/success?session_id=${id}`)
      .loginAs(user)
      .withInertia()
    assert.equal(page.inertiaProps.fulfilment.status, 'already')

    const slots = await db.from('deploy_slot_purchases').where('user_id', user.id)
    assert.lengthOf(slots, 1)
    assert.equal(slots[0].status, 'active')
    assert.equal(Number(slots[0].amount_cents), billingConfig.deploySlot.priceCents)
    assert.equal(await PlanLimits.deployLimit(user), base + 1)

    // Use the slot: base + 1 projects deployed, the newest one last.
    const deployedAt = DateTime.utc().minus({ hours: 1 })
    const projects = await Project.createMany(
      Array.from({ length: base + 1 }, (_, n) => ({
        userId: user.id,
        name: `Slot app ${n}`,
        slug: `slot-app-${n}`,
        isDeployed: true,
        deployedAt: deployedAt.plus({ minutes: n }),
      }))
    )

    await refund(await paymentIntentOf(id))
    const [after] = await db.from('deploy_slot_purchases').where('user_id', user.id)
    assert.equal(after.status, 'refunded')
    assert.equal(await PlanLimits.deployLimit(user), base)
    // The slot's deployment stops (the newest), with the reason; nothing is deleted.
    const newest = await Project.findOrFail(projects[projects.length - 1].id)
    assert.isFalse(newest.isDeployed)
    assert.include(newest.stoppedReason ?? '', 'deploy slot was refunded')
    const stillDeployed = await Project.query().where('user_id', user.id).where('is_deployed', true)
    assert.lengthOf(stillDeployed, base)
    assert.lengthOf(await Project.query().where('user_id', user.id), base + 1)
    // No credits moved for a slot.
    assert.lengthOf(await ledger(user), 0)
  })
})
