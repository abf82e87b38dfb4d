import { hostname } from 'node:os'
import { inject } from '@adonisjs/core'
import { processLock } from '#services/job_runner'
import db from '@adonisjs/lucid/services/db'
import { DateTime } from 'luxon'
import usageConfig from '#config/usage'
import JobRun, { type JobRunStatus } from '#models/job_run'
import UsageSyncState from '#models/usage_sync_state'
import LiteLLMClient, { type SpendWindow } from '#services/usage/litellm_client'
import UsageStore, {
  addCounts,
  emptyCounts,
  recordFromSpendLog,
  UsageBatch,
  type IngestCounts,
} from '#services/usage/usage_store'

export const SYNC_SOURCE = 'litellm'
export const SYNC_JOB = 'usage:sync'

export type UsageSyncOptions = {
  /** Read from here instead of watermark − look-back (an operator's backfill or re-scan). */
  since?: Date
  /** Read up to here instead of now − settle delay. */
  until?: Date
  /** The clock (defaults to the current time). */
  now?: Date
  /** When another run holds the lock: wait up to this many ms for it instead of skipping. */
  waitMs?: number
  /**
   * Read the window and count what would be stored (new rows, rows already
   * stored, unreadable ones) without writing anything: no lock, no job run,
   * no watermark move.
   */
  dryRun?: boolean
  /** Called after every batch is stored and every sub-window completed (for a progress bar). */
  onProgress?: (progress: UsageSyncProgress) => void | Promise<void>
}

export type UsageSyncProgress = {
  window: SpendWindow
  /** Where the current sub-window ends, and how far the whole window is covered (0..1). */
  chunkUntil: Date
  fraction: number
  counts: IngestCounts
}

export type UsageSyncReport = {
  status: 'succeeded' | 'failed' | 'skipped'
  window: { since: string; until: string } | null
  watermarkBefore: string | null
  watermarkAfter: string | null
  counts: IngestCounts
  /** HTTP calls to LiteLLM (retries included). */
  requests: number
  durationMs: number
  /** Needs an operator: new unattributed rows or new spend mismatches. */
  needsAttention: boolean
  error: string | null
}

const SECOND = 1000
/**
 * Most distinct requests per database write (one COPY and one INSERT … SELECT).
 * A sub-window's rows are written when it has been read if the writer is idle;
 * while it is busy they gather up to this many (fewer, larger statements).
 */
const BATCH_ROWS = 16_000
/**
 * Batches read and priced ahead of the one being written: LiteLLM is read
 * while the database writes, and memory stays bounded (a batch is COPY text,
 * about 250 bytes a request; pages are dropped once added).
 */
const BATCHES_AHEAD = 1

/** A sub-window read to its end: the watermark may move to `reached` once its rows are stored. */
type ChunkDone = { reached: number; chunkUntil: Date; fraction: number }
/** One write: a batch, and the sub-windows it completes. */
type WriteItem = { batch: UsageBatch; chunkUntil: Date; fraction: number; done: ChunkDone[] }

/** Bookkeeping after a failed run is retried this often, this far apart (a restarting database). */
const BOOKKEEPING_ATTEMPTS = 8
const BOOKKEEPING_DELAY_MS = 500

/** The database went away (restart, failover, network): not a data problem. */
function isDatabaseGone(error: unknown) {
  const code = (error as { code?: string } | null)?.code
  if (code && /^(57P0[123]|08\d\d\d|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE)$/.test(code))
    return true
  const text = error instanceof Error ? error.message : String(error)
  return /ECONNREFUSED|ECONNRESET|Connection terminated|terminating connection|the database system is (starting up|shutting down)|Client has encountered a connection error/i.test(
    text
  )
}

/** One line an operator can act on: what failed, and that a rerun is safe. */
function describeFailure(error: unknown) {
  const text = (error instanceof Error ? error.message : String(error)).split('\n')[0]
  if (!isDatabaseGone(error)) return text
  return `the database connection was lost during the sync (${text}); rows stored before it are kept and the watermark covers only them: rerun usage:sync`
}

function floorToSecond(date: Date) {
  return new Date(Math.floor(date.getTime() / SECOND) * SECOND)
}

/**
 * `usage:sync`: pulls LiteLLM's spend logs into usage_logs.
 *
 * The window runs from the watermark minus the look-back (LiteLLM files a
 * request under its start but writes it when it ends, so late rows land in
 * windows already read) to now minus the settle delay (its batch writer lags).
 * It is read in sub-windows, each paged until empty; pages are priced into
 * batches that are stored while the next pages are read (a bounded pipeline:
 * never the whole window in memory). The watermark moves to the
 * end of a sub-window only once all of it is stored, so a failure part-way
 * leaves it where a rerun re-reads what may be missing; requests are keyed on
 * request_id, so re-reading stores nothing twice.
 *
 * One run at a time across hosts: a named lock (@adonisjs/lock, database
 * store); a second run skips (or waits with `waitMs`).
 */
@inject()
export default class UsageSyncService {
  constructor(protected client: LiteLLMClient) {}

  /** The sync state row of the LiteLLM source (created on first use). */
  async state(): Promise<UsageSyncState> {
    await db
      .knexQuery()
      .table('usage_sync_states')
      .insert({ source: SYNC_SOURCE, created_at: new Date(), updated_at: new Date() })
      .onConflict('source')
      .ignore()
    return UsageSyncState.findByOrFail('source', SYNC_SOURCE)
  }

  /** Runs one sync under the named lock; never throws for LiteLLM or data problems (see status). */
  async sync(options: UsageSyncOptions = {}): Promise<UsageSyncReport> {
    const started = Date.now()
    if (options.dryRun) return this.preview(options, started)
    const lock = await processLock(usageConfig.sync.lockName, usageConfig.sync.lockTtl)
    let acquired = false
    try {
      acquired =
        options.waitMs && options.waitMs > 0
          ? await lock.acquire({ retry: { delay: 250, timeout: options.waitMs } })
          : await lock.acquireImmediately()
    } catch {
      acquired = false
    }
    if (!acquired) {
      const state = await this.state()
      const report = this.report('skipped', null, state, state, emptyCounts(), started)
      report.error = 'another usage:sync holds the lock'
      await this.recordJob(report, started)
      return report
    }
    try {
      return await this.run(options, started, () => lock.extend())
    } finally {
      await lock.release().catch(() => {})
    }
  }

  /** The window a run reads: [watermark − look-back, now − settle delay], or the one given. */
  protected window(options: UsageSyncOptions, watermark: Date | null) {
    const settings = usageConfig.sync
    const now = options.now ?? new Date()
    const settled = floorToSecond(new Date(now.getTime() - settings.settleSeconds * SECOND))
    const since = floorToSecond(
      options.since ??
        (watermark
          ? new Date(watermark.getTime() - settings.lookbackSeconds * SECOND)
          : new Date(now.getTime() - settings.initialDays * 86_400 * SECOND))
    )
    const until = floorToSecond(options.until ?? settled)
    return { since, until, settled }
  }

  /**
   * A dry run: reads the window like a sync and counts the rows it would
   * insert (request ids not stored yet) and those already stored. Writes
   * nothing, takes no lock (reading twice is harmless).
   */
  protected async preview(options: UsageSyncOptions, started: number): Promise<UsageSyncReport> {
    const state = await UsageSyncState.findBy('source', SYNC_SOURCE)
    const watermark = state?.watermarkAt?.toJSDate() ?? null
    const { since, until } = this.window(options, watermark)
    const window = { since, until }
    const counts = emptyCounts()
    const requestsBefore = this.client.requests
    let error: string | null = null
    try {
      const chunkMs = usageConfig.sync.chunkMinutes * 60 * SECOND
      const span = Math.max(1, until.getTime() - since.getTime())
      for (let from = since.getTime(); from <= until.getTime(); from += chunkMs) {
        const to = Math.min(from + chunkMs, until.getTime())
        const chunk = { since: new Date(from), until: new Date(to) }
        // Sub-windows share their edge second: the same request may be read twice.
        const ids = new Set<string>()
        for await (const rows of this.client.spendLogs(chunk)) {
          for (const row of rows) {
            const record = recordFromSpendLog(row)
            if (record) ids.add(record.requestId)
            else counts.invalid += 1
          }
        }
        const fresh = [...ids]
        let stored = 0
        if (fresh.length > 0) {
          const result = await db.rawQuery<{ rows: { n: string }[] }>(
            'SELECT count(*) AS n FROM usage_logs WHERE request_id = ANY(?)',
            [fresh]
          )
          stored = Number(result.rows[0].n)
        }
        counts.seen += fresh.length
        counts.duplicates += stored
        counts.inserted += fresh.length - stored
        await options.onProgress?.({
          window,
          chunkUntil: chunk.until,
          fraction: (to - since.getTime()) / span,
          counts,
        })
        if (to >= until.getTime()) break
      }
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught)
    }
    const watermarkAt = state?.watermarkAt?.toUTC().toISO() ?? null
    return {
      status: error === null ? 'succeeded' : 'failed',
      window: { since: since.toISOString(), until: until.toISOString() },
      watermarkBefore: watermarkAt,
      watermarkAfter: watermarkAt,
      counts,
      requests: this.client.requests - requestsBefore,
      durationMs: Date.now() - started,
      needsAttention: false,
      error,
    }
  }

  protected async run(
    options: UsageSyncOptions,
    started: number,
    extendLock: () => Promise<void>
  ): Promise<UsageSyncReport> {
    const settings = usageConfig.sync
    const before = await this.state()
    const watermark = before.watermarkAt?.toJSDate() ?? null
    const { since, until, settled } = this.window(options, watermark)
    const window = { since, until }
    // An explicit window moves the watermark only when it joins on to it (no gap left behind),
    // and never past the settle line.
    const advances = options.since === undefined || watermark === null || since <= watermark
    const limit = Math.min(until.getTime(), settled.getTime())

    const counts = emptyCounts()
    const store = new UsageStore()
    const job = await JobRun.create({
      job: SYNC_JOB,
      status: 'running',
      host: hostname(),
      pid: process.pid,
      startedAt: DateTime.utc(),
    })
    await UsageSyncState.query().where('id', before.id).update({
      last_started_at: new Date(),
      last_status: 'running',
      last_error: null,
      updated_at: new Date(),
    })
    const requestsBefore = this.client.requests
    let watermarkAt = watermark
    let lastExtend = Date.now()
    let error: string | null = null

    // The writer: batches in order, one at a time (one pooled connection), each
    // followed by the watermark moves it completes. A failed write stops the chain.
    let tail: Promise<void> = Promise.resolve()
    const writes: Promise<void>[] = []
    const write = async (item: WriteItem) => {
      if (item.batch.counts.seen > 0) {
        addCounts(counts, await store.write(item.batch))
        await options.onProgress?.({
          window,
          chunkUntil: item.chunkUntil,
          fraction: item.fraction,
          counts,
        })
      }
      const reached = item.done.length > 0 ? item.done[item.done.length - 1].reached : null
      if (
        advances &&
        reached !== null &&
        (watermarkAt === null || reached > watermarkAt.getTime())
      ) {
        watermarkAt = new Date(reached)
        await UsageSyncState.query()
          .where('id', before.id)
          .update({ watermark_at: watermarkAt, updated_at: new Date() })
      }
      for (const done of item.done) {
        await options.onProgress?.({
          window,
          chunkUntil: done.chunkUntil,
          fraction: done.fraction,
          counts,
        })
      }
    }
    let pending = 0
    const enqueue = (item: WriteItem) => {
      pending += 1
      tail = tail.then(() => write(item)).finally(() => void (pending -= 1))
      const task = tail
      task.catch(() => {})
      writes.push(task)
    }

    let item: WriteItem | null = null
    try {
      if (since.getTime() <= until.getTime()) {
        const chunkMs = settings.chunkMinutes * 60 * SECOND
        const span = Math.max(1, until.getTime() - since.getTime())
        for (let from = since.getTime(); ; from += chunkMs) {
          // Sub-windows share their edge second: LiteLLM's bounds are whole seconds, rows carry ms.
          const to = Math.min(from + chunkMs, until.getTime())
          const chunk = { since: new Date(from), until: new Date(to) }
          const fraction = (from - since.getTime()) / span
          for await (const rows of this.client.spendLogs(chunk)) {
            const records = rows.map(recordFromSpendLog)
            // The page's rows are done with: let them go before anything waits.
            rows.length = 0
            item ??= { batch: new UsageBatch('pull'), chunkUntil: chunk.until, fraction, done: [] }
            item.chunkUntil = chunk.until
            item.fraction = fraction
            await store.add(item.batch, records)
            records.length = 0
            if (item.batch.size >= BATCH_ROWS) {
              enqueue(item)
              item = null
            }
            // Read ahead of the writer by a bounded number of batches.
            while (writes.length > BATCHES_AHEAD) await writes.shift()
            if (Date.now() - lastExtend > 30_000) {
              await extendLock()
              lastExtend = Date.now()
            }
          }
          item ??= { batch: new UsageBatch('pull'), chunkUntil: chunk.until, fraction, done: [] }
          item.done.push({
            reached: Math.min(to, limit),
            chunkUntil: chunk.until,
            fraction: (to - since.getTime()) / span,
          })
          const last = to >= until.getTime()
          if (last || pending === 0 || item.batch.size >= BATCH_ROWS / 2) {
            enqueue(item)
            item = null
          }
          while (writes.length > BATCHES_AHEAD) await writes.shift()
          if (last) break
        }
      }
    } catch (caught) {
      error = describeFailure(caught)
      // What was read is still stored (the watermark only moves past whole sub-windows).
      if (item && item.batch.counts.seen > 0) enqueue(item)
    }
    try {
      await tail
    } catch (caught) {
      error ??= describeFailure(caught)
    }

    const status = error === null ? 'succeeded' : 'failed'
    // After a lost connection the database may still be coming back: the run's outcome is
    // recorded once it answers again (or the run fails with one clear line).
    return this.bookkeeping(error !== null, async () => {
      await UsageSyncState.query().where('id', before.id).update({
        last_finished_at: new Date(),
        last_status: status,
        last_error: error,
        rows_seen: counts.seen,
        rows_inserted: counts.inserted,
        updated_at: new Date(),
      })
      const after = await UsageSyncState.findOrFail(before.id)
      const report = this.report(status, window, before, after, counts, started)
      report.requests = this.client.requests - requestsBefore
      report.error = error
      await this.recordJob(report, started, job)
      return report
    })
  }

  /**
   * Runs the end-of-run writes; when the run failed they are retried while the
   * database is unreachable (it may be restarting). If it stays away, throws
   * one line saying so (the job run is then closed by the next run).
   */
  protected async bookkeeping<T>(retry: boolean, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (caught) {
        if (!isDatabaseGone(caught)) throw caught
        if (!retry || attempt >= BOOKKEEPING_ATTEMPTS) {
          throw new Error(describeFailure(caught), { cause: caught })
        }
        await new Promise((resolve) => setTimeout(resolve, BOOKKEEPING_DELAY_MS))
      }
    }
  }

  protected report(
    status: UsageSyncReport['status'],
    window: SpendWindow | null,
    before: UsageSyncState,
    after: UsageSyncState,
    counts: IngestCounts,
    started: number
  ): UsageSyncReport {
    return {
      status,
      window: window && { since: window.since.toISOString(), until: window.until.toISOString() },
      watermarkBefore: before.watermarkAt?.toUTC().toISO() ?? null,
      watermarkAfter: after.watermarkAt?.toUTC().toISO() ?? null,
      counts,
      requests: 0,
      durationMs: Date.now() - started,
      needsAttention: counts.unattributed > 0 || counts.mismatches > 0,
      error: null,
    }
  }

  protected async recordJob(report: UsageSyncReport, started: number, job?: JobRun) {
    const status: JobRunStatus =
      report.status === 'succeeded' && report.needsAttention ? 'partial' : report.status
    const values = {
      status,
      finishedAt: DateTime.utc(),
      durationMs: Date.now() - started,
      summary: {
        window: report.window,
        watermarkBefore: report.watermarkBefore,
        watermarkAfter: report.watermarkAfter,
        ...report.counts,
      },
      error: report.error,
    }
    if (job) {
      job.merge(values)
      await job.save()
      return
    }
    await JobRun.create({
      job: SYNC_JOB,
      host: hostname(),
      pid: process.pid,
      startedAt: DateTime.fromMillis(started, { zone: 'utc' }),
      ...values,
    })
  }
}
