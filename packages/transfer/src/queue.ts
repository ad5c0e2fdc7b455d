import type { FileLeaf } from '@ferry/dag'
import type { StagedFile } from './staging.js'

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
}

/**
 * The leaves still to fetch, in file order (so files complete, and become usable, one after another).
 * Peers pull work from it, so a faster peer takes more; a failed request goes back to the front; when the
 * queue runs dry, idle peers may duplicate a request still in flight elsewhere (end game), first answer wins.
 */
export class WorkQueue {
  private readonly items: WorkItem[]
  private next = 0
  private readonly retry: WorkItem[] = []
  private waiters: Array<() => void> = []
  outstanding: number

  constructor (items: WorkItem[]) {
    this.items = items
    this.outstanding = items.length
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
    while (this.next < this.items.length) {
      const item = this.items[this.next++]
      if (item != null && !item.done && !item.failed) return item
    }
    return undefined
  }

  /**
   * End game: a leaf in flight at another peer for over `afterMs`, not yet duplicated, that this peer may
   * have. Rescues the tail of a pull from a peer that slowed down or stalled.
   */
  duplicate (peer: string, afterMs: number): WorkItem | undefined {
    if (this.next < this.items.length || this.retry.length > 0) return undefined
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

  complete (item: WorkItem): void {
    if (item.done) return
    item.done = true
    this.outstanding--
    this.wake()
  }

  fail (item: WorkItem): void {
    if (item.done || item.failed) return
    item.failed = true
    this.outstanding--
    this.wake()
  }

  /** Items that no usable peer could give. */
  failedItems (): WorkItem[] {
    return this.items.filter((i) => i.failed)
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
