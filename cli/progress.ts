import { SingleBar } from 'cli-progress'

/** A progress bar a long run reports to; a no-op when it is off. */
export type Progress = {
  /** `done` of `total` steps; `detail` replaces the default "done/total" after the bar. */
  update(done: number, total: number, detail?: string): void
  /** Clears the bar (call it in a `finally`). */
  stop(): void
}

const OFF: Progress = { update: () => {}, stop: () => {} }

/**
 * The one progress bar of the CLI, on stderr so stdout stays the command's
 * output (a table, or --json for scripts). Off unless `enabled` (pass
 * `!options.json`) and stderr is a terminal: cron logs get no bar.
 */
export function progress(
  label: string,
  enabled = true,
  stream: NodeJS.WriteStream = process.stderr
): Progress {
  if (!enabled || !stream.isTTY) return OFF
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% {detail}`,
    barCompleteChar: '#',
    barIncompleteChar: '.',
    barsize: 30,
    hideCursor: true,
    clearOnComplete: true,
    stream,
    fps: 10,
  })
  let started = false
  return {
    update(done, total, detail) {
      const payload = { detail: detail ?? `${done}/${total}` }
      if (!started) {
        started = true
        bar.start(Math.max(total, 1), done, payload)
        return
      }
      bar.setTotal(Math.max(total, 1))
      bar.update(done, payload)
    },
    stop() {
      if (started) bar.stop()
      started = false
    },
  }
}
