/**
 * Serving raw leaves off the main thread. Each leaf served is read from its source file and re-hashed (a
 * changed file is never served); on a server sending hundreds of MB/s that is most of the main thread's
 * work besides encryption. LeafReaderPool does the reading and hashing on worker threads and transfers the
 * bytes back; the main thread only looks the leaf up in the catalog. Same answers as `readLeaf`.
 */
import { availableParallelism } from 'node:os'
import { FerryError } from '@ferry/errors'
import { WorkerPool } from '@ferry/workers'
import { DEFAULT_LEAF_READERS } from './constants.js'
import type { LeafReader } from './sources.js'
import type { LeafLocation } from '@ferry/store'

/** @internal message to a leaf worker */
export interface LeafRequest { locations: LeafLocation[], digest: Uint8Array }
/** @internal message from a leaf worker: the bytes, or why none of the locations holds them any more */
export interface LeafReply { buffer?: ArrayBuffer, reason?: string }

export interface LeafReaderPoolOptions {
  /** Worker threads; default min(DEFAULT_LEAF_READERS, cores), at least 1. */
  workers?: number
}

/** Reads and re-hashes leaves on worker threads. `reader` plugs into createFerryNode({ readLeaf }). */
export class LeafReaderPool {
  private readonly pool: WorkerPool<LeafRequest, LeafReply>

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
    if (locations.length === 0) return { status: 'missing' }
    // a copy of its own: the digest is a view into the request's frame, and postMessage clones a view's
    // whole underlying buffer
    const reply = await this.pool.run({ locations, digest: cid.multihash.digest.slice() })
    if (reply.buffer !== undefined) return { status: 'ok', bytes: new Uint8Array(reply.buffer) }
    return { status: 'changed', message: `source file changed since import: ${reply.reason ?? 'unknown'}` }
  }

  /** Stops the workers; reads in progress reject. */
  async close (): Promise<void> {
    await this.pool.close()
  }
}
