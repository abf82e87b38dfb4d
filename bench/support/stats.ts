/*
| Percentiles and rates.
*/

/** Nearest-rank percentile of unsorted samples (0 for none). */
export function percentile(samples: number[], p: number) {
  if (samples.length === 0) return 0
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]
}

export interface LatencySummary {
  count: number
  p50: number
  p95: number
  p99: number
  max: number
  mean: number
}

export function summarize(samples: number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (p: number) =>
    sorted.length === 0
      ? 0
      : sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]
  return {
    count: sorted.length,
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: sorted[sorted.length - 1] ?? 0,
    mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : 0,
  }
}

export const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`
export const whole = (value: number) => Math.round(value).toLocaleString('en-US')

/** Terminal progress on stderr (only when it is a TTY). */
export function progress(label: string) {
  const tty = process.stderr.isTTY
  let last = 0
  return (done: number, total: number) => {
    if (!tty) return
    const now = Date.now()
    if (done < total && now - last < 200) return
    last = now
    process.stderr.write(`\r${label}: ${done}/${total}${done === total ? '\n' : ''}`)
  }
}

/** Runs `worker` over items with at most `concurrency` at a time. */
export async function pool<T>(
  items: T[],
  concurrency: number,
  worker: (item: T, index: number) => Promise<void>
) {
  let next = 0
  const run = async () => {
    while (next < items.length) {
      const index = next++
      await worker(items[index], index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, run))
}
