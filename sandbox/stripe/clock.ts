/**
 * The sandbox clock (like a Stripe test clock for everything): wall time plus an
 * offset that tests can only increase. It drives `created`, idempotency expiry and
 * event age. Webhook signatures use real time, as a receiver checks them against
 * its own clock.
 */
export type ClockListener = (now: number, previous: number) => void | Promise<void>

export class SandboxClock {
  #offsetSeconds = 0
  #listeners = new Set<ClockListener>()

  constructor(offsetSeconds = 0) {
    this.#offsetSeconds = Math.max(0, Math.floor(offsetSeconds))
  }

  /** Current sandbox time in unix seconds. */
  now(): number {
    return Math.floor(Date.now() / 1000) + this.#offsetSeconds
  }

  get offsetSeconds(): number {
    return this.#offsetSeconds
  }

  /** Moves the clock forward and lets listeners (renewals, expiries…) catch up. */
  async advance(seconds: number): Promise<number> {
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new RangeError('The sandbox clock can only move forward')
    }
    const previous = this.now()
    this.#offsetSeconds += Math.floor(seconds)
    const now = this.now()
    for (const listener of this.#listeners) await listener(now, previous)
    return now
  }

  /** Sets the offset directly (used when restoring persisted state). */
  restore(offsetSeconds: number) {
    this.#offsetSeconds = Math.max(0, Math.floor(offsetSeconds))
  }

  onAdvance(listener: ClockListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}
