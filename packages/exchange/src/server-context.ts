/**
 * What the exchange server's stream handlers share (`ServerContext`), and how each handler opens a stream
 * (`openServed`) and asks the access hook (`decide`).
 */
import { framed, type Framed } from './framed.js'
import { ServedStream, StreamFailure } from './served-stream.js'
import type { LimitedProtocol, PeerLimits } from './limits.js'
import type { WireErrorCode } from './messages.js'
import type { AccessDecision, Authorize, BlockSource, CatalogSource, ScanSource } from './types.js'
import type { Connection, Logger, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { errorMessage } from '@ferry/errors'

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

/** What a stream handler is given: the server's options, its per-peer limits, counters, log and timeouts. */
export interface ServerContext {
  readonly options: {
    readonly blocks: BlockSource
    readonly scans?: ScanSource
    /** The catalog listed on /ferry/catalog and announced on /ferry/announce; without it pages are empty and nothing is announced. */
    readonly catalog?: CatalogSource
    readonly authorize: Authorize
    /** Blocks looked up ahead per blocks stream (at least 1). */
    readonly readAhead: number
  }
  readonly limits: PeerLimits
  readonly stats: ExchangeServerStats
  readonly log: Logger
  /** `keepAliveMs`: an announce stream sends ANNOUNCE_KEEPALIVE after this long without an announcement (below `idleMs`). */
  readonly timeouts: { readonly idleMs: number, readonly firstFrameMs: number, readonly keepAliveMs: number }
  /** The streams being served, ended by `stop`. */
  readonly active: Set<ServedStream>
}

/**
 * Bytes received and not yet read kept per served stream. Beyond it the stream is reset without an ERROR
 * frame, so it covers one yamux chunk in flight (a peer may send up to its 256 KiB window at once): a frame
 * with an oversize length prefix is then answered with ERROR PROTOCOL, not a bare reset.
 */
const INBOUND_BUFFER_BYTES = 512 * 1024

/** A stream as a handler holds it, from `openServed`. */
export interface OpenedStream {
  peer: PeerId
  io: Framed
  served: ServedStream
  /** Removes the stream from `active`; call once it has ended. */
  untrack: () => void
  /** Aborted when the stream ends, for whatever reason. */
  signal: AbortSignal
  /** Wakes the loop in `waitForPoke`. */
  poke: () => void
  /** Resolves at the next `poke`, or when the stream ends. */
  waitForPoke: () => Promise<void>
}

/** Counts how a stream ended in the stats. */
function countEnd (stats: ExchangeServerStats, code: WireErrorCode | undefined): void {
  if (code === 'limit') stats.limited++
  else if (code === 'protocol') stats.malformed++
  else if (code === 'timeout') stats.timedOut++
}

/**
 * What every stream handler starts with: a scoped log, the framed stream with its inbound limit, the
 * served-stream lifecycle (idle and first-frame timers, failure, tracking) and a wake-up for the loop
 * that waits on the other.
 */
export function openServed (ctx: ServerContext, kind: LimitedProtocol, stream: Stream, connection: Connection, maxFrameBytes: number, idleWhat: string): OpenedStream {
  const { idleMs, firstFrameMs } = ctx.timeouts
  const peer = connection.remotePeer
  const slog = ctx.log.newScope(`${kind}:${peer.toString().slice(-8)}:${stream.id}`)
  const io = framed(stream, maxFrameBytes, INBOUND_BUFFER_BYTES, `${kind} stream from ${peer.toString()}`)
  const served = new ServedStream(io, slog, idleMs, () => new StreamFailure('timeout', `${idleWhat} for ${idleMs / 1000} s`), firstFrameMs, (code) => { countEnd(ctx.stats, code) })
  ctx.active.add(served)
  ctx.stats.streams = ctx.active.size
  const untrack = (): void => {
    ctx.active.delete(served)
    ctx.stats.streams = ctx.active.size
  }
  const signal = served.signal
  let wake: (() => void) | undefined
  const poke = (): void => {
    const w = wake
    wake = undefined
    w?.()
  }
  signal.addEventListener('abort', poke, { once: true })
  const waitForPoke = async (): Promise<void> => { await new Promise<void>((resolve) => { wake = resolve }) }
  return { peer, io, served, untrack, signal, poke, waitForPoke }
}

/** Asks the access hook; a refusal throws StreamFailure DENIED with its reason, a failing hook INTERNAL. */
export async function decide (authorize: Authorize, peer: PeerId, protocol: string, root?: CID, cid?: CID): Promise<void> {
  let decision: AccessDecision
  try {
    decision = await authorize(peer, { protocol, ...(root !== undefined ? { root } : {}), ...(cid !== undefined ? { cid } : {}) })
  } catch (err) {
    throw new StreamFailure('internal', `access check failed: ${errorMessage(err)}`)
  }
  if (!decision.allow) throw new StreamFailure('denied', decision.reason)
}
