/**
 * Block verification off the main thread. A received block is hashed (sha2-256) before it is handed to the
 * caller; on a receiver moving hundreds of MB/s that hashing is a large share of the main thread, which
 * also decrypts and parses everything. VerifyPool moves the hashing to worker threads: the block's memory is
 * transferred to a worker and back (no copy), and small blocks are hashed in place.
 */
import { createHash } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { FerryError } from '@ferry/errors'
import { WorkerPool } from '@ferry/workers'
import { DEFAULT_VERIFY_MIN_BYTES, DEFAULT_VERIFY_WORKERS } from './constants.js'
import type { CID } from 'multiformats/cid'

const SHA2_256 = 0x12

/**
 * Checks a received block against its CID: the bytes if they hash to it (possibly the same bytes in other
 * memory: the caller must use the returned array, not the one it passed), undefined if they do not.
 */
export type BlockVerifier = (cid: CID, bytes: Uint8Array) => Uint8Array | undefined | Promise<Uint8Array | undefined>

/** sha2-256 on the calling thread. */
export const verifyHere: BlockVerifier = (cid, bytes) => {
  if (cid.multihash.code !== SHA2_256) return undefined
  return createHash('sha256').update(bytes).digest().equals(cid.multihash.digest) ? bytes : undefined
}

/** @internal message to a verify worker */
export interface VerifyRequest { buffer: ArrayBuffer, offset: number, length: number, digest: Uint8Array }
/** @internal message from a verify worker: the block's memory comes back either way */
export interface VerifyReply { ok: boolean, buffer: ArrayBuffer }

export interface VerifyPoolOptions {
  /** Worker threads; default min(DEFAULT_VERIFY_WORKERS, cores - 1), at least 1. */
  workers?: number
  /** Blocks smaller than this are hashed on the calling thread; default DEFAULT_VERIFY_MIN_BYTES. */
  minBytes?: number
}

/**
 * Hashes blocks on worker threads. Share one pool between all clients of a process; `close()` it at the end.
 * Its `verify` takes over (transfers) the memory of the bytes it checks: use only the array it returns.
 */
export class VerifyPool {
  private readonly pool: WorkerPool<VerifyRequest, VerifyReply>
  private readonly minBytes: number

  constructor (options: VerifyPoolOptions = {}) {
    this.minBytes = Math.max(8192, options.minBytes ?? DEFAULT_VERIFY_MIN_BYTES) // never Buffer-pool memory
    this.pool = new WorkerPool(new URL('./verify-worker.js', import.meta.url), {
      workers: options.workers ?? Math.min(DEFAULT_VERIFY_WORKERS, availableParallelism() - 1),
      name: 'block verification pool',
      onWorkerError: (err) => new FerryError('ERR_INTERNAL', `Block verification worker failed: ${err.message}`, { cause: err })
    })
  }

  /** The BlockVerifier to hand to PeerClient (`verify`). */
  readonly verify: BlockVerifier = (cid, bytes) => {
    if (cid.multihash.code !== SHA2_256) return undefined
    // Only memory the block owns can move to a worker (a frame header before it is fine): anything else,
    // such as a view into the Buffer pool, is hashed here.
    const ownsMemory = bytes.buffer instanceof ArrayBuffer && bytes.byteOffset + bytes.byteLength === bytes.buffer.byteLength && bytes.byteOffset <= 4096
    if (this.pool.isClosed || bytes.byteLength < this.minBytes || !ownsMemory) {
      return verifyHere(cid, bytes)
    }
    return this.post(bytes.buffer, bytes.byteOffset, bytes.byteLength, cid.multihash.digest)
  }

  private async post (buffer: ArrayBuffer, offset: number, length: number, digest: Uint8Array): Promise<Uint8Array | undefined> {
    const reply = await this.pool.run({ buffer, offset, length, digest }, [buffer])
    return reply.ok ? new Uint8Array(reply.buffer, offset, length) : undefined
  }

  /** Stops the workers; blocks being verified reject. */
  async close (): Promise<void> {
    await this.pool.close()
  }
}
