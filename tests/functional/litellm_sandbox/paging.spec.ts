import { test } from '@japa/runner'
import { LiteLLMSandbox } from '../../../sandbox/litellm/sandbox.js'
import { DAY, MASTER_KEY, litellmDate, pageAll, spendLogs, useLiteLLM, dataOf } from './helpers.js'

const WINDOW = { start_date: '2026-11-01 00:00:00', end_date: '2026-11-01 23:59:59' }

test.group('LiteLLM sandbox: window and paging', (group) => {
  let sandbox: LiteLLMSandbox
  useLiteLLM(group, DAY, (started) => (sandbox = started))

  test('both bounds are inclusive on startTime, to the second', async ({ assert }) => {
    sandbox.addRows([
      {
        request_id: 'at-start',
        startTime: '2026-11-03T10:00:00.000Z',
        endTime: '2026-11-03T10:00:02.000Z',
      },
      {
        request_id: 'at-end',
        startTime: '2026-11-03T10:05:00.000Z',
        endTime: '2026-11-03T10:09:00.000Z',
      },
      { request_id: 'just-before', startTime: '2026-11-03T09:59:59.999Z' },
      // Ends inside the window but started after it: the filter is on startTime only.
      { request_id: 'just-after', startTime: '2026-11-03T10:05:00.001Z' },
      {
        request_id: 'started-before',
        startTime: '2026-11-03T09:58:00.000Z',
        endTime: '2026-11-03T10:02:00.000Z',
      },
    ])
    const { ids } = await pageAll(
      sandbox,
      { start_date: '2026-11-03 10:00:00', end_date: '2026-11-03 10:05:00', sort_order: 'asc' },
      10
    )
    assert.deepEqual(ids, ['at-start', 'at-end'])
  })

  test('paging until data is empty returns every row once, in order, both ways', async ({
    assert,
  }) => {
    const expected = sandbox.rowsBetween('2026-11-01T00:00:00Z', '2026-11-01T23:59:59Z')
    assert.lengthOf(expected, DAY.rows)
    const stable = await LiteLLMSandbox.start({ ...DAY, masterKey: MASTER_KEY, tieOrder: 'stable' })
    try {
      const asc = await pageAll(stable, { ...WINDOW, sort_by: 'startTime', sort_order: 'asc' }, 97)
      assert.lengthOf(asc.ids, DAY.rows)
      assert.equal(new Set(asc.ids).size, DAY.rows)
      assert.equal(asc.pages, Math.ceil(DAY.rows / 97))
      const times = asc.rows.map((row) => Date.parse(row.startTime))
      assert.deepEqual(
        times,
        [...times].sort((a, b) => a - b)
      )
      const desc = await pageAll(stable, WINDOW, 1000)
      assert.deepEqual(desc.ids, [...asc.ids].reverse())
      assert.sameMembers(
        asc.ids,
        expected.map((row) => row.request_id)
      )
    } finally {
      await stable.stop()
    }
  })

  test('sort_by spend orders by spend', async ({ assert }) => {
    const { rows } = await pageAll(
      sandbox,
      { ...WINDOW, sort_by: 'spend', sort_order: 'desc' },
      1000
    )
    const spends = rows.map((row) => row.spend as number)
    assert.deepEqual(
      spends,
      [...spends].sort((a, b) => b - a)
    )
    assert.isAbove(spends[0], 0)
    assert.equal(spends.at(-1), 0)
  })

  test('rows sharing a startTime come back in a different order per request, so a naive pager misses and repeats rows', async ({
    assert,
  }) => {
    const at = '2026-11-04T08:00:00.000Z'
    sandbox.addRows(
      Array.from({ length: 12 }, (_, n) => ({ request_id: `tie-${n}`, startTime: at }))
    )
    const params = {
      start_date: '2026-11-04 08:00:00',
      end_date: '2026-11-04 08:00:00',
      sort_order: 'asc',
    }
    let broken = 0
    for (let attempt = 0; attempt < 10; attempt++) {
      const { ids } = await pageAll(sandbox, params, 5)
      assert.lengthOf(ids, 12)
      if (new Set(ids).size < 12) broken += 1
    }
    // Each page draws its own order of the 12 ties: a full, duplicate-free pass is rare.
    assert.isAbove(broken, 5)

    const stable = await LiteLLMSandbox.start({
      rows: 0,
      masterKey: MASTER_KEY,
      tieOrder: 'stable',
    })
    try {
      stable.addRows(
        Array.from({ length: 12 }, (_, n) => ({ request_id: `tie-${n}`, startTime: at }))
      )
      for (let attempt = 0; attempt < 3; attempt++) {
        const { ids } = await pageAll(stable, params, 5)
        assert.equal(new Set(ids).size, 12)
      }
    } finally {
      await stable.stop()
    }
  })

  test('generated data has ties across page boundaries too', async ({ assert }) => {
    const { rows } = await pageAll(sandbox, { ...WINDOW, sort_order: 'asc' }, 1000)
    const times = rows.map((row) => row.startTime as string)
    const tied = times.filter((time, index) => index > 0 && times[index - 1] === time).length
    assert.isAbove(tied, 5)
  })
})

// A bare end_date is midnight: this covers all of 2026-11-01 (and a row at exactly 2026-11-02 00:00).
const FULL_DAY = { start_date: '2026-11-01', end_date: '2026-11-02' }

test.group('LiteLLM sandbox: the 10,000 count cap', (group) => {
  let sandbox: LiteLLMSandbox
  useLiteLLM(
    group,
    { seed: 3, rows: 25_000, since: '2026-11-01T00:00:00Z', until: '2026-11-02T00:00:00Z' },
    (started) => (sandbox = started)
  )

  test('total stops at 10,000 with total_is_capped, and pages past total_pages still return rows', async ({
    assert,
  }) => {
    const first = await spendLogs(sandbox, { ...FULL_DAY, page_size: 1000 })
    assert.equal(first.body.total, 10_000)
    assert.isTrue(first.body.total_is_capped)
    assert.equal(first.body.total_pages, 10)
    const beyond = await spendLogs(sandbox, { ...FULL_DAY, page_size: 1000, page: 11 })
    assert.lengthOf(beyond.body.data, 1000)
    assert.equal(beyond.body.total, 10_000)
    const last = await spendLogs(sandbox, { ...FULL_DAY, page_size: 1000, page: 25 })
    assert.lengthOf(last.body.data, 1000)
    assert.deepEqual(await dataOf(sandbox, { ...FULL_DAY, page_size: 1000, page: 26 }), [])

    const all = await pageAll(sandbox, { ...FULL_DAY, sort_order: 'asc' }, 1000)
    assert.lengthOf(all.ids, 25_000)
  })

  test('a window under the cap is counted exactly', async ({ assert }) => {
    const expected = sandbox.rowsBetween('2026-11-01T00:00:00Z', '2026-11-01T06:00:00Z').length
    assert.isBelow(expected, 10_000)
    const answer = await spendLogs(sandbox, {
      start_date: litellmDate('2026-11-01T00:00:00Z'),
      end_date: litellmDate('2026-11-01T06:00:00Z'),
    })
    assert.equal(answer.body.total, expected)
    assert.isFalse(answer.body.total_is_capped)
  })

  test('exactly 10,000 matches is not capped; 10,001 is', async ({ assert }) => {
    const exact = await LiteLLMSandbox.start({ rows: 0, masterKey: MASTER_KEY })
    try {
      const rows = Array.from({ length: 10_001 }, (_, n) => ({
        request_id: `r-${n}`,
        startTime: Date.parse('2026-11-05T00:00:00Z') + n,
      }))
      exact.addRows(rows.slice(0, 10_000))
      const params = { start_date: '2026-11-05', end_date: '2026-11-06', page_size: 1 }
      let answer = await spendLogs(exact, params)
      assert.equal(answer.body.total, 10_000)
      assert.isFalse(answer.body.total_is_capped)
      exact.addRows(rows.slice(10_000))
      answer = await spendLogs(exact, params)
      assert.equal(answer.body.total, 10_000)
      assert.isTrue(answer.body.total_is_capped)
    } finally {
      await exact.stop()
    }
  })
})
