import type { FileLeaf } from '@ferry/dag'
import { DEFAULT_QUEUE_WINDOW } from './constants.js'
import { hasBit, type StagedFile } from './staging.js'

/** One leaf still to be written. */
export interface WorkItem {
  file: StagedFile
  index: number
  leaf: FileLeaf
  /** Peers that answered they do not have it (or sent it wrong). */
  tried?: Set<string>
  /** What peers said when they answered that the source file of this leaf changed: "PEER: why". */
  changedAt?: string[]
  inflight: number
  /** Peer asked first, and when: a duplicate goes only to another peer, and only if this one is slow. */
  askedOf?: string
  askedAt?: number
  done: boolean
  failed: boolean
  /** In the queue's window (counted as held until done or failed). */
  held?: boolean
}

/**
 * The leaves still to fetch, in file order (so files complete, and become usable, one after another).
 * Peers pull work from it, so a faster peer takes more; a failed request goes back to the front; when the
 * queue runs dry, idle peers may duplicate a request still in flight elsewhere (end game), first answer wins.
 *
 * The leaves come from `source`, an iterable read lazily: the queue holds at most `window` leaves not yet
 * done (taken, in flight or waiting), however many the pull has, and drops done ones as it goes. A leaf the
 * source yields already written (its file's bit set) is skipped: `total` counts only those still to do.
 */
export class WorkQueue {
  private items: WorkItem[] = []
  private next = 0
  private readonly retry: WorkItem[] = []
  private waiters: Array<() => void> = []
  private readonly source: Iterator<WorkItem>
  private sourceDone = false
  private readonly failed: WorkItem[] = []
  /** Leaves in `items` not done nor failed. */
  private live = 0
  /** The most leaves held not done at once (what the window bounds; tests count it). */
  maxHeld = 0
  outstanding: number

  constructor (source: Iterable<WorkItem>, total?: number, private readonly window = DEFAULT_QUEUE_WINDOW) {
    this.source = source[Symbol.iterator]()
    this.outstanding = total ?? (Array.isArray(source) ? source.length : 0)
  }

  /** Reads the source until `window` leaves are held (or it ends); drops the done ones in front. */
  private refill (): void {
    if (this.next > 1024 && this.next * 2 > this.items.length) this.compact()
    while (!this.sourceDone && this.live < this.window) {
      const r = this.source.next()
      if (r.done === true) {
        this.sourceDone = true
        break
      }
      const item = r.value
      if (item.done || item.failed || hasBit(item.file.done, item.index)) continue
      item.held = true
      this.items.push(item)
      this.live++
    }
    if (this.live > this.maxHeld) this.maxHeld = this.live
  }

  /** Forgets the taken leaves in front that are done or failed (the end game scans from the first that is not). */
  private compact (): void {
    let cut = 0
    while (cut < this.next && ((this.items[cut]?.done ?? true) || (this.items[cut]?.failed ?? true))) cut++
    if (cut === 0) return
    this.items = this.items.slice(cut)
    this.next -= cut
    this.scanFrom = Math.max(0, this.scanFrom - cut)
  }

  /** The next leaf for `peer`: a retried one it has not been refused, else the next in order. */
  take (peer: string): WorkItem | undefined {
    for (let i = 0; i < this.retry.length; i++) {
      const item = this.retry[i]
      if (item == null) continue
      if (item.done || item.failed) {
        this.retry.splice(i--, 1)
        continue
      }
      if (item.tried?.has(peer) === true) continue
      this.retry.splice(i, 1)
      return item
    }
    if (this.next >= this.items.length) this.refill()
    while (this.next < this.items.length) {
      const item = this.items[this.next++]
      if (item == null || item.done || item.failed) continue
      // written meanwhile through another item (a local copy of a leaf this window already held): not asked
      if (hasBit(item.file.done, item.index)) {
        this.drop(item)
        continue
      }
      return item
    }
    return undefined
  }

  /**
   * End game: a leaf in flight at another peer for over `afterMs`, not yet duplicated, that this peer may
   * have. Rescues the tail of a pull from a peer that slowed down or stalled.
   */
  duplicate (peer: string, afterMs: number): WorkItem | undefined {
    if (this.next < this.items.length || this.retry.length > 0 || !this.sourceDone) return undefined
    const now = Date.now()
    for (let i = this.scanFrom; i < this.items.length; i++) {
      const item = this.items[i]
      if (item == null) continue
      if (item.done || item.failed) {
        if (i === this.scanFrom) this.scanFrom++
        continue
      }
      if (item.inflight === 1 && item.askedOf !== peer && now - (item.askedAt ?? now) > afterMs && item.tried?.has(peer) !== true) return item
    }
    return undefined
  }

  private scanFrom = 0

  requeue (item: WorkItem): void {
    if (item.done || item.failed) return
    this.retry.unshift(item)
    this.wake()
  }

  /** A leaf is written (by a lane, or by a local copy before the queue held it). */
  complete (item: WorkItem): void {
    if (item.done) return
    this.release(item)
    item.done = true
    this.outstanding--
    this.refill()
    this.wake()
  }

  /**
   * A leaf that another item already wrote (the same leaf, taken twice: a local copy and the queue's own
   * item): this item is done, and `outstanding` is not counted down again.
   */
  drop (item: WorkItem): void {
    if (item.done || item.failed) return
    this.release(item)
    item.done = true
    this.refill()
    this.wake()
  }

  fail (item: WorkItem): void {
    if (item.done || item.failed) return
    this.release(item)
    item.failed = true
    this.failed.push(item)
    this.outstanding--
    this.refill()
    this.wake()
  }

  private release (item: WorkItem): void {
    if (item.held !== true) return
    item.held = false
    this.live--
  }

  /** Fails every leaf not done, those the source has not yielded yet included (nobody left to ask). */
  failAll (): void {
    for (const item of this.items) if (!item.done) this.fail(item)
    while (!this.sourceDone) {
      this.refill()
      for (const item of this.items) if (!item.done) this.fail(item)
    }
  }

  /** Items that no usable peer could give. */
  failedItems (): WorkItem[] {
    return this.failed
  }

  /** Resolves at the next change (requeue, completion) or after `ms`. */
  async changed (ms = 250): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms)
      this.waiters.push(() => { clearTimeout(t); resolve() })
    })
  }

  wake (): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }
}
