/**
 * A budget of bytes in flight shared by several pulls (the daemon's tasks): a leaf counts from the moment a
 * lane asks a peer for it until it is written to its staged file (or the request failed), so what the pulls
 * hold in memory for leaves (requested, arriving, received and not yet written) stays under one bound however
 * many run at once. Grants are first come, first served across every lane of every pull that shares it, so a
 * pull cannot starve another; a leaf larger than the whole budget is granted alone once nothing else is in
 * flight (a budget never deadlocks).
 */
import { FerryError } from '@ferry/errors'

interface Waiter { bytes: number, resolve: (granted: boolean) => void }

export class InflightBudget {
  /** Bytes granted and not yet released. */
  inflight = 0
  /** The most bytes ever in flight at once (what the budget bounds; tests count it). */
  maxInflight = 0
  private readonly waiters: Waiter[] = []

  constructor (readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new FerryError('ERR_INVALID_ARGUMENT', `an in-flight budget must be a whole number of bytes above 0, not ${limit}`)
  }

  /** Lanes waiting for a grant. */
  get waiting (): number {
    return this.waiters.length
  }

  /**
   * Waits until `bytes` fit (after those who asked earlier) and counts them in flight: true, or false if
   * `signal` aborted first (then nothing is counted).
   */
  async acquire (bytes: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return false
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.grant(bytes)
      return true
    }
    return await new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        bytes,
        resolve: (granted) => {
          signal.removeEventListener('abort', onAbort)
          resolve(granted)
        }
      }
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter)
        if (i >= 0) this.waiters.splice(i, 1)
        waiter.resolve(false)
        this.pump() // the next ones may fit now that this one no longer waits in front
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  /** Gives back `bytes` acquired earlier and wakes who fits now. */
  release (bytes: number): void {
    this.inflight -= bytes
    if (this.inflight < 0) throw new FerryError('ERR_INTERNAL', `in-flight budget released more than it granted (${this.inflight} bytes)`)
    this.pump()
  }

  private fits (bytes: number): boolean {
    return this.inflight === 0 || this.inflight + bytes <= this.limit
  }

  private grant (bytes: number): void {
    this.inflight += bytes
    if (this.inflight > this.maxInflight) this.maxInflight = this.inflight
  }

  /** Grants the waiters in front, in order, while they fit. */
  private pump (): void {
    for (;;) {
      const next = this.waiters[0]
      if (next === undefined || !this.fits(next.bytes)) return
      this.waiters.shift()
      this.grant(next.bytes)
      next.resolve(true)
    }
  }
}
