/**
 * A pool of worker threads that answer one request with one reply, for the CPU-heavy, per-block work Ferry
 * moves off the main thread: hashing file slices on import, verifying received blocks, reading and
 * re-hashing leaves to serve them.
 *
 * Both halves live here. The main thread creates a `WorkerPool<Request, Reply>` on a worker script; the
 * script calls `serveRequests(handler)`. Messages carry an id the pool adds, so the handler sees only its
 * request. Buffers travel by transfer (listed by the caller or by the handler), never by copy.
 *
 * Workers are unref'd while idle, so an idle pool never holds the process open, and ref'd while they work.
 */
import { parentPort, Worker, type Transferable } from 'node:worker_threads'
import { FerryError } from '@ferry/errors'

/** Options of a WorkerPool. */
export interface WorkerPoolOptions {
  /** Worker threads, at least 1. */
  workers: number
  /**
   * Requests outstanding per worker before `run` waits for a free place (backpressure for producers that
   * could outrun the workers, such as an import queueing a whole tree). Default: no limit.
   */
  maxQueuedPerWorker?: number
  /** Turns a worker's crash into the error every pending request rejects with. Default: the error itself. */
  onWorkerError?: (err: Error) => Error
  /** Names the pool in the ERR_ABORTED errors of requests made or pending when it closes. */
  name?: string
}

/** What crosses to a worker: the pool's id and the caller's request. @internal */
export interface Envelope<Request> { id: number, request: Request }
/** What comes back. @internal */
export interface ReplyEnvelope<Reply> { id: number, reply: Reply }

interface Slot { worker: Worker, busy: number }
interface Pending<Reply> { resolve: (r: Reply) => void, reject: (e: Error) => void, slot: Slot }

/** A fixed set of worker threads running one script; requests go to the least busy one. */
export class WorkerPool<Request, Reply> {
  private readonly slots: Slot[] = []
  private readonly pending = new Map<number, Pending<Reply>>()
  private readonly waiting: Array<() => void> = []
  private readonly maxQueued: number
  private readonly name: string
  private nextId = 1
  private closed = false

  /** Starts `options.workers` threads on `script` (a module URL calling `serveRequests`). */
  constructor (script: URL, private readonly options: WorkerPoolOptions) {
    this.maxQueued = options.maxQueuedPerWorker ?? Infinity
    this.name = options.name ?? 'worker pool'
    const count = Math.max(1, Math.floor(options.workers))
    for (let i = 0; i < count; i++) {
      const worker = new Worker(script)
      const slot: Slot = { worker, busy: 0 }
      worker.on('message', (msg: ReplyEnvelope<Reply>) => { this.onReply(msg) })
      worker.on('error', (err) => { this.failAll(this.options.onWorkerError?.(err) ?? err) })
      worker.unref()
      this.slots.push(slot)
    }
  }

  /** Number of worker threads. */
  get size (): number {
    return this.slots.length
  }

  /** Whether `close()` was called. */
  get isClosed (): boolean {
    return this.closed
  }

  /**
   * Sends `request` to the least busy worker and resolves with its reply. `transfer` lists buffers whose
   * memory moves to the worker (the caller must not touch them afterwards). Rejects with ERR_ABORTED if
   * `signal` aborts while waiting for a place, or when the pool closes.
   */
  async run (request: Request, transfer: readonly Transferable[] = [], signal?: AbortSignal): Promise<Reply> {
    let slot = this.leastBusy()
    while (slot.busy >= this.maxQueued && !this.closed) {
      await new Promise<void>((resolve) => { this.waiting.push(resolve) })
      slot = this.leastBusy()
    }
    if (signal?.aborted === true) throw new FerryError('ERR_ABORTED', 'Operation aborted', { cause: signal.reason })
    if (this.closed) throw this.closedError()
    const id = this.nextId++
    if (slot.busy++ === 0) slot.worker.ref() // hold the process open only while there is work
    return await new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot })
      const envelope: Envelope<Request> = { id, request }
      slot.worker.postMessage(envelope, transfer as Transferable[])
    })
  }

  /** Stops the workers; pending and waiting requests reject with ERR_ABORTED. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.failAll(this.closedError())
    await Promise.all(this.slots.map(async (s) => await s.worker.terminate()))
  }

  private closedError (): FerryError {
    return new FerryError('ERR_ABORTED', `${this.name} closed`)
  }

  private leastBusy (): Slot {
    let best = this.slots[0] as Slot
    for (const s of this.slots) if (s.busy < best.busy) best = s
    return best
  }

  private onReply (msg: ReplyEnvelope<Reply>): void {
    const p = this.pending.get(msg.id)
    if (p === undefined) return
    this.pending.delete(msg.id)
    if (--p.slot.busy === 0) p.slot.worker.unref()
    this.waiting.shift()?.()
    p.resolve(msg.reply)
  }

  private failAll (err: Error): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      p.reject(err)
    }
    for (const wake of this.waiting.splice(0)) wake()
  }
}

/** A handler's answer: the reply, and the buffers in it whose memory moves back to the main thread. */
export interface HandlerResult<Reply> {
  reply: Reply
  transfer?: Transferable[]
}

/**
 * The worker-side half: answers every request from the pool with `handler`, in order. A handler that
 * throws crashes the worker (and fails the pool's pending requests): report expected failures inside the
 * reply instead.
 */
export function serveRequests<Request, Reply> (handler: (request: Request) => HandlerResult<Reply>): void {
  const port = parentPort
  if (port == null) throw new Error('serveRequests must run in a worker thread')
  port.on('message', (msg: Envelope<Request>) => {
    const { reply, transfer } = handler(msg.request)
    const out: ReplyEnvelope<Reply> = { id: msg.id, reply }
    port.postMessage(out, transfer ?? [])
  })
}
