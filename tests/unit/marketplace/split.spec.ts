import { test } from '@japa/runner'
import { splitGross, splitReversal } from '#services/marketplace/split'

/** A small seeded PRNG (mulberry32): the sweep is the same on every run. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = seed
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

test.group('Marketplace split', () => {
  test('awkward amounts split on integers and sum exactly: {gross} cents')
    .with([
      { gross: 1, creator: 0, platform: 1 },
      { gross: 3, creator: 2, platform: 1 },
      { gross: 999, creator: 899, platform: 100 },
      { gross: 1000, creator: 900, platform: 100 },
      {
        gross: 9_007_199_254_740_991,
        creator: 8_106_479_329_266_891,
        platform: 900_719_925_474_100,
      },
    ])
    .run(({ assert }, row) => {
      const split = splitGross(row.gross, 9000)
      assert.deepEqual(split, {
        grossCents: row.gross,
        creatorCents: row.creator,
        platformCents: row.platform,
      })
      assert.equal(split.creatorCents + split.platformCents, split.grossCents)
    })

  test('a platform agent (share 0) gives the platform everything; share 10000 the creator', ({
    assert,
  }) => {
    assert.deepEqual(splitGross(999, 0), { grossCents: 999, creatorCents: 0, platformCents: 999 })
    assert.deepEqual(splitGross(999, 10_000), {
      grossCents: 999,
      creatorCents: 999,
      platformCents: 0,
    })
  })

  test('property sweep: 20,000 random grosses and shares sum exactly, creator = floor', ({
    assert,
  }) => {
    const next = random(42)
    for (let i = 0; i < 20_000; i++) {
      const gross = 1 + Math.floor(next() * (i % 2 ? 100_000_000 : 2_000))
      const bps = Math.floor(next() * 10_001)
      const split = splitGross(gross, bps)
      if (
        split.creatorCents + split.platformCents !== gross ||
        split.creatorCents !== Math.floor((gross * bps) / 10_000) ||
        split.creatorCents < 0 ||
        split.platformCents < 0
      ) {
        assert.fail(`gross ${gross} bps ${bps} gave ${JSON.stringify(split)}`)
      }
    }
  })

  test('bad input is refused', ({ assert }) => {
    assert.throws(() => splitGross(0, 9000), /must be > 0/)
    assert.throws(() => splitGross(-5, 9000), /must be > 0/)
    assert.throws(() => splitGross(1.5, 9000), /whole number/)
    assert.throws(() => splitGross(100, 10_001), /0\.\.10000/)
    assert.throws(() => splitGross(100, 12.5), /0\.\.10000/)
  })

  test('a full refund takes back exactly the creator share; a duplicate step nothing more', ({
    assert,
  }) => {
    const sale = splitGross(999, 9000)
    const full = splitReversal(sale, { grossCents: 0, creatorCents: 0 }, 999)
    assert.deepEqual(full, { grossCents: -999, creatorCents: -899, platformCents: -100 })
    assert.isNull(splitReversal(sale, { grossCents: 999, creatorCents: 899 }, 1))
  })

  test('property sweep: partial refunds in random steps never take back more than earned', ({
    assert,
  }) => {
    const next = random(7)
    for (let round = 0; round < 3_000; round++) {
      const gross = 1 + Math.floor(next() * 5_000)
      const sale = splitGross(gross, Math.floor(next() * 10_001))
      const taken = { grossCents: 0, creatorCents: 0 }
      while (taken.grossCents < gross) {
        const step = 1 + Math.floor(next() * Math.max(1, gross / 3))
        const reversal = splitReversal(sale, taken, step)
        if (!reversal) break
        if (reversal.creatorCents + reversal.platformCents !== reversal.grossCents) {
          assert.fail(`reversal does not sum: ${JSON.stringify(reversal)}`)
        }
        if (reversal.creatorCents > 0 || reversal.platformCents > 0) {
          assert.fail(`reversal has a positive share: ${JSON.stringify(reversal)}`)
        }
        taken.grossCents -= reversal.grossCents
        taken.creatorCents -= reversal.creatorCents
        if (taken.creatorCents > sale.creatorCents) {
          assert.fail(`took back ${taken.creatorCents} of ${sale.creatorCents} (gross ${gross})`)
        }
      }
      // Fully refunded: exactly what was earned came back, on both sides.
      assert.equal(taken.grossCents, gross)
      assert.equal(taken.creatorCents, sale.creatorCents)
    }
  })
})
