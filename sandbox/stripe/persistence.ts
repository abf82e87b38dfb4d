/**
 * Optional state file for the demo: loaded at start, saved (debounced) after
 * mutations with an atomic temp-file + rename.
 */
import { readFileSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { SandboxSettings } from './context.js'
import type { IdempotencyEntry } from './idempotency.js'
import type { StoreSnapshot } from './store.js'

export interface PersistedState {
  version: 1
  savedAt: string
  clockOffset: number
  store: StoreSnapshot
  idempotency: Array<[string, IdempotencyEntry]>
  /** Account settings changed at run time (absent in files from before they existed). */
  settings?: SandboxSettings
}

function isPersistedState(value: unknown): value is PersistedState {
  if (typeof value !== 'object' || value === null) return false
  const state = value as Partial<PersistedState>
  return state.version === 1 && typeof state.store === 'object' && Array.isArray(state.idempotency)
}

export class Persistence {
  #timer: NodeJS.Timeout | null = null
  #writing: Promise<void> = Promise.resolve()
  #dirty = false
  /** Error of the last failed background save, if any (the next save retries). */
  lastError: unknown = null

  constructor(
    readonly file: string,
    private readonly collect: () => PersistedState,
    private readonly debounceMs = 50
  ) {}

  /** Reads the file if it exists; throws on a corrupt file rather than silently starting empty. */
  load(): PersistedState | undefined {
    let text: string
    try {
      text = readFileSync(this.file, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    const parsed: unknown = JSON.parse(text)
    if (!isPersistedState(parsed))
      throw new Error(`${this.file} is not a Stripe sandbox state file`)
    return parsed
  }

  schedule() {
    this.#dirty = true
    if (this.#timer) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.flush().catch((error: unknown) => {
        this.lastError = error
      })
    }, this.debounceMs)
  }

  /** Writes now if anything changed; concurrent calls are serialised. */
  flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
    if (!this.#dirty) return this.#writing
    this.#dirty = false
    const state = this.collect()
    this.#writing = this.#writing.catch(() => undefined).then(() => this.#write(state))
    return this.#writing
  }

  async #write(state: PersistedState) {
    await mkdir(dirname(this.file), { recursive: true })
    const temp = `${this.file}.${process.pid}.${Date.now()}.tmp`
    await writeFile(temp, JSON.stringify(state), 'utf8')
    await rename(temp, this.file)
  }
}
