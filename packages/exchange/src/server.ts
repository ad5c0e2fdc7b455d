/**
 * The serving side of /ferry/blocks/1.0.0 and /ferry/scan/1.0.0.
 *
 * Per blocks stream, two loops: a reader that validates each inbound frame, asks the access hook, checks
 * the pending limit and queues CIDs; and a sender that looks up to `readAhead` blocks up ahead in the
 * source and writes answers in request order, waiting for the stream to drain after each frame (so a slow
 * reader holds back the sender instead of filling memory). Anything wrong ends the stream with an ERROR
 * frame naming the problem.
 */
import { FerryError, isFerryError } from '@ferry/errors'
import { truncateUtf8 } from './codec.js'
import {
  BLOCKS_PROTOCOL, DEFAULT_SERVER_FIRST_FRAME_TIMEOUT_MS, DEFAULT_SERVER_IDLE_TIMEOUT_MS, DEFAULT_SERVER_READ_AHEAD, MAX_BLOCKS_CLIENT_FRAME_BYTES,
  MAX_INBOUND_BLOCK_STREAMS, MAX_INBOUND_SCAN_STREAMS, MAX_MESSAGE_BYTES, MAX_PENDING_PER_STREAM, MAX_SCAN_CLIENT_FRAME_BYTES, MAX_SCAN_CREDIT,
  SCAN_PROTOCOL
} from './constants.js'
import { framed, type Framed } from './framed.js'
import { PeerLimits, type LimitedProtocol, type PeerLimitsInit } from './limits.js'
import {
  ScanBatcher, decodeBlocksClientMessage, decodeScanClientMessage, encodeBlock, encodeError, encodeScanEnd, encodeScanRecord,
  encodeStatus, type ScanEntry, type SkippedEntry, type WireErrorCode
} from './messages.js'
import { componentLogger, type AccessDecision, type Authorize, type BlockLookup, type BlockSource, type ScanSource, type ServerComponents } from './types.js'
import type { Connection, Logger, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Options of `startExchangeServer`. */
export interface ExchangeServerInit {
  /** Where blocks come from. */
  blocks: BlockSource
  /** Where scans come from; without it scan requests are answered NOT_FOUND. */
  scans?: ScanSource
  /** Called for every REQUEST frame, every requested block (`cid`) and every scan request (`root`); a refusal ends the stream with ERROR DENIED and the reason. */
  authorize: Authorize
  /** Default DEFAULT_SERVER_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number
  /** Blocks looked up ahead per stream; default DEFAULT_SERVER_READ_AHEAD. */
  readAhead?: number
  /** Default MAX_INBOUND_BLOCK_STREAMS. */
  maxInboundBlockStreams?: number
  /** Default MAX_INBOUND_SCAN_STREAMS. */
  maxInboundScanStreams?: number
  /** Per-peer stream caps and request rate; defaults in constants.ts (docs/security.md). */
  limits?: PeerLimitsInit
  /** Default DEFAULT_SERVER_FIRST_FRAME_TIMEOUT_MS. */
  firstFrameTimeoutMs?: number
}

/** Counters since start. */
export interface ExchangeServerStats {
  /** Streams being served now. */
  streams: number
  blocksSent: number
  /** Block payload bytes sent (frame headers not counted). */
  bytesSent: number
  /** Requests refused by the access hook. */
  refused: number
  /** Streams refused or ended because a peer exceeded a limit (ERROR LIMIT). */
  limited: number
  /** REQUEST frames held back because their peer asked faster than REQUEST_RATE_PER_PEER. */
  throttled: number
  /** Streams ended because a peer sent a malformed or unexpected frame (ERROR PROTOCOL). */
  malformed: number
  /** Streams ended because a peer went silent (ERROR TIMEOUT). */
  timedOut: number
}

/** A running server. */
export interface ExchangeServer {
  readonly stats: Readonly<ExchangeServerStats>
  /** Stops accepting streams and ends open ones with ERROR UNAVAILABLE. */
  stop: () => Promise<void>
}

/** A request the server turns down: ends the stream with an ERROR frame of `code`. */
class StreamFailure extends Error {
  constructor (readonly code: WireErrorCode, message: string) {
    super(message)
  }
}

const CLOSE_GRACE_MS = 5_000

/**
 * Bytes received and not yet read kept per served stream. Beyond it the stream is reset without an ERROR
 * frame, so it covers one yamux chunk in flight (a peer may send up to its 256 KiB window at once): a frame
 * with an oversize length prefix is then answered with ERROR PROTOCOL, not a bare reset.
 */
const INBOUND_BUFFER_BYTES = 512 * 1024

function wireCodeFor (err: unknown): WireErrorCode | undefined {
  if (err instanceof StreamFailure) return err.code
  if (isFerryError(err, 'ERR_PROTOCOL')) return 'protocol'
  if (isFerryError(err, 'ERR_NETWORK') || isFerryError(err, 'ERR_ABORTED')) return undefined // nobody to tell
  return 'internal'
}

/** One served stream's lifecycle: idle timer, failure with an ERROR frame, graceful close. */
class ServedStream {
  readonly done = new AbortController()
  private readonly timer: NodeJS.Timeout
  private ending = false

  private firstTimer: NodeJS.Timeout | undefined

  constructor (
    readonly io: Framed, private readonly log: Logger, idleMs: number, private readonly onIdle: () => StreamFailure,
    firstFrameMs: number, private readonly onEnd: (code: WireErrorCode | undefined) => void
  ) {
    this.timer = setTimeout(() => { void this.fail(this.onIdle()) }, idleMs)
    this.timer.unref()
    if (firstFrameMs < idleMs) {
      this.firstTimer = setTimeout(() => { void this.fail(new StreamFailure('timeout', `no first frame within ${firstFrameMs / 1000} s`)) }, firstFrameMs)
      this.firstTimer.unref()
    }
  }

  /** The first frame arrived: only the idle timeout applies from now on. */
  started (): void {
    clearTimeout(this.firstTimer)
  }

  get signal (): AbortSignal {
    return this.done.signal
  }

  /** Something happened: push the idle deadline back. */
  progress (): void {
    this.timer.refresh()
  }

  /** Ends the stream, telling the peer why when it can. Idempotent. */
  async fail (err: unknown): Promise<void> {
    if (this.ending) return
    this.ending = true
    clearTimeout(this.timer)
    clearTimeout(this.firstTimer)
    this.done.abort(err)
    const code = wireCodeFor(err)
    this.onEnd(code)
    const message = (err as Error)?.message ?? String(err)
    if (code === 'internal') this.log.error('internal error: %e', err)
    else this.log('ending stream: %s', message)
    if (code === undefined) {
      this.io.stream.abort(err instanceof Error ? err : new Error(message))
      return
    }
    try {
      const signal = AbortSignal.timeout(CLOSE_GRACE_MS)
      await this.io.write(encodeError(code, truncateUtf8(message, MAX_MESSAGE_BYTES)), { signal })
      await this.io.stream.close({ signal })
    } catch (e) {
      this.io.stream.abort(e instanceof Error ? e : new Error(String(e)))
    }
    this.abortUnlessClosed()
  }

  /** Gives the peer a moment to close its side after ours; then aborts so no read waits forever. */
  private abortUnlessClosed (): void {
    const stream = this.io.stream
    if (stream.status !== 'open') return
    const timer = setTimeout(() => { stream.abort(new Error('peer did not close its side of the stream')) }, CLOSE_GRACE_MS)
    timer.unref()
    stream.addEventListener('close', () => { clearTimeout(timer) }, { once: true })
  }

  /** Ends the stream normally. */
  async finish (): Promise<void> {
    if (this.ending) return
    this.ending = true
    clearTimeout(this.timer)
    clearTimeout(this.firstTimer)
    this.done.abort(new FerryError('ERR_ABORTED', 'stream finished'))
    try {
      await this.io.stream.close({ signal: AbortSignal.timeout(CLOSE_GRACE_MS) })
    } catch (e) {
      this.io.stream.abort(e instanceof Error ? e : new Error(String(e)))
    }
    this.abortUnlessClosed()
  }
}

async function decide (authorize: Authorize, peer: PeerId, protocol: string, root?: CID, cid?: CID): Promise<void> {
  let decision: AccessDecision
  try {
    decision = await authorize(peer, { protocol, ...(root !== undefined ? { root } : {}), ...(cid !== undefined ? { cid } : {}) })
  } catch (err) {
    throw new StreamFailure('internal', `access check failed: ${(err as Error)?.message ?? String(err)}`)
  }
  if (!decision.allow) throw new StreamFailure('denied', decision.reason)
}

/**
 * Registers the handlers of both protocols on `components` and returns the running server. Requests from
 * every peer go through `init.authorize` first.
 */
export async function startExchangeServer (components: ServerComponents, init: ExchangeServerInit): Promise<ExchangeServer> {
  const log = componentLogger(components.logger, 'ferry:exchange:server')
  const idleMs = init.idleTimeoutMs ?? DEFAULT_SERVER_IDLE_TIMEOUT_MS
  const readAhead = Math.max(1, init.readAhead ?? DEFAULT_SERVER_READ_AHEAD)
  const active = new Set<ServedStream>()
  const firstFrameMs = init.firstFrameTimeoutMs ?? DEFAULT_SERVER_FIRST_FRAME_TIMEOUT_MS
  const stats: ExchangeServerStats = { streams: 0, blocksSent: 0, bytesSent: 0, refused: 0, limited: 0, throttled: 0, malformed: 0, timedOut: 0 }
  const limits = new PeerLimits(init.limits)
  const countEnd = (code: WireErrorCode | undefined): void => {
    if (code === 'limit') stats.limited++
    else if (code === 'protocol') stats.malformed++
    else if (code === 'timeout') stats.timedOut++
  }
  let stopped = false

  const track = (s: ServedStream): () => void => {
    active.add(s)
    stats.streams = active.size
    return () => {
      active.delete(s)
      stats.streams = active.size
    }
  }

  const lookup = async (cid: CID, signal: AbortSignal): Promise<BlockLookup> => {
    try {
      return await init.blocks.get(cid, { signal })
    } catch (err) {
      if (signal.aborted) return { status: 'missing', message: 'stream ended' } // never sent; must not reject unawaited
      log.error('reading block %s failed: %e', cid, err)
      return { status: 'missing', message: `could not read block: ${(err as Error)?.message ?? String(err)}` }
    }
  }

  const answer = (cid: CID, result: BlockLookup): { frame: Uint8Array | ReturnType<typeof encodeBlock>, bytes: number } => {
    switch (result.status) {
      case 'ok': return { frame: encodeBlock(cid, result.bytes), bytes: result.bytes.byteLength }
      case 'changed': return { frame: encodeStatus(cid, 'changed', result.message), bytes: 0 }
      default: return { frame: encodeStatus(cid, 'not-found', result.message ?? 'not here'), bytes: 0 }
    }
  }

  /**
   * What both stream handlers start with: a scoped log, the framed stream with its inbound limit, the
   * served-stream lifecycle (idle and first-frame timers, failure, tracking) and a wake-up for the loop
   * that waits on the other (`waitForPoke` resolves at the next `poke`, or when the stream ends).
   */
  const open = (kind: 'blocks' | 'scan', stream: Stream, connection: Connection, maxFrameBytes: number, idleWhat: string) => {
    const peer = connection.remotePeer
    const slog = log.newScope(`${kind}:${peer.toString().slice(-8)}:${stream.id}`)
    const io = framed(stream, maxFrameBytes, INBOUND_BUFFER_BYTES, `${kind} stream from ${peer.toString()}`)
    const served = new ServedStream(io, slog, idleMs, () => new StreamFailure('timeout', `${idleWhat} for ${idleMs / 1000} s`), firstFrameMs, countEnd)
    const untrack = track(served)
    const signal = served.signal
    let wake: (() => void) | undefined
    const poke = (): void => {
      const w = wake
      wake = undefined
      w?.()
    }
    signal.addEventListener('abort', poke, { once: true })
    const waitForPoke = async (): Promise<void> => { await new Promise<void>((resolve) => { wake = resolve }) }
    return { peer, slog, io, served, untrack, signal, poke, waitForPoke }
  }

  const serveBlocks = async (stream: Stream, connection: Connection): Promise<void> => {
    const { peer, slog, io, served, untrack, signal, poke, waitForPoke } = open('blocks', stream, connection, MAX_BLOCKS_CLIENT_FRAME_BYTES, 'no request')
    const queue: CID[] = []
    let pending = 0
    let inputEnded = false

    const reader = async (): Promise<void> => {
      while (!signal.aborted) {
        const frame = await io.read()
        if (frame === null) {
          inputEnded = true
          poke()
          return
        }
        served.progress()
        served.started()
        const msg = decodeBlocksClientMessage(frame)
        if (msg.type === 'error') throw new FerryError('ERR_NETWORK', `client ended the stream: ${msg.message} (${msg.code})`)
        try {
          await decide(init.authorize, peer, BLOCKS_PROTOCOL)
        } catch (err) {
          stats.refused++
          throw err
        }
        // a peer asking faster than its rate waits here (all its streams share one budget)
        if (await limits.take(peer.toString(), msg.cids.length, signal) > 0) stats.throttled++
        if (pending + msg.cids.length > MAX_PENDING_PER_STREAM) {
          throw new StreamFailure('limit', `${pending + msg.cids.length} blocks requested and not yet answered on one stream: the limit is ${MAX_PENDING_PER_STREAM}`)
        }
        pending += msg.cids.length
        queue.push(...msg.cids)
        poke()
      }
    }

    /** Each block is authorised on its own right before it is read: a refusal comes back instead of a lookup. */
    const checkedLookup = async (cid: CID): Promise<BlockLookup | StreamFailure> => {
      try {
        await decide(init.authorize, peer, BLOCKS_PROTOCOL, undefined, cid)
      } catch (err) {
        return err instanceof StreamFailure ? err : new StreamFailure('internal', String(err))
      }
      return await lookup(cid, signal)
    }

    const sender = async (): Promise<void> => {
      const ahead: Array<{ cid: CID, result: Promise<BlockLookup | StreamFailure> }> = []
      while (!signal.aborted) {
        while (ahead.length < readAhead && queue.length > 0) {
          const cid = queue.shift() as CID
          ahead.push({ cid, result: checkedLookup(cid) })
        }
        const head = ahead.shift()
        if (head === undefined) {
          if (inputEnded) return
          await waitForPoke()
          continue
        }
        const result = await head.result
        if (signal.aborted) return
        if (result instanceof StreamFailure) {
          if (result.code === 'denied') stats.refused++
          throw result
        }
        const { frame, bytes } = answer(head.cid, result)
        await io.write(frame)
        pending--
        if (result.status === 'ok') stats.blocksSent++
        stats.bytesSent += bytes
        served.progress()
      }
    }

    try {
      // The reader ends first (client closed its side); the sender then drains what is queued.
      await Promise.all([
        reader().catch(async (err) => { await served.fail(err) }),
        sender().catch(async (err) => { await served.fail(err) })
      ])
      await served.finish()
    } finally {
      untrack()
    }
  }

  const serveScan = async (stream: Stream, connection: Connection): Promise<void> => {
    const { peer, slog, io, served, untrack, signal, poke, waitForPoke } = open('scan', stream, connection, MAX_SCAN_CLIENT_FRAME_BYTES, 'no credit granted')
    let credit = 0
    let complete = false

    const readCredit = async (): Promise<void> => {
      while (!signal.aborted) {
        const frame = await io.read()
        if (frame === null) {
          if (complete) return
          throw new FerryError('ERR_NETWORK', 'client closed the scan stream before its end')
        }
        const msg = decodeScanClientMessage(frame)
        if (msg.type === 'error') throw new FerryError('ERR_NETWORK', `client ended the scan stream: ${msg.message} (${msg.code})`)
        if (msg.type !== 'scan-more') throw new StreamFailure('protocol', 'a scan stream carries one SCAN_REQUEST')
        credit += msg.credit
        if (credit > MAX_SCAN_CREDIT) throw new StreamFailure('limit', `scan credit ${credit} exceeds the limit of ${MAX_SCAN_CREDIT}`)
        served.progress()
        poke()
      }
    }

    const sendCounted = async (frame: Uint8Array): Promise<void> => {
      while (credit === 0) {
        if (signal.aborted) throw signal.reason
        await waitForPoke()
      }
      if (signal.aborted) throw signal.reason
      credit--
      await io.write(frame)
      served.progress()
    }

    const serve = async (): Promise<void> => {
      const first = await io.read()
      if (first === null) return
      served.progress()
      served.started()
      const msg = decodeScanClientMessage(first)
      if (msg.type === 'error') return
      if (msg.type !== 'scan-request') throw new StreamFailure('protocol', 'a scan stream starts with SCAN_REQUEST')
      credit = msg.credit
      try {
        await decide(init.authorize, peer, SCAN_PROTOCOL, msg.root)
      } catch (err) {
        stats.refused++
        throw err
      }
      const scan = await init.scans?.getScan(msg.root)
      if (scan === undefined) {
        await io.write(encodeStatus(msg.root, 'not-found', `no scan with root ${msg.root.toString()} here`))
        return
      }
      const r = scan.record
      await io.write(encodeScanRecord({
        root: r.root, collection: r.collection, name: r.name, origin: r.origin, files: r.files, directories: r.directories,
        symlinks: r.symlinks, bytes: r.bytes, created: r.created, skipped: r.skipped.length, signature: r.signature
      }))
      const credits = readCredit().catch(async (err) => { await served.fail(err) })

      const skipped = new ScanBatcher<SkippedEntry>('skipped')
      for (const s of r.skipped) {
        if (skipped.add(s)) await sendCounted(skipped.take())
      }
      if (skipped.size > 0) await sendCounted(skipped.take())

      const entries = new ScanBatcher<ScanEntry>('entries')
      let count = 0
      for await (const e of scan.entries()) {
        count++
        if (entries.add(e)) await sendCounted(entries.take())
      }
      if (entries.size > 0) await sendCounted(entries.take())
      complete = true
      await io.write(encodeScanEnd(count, r.skipped.length))
      void credits
    }

    try {
      await serve()
      await served.finish()
    } catch (err) {
      await served.fail(err)
    } finally {
      untrack()
    }
  }

  /** Ends a stream the limits refused: ERROR LIMIT with the reason, never waiting long on the peer. */
  const refuse = async (stream: Stream, peer: PeerId, protocol: LimitedProtocol, reason: string): Promise<void> => {
    stats.limited++
    log('refusing a %s stream from %p: %s', protocol, peer, reason)
    const io = framed(stream, 1024, 4096, `${protocol} stream`)
    try {
      const signal = AbortSignal.timeout(CLOSE_GRACE_MS)
      await io.write(encodeError('limit', truncateUtf8(reason, MAX_MESSAGE_BYTES)), { signal })
      await stream.close({ signal })
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)))
    }
  }

  const guard = (protocol: LimitedProtocol, fn: (s: Stream, c: Connection) => Promise<void>) => async (stream: Stream, connection: Connection): Promise<void> => {
    if (stopped) {
      stream.abort(new Error('server stopped'))
      return
    }
    const slot = limits.open(connection.remotePeer.toString(), protocol)
    if (typeof slot === 'string') {
      await refuse(stream, connection.remotePeer, protocol, slot)
      return
    }
    try {
      await fn(stream, connection)
    } catch (err) {
      log.error('handler failed: %e', err)
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      slot.release()
    }
  }

  await components.handle(BLOCKS_PROTOCOL, guard('blocks', serveBlocks), { maxInboundStreams: init.maxInboundBlockStreams ?? MAX_INBOUND_BLOCK_STREAMS })
  try {
    await components.handle(SCAN_PROTOCOL, guard('scan', serveScan), { maxInboundStreams: init.maxInboundScanStreams ?? MAX_INBOUND_SCAN_STREAMS })
  } catch (err) {
    await components.unhandle(BLOCKS_PROTOCOL)
    throw err
  }
  log('serving %s and %s', BLOCKS_PROTOCOL, SCAN_PROTOCOL)

  return {
    stats,
    async stop () {
      if (stopped) return
      stopped = true
      await components.unhandle([BLOCKS_PROTOCOL, SCAN_PROTOCOL])
      await Promise.all([...active].map(async (s) => { await s.fail(new StreamFailure('unavailable', 'the server is shutting down')) }))
    }
  }
}
