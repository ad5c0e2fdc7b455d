/**
 * Serving raw leaves off the main thread. Each leaf served is read from its source file and re-hashed (a
 * changed file is never served); on a server sending hundreds of MB/s that is most of the main thread's
 * work besides encryption. LeafReaderPool does the reading and hashing on worker threads and transfers the
 * bytes back; the main thread only looks the leaf up in the catalog. Same answers as `readLeaf`.
 *
 * Small leaves asked for in the same turn of the event loop (a blocks stream looks many up ahead at once)
 * travel to a worker together, in one message each way, instead of one round trip per leaf.
 */
import { availableParallelism } from 'node:os'
import { FerryError } from '@ferry/errors'
import { WorkerPool } from '@ferry/workers'
import { DEFAULT_LEAF_READERS, LEAF_BATCH_BYTES, LEAF_BATCH_LEAVES, LEAF_BATCH_MAX_LEAF_BYTES } from './constants.js'
import type { LeafReader } from './sources.js'
import type { BlockLookup } from '@ferry/exchange'
import type { LeafLocation } from '@ferry/store'

/** @internal one leaf to read: where it is, and the digest it must hash to */
export interface LeafItem { locations: LeafLocation[], digest: Uint8Array }
/** @internal one leaf read: the bytes, or why none of the locations holds them any more */
export interface LeafItemReply { buffer?: ArrayBuffer, reason?: string }
/** @internal message to a leaf worker: the leaves of one batch */
export interface LeafRequest { items: LeafItem[] }
/** @internal message from a leaf worker: one reply per item, in order */
export interface LeafReply { items: LeafItemReply[] }

export interface LeafReaderPoolOptions {
  /** Worker threads; default min(DEFAULT_LEAF_READERS, cores), at least 1. */
  workers?: number
}

/** A small leaf waiting for its batch to go to a worker. */
interface Queued { item: LeafItem, resolve: (r: BlockLookup) => void, reject: (e: unknown) => void }

function lookupOf (reply: LeafItemReply | undefined): BlockLookup {
  if (reply?.buffer !== undefined) return { status: 'ok', bytes: new Uint8Array(reply.buffer) }
  return { status: 'changed', message: `source file changed since import: ${reply?.reason ?? 'unknown'}` }
}

/** Reads and re-hashes leaves on worker threads. `reader` plugs into createFerryNode({ readLeaf }). */
export class LeafReaderPool {
  private readonly pool: WorkerPool<LeafRequest, LeafReply>
  private batch: Queued[] = []
  private batchBytes = 0
  private flushing: NodeJS.Immediate | undefined
  /** Leaves read, and the worker messages that carried them (fewer when small leaves were batched). */
  readonly stats = { leaves: 0, messages: 0 }

  constructor (options: LeafReaderPoolOptions = {}) {
    this.pool = new WorkerPool(new URL('./leaf-worker.js', import.meta.url), {
      workers: options.workers ?? Math.min(DEFAULT_LEAF_READERS, availableParallelism()),
      name: 'leaf reader pool',
      onWorkerError: (err) => new FerryError('ERR_IO', `Leaf reader worker failed: ${err.message}`, { cause: err })
    })
  }

  readonly reader: LeafReader = async (home, cid, signal) => {
    if (this.pool.isClosed) throw new FerryError('ERR_ABORTED', 'leaf reader pool closed')
    if (signal.aborted) throw new FerryError('ERR_ABORTED', 'Operation aborted', { cause: signal.reason })
    const locations = home.catalog.findLeaf(cid)
    const first = locations[0]
    if (first === undefined) return { status: 'missing' }
    // a copy of its own: the digest is a view into the request's frame, and postMessage clones a view's
    // whole underlying buffer
    const item: LeafItem = { locations, digest: cid.multihash.digest.slice() }
    this.stats.leaves++
    if (first.length > LEAF_BATCH_MAX_LEAF_BYTES) {
      this.stats.messages++
      const reply = await this.pool.run({ items: [item] })
      return lookupOf(reply.items[0])
    }
    return await new Promise<BlockLookup>((resolve, reject) => { this.enqueue({ item, resolve, reject }, first.length) })
  }

  /** Adds a small leaf to the batch; the batch goes at the end of this turn, or at once when full. */
  private enqueue (q: Queued, length: number): void {
    this.batch.push(q)
    this.batchBytes += length
    if (this.batch.length >= LEAF_BATCH_LEAVES || this.batchBytes >= LEAF_BATCH_BYTES) {
      this.flush()
      return
    }
    this.flushing ??= setImmediate(() => { this.flush() })
  }

  /** Sends the batch to a worker in one message and settles each leaf with its own reply. */
  private flush (): void {
    if (this.flushing !== undefined) clearImmediate(this.flushing)
    this.flushing = undefined
    const batch = this.batch
    this.batch = []
    this.batchBytes = 0
    if (batch.length === 0) return
    this.stats.messages++
    this.pool.run({ items: batch.map((q) => q.item) }).then((reply) => {
      batch.forEach((q, i) => { q.resolve(lookupOf(reply.items[i])) })
    }, (err: unknown) => {
      for (const q of batch) q.reject(err)
    })
  }

  /** Stops the workers; reads in progress reject. */
  async close (): Promise<void> {
    if (this.flushing !== undefined) clearImmediate(this.flushing)
    this.flushing = undefined
    for (const q of this.batch.splice(0)) q.reject(new FerryError('ERR_ABORTED', 'leaf reader pool closed'))
    await this.pool.close()
  }
}
