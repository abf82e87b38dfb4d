import { BaseReporter } from '@japa/runner/core'
import type { NamedReporterContract } from '@japa/runner/types'

/**
 * Prints one plain closing line, `N passed, N failed`, after everything
 * else (on process exit), so CI can see how many tests ran.
 */
class PlainSummaryReporter extends BaseReporter {
  protected async start() {}

  protected async end() {
    const summary = this.runner!.getSummary()
    const { passed, failed, skipped, todo } = summary.aggregates
    const extra = skipped + todo > 0 ? `, ${skipped + todo} skipped` : ''
    // An error outside any test (a failing setup hook) still counts as a failure.
    const failures = failed > 0 || !summary.hasError ? failed : 1
    const line = `${passed} passed, ${failures} failed${extra}`
    process.once('exit', () => process.stdout.write(`\n${line}\n`))
    // The run is over: if a handle (the parent's IPC channel, a pending teardown)
    // still holds the process 30 s later, leave with the result instead of hanging CI.
    setTimeout(() => {
      process.stderr.write('The test process was still held open 30 s after the run; exiting.\n')
      process.exit(failures > 0 ? 1 : (process.exitCode ?? 0))
    }, 30_000).unref()
  }
}

export function plainSummary(): NamedReporterContract {
  return { name: 'plain-summary', handler: (...args) => new PlainSummaryReporter().boot(...args) }
}
