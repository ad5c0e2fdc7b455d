/**
 * `PeerClient`: fetches blocks and scans from one peer.
 *
 * Blocks: every `get` joins a queue (concurrent gets of one CID share one request). A flush, once per turn
 * of the event loop (after the answers of one network read have been settled and their callers have asked
 * for more, so many small blocks go out in one REQUEST, not one each), hands queued CIDs to the open stream with the most room (at most `pendingPerStream` outstanding
 * each), in REQUEST frames of up to MAX_CIDS_PER_REQUEST, and opens another stream (up to `streams`) while
 * the queue is longer than the room left. Each stream's reader settles answers as they arrive: an `ok` block
 * is hashed and compared with its CID first ('bad' if it does not match). A stream that receives nothing for
 * `timeoutMs` while it has requests outstanding fails them with ERR_TIMEOUT; a lost stream or connection
 * fails them with ERR_NETWORK; queued gets then go out on the remaining or new streams.
 *
 * Scans: one stream per `getScan`, with credit-based flow control so a slow consumer holds the server back;
 * its frames are read by the state machine in scan-reader.ts (record → skipped → entries → end).
 */
import { createHash } from 'node:crypto'
import { FerryError } from '@ferry/errors'
import { peerIdFromString } from '@libp2p/peer-id'
import { isMultiaddr, type Multiaddr } from '@multiformats/multiaddr'
import {
  BLOCKS_PROTOCOL, DEFAULT_CLIENT_IDLE_CLOSE_MS, DEFAULT_PENDING_PER_STREAM, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SCAN_CREDIT,
  DEFAULT_STREAMS_PER_PEER, MAX_BLOCKS_FRAME_BYTES, MAX_CIDS_PER_REQUEST, MAX_PENDING_PER_STREAM, SMALL_BLOCK_BYTES, MAX_SCAN_CREDIT, MAX_SCAN_FRAME_BYTES,
  SCAN_PROTOCOL
} from './constants.js'
import { framed, streamError, type Framed } from './framed.js'
import { decodeBlocksServerFrame, decodeScanServerMessage, encodeError, encodeRequest, encodeScanMore, encodeScanRequest, type ScanEntry } from './messages.js'
import { scanReader, type AtEntries, type ScanFrames } from './scan-reader.js'
import { protocolError } from './codec.js'
import { dialError, errorFromWire } from './client-errors.js'
import {
  listCatalog, openEntries, watchAnnouncements, watchPublications, type CatalogDial, type CatalogPage, type ListCatalogOptions, type OpenEntriesAnswer, type Publication,
  type RemoteCatalogRow, type WatchAnnouncementsOptions
} from './catalog-client.js'
import type { BlockVerifier } from './verify-pool.js'
import { componentLogger, type BlockResult, type ClientComponents, type RemoteScan } from './types.js'
import type { Logger, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const SHA2_256 = 0x12

/** Options of a PeerClient. */
export interface PeerClientInit {
  /** The peer: its PeerId (dialled through the peer store) or a multiaddr ending in /p2p/<PeerId>. */
  peer: PeerId | Multiaddr
  /** Streams opened for blocks; default DEFAULT_STREAMS_PER_PEER. */
  streams?: number
  /** Blocks requested ahead per stream, 1..MAX_PENDING_PER_STREAM; default DEFAULT_PENDING_PER_STREAM. */
  pendingPerStream?: number
  /** Silence (no frame) tolerated while requests are outstanding, and dial timeout; default DEFAULT_REQUEST_TIMEOUT_MS. */
  timeoutMs?: number
  /** An idle blocks stream is closed after this long; default DEFAULT_CLIENT_IDLE_CLOSE_MS. */
  idleCloseMs?: number
  /**
   * Checks each received block against its CID before it is returned. Default: sha2-256 on this thread over
   * the network chunks as they are (no copy). With a VerifyPool's `verify`, the block is first joined into
   * memory of its own (a copy), which the pool hashes on a worker thread.
   */
  verify?: BlockVerifier
}

interface Waiter {
  resolve: (r: BlockResult) => void
  reject: (e: Error) => void
  signal?: AbortSignal
  onAbort?: () => void
}

/**
 * One 'abort' listener per signal, however many gets share it (an engine typically passes one signal to
 * thousands of gets; a listener each would trip Node's listener-leak warning and cost a scan per abort).
 */
class AbortHub {
  private readonly bySignal = new Map<AbortSignal, Set<() => void>>()

  add (signal: AbortSignal, fn: () => void): void {
    let set = this.bySignal.get(signal)
    if (set === undefined) {
      const fns = new Set<() => void>()
      set = fns
      this.bySignal.set(signal, fns)
      signal.addEventListener('abort', () => {
        this.bySignal.delete(signal)
        for (const f of fns) f()
      }, { once: true })
    }
    set.add(fn)
  }

  remove (signal: AbortSignal, fn: () => void): void {
    const set = this.bySignal.get(signal)
    if (set === undefined) return
    set.delete(fn)
    // The listener stays until the signal fires or is collected; an empty set costs nothing.
  }
}

interface Want {
  key: string
  cid: CID
  waiters: Set<Waiter>
  /** The stream it was requested on; undefined while queued. */
  stream?: ClientStream
}

interface ClientStream {
  n: number
  state: 'opening' | 'open' | 'closed'
  io?: Framed
  pending: Map<string, Want>
  /** Fails the stream when nothing arrives while requests are outstanding. */
  timer?: NodeJS.Timeout
  /** Closes the stream when nothing has been outstanding for a while. */
  idle?: NodeJS.Timeout
}

/**
 * A block's network chunks joined into new memory that nothing else uses (a single chunk is a view into a
 * buffer that may hold other frames, so it is copied too). A verifier may then take that memory over.
 */
function owned (chunks: Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? (chunks[0] as Uint8Array).slice() : Buffer.concat(chunks)
}

/** An 'ok' result: the chunks as received, joined into `bytes` only if someone reads it. */
function okResult (chunks: Uint8Array[]): BlockResult {
  let joined: Uint8Array | undefined
  return {
    status: 'ok',
    chunks,
    get bytes (): Uint8Array {
      joined ??= chunks.length === 1 ? chunks[0] as Uint8Array : Buffer.concat(chunks)
      return joined
    }
  }
}

/** The PeerId string of a dial target. */
function peerIdOf (peer: PeerId | Multiaddr): string {
  if (!isMultiaddr(peer)) return peer.toString()
  const p2p = peer.getComponents().findLast((c) => c.name === 'p2p')?.value
  if (p2p === undefined) throw new FerryError('ERR_INVALID_ARGUMENT', `Multiaddr ${peer.toString()} does not end in /p2p/<PeerId>: the peer's identity must be known to dial it`)
  peerIdFromString(p2p)
  return p2p
}

/** A scan stream as the client holds it: the reader's frames, plus how to end the stream. */
interface ScanStream extends ScanFrames {
  io: Framed
  /** Closes the stream (no `err`) or aborts it, telling the peer why. Idempotent. */
  end: (err?: unknown) => void
}

/**
 * The frames of a scan stream for a `scanReader`: each read waits at most `timeoutMs` (ERR_TIMEOUT) or
 * until `signal` (ERR_ABORTED); an ERROR frame rejects with what it means, the end of the stream with
 * ERR_NETWORK.
 */
function scanStream (stream: Stream, init: { peer: string, what: string, timeoutMs: number, signal: AbortSignal | undefined }): ScanStream {
  const { peer, what, timeoutMs, signal: userSignal } = init
  const io = framed(stream, MAX_SCAN_FRAME_BYTES, (MAX_SCAN_CREDIT + 2) * MAX_SCAN_FRAME_BYTES, what)
  let finished = false
  return {
    io,
    async read () {
      const timeout = AbortSignal.timeout(timeoutMs)
      let frame
      try {
        frame = await io.read({ signal: userSignal === undefined ? timeout : AbortSignal.any([userSignal, timeout]) })
      } catch (err) {
        if (userSignal?.aborted === true) throw new FerryError('ERR_ABORTED', 'Operation aborted', { cause: userSignal.reason })
        if (timeout.aborted) throw new FerryError('ERR_TIMEOUT', `Peer ${peer} sent nothing for ${timeoutMs / 1000} s while sending ${what}`, { cause: err, details: { peer } })
        throw err
      }
      if (frame === null) throw new FerryError('ERR_NETWORK', `Peer ${peer} ended the stream before the end of ${what}`, { details: { peer } })
      const msg = decodeScanServerMessage(frame)
      if (msg.type === 'error') throw errorFromWire(msg, peer)
      return msg
    },
    grant () {
      io.write(encodeScanMore(1)).catch(() => {}) // a failed write shows up as a failed read
    },
    end (err?: unknown) {
      if (finished) return
      finished = true
      if (err === undefined) {
        stream.close().catch((e: Error) => { stream.abort(e) })
      } else {
        const reason = err instanceof Error ? err : new Error(String(err))
        if (stream.writeStatus === 'writable') io.write(encodeError('internal', `client gave up: ${reason.message}`)).catch(() => {})
        stream.abort(reason)
      }
    }
  }
}

/** A scan's entries from state `entries` to `end`, closing the stream at the end or on failure or abandonment. */
async function * readEntries (at: AtEntries, end: (err?: unknown) => void): AsyncGenerator<ScanEntry> {
  try {
    while (true) {
      const step = await at.next()
      if (step.state === 'end') {
        end()
        return
      }
      yield * step.entries
    }
  } catch (err) {
    end(err)
    throw err
  } finally {
    end(new FerryError('ERR_ABORTED', 'scan entries abandoned by the reader'))
  }
}

/** Blocks and scans from one peer. Create one per peer and share it between concurrent callers. */
export class PeerClient {
  /** The peer's PeerId string. */
  readonly id: string
  private readonly components: ClientComponents
  private readonly target: PeerId | Multiaddr
  private readonly log: Logger
  private readonly maxStreams: number
  private readonly depth: number
  private readonly timeoutMs: number
  private readonly idleCloseMs: number
  private readonly verify: BlockVerifier | undefined
  private readonly wants = new Map<string, Want>()
  private readonly aborts = new AbortHub()
  private queue: Want[] = []
  private queueHead = 0
  private readonly streams = new Set<ClientStream>()
  private streamCount = 0
  private flushScheduled = false
  private openBlockedUntil = 0
  private waiting = 0
  private closed = false
  /** Mean size of the blocks received lately (0 before the first): small blocks are requested in batches. */
  private blockBytes = 0

  constructor (components: ClientComponents, init: PeerClientInit) {
    this.components = components
    this.target = init.peer
    this.id = peerIdOf(init.peer)
    this.log = componentLogger(components.logger, 'ferry:exchange:client').newScope(this.id.slice(-8))
    this.maxStreams = Math.max(1, init.streams ?? DEFAULT_STREAMS_PER_PEER)
    this.depth = Math.min(MAX_PENDING_PER_STREAM, Math.max(1, init.pendingPerStream ?? DEFAULT_PENDING_PER_STREAM))
    this.timeoutMs = init.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.idleCloseMs = init.idleCloseMs ?? DEFAULT_CLIENT_IDLE_CLOSE_MS
    this.verify = init.verify
  }

  /** Gets (distinct CIDs) not yet answered: queued here or requested from the peer. */
  get inflight (): number {
    return this.waiting
  }

  /**
   * One block. Resolves with its verified bytes or why not ('missing', 'changed', 'denied', 'bad'); rejects
   * with ERR_TIMEOUT, ERR_NETWORK or ERR_PROTOCOL when the peer fails, ERR_ABORTED on `signal` or close,
   * ERR_INVALID_CID for a CID that is not sha2-256.
   */
  async get (cid: CID, options: { signal?: AbortSignal } = {}): Promise<BlockResult> {
    if (this.closed) throw new FerryError('ERR_ABORTED', `Client for peer ${this.id} is closed`)
    if (cid.multihash.code !== SHA2_256) throw new FerryError('ERR_INVALID_CID', `Block ${cid.toString()} does not use sha2-256: Ferry cannot verify it`)
    const signal = options.signal
    if (signal?.aborted === true) throw new FerryError('ERR_ABORTED', 'Operation aborted', { cause: signal.reason })
    const key = cid.toString()
    let want = this.wants.get(key)
    if (want === undefined) {
      want = { key, cid, waiters: new Set() }
      this.wants.set(key, want)
      this.queue.push(want)
      this.scheduleFlush()
    }
    const w = want
    return await new Promise<BlockResult>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject }
      if (w.waiters.size === 0) this.waiting++
      w.waiters.add(waiter)
      if (signal !== undefined) {
        waiter.signal = signal
        waiter.onAbort = () => {
          if (!w.waiters.delete(waiter)) return
          if (w.waiters.size === 0) {
            this.waiting--
            // Queued: forget it. Requested: leave it pending so its answer is still expected and dropped.
            if (w.stream === undefined) this.wants.delete(w.key)
          }
          reject(new FerryError('ERR_ABORTED', 'Operation aborted', { cause: signal.reason }))
        }
        this.aborts.add(signal, waiter.onAbort)
      }
    })
  }

  /**
   * A scan's record (with its skipped list) and then its entries as they stream. ERR_ROOT_NOT_FOUND if the
   * peer has no scan with that root, ERR_PEER_REFUSED if it refuses us, ERR_TIMEOUT / ERR_NETWORK /
   * ERR_PROTOCOL if it fails. `signal` also covers reading the entries. The frames are read by a
   * `scanReader` (scan-reader.ts): record → skipped → entries → end.
   */
  async getScan (root: CID, options: { signal?: AbortSignal } = {}): Promise<RemoteScan> {
    if (this.closed) throw new FerryError('ERR_ABORTED', `Client for peer ${this.id} is closed`)
    const what = `scan ${root.toString()} from peer ${this.id}`
    const userSignal = options.signal
    let stream: Stream
    try {
      const dialSignal = AbortSignal.timeout(this.timeoutMs)
      stream = await this.components.dialProtocol(this.target, SCAN_PROTOCOL, { signal: userSignal === undefined ? dialSignal : AbortSignal.any([userSignal, dialSignal]) })
    } catch (err) {
      if (userSignal?.aborted === true) throw new FerryError('ERR_ABORTED', 'Operation aborted', { cause: userSignal.reason })
      throw dialError(err, this.id, SCAN_PROTOCOL)
    }
    const wire = scanStream(stream, { peer: this.id, what, timeoutMs: this.timeoutMs, signal: userSignal })
    let at: AtEntries
    try {
      await wire.io.write(encodeScanRequest(root, DEFAULT_SCAN_CREDIT))
      const skipped = await scanReader(wire, { root, peer: this.id, what }).next()
      at = await skipped.next()
    } catch (err) {
      wire.end(err)
      throw err
    }
    return { record: at.record, entries: readEntries(at, wire.end) }
  }

  /**
   * The scans the peer offers that it lets us read, page by page (one stream, one request per page, sent
   * when the previous page has been taken; breaking out early closes the stream). ERR_PEER_REFUSED if it
   * does not trust us, ERR_PROTOCOL if it refuses the request (e.g. a page size over its limit),
   * ERR_TIMEOUT / ERR_NETWORK if it fails, ERR_INVALID_ARGUMENT for a page size outside 1 ..
   * MAX_CATALOG_PAGE_ROWS.
   */
  listCatalog (options: ListCatalogOptions = {}): AsyncIterable<CatalogPage> {
    return listCatalog(this.catalogDial(), options)
  }

  /**
   * Every scan the peer completes from the subscription on, in `collection` (default: all it lets us
   * read), as it commits it, until `signal` aborts or the stream fails (ERR_TIMEOUT after three silent
   * keep-alive intervals, ERR_NETWORK, ERR_PEER_REFUSED). Reconnecting is the caller's job: scans completed
   * while it was not subscribed are in `listCatalog` (docs/protocol.md, "Announcements").
   */
  watchAnnouncements (options: WatchAnnouncementsOptions = {}): AsyncIterable<RemoteCatalogRow> {
    return watchAnnouncements(this.catalogDial(), options)
  }

  /**
   * Like `watchAnnouncements`, and also every file published into an open scan of the collection
   * (ANNOUNCE_SUBSCRIBE_FILES): the receiver side of `ferry watch` (docs/protocol.md, "Following an open scan").
   */
  watchPublications (options: WatchAnnouncementsOptions = {}): AsyncIterable<Publication> {
    return watchPublications(this.catalogDial(), options)
  }

  /**
   * One page of the entries of the open scan `key` from `fromSeq` on, at most `max` (OPEN_ENTRIES_REQUEST):
   * its state, its signed seal once sealed. Fewer than `max` does not mean the end: ask again until empty.
   */
  async openEntries (key: CID, fromSeq: number, max: number, options: { signal?: AbortSignal } = {}): Promise<OpenEntriesAnswer> {
    return await openEntries(this.catalogDial(), key, fromSeq, max, options.signal)
  }

  private catalogDial (): CatalogDial {
    if (this.closed) throw new FerryError('ERR_ABORTED', `Client for peer ${this.id} is closed`)
    return { components: this.components, target: this.target, peer: this.id, timeoutMs: this.timeoutMs }
  }

  /** Fails every outstanding get with ERR_ABORTED and closes the streams. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    const err = new FerryError('ERR_ABORTED', `Client for peer ${this.id} closed`)
    for (const want of this.wants.values()) this.settle(want, (w) => { w.reject(err) })
    this.wants.clear()
    this.queue = []
    this.queueHead = 0
    await Promise.all([...this.streams].map(async (s) => { await this.closeStream(s) }))
  }

  /* ------------------------------------------------------------ internals */

  private settle (want: Want, fn: (w: Waiter) => void): void {
    if (want.waiters.size > 0) this.waiting--
    for (const w of want.waiters) {
      if (w.onAbort !== undefined && w.signal !== undefined) this.aborts.remove(w.signal, w.onAbort)
      fn(w)
    }
    want.waiters.clear()
    if (this.wants.get(want.key) === want) this.wants.delete(want.key)
  }

  private scheduleFlush (): void {
    if (this.flushScheduled || this.closed) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      this.flush()
    })
  }

  private queued (): number {
    return this.queue.length - this.queueHead
  }

  private takeQueued (max: number): Want[] {
    const out: Want[] = []
    while (out.length < max && this.queueHead < this.queue.length) {
      const w = this.queue[this.queueHead++] as Want
      if (w.waiters.size > 0 && this.wants.get(w.key) === w) out.push(w)
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead)
      this.queueHead = 0
    }
    return out
  }

  /** Blocks requested and not yet answered, over every stream. */
  private outstanding (): number {
    let n = 0
    for (const s of this.streams) n += s.pending.size
    return n
  }

  /**
   * While blocks are small, queued CIDs wait until they are at least as many as those in flight (or nothing
   * is in flight): so a REQUEST carries about half of the callers' window, and so does each batch of answers,
   * instead of the window breaking up into requests of one or two blocks that stay that small. Large blocks
   * go out at once (holding them back would empty the pipe).
   */
  private holdBack (): boolean {
    if (this.blockBytes === 0 || this.blockBytes > SMALL_BLOCK_BYTES) return false
    const inFlight = this.outstanding()
    return inFlight > 0 && this.queued() < inFlight
  }

  private flush (): void {
    if (this.holdBack()) return
    while (this.queued() > 0) {
      let best: ClientStream | undefined
      let room = 0
      for (const s of this.streams) {
        if (s.state !== 'open') continue
        const free = this.depth - s.pending.size
        if (free > room) {
          room = free
          best = s
        }
      }
      if (best === undefined) break
      const batch = this.takeQueued(Math.min(room, MAX_CIDS_PER_REQUEST))
      if (batch.length === 0) break
      this.send(best, batch)
    }
    if (this.queued() > 0) this.maybeOpen()
  }

  private maybeOpen (): void {
    if (this.closed || Date.now() < this.openBlockedUntil) return
    let room = 0
    for (const s of this.streams) if (s.state === 'opening') room += this.depth
    if (this.streams.size < this.maxStreams && this.queued() > room) this.openStream()
  }

  private send (s: ClientStream, batch: Want[]): void {
    const io = s.io as Framed
    if (s.pending.size === 0) {
      clearTimeout(s.idle)
      s.idle = undefined
      this.armTimeout(s)
    }
    for (const w of batch) {
      w.stream = s
      s.pending.set(w.key, w)
    }
    io.write(encodeRequest(batch.map((w) => w.cid))).catch((err) => { this.failStream(s, err) })
  }

  private armTimeout (s: ClientStream): void {
    if (s.timer !== undefined) {
      s.timer.refresh()
      return
    }
    s.timer = setTimeout(() => {
      this.failStream(s, new FerryError('ERR_TIMEOUT', `Peer ${this.id} sent nothing for ${this.timeoutMs / 1000} s with ${s.pending.size} blocks outstanding`, { details: { peer: this.id } }))
    }, this.timeoutMs)
  }

  private openStream (): void {
    const s: ClientStream = { n: ++this.streamCount, state: 'opening', pending: new Map() }
    this.streams.add(s)
    this.log('opening blocks stream %d', s.n)
    this.components.dialProtocol(this.target, BLOCKS_PROTOCOL, { signal: AbortSignal.timeout(this.timeoutMs) }).then((stream) => {
      if (this.closed || s.state === 'closed') {
        stream.abort(new Error('client closed'))
        return
      }
      s.io = framed(stream, MAX_BLOCKS_FRAME_BYTES, (this.depth + 2) * MAX_BLOCKS_FRAME_BYTES, `blocks stream to peer ${this.id}`)
      s.state = 'open'
      stream.addEventListener('close', (evt) => {
        if (s.state !== 'closed') this.failStream(s, new FerryError('ERR_NETWORK', `Lost the stream to peer ${this.id}: ${evt.error?.message ?? 'closed'}`, { cause: evt.error, details: { peer: this.id } }))
      })
      this.readLoop(s).catch((err) => { this.failStream(s, err) })
      this.flush()
    }, (err) => {
      this.streams.delete(s)
      s.state = 'closed'
      const e = dialError(err, this.id, BLOCKS_PROTOCOL)
      this.log('opening stream %d failed: %s', s.n, e.message)
      if (this.streams.size === 0) {
        // Nothing else can carry the queue: fail it rather than wait forever.
        for (const w of this.takeQueued(Infinity)) this.settle(w, (x) => { x.reject(e) })
      } else {
        this.openBlockedUntil = Date.now() + 1000
        this.scheduleFlush()
      }
    })
  }

  private async readLoop (s: ClientStream): Promise<void> {
    const io = s.io as Framed
    while (s.state === 'open') {
      const frame = await io.read()
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the state changes while the read waits
      if (s.state !== 'open') return
      if (frame === null) {
        if (s.pending.size > 0) throw new FerryError('ERR_NETWORK', `Peer ${this.id} closed the stream with ${s.pending.size} blocks outstanding`, { details: { peer: this.id } })
        this.dropStream(s)
        return
      }
      s.timer?.refresh()
      const msg = decodeBlocksServerFrame(frame)
      if (msg.type === 'error') {
        const err = errorFromWire(msg, this.id)
        if (msg.code === 'denied') {
          for (const want of s.pending.values()) this.settle(want, (w) => { w.resolve({ status: 'denied', message: msg.message }) })
          s.pending.clear()
        }
        throw err
      }
      const key = msg.cid.toString()
      const want = s.pending.get(key)
      if (want === undefined) throw protocolError('unexpected', `Peer ${this.id} answered for ${key}, which was not requested on that stream`)
      s.pending.delete(key)
      if (msg.type === 'block-chunks' || msg.type === 'block') {
        this.deliver(want, msg.type === 'block' ? [msg.bytes] : [...msg.data])
      } else {
        const status = msg.status === 'not-found' ? 'missing' : msg.status
        this.settle(want, (w) => { w.resolve({ status, message: msg.message }) })
      }
      if (s.pending.size === 0) this.becameIdle(s)
      if (this.queued() > 0) this.scheduleFlush()
    }
  }

  /** Verifies a received block and settles its want. */
  private deliver (want: Want, chunks: Uint8Array[]): void {
    let bytes = 0
    for (const c of chunks) bytes += c.byteLength
    this.blockBytes = this.blockBytes === 0 ? bytes + 1 : (this.blockBytes * 7 + bytes + 1) / 8
    if (this.verify === undefined) {
      // Hash the network chunks in place: no copy unless the caller asks for `bytes`.
      const hash = createHash('sha256')
      for (const c of chunks) hash.update(c)
      const ok = want.cid.multihash.code === SHA2_256 && hash.digest().equals(want.cid.multihash.digest)
      this.settle(want, (w) => { w.resolve(ok ? okResult(chunks) : this.bad(want.cid)) })
      return
    }
    const checked = this.verify(want.cid, owned(chunks))
    if (checked instanceof Promise) {
      checked.then((bytes) => { this.settle(want, (w) => { w.resolve(bytes !== undefined ? okResult([bytes]) : this.bad(want.cid)) }) },
        (err: Error) => { this.settle(want, (w) => { w.reject(err) }) })
    } else {
      this.settle(want, (w) => { w.resolve(checked !== undefined ? okResult([checked]) : this.bad(want.cid)) })
    }
  }

  private bad (cid: CID): BlockResult {
    return { status: 'bad', message: `Peer ${this.id} sent bytes that do not hash to ${cid.toString()}` }
  }

  private becameIdle (s: ClientStream): void {
    clearTimeout(s.timer)
    s.timer = undefined
    if (s.idle !== undefined) {
      s.idle.refresh()
      return
    }
    s.idle = setTimeout(() => {
      if (s.pending.size === 0 && s.state === 'open') void this.closeStream(s)
    }, this.idleCloseMs)
    s.idle.unref()
  }

  /** Removes a stream that ended cleanly with nothing outstanding. */
  private dropStream (s: ClientStream): void {
    s.state = 'closed'
    clearTimeout(s.timer)
    clearTimeout(s.idle)
    this.streams.delete(s)
    if (this.queued() > 0) this.scheduleFlush()
  }

  private async closeStream (s: ClientStream): Promise<void> {
    if (s.state === 'closed') return
    this.dropStream(s)
    const stream = s.io?.stream
    if (stream === undefined) return
    try {
      await stream.close({ signal: AbortSignal.timeout(this.timeoutMs) })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** Fails everything outstanding on `s` with `err` and aborts it. Queued gets move to other streams. */
  private failStream (s: ClientStream, err: unknown): void {
    if (s.state === 'closed') return
    const e = streamError(err, `blocks stream to peer ${this.id}`) ?? new FerryError('ERR_NETWORK', `Lost the stream to peer ${this.id}`, { cause: err })
    this.log('stream %d failed: %s', s.n, e.message)
    this.dropStream(s)
    for (const want of s.pending.values()) this.settle(want, (w) => { w.reject(e) })
    s.pending.clear()
    s.io?.stream.abort(e)
  }
}
