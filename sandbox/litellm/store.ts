/**
 * Rows that are not generated: added, late, duplicated, cache hits, loaded from a
 * file. Each becomes visible at its `visibleAt` (LiteLLM writes a row only after the
 * request completed, plus its batch-write delay). Visible rows are kept sorted by
 * startTime so a time window is a slice.
 */
import type { SpendRow } from './rows.js'

export interface ExtraRow {
  row: SpendRow
  visibleAt: number
  seq: number
}

function before(a: ExtraRow, b: ExtraRow): boolean {
  return a.row.startTime < b.row.startTime || (a.row.startTime === b.row.startTime && a.seq < b.seq)
}

export class ExtraRows {
  /** Visible rows by (startTime, insertion order). */
  visible: ExtraRow[] = []
  #pending: ExtraRow[] = []
  #ids = new Map<string, ExtraRow[]>()
  #callIds = new Map<string, ExtraRow[]>()
  #seq = 0
  /** Bumped on every change of the visible set (query caches key on it). */
  version = 0

  get size(): number {
    return this.visible.length + this.#pending.length
  }

  get pendingCount(): number {
    return this.#pending.length
  }

  /** Earliest visibleAt of a pending row (Infinity when none). */
  get nextVisibleAt(): number {
    let next = Number.POSITIVE_INFINITY
    for (const extra of this.#pending) next = Math.min(next, extra.visibleAt)
    return next
  }

  has(requestId: string): boolean {
    return this.#ids.has(requestId)
  }

  byRequestId(requestId: string): ExtraRow[] {
    return this.#ids.get(requestId) ?? []
  }

  byCallId(callId: string): ExtraRow[] {
    return this.#callIds.get(callId) ?? []
  }

  /** Adds rows (no duplicate check: callers decide first-write-wins). */
  add(rows: Array<{ row: SpendRow; visibleAt: number }>, now: number) {
    const due: ExtraRow[] = []
    for (const { row, visibleAt } of rows) {
      const extra = { row, visibleAt, seq: this.#seq++ }
      this.#index(this.#ids, row.request_id, extra)
      const callId = row.metadata?.litellm_call_id
      if (typeof callId === 'string') this.#index(this.#callIds, callId, extra)
      if (visibleAt <= now) due.push(extra)
      else this.#pending.push(extra)
    }
    this.#insert(due)
  }

  /** Moves rows whose visibleAt has come into the visible set. */
  promote(now: number) {
    if (this.#pending.length === 0) return
    const due = this.#pending.filter((extra) => extra.visibleAt <= now)
    if (due.length === 0) return
    this.#pending = this.#pending.filter((extra) => extra.visibleAt > now)
    this.#insert(due)
  }

  /** First visible position whose startTime is >= ms (or > ms when `strict`). */
  bound(ms: number, strict: boolean): number {
    let lo = 0
    let hi = this.visible.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const time = this.visible[mid].row.startTime
      if (time < ms || (strict && time === ms)) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  clear() {
    this.visible = []
    this.#pending = []
    this.#ids.clear()
    this.#callIds.clear()
    this.version += 1
  }

  #index(map: Map<string, ExtraRow[]>, key: string, extra: ExtraRow) {
    const list = map.get(key)
    if (list) list.push(extra)
    else map.set(key, [extra])
  }

  #insert(rows: ExtraRow[]) {
    if (rows.length === 0) return
    if (rows.length > 32) {
      this.visible = this.visible.concat(rows)
      this.visible.sort((a, b) => a.row.startTime - b.row.startTime || a.seq - b.seq)
    } else {
      for (const extra of rows) {
        let lo = 0
        let hi = this.visible.length
        while (lo < hi) {
          const mid = (lo + hi) >>> 1
          if (before(this.visible[mid], extra)) lo = mid + 1
          else hi = mid
        }
        this.visible.splice(lo, 0, extra)
      }
    }
    this.version += 1
  }
}
