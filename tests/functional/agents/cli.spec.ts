import { test } from '@japa/runner'
import MarketplaceAgent from '#models/marketplace_agent'
import { runCli } from '#tests/support/cli'
import { stripeClient, stripeSandbox } from '#tests/support/stripe'
import { agent, creator, resetData } from '../marketplace/helpers.js'

test.group('CLI: agents:sync', (group) => {
  group.each.setup(() => resetData())
  group.each.timeout(90_000)

  test('finishes agents left behind by a Stripe outage, once; exit 3 while Stripe still fails', async ({
    assert,
  }) => {
    const jenny = await creator()
    stripeSandbox().failNext({ count: 3, status: 500, path: '/v1/products', method: 'POST' })
    const behind = await agent(jenny, { pricingType: 'monthly', priceCents: 800 })
    assert.isFalse(behind.isInStripeSync)

    // Still down: reported, exit 3, nothing half-made.
    stripeSandbox().failNext({ count: 10, status: 500, path: '/v1/products', method: 'POST' })
    const down = await runCli(['agents:sync', '--json'])
    assert.equal(down.code, 3, down.stderr)
    const report = JSON.parse(down.stdout)
    assert.deepEqual(report.synced, [])
    assert.deepEqual(
      report.failed.map((failure: { agentId: number }) => failure.agentId),
      [behind.id]
    )
    stripeSandbox().clearFaults()

    const up = await runCli(['agents:sync'])
    assert.equal(up.code, 0, up.stderr)
    assert.match(up.stdout, new RegExp(`${behind.id}.*synced`))
    const synced = await MarketplaceAgent.findOrFail(behind.id)
    assert.isTrue(synced.isSellable)
    const price = await stripeClient().prices.retrieve(synced.stripePriceId!)
    assert.equal(price.unit_amount, 800)

    const again = await runCli(['agents:sync'])
    assert.equal(again.code, 0)
    assert.include(again.stdout, 'Every agent is in step with Stripe.')
    const products = await stripeClient().products.list({ limit: 100 })
    assert.lengthOf(
      products.data.filter((product) => product.metadata?.agent_id === String(behind.id)),
      1
    )
  })
})
