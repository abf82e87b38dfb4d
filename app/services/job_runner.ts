import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import locks from '@adonisjs/lock/services/main'
import string from '@adonisjs/core/helpers/string'
import logger from '@adonisjs/core/services/logger'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import JobRun from '#models/job_run'

/** How a run that returned ended (a throw is always `failed`). */
export type JobOutcome = 'succeeded' | 'partial' | 'failed'

/** What a job's result says about its run, for job_runs. */
export type JobReport = {
  outcome?: JobOutcome
  /** A few counts or ids (kept short: it is shown on one line by `jobs:status`). */
  summary?: Record<string, unknown>
  error?: string | null
}

export type JobRunOptions<T> = {
  /** Time to live of the lock in ms; kept alive while the job runs, so a crashed host's expires. */
  lockTtl?: number
  /** When another host holds the lock: wait up to this long for it instead of skipping. */
  waitMs?: number
  /** Turns the job's result into its outcome and summary (default: succeeded, no summary). */
  report?: (result: T) => JobReport
}

export type JobRunnerResult<T> =
  { status: 'ran'; result: T; run: JobRun } | { status: 'skipped'; result: null; run: JobRun }

/** The latest run of a job, for `jobs:status`. */
export type JobStatus = {
  job: string
  last: JobRun | null
  /** The latest run that found the job already running elsewhere, if after `last`. */
  lastSkippedAt: DateTime | null
}

const DEFAULT_LOCK_TTL_MS = 10 * 60_000
const OWNER_SEPARATOR = '/'

/** Whether a process of this host is gone (a pid we may not signal is alive). */
function isGone(pid: number) {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  if (pid === process.pid) return false
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/**
 * Frees the named lock `key` when its holder is a process of this host that
 * no longer runs (killed with SIGKILL, out of memory, host rebooted): its lock
 * would otherwise turn every rerun away until its TTL ran out (minutes).
 * Another host's lock is left to its TTL: we cannot see its processes.
 * Compare-and-delete on the owner, so a lock taken meanwhile is never freed.
 */
export async function reclaimLockOfDeadProcess(key: string): Promise<boolean> {
  const row = await db.from('locks').where('key', key).select('owner').first()
  if (!row) return false
  const parts = String(row.owner).split(OWNER_SEPARATOR)
  if (parts.length < 3) return false
  const pid = Number(parts[parts.length - 2])
  const host = parts.slice(0, -2).join(OWNER_SEPARATOR)
  if (host !== hostname() || !isGone(pid)) return false
  const deleted = await db.from('locks').where('key', key).where('owner', row.owner).delete()
  if (Number(deleted) > 0) {
    logger.warn({ lock: key, owner: row.owner }, 'freed a lock its dead process left behind')
    return true
  }
  return false
}

/**
 * A named lock (database store) owned by this process, `host/pid/random`, so a
 * later run on the same host can tell it was left by a dead process
 * (`reclaimLockOfDeadProcess`, done here first). Not acquired yet.
 */
export async function processLock(key: string, ttl: string | number) {
  await reclaimLockOfDeadProcess(key)
  const owner = [hostname(), process.pid, randomUUID()].join(OWNER_SEPARATOR)
  const ttlMs = typeof ttl === 'number' ? ttl : string.milliseconds.parse(ttl)
  return locks.restoreLock({ key, owner, ttl: ttlMs, expirationTime: null })
}
const MAX_ERROR_LENGTH = 2000

function message(error: unknown) {
  return (error instanceof Error ? error.message : String(error)).slice(0, MAX_ERROR_LENGTH)
}

/**
 * Runs operator jobs safely under cron on many hosts: one run of a job at a
 * time across hosts (the named lock `job:<name>`, database store), each run
 * recorded in job_runs (host, pid, start, end, duration, outcome, summary,
 * error). A run that finds the lock held records a `skipped` row and does
 * nothing. Jobs themselves must be idempotent: a run cut short by a crash
 * is finished by the next one.
 */
export default class JobRunner {
  static lockName(job: string) {
    return `job:${job}`
  }

  /** Runs `fn` under the job's lock, or skips when another host holds it; rethrows what fn throws. */
  async run<T>(
    name: string,
    fn: () => Promise<T>,
    options: JobRunOptions<T> = {}
  ): Promise<JobRunnerResult<T>> {
    const ttl = options.lockTtl ?? DEFAULT_LOCK_TTL_MS
    const lock = await processLock(JobRunner.lockName(name), ttl)
    const acquired =
      options.waitMs && options.waitMs > 0
        ? await lock.acquire({ retry: { delay: 250, timeout: options.waitMs } })
        : await lock.acquireImmediately()
    if (!acquired) {
      const run = await JobRun.create({
        ...this.origin(name),
        status: 'skipped',
        finishedAt: DateTime.utc(),
        durationMs: 0,
        summary: { reason: 'already running elsewhere' },
      })
      return { status: 'skipped', result: null, run }
    }

    const keepAlive = setInterval(
      () => {
        lock.extend(ttl).catch((error: unknown) => {
          logger.error({ err: error, job: name }, 'could not extend a job lock')
        })
      },
      Math.max(1000, Math.floor(ttl / 3))
    )
    try {
      await this.closeAbandoned(name)
      const { run, result } = await this.recorded(name, fn, options.report)
      return { status: 'ran', result, run }
    } finally {
      clearInterval(keepAlive)
      await lock.release().catch(() => {})
    }
  }

  /**
   * Records a run of `fn` in job_runs without taking the job's lock, for jobs
   * that coordinate through finer locks of their own (payouts:run locks each creator).
   */
  async record<T>(name: string, fn: () => Promise<T>, report?: (result: T) => JobReport) {
    const { result } = await this.recorded(name, fn, report)
    return result
  }

  /** The latest run of each job (a skipped run counts only when the job never ran otherwise). */
  async latest(jobs: string[] = []): Promise<JobStatus[]> {
    const last = await JobRun.query()
      .select('*')
      .distinctOn('job')
      .orderBy('job')
      .orderByRaw(`(status = 'skipped')`)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
    const skipped = await db
      .from('job_runs')
      .where('status', 'skipped')
      .groupBy('job')
      .select('job')
      .max('started_at as last_skipped_at')
    const skippedAt = new Map(
      skipped.map((row: { job: string; last_skipped_at: Date }) => [
        row.job,
        DateTime.fromJSDate(row.last_skipped_at, { zone: 'utc' }),
      ])
    )
    const names = [...new Set([...jobs, ...last.map((run) => run.job)])].sort()
    return names.map((job) => {
      const run = last.find((candidate) => candidate.job === job) ?? null
      const skippedLast = skippedAt.get(job) ?? null
      return {
        job,
        last: run,
        lastSkippedAt:
          skippedLast && run && run.status !== 'skipped' && skippedLast > run.startedAt
            ? skippedLast
            : null,
      }
    })
  }

  protected async recorded<T>(
    name: string,
    fn: () => Promise<T>,
    report?: (result: T) => JobReport
  ): Promise<{ run: JobRun; result: T }> {
    const started = Date.now()
    const run = await JobRun.create({ ...this.origin(name), status: 'running' })
    let result: T
    try {
      result = await fn()
    } catch (error) {
      await this.finish(run, started, { outcome: 'failed', error: message(error) })
      throw error
    }
    await this.finish(run, started, report?.(result) ?? {})
    return { run, result }
  }

  protected async finish(run: JobRun, started: number, report: JobReport) {
    run.merge({
      status: report.outcome ?? 'succeeded',
      finishedAt: DateTime.utc(),
      durationMs: Date.now() - started,
      summary: report.summary ?? null,
      error: report.error ? report.error.slice(0, MAX_ERROR_LENGTH) : null,
    })
    await run.save()
  }

  /**
   * Runs still marked running while we hold the lock died with their host
   * (a live one would hold it): they are closed as failed, and this run redoes their work.
   */
  protected async closeAbandoned(name: string) {
    await JobRun.query().where('job', name).where('status', 'running').update({
      status: 'failed',
      finished_at: new Date(),
      error: 'abandoned: the run stopped (host crashed or was killed) before it finished',
    })
  }

  protected origin(name: string) {
    return { job: name, host: hostname(), pid: process.pid, startedAt: DateTime.utc() }
  }
}
