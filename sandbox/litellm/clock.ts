/**
 * The sandbox clock in epoch milliseconds: wall time plus an offset tests can move
 * forward. It decides which rows are visible yet (a row shows up only after its
 * request completed plus the write delay) and stamps rows added "now".
 */
export class SandboxClock {
  #offsetMs = 0

  now(): number {
    return Date.now() + this.#offsetMs
  }

  get offsetMs(): number {
    return this.#offsetMs
  }

  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('The sandbox clock only moves forward')
    this.#offsetMs += Math.floor(ms)
    return this.now()
  }
}
