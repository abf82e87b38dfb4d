import { test } from '@japa/runner'
import {
  divRoundHalfEven,
  formatMicros,
  priceRequest,
  spendToMicros,
  tokenCostMicros,
  withMarkup,
} from '#services/usage/usage_pricing'

const settings = {
  markupBps: 1000,
  modelPrices: {
    'gpt-4o': { inputMicrosPerMillion: 2_500_000, outputMicrosPerMillion: 10_000_000 },
  },
}
const base = {
  modelGroup: 'gpt-4o',
  promptTokens: 1000,
  completionTokens: 200,
  totalTokens: 1200,
  spendMicros: 4500,
  cacheHit: false,
}

test.group('Usage pricing: LiteLLM spend to micro-dollars', () => {
  test('converts the float as LiteLLM wrote it, rounding half to even', ({ assert }) => {
    assert.equal(spendToMicros(0.0002454), 245)
    assert.equal(spendToMicros(0.0008617499999999999), 862)
    assert.equal(spendToMicros(1.23e-5), 12)
    assert.equal(spendToMicros('1.23e-05'), 12)
    assert.equal(spendToMicros(0.1), 100_000)
    assert.equal(spendToMicros(12.5), 12_500_000)
    assert.equal(spendToMicros(5e-7), 0, '0.5 micro: half to even → 0')
    assert.equal(spendToMicros(1.5e-6), 2)
    assert.equal(spendToMicros(2.5e-6), 2)
    assert.equal(spendToMicros(3.5e-6), 4)
    assert.equal(spendToMicros('0.0000025000001'), 3, 'just above half rounds up')
    assert.equal(spendToMicros(1e21 / 1e21), 1_000_000)
  })

  test('missing, zero, NaN and negative spends are 0; garbage throws', ({ assert }) => {
    for (const value of [null, undefined, 0, -0.5, Number.NaN, '', 'NaN', '-1']) {
      assert.equal(spendToMicros(value as never), 0, String(value))
    }
    assert.throws(() => spendToMicros('abc'), /not a decimal/)
    assert.throws(() => spendToMicros(1e16), /out of range/)
  })

  test('sums of converted spends are exact where float sums are not', ({ assert }) => {
    assert.notEqual(0.1 + 0.2, 0.3)
    assert.equal(spendToMicros(0.1) + spendToMicros(0.2), spendToMicros(0.3))
    const spends = [0.1, 0.2, 0.3, 1e-5, 0.000123456]
    assert.equal(
      spends.map(spendToMicros).reduce((a, b) => a + b, 0),
      100_000 + 200_000 + 300_000 + 10 + 123
    )
  })
})

test.group('Usage pricing: our cost per request', () => {
  test('integer token math with one half-to-even rounding', ({ assert }) => {
    assert.equal(divRoundHalfEven(5n, 2n), 2n)
    assert.equal(divRoundHalfEven(7n, 2n), 4n)
    assert.equal(divRoundHalfEven(11n, 4n), 3n)
    // 1000 x 2.5 + 200 x 10 = 4500 micros
    assert.equal(tokenCostMicros(1000, 200, settings.modelPrices['gpt-4o']), 4500)
    // 1 token at $0.15/M = 0.15 micro → 0; 3 tokens = 0.45 → 0; 4 tokens = 0.6 → 1
    const mini = { inputMicrosPerMillion: 150_000, outputMicrosPerMillion: 600_000 }
    assert.equal(tokenCostMicros(3, 0, mini), 0)
    assert.equal(tokenCostMicros(4, 0, mini), 1)
    // Huge counts stay exact (BigInt inside).
    assert.equal(
      tokenCostMicros(2_000_000_000, 2_000_000_000, settings.modelPrices['gpt-4o']),
      25_000_000_000
    )
    assert.equal(withMarkup(4500, 1000), 4950)
    assert.equal(withMarkup(5, 1000), 6, '5.5 → 6 (half to even)')
    assert.equal(withMarkup(15, 1000), 16, '16.5 → 16 (half to even)')
  })

  test('rules in order: cache hit, api agent, model price + markup, spend + markup', ({
    assert,
  }) => {
    assert.deepEqual(priceRequest({ ...base, cacheHit: true }, settings), {
      costMicros: 0,
      source: 'cache_hit',
      unpriced: false,
    })
    const agent = {
      pricingType: 'api',
      inputPriceMicrosPerMillion: 1_000_000,
      outputPriceMicrosPerMillion: 3_000_000,
    }
    assert.deepEqual(priceRequest({ ...base, agent }, settings), {
      costMicros: 1600,
      source: 'agent_api',
      unpriced: false,
    })
    assert.deepEqual(
      priceRequest({ ...base, agent: { ...agent, pricingType: 'monthly' } }, settings),
      {
        costMicros: 4950,
        source: 'model_price',
        unpriced: false,
      }
    )
    assert.deepEqual(priceRequest(base, settings), {
      costMicros: 4950,
      source: 'model_price',
      unpriced: false,
    })
    assert.deepEqual(priceRequest({ ...base, modelGroup: 'mystery' }, settings), {
      costMicros: 4950,
      source: 'litellm_spend',
      unpriced: true,
    })
    assert.deepEqual(
      priceRequest({ ...base, modelGroup: 'constructor' }, settings).source,
      'litellm_spend'
    )
  })

  test('formats micro-dollars for people', ({ assert }) => {
    assert.equal(formatMicros(1_234_567), '$1.234567')
    assert.equal(formatMicros(5), '$0.000005')
    assert.equal(formatMicros(1_000_000_000), '$1,000.000000')
  })
})
