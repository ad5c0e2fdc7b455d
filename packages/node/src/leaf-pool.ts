/**
 * Serving raw leaves off the main thread. Each leaf served is read from its source file and re-hashed (a
 * changed file is never served); on a server sending hundreds of MB/s that is most of the main thread's
 * work besides encryption. LeafReaderPool does the reading and hashing on worker threads and transfers the
 * bytes back; the main thread only looks the leaf up in the catalog. Same answers as `readLeaf`.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { FerryError } from '@ferry/errors'
import { DEFAULT_LEAF_READERS } from './constants.js'
import type { LeafReader } from './sources.js'
import type { LeafLocation } from '@ferry/store'

/** @internal message to a leaf worker */
export interface LeafRequest { id: number, locations: LeafLocation[], digest: Uint8Array }
/** @internal message from a leaf worker: the bytes, or why none of the locations holds them any more */
export interface LeafReply { id: number, buffer?: ArrayBuffer, reason?: string }

interface Slot { worker: Worker, busy: number }
interface Pending { resolve: (r: LeafReply) => void, reject: (e: Error) => void, slot: Slot }

export interface LeafReaderPoolOptions {
  /** Worker threads; default min(DEFAULT_LEAF_READERS, cores), at least 1. */
  workers?: number
}

/** Reads and re-hashes leaves on worker threads. `reader` plugs into createFerryNode({ readLeaf }). */
export class LeafReaderPool {
  private readonly slots: Slot[] = []
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private closed = false

  constructor (options: LeafReaderPoolOptions = {}) {
    const count = Math.max(1, options.workers ?? Math.min(DEFAULT_LEAF_READERS, availableParallelism()))
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL('./leaf-worker.js', import.meta.url))
      const slot: Slot = { worker, busy: 0 }
      worker.on('message', (reply: LeafReply) => { this.onReply(reply) })
      worker.on('error', (err) => { this.failAll(err) })
      worker.unref()
      this.slots.push(slot)
    }
  }

  readonly reader: LeafReader = async (home, cid, signal) => {
    if (this.closed) throw new FerryError('ERR_ABORTED', 'leaf reader pool closed')
    if (signal.aborted) throw new FerryError('ERR_ABORTED', 'Operation aborted', { cause: signal.reason })
    const locations = home.catalog.findLeaf(cid)
    if (locations.length === 0) return { status: 'missing' }
    const reply = await this.post(locations, cid.multihash.digest)
    if (reply.buffer !== undefined) return { status: 'ok', bytes: new Uint8Array(reply.buffer) }
    return { status: 'changed', message: `the source changed since it was imported (${reply.reason ?? 'unknown'})` }
  }

  private async post (locations: LeafLocation[], digest: Uint8Array): Promise<LeafReply> {
    let slot = this.slots[0] as Slot
    for (const s of this.slots) if (s.busy < slot.busy) slot = s
    const id = this.nextId++
    if (slot.busy++ === 0) slot.worker.ref()
    return await new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot })
      const req: LeafRequest = { id, locations, digest }
      slot.worker.postMessage(req)
    })
  }

  private onReply (reply: LeafReply): void {
    const p = this.pending.get(reply.id)
    if (p === undefined) return
    this.pending.delete(reply.id)
    if (--p.slot.busy === 0) p.slot.worker.unref()
    p.resolve(reply)
  }

  private failAll (err: Error): void {
    const e = new FerryError('ERR_IO', `Leaf reader worker failed: ${err.message}`, { cause: err })
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      p.reject(e)
    }
  }

  /** Stops the workers; reads in progress reject. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.failAll(new Error('pool closed'))
    await Promise.all(this.slots.map(async (s) => await s.worker.terminate()))
  }
}
