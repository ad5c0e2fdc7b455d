import { availableParallelism } from 'node:os'
import { WorkerPool } from '@ferry/workers'
import type { HashReply, HashRequest } from './hash-protocol.js'
import type { LeafRoom } from './types.js'

/** Requests queued per worker before the pool holds callers back; enough to hide message latency. */
export const DEFAULT_QUEUE_PER_WORKER = 4

export interface HashPoolOptions {
  /** Worker threads; default: one per core. */
  workers?: number
}

/** A slice that could not be hashed: `code` is the errno (EACCES, EIO, ENOENT) or ERR_CHANGED. */
export class SliceError extends Error {
  constructor (readonly code: string, message: string) {
    super(message)
    this.name = 'SliceError'
  }
}

/**
 * Hashes file slices on worker threads, one SHA-256 digest per chunk. The main thread only schedules and
 * receives digests, so it stays free for DAG building and catalog writes while every core hashes.
 */
export class HashPool {
  private readonly pool: WorkerPool<HashRequest, HashReply>

  constructor (options: HashPoolOptions = {}) {
    this.pool = new WorkerPool(new URL('./hash-worker.js', import.meta.url), {
      workers: options.workers ?? availableParallelism(),
      maxQueuedPerWorker: DEFAULT_QUEUE_PER_WORKER,
      name: 'hash pool'
    })
  }

  get size (): number {
    return this.pool.size
  }

  /**
   * SHA-256 of each `chunkSize` piece of `path[offset, offset+length)`, concatenated (32 bytes each).
   * Rejects with SliceError when the file cannot be read or ends early.
   */
  async hash (path: string, offset: number, length: number, chunkSize: number, signal?: AbortSignal): Promise<Uint8Array> {
    return await this.hashSlice({ path, offset, length, chunkSize }, signal)
  }

  /**
   * As `hash`, the slice read into `room` (shared memory of at least `length` bytes at its offset), where
   * the bytes that were hashed stay. Settles only once the worker is done with the room.
   */
  async hashInto (path: string, offset: number, length: number, chunkSize: number, room: LeafRoom, signal?: AbortSignal): Promise<Uint8Array> {
    return await this.hashSlice({ path, offset, length, chunkSize, into: room.buffer, intoOffset: room.offset }, signal)
  }

  private async hashSlice (req: HashRequest, signal?: AbortSignal): Promise<Uint8Array> {
    if (req.length === 0) return new Uint8Array(0)
    const reply = await this.pool.run(req, [], signal)
    if (reply.error != null) throw new SliceError(reply.error.code, reply.error.message)
    return reply.digests ?? new Uint8Array(0)
  }

  /** Stops the workers; pending calls reject. */
  async close (): Promise<void> {
    await this.pool.close()
  }
}
