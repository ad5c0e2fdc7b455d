/**
 * Block verification off the main thread. A received block is hashed (sha2-256) before it is handed to the
 * caller; on a receiver moving hundreds of MB/s that hashing is a large share of the main thread, which
 * also decrypts and parses everything. VerifyPool moves the hashing to worker threads: the block's memory is
 * transferred to a worker and back (no copy), and small blocks are hashed in place.
 */
import { createHash } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { FerryError } from '@ferry/errors'
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
export interface VerifyRequest { id: number, buffer: ArrayBuffer, offset: number, length: number, digest: Uint8Array }
/** @internal message from a verify worker */
export interface VerifyReply { id: number, ok: boolean, buffer: ArrayBuffer }

interface Slot { worker: Worker, busy: number }
interface Pending { resolve: (r: Uint8Array | undefined) => void, reject: (e: Error) => void, slot: Slot, offset: number, length: number }

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
  private readonly slots: Slot[] = []
  private readonly pending = new Map<number, Pending>()
  private readonly minBytes: number
  private nextId = 1
  private closed = false

  constructor (options: VerifyPoolOptions = {}) {
    const count = Math.max(1, options.workers ?? Math.min(DEFAULT_VERIFY_WORKERS, availableParallelism() - 1))
    this.minBytes = Math.max(8192, options.minBytes ?? DEFAULT_VERIFY_MIN_BYTES) // never Buffer-pool memory
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL('./verify-worker.js', import.meta.url))
      const slot: Slot = { worker, busy: 0 }
      worker.on('message', (reply: VerifyReply) => { this.onReply(reply) })
      worker.on('error', (err) => { this.failAll(err) })
      worker.unref()
      this.slots.push(slot)
    }
  }

  /** The BlockVerifier to hand to PeerClient (`verify`). */
  readonly verify: BlockVerifier = (cid, bytes) => {
    if (cid.multihash.code !== SHA2_256) return undefined
    // Only memory the block owns can move to a worker (a frame header before it is fine): anything else,
    // such as a view into the Buffer pool, is hashed here.
    const ownsMemory = bytes.buffer instanceof ArrayBuffer && bytes.byteOffset + bytes.byteLength === bytes.buffer.byteLength && bytes.byteOffset <= 4096
    if (this.closed || bytes.byteLength < this.minBytes || !ownsMemory) {
      return verifyHere(cid, bytes)
    }
    return this.post(bytes.buffer, bytes.byteOffset, bytes.byteLength, cid.multihash.digest)
  }

  private async post (buffer: ArrayBuffer, offset: number, length: number, digest: Uint8Array): Promise<Uint8Array | undefined> {
    let slot = this.slots[0] as Slot
    for (const s of this.slots) if (s.busy < slot.busy) slot = s
    const id = this.nextId++
    if (slot.busy++ === 0) slot.worker.ref()
    return await new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot, offset, length })
      const req: VerifyRequest = { id, buffer, offset, length, digest }
      slot.worker.postMessage(req, [buffer])
    })
  }

  private onReply (reply: VerifyReply): void {
    const p = this.pending.get(reply.id)
    if (p === undefined) return
    this.pending.delete(reply.id)
    if (--p.slot.busy === 0) p.slot.worker.unref()
    p.resolve(reply.ok ? new Uint8Array(reply.buffer, p.offset, p.length) : undefined)
  }

  private failAll (err: Error): void {
    const e = new FerryError('ERR_INTERNAL', `Block verification worker failed: ${err.message}`, { cause: err })
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      p.reject(e)
    }
  }

  /** Stops the workers; blocks being verified reject. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.failAll(new Error('pool closed'))
    await Promise.all(this.slots.map(async (s) => await s.worker.terminate()))
  }
}
