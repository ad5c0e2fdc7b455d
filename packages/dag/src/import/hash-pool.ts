import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { FerryError } from '@ferry/errors'
import type { HashReply, HashRequest } from './hash-protocol.js'

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

interface Pending {
  resolve: (digests: Uint8Array) => void
  reject: (err: Error) => void
  worker: WorkerSlot
}

interface WorkerSlot {
  worker: Worker
  busy: number
}

/**
 * Hashes file slices on worker threads, one SHA-256 digest per chunk. The main thread only schedules and
 * receives digests, so it stays free for DAG building and catalog writes while every core hashes.
 */
export class HashPool {
  private readonly slots: WorkerSlot[]
  private readonly pending = new Map<number, Pending>()
  private readonly waiting: Array<() => void> = []
  private nextId = 1
  private closed = false

  constructor (options: HashPoolOptions = {}) {
    const count = Math.max(1, options.workers ?? availableParallelism())
    this.slots = []
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL('./hash-worker.js', import.meta.url))
      const slot: WorkerSlot = { worker, busy: 0 }
      worker.on('message', (reply: HashReply) => { this.onReply(reply) })
      worker.on('error', (err) => { this.failAll(err) })
      worker.unref()
      this.slots.push(slot)
    }
  }

  get size (): number {
    return this.slots.length
  }

  /**
   * SHA-256 of each `chunkSize` piece of `path[offset, offset+length)`, concatenated (32 bytes each).
   * Rejects with SliceError when the file cannot be read or ends early.
   */
  async hash (path: string, offset: number, length: number, chunkSize: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0)
    let slot = this.leastBusy()
    while (slot.busy >= DEFAULT_QUEUE_PER_WORKER) {
      await new Promise<void>((resolve) => { this.waiting.push(resolve) })
      if (this.closed) throw new FerryError('ERR_ABORTED', 'hash pool closed')
      slot = this.leastBusy()
    }
    if (signal?.aborted === true) throw new FerryError('ERR_ABORTED', 'Operation aborted', { cause: signal.reason })
    if (this.closed) throw new FerryError('ERR_ABORTED', 'hash pool closed')
    const id = this.nextId++
    if (slot.busy++ === 0) slot.worker.ref() // hold the process open only while there is work
    const req: HashRequest = { id, path, offset, length, chunkSize }
    return await new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: slot })
      slot.worker.postMessage(req)
    })
  }

  /** Stops the workers; pending calls reject. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.failAll(new FerryError('ERR_ABORTED', 'hash pool closed'))
    await Promise.all(this.slots.map(async (s) => await s.worker.terminate()))
  }

  private leastBusy (): WorkerSlot {
    let best = this.slots[0] as WorkerSlot
    for (const s of this.slots) if (s.busy < best.busy) best = s
    return best
  }

  private onReply (reply: HashReply): void {
    const p = this.pending.get(reply.id)
    if (p == null) return
    this.pending.delete(reply.id)
    if (--p.worker.busy === 0) p.worker.worker.unref()
    this.waiting.shift()?.()
    if (reply.error != null) p.reject(new SliceError(reply.error.code, reply.error.message))
    else p.resolve(reply.digests ?? new Uint8Array(0))
  }

  private failAll (err: Error): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      p.reject(err)
    }
    for (const w of this.waiting.splice(0)) w()
  }
}
