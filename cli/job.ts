import type { JobReport } from '#services/job_runner'
import type { CommandContext } from './main.js'

/**
 * Runs a cron job under its named lock (`job:<name>`), recorded in job_runs.
 * When another host holds the lock it says so and returns null: exit 0, since
 * the job is being done.
 */
export async function runAsJob<T>(
  context: CommandContext,
  name: string,
  fn: () => Promise<T>,
  options: { json?: boolean; report?: (result: T) => JobReport } = {}
): Promise<T | null> {
  const { default: JobRunner } = await import('#services/job_runner')
  const runner = await context.app.container.make(JobRunner)
  const outcome = await runner.run(name, fn, { report: options.report })
  if (outcome.status === 'ran') return outcome.result
  const message = `${name} is already running elsewhere; nothing done.`
  if (options.json) context.output.json({ job: name, status: 'skipped', message })
  else context.output.line(message)
  return null
}

/** Records a run in job_runs without the job lock (for jobs with finer locks of their own). */
export async function recordAsJob<T>(
  context: CommandContext,
  name: string,
  fn: () => Promise<T>,
  report?: (result: T) => JobReport
): Promise<T> {
  const { default: JobRunner } = await import('#services/job_runner')
  const runner = await context.app.container.make(JobRunner)
  return runner.record(name, fn, report)
}
