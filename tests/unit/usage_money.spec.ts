import { test } from '@japa/runner'
import { allocateCents, microsToCents, parsePeriod } from '#support/usage_money'

test.group('Usage money: micro-dollars to cents, once', () => {
  test('rounds half up, exactly, for any safe amount', ({ assert }) => {
    assert.equal(microsToCents(0), 0)
    assert.equal(microsToCents(4_999), 0)
    assert.equal(microsToCents(5_000), 1)
    assert.equal(microsToCents(14_999), 1)
    assert.equal(microsToCents(15_000), 2)
    assert.equal(microsToCents(9_007_199_254_735_000), 900_719_925_474)
    assert.throws(() => microsToCents(-1))
    assert.throws(() => microsToCents(1.5))
  })

  test('splits a rounded total over lines exactly, largest remainders first', ({ assert }) => {
    assert.deepEqual(allocateCents([1_234_567, 2_345_678, 3_456_789], 704), [123, 235, 346])
    assert.deepEqual(allocateCents([5_000, 5_000], 1), [1, 0])
    assert.deepEqual(allocateCents([5_000, 5_000], 2), [1, 1])
    assert.deepEqual(allocateCents([0, 0], 0), [0, 0])
    for (let seed = 1; seed < 200; seed++) {
      const lines = [seed * 7919, seed * 104_729, (seed * 15_485_863) % 999_999]
      const total = microsToCents(lines.reduce((sum, value) => sum + value, 0))
      const split = allocateCents(lines, total)
      assert.equal(
        split.reduce((sum, value) => sum + value, 0),
        total
      )
      split.forEach((cents, index) =>
        assert.isAtMost(Math.abs(cents * 10_000 - lines[index]), 10_000)
      )
    }
    assert.throws(() => allocateCents([10_000], 5))
  })

  test('periods are calendar months in UTC', ({ assert }) => {
    const period = parsePeriod('2026-12')!
    assert.equal(period.start.toISO(), '2026-12-01T00:00:00.000Z')
    assert.equal(period.end.toISO(), '2027-01-01T00:00:00.000Z')
    assert.isNull(parsePeriod('2026-13'))
    assert.isNull(parsePeriod('26-11'))
  })
})
