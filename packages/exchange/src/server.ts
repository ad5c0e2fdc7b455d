/**
 * The serving side of /ferry/blocks/1.0.0, /ferry/scan/2.0.0, /ferry/catalog/1.0.0 and /ferry/announce/1.0.0:
 * `startExchangeServer` registers the protocols, each stream going through the per-peer limits first, then
 * to its handler (blocks-handler.ts, scan-handler.ts, catalog-handler.ts, announce-handler.ts). The handlers share a `ServerContext` (server-context.ts): the options, the limits, the
 * counters, the log and the timeouts. Anything wrong ends a stream with an ERROR frame naming the problem
 * (served-stream.ts).
 */
import { truncateUtf8 } from './codec.js'
import { announceHandler } from './announce-handler.js'
import { blocksHandler } from './blocks-handler.js'
import { catalogHandler } from './catalog-handler.js'
import {
  ANNOUNCE_PROTOCOL, BLOCKS_PROTOCOL, CATALOG_PROTOCOL, DEFAULT_ANNOUNCE_KEEPALIVE_MS, DEFAULT_SERVER_FIRST_FRAME_TIMEOUT_MS, DEFAULT_SERVER_IDLE_TIMEOUT_MS,
  DEFAULT_SERVER_READ_AHEAD, MAX_INBOUND_ANNOUNCE_STREAMS, MAX_INBOUND_BLOCK_STREAMS, MAX_INBOUND_CATALOG_STREAMS, MAX_INBOUND_SCAN_STREAMS, MAX_MESSAGE_BYTES,
  SCAN_PROTOCOL
} from './constants.js'
import { framed } from './framed.js'
import { PeerLimits, type LimitedProtocol, type PeerLimitsInit } from './limits.js'
import { encodeError } from './messages.js'
import { scanHandler } from './scan-handler.js'
import { CLOSE_GRACE_MS, StreamFailure } from './served-stream.js'
import { componentLogger, type Authorize, type BlockSource, type CatalogSource, type ScanSource, type ServerComponents } from './types.js'
import type { ExchangeServerStats, ServerContext } from './server-context.js'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

export type { ExchangeServerStats } from './server-context.js'

/** Options of `startExchangeServer`. */
export interface ExchangeServerInit {
  /** Where blocks come from. */
  blocks: BlockSource
  /** Where scans come from; without it scan requests are answered NOT_FOUND. */
  scans?: ScanSource
  /** The catalog listed on /ferry/catalog and announced on /ferry/announce; without it pages are empty and nothing is announced. */
  catalog?: CatalogSource
  /** Announce streams send a keep-alive after this long without an announcement; default DEFAULT_ANNOUNCE_KEEPALIVE_MS (kept below half the idle timeout). */
  keepAliveMs?: number
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

/** A running server. */
export interface ExchangeServer {
  readonly stats: Readonly<ExchangeServerStats>
  /** Stops accepting streams and ends open ones with ERROR UNAVAILABLE. */
  stop: () => Promise<void>
}

type Handler = (stream: Stream, connection: Connection) => Promise<void>

/** Ends a stream the limits refused: ERROR LIMIT with the reason, never waiting long on the peer. */
async function refuse (ctx: ServerContext, stream: Stream, peer: PeerId, protocol: LimitedProtocol, reason: string): Promise<void> {
  ctx.stats.limited++
  ctx.log('refusing a %s stream from %p: %s', protocol, peer, reason)
  const io = framed(stream, 1024, 4096, `${protocol} stream`)
  try {
    const signal = AbortSignal.timeout(CLOSE_GRACE_MS)
    await io.write(encodeError('limit', truncateUtf8(reason, MAX_MESSAGE_BYTES)), { signal })
    await stream.close({ signal })
  } catch (e) {
    stream.abort(e instanceof Error ? e : new Error(String(e)))
  }
}

/** `handler` behind the per-peer stream limit of `protocol`; nothing once the server has stopped. */
function guard (ctx: ServerContext, stopped: () => boolean, protocol: LimitedProtocol, handler: Handler): Handler {
  return async (stream, connection) => {
    if (stopped()) {
      stream.abort(new Error('server stopped'))
      return
    }
    const slot = ctx.limits.open(connection.remotePeer.toString(), protocol)
    if (typeof slot === 'string') {
      await refuse(ctx, stream, connection.remotePeer, protocol, slot)
      return
    }
    try {
      await handler(stream, connection)
    } catch (err) {
      ctx.log.error('handler failed: %e', err)
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      slot.release()
    }
  }
}

function serverContext (components: ServerComponents, init: ExchangeServerInit): ServerContext {
  const idleMs = init.idleTimeoutMs ?? DEFAULT_SERVER_IDLE_TIMEOUT_MS
  return {
    options: { blocks: init.blocks, scans: init.scans, catalog: init.catalog, authorize: init.authorize, readAhead: Math.max(1, init.readAhead ?? DEFAULT_SERVER_READ_AHEAD) },
    limits: new PeerLimits(init.limits),
    stats: { streams: 0, blocksSent: 0, bytesSent: 0, refused: 0, limited: 0, throttled: 0, malformed: 0, timedOut: 0 },
    log: componentLogger(components.logger, 'ferry:exchange:server'),
    timeouts: { idleMs, firstFrameMs: init.firstFrameTimeoutMs ?? DEFAULT_SERVER_FIRST_FRAME_TIMEOUT_MS, keepAliveMs: Math.max(1, Math.min(init.keepAliveMs ?? DEFAULT_ANNOUNCE_KEEPALIVE_MS, Math.floor(idleMs / 2))) },
    active: new Set()
  }
}

/**
 * Registers the handlers of the four protocols on `components` and returns the running server. Requests from
 * every peer go through `init.authorize` first.
 */
export async function startExchangeServer (components: ServerComponents, init: ExchangeServerInit): Promise<ExchangeServer> {
  const ctx = serverContext(components, init)
  let stopped = false
  const isStopped = (): boolean => stopped

  const protocols: Array<[string, LimitedProtocol, Handler, number]> = [
    [BLOCKS_PROTOCOL, 'blocks', blocksHandler(ctx), init.maxInboundBlockStreams ?? MAX_INBOUND_BLOCK_STREAMS],
    [SCAN_PROTOCOL, 'scan', scanHandler(ctx), init.maxInboundScanStreams ?? MAX_INBOUND_SCAN_STREAMS],
    [CATALOG_PROTOCOL, 'catalog', catalogHandler(ctx), MAX_INBOUND_CATALOG_STREAMS],
    [ANNOUNCE_PROTOCOL, 'announce', announceHandler(ctx), MAX_INBOUND_ANNOUNCE_STREAMS]
  ]
  const handled: string[] = []
  try {
    for (const [protocol, kind, handler, maxInboundStreams] of protocols) {
      await components.handle(protocol, guard(ctx, isStopped, kind, handler), { maxInboundStreams })
      handled.push(protocol)
    }
  } catch (err) {
    await components.unhandle(handled)
    throw err
  }
  ctx.log('serving %s', handled.join(', '))

  return {
    stats: ctx.stats,
    async stop () {
      if (stopped) return
      stopped = true
      await components.unhandle(handled)
      await Promise.all([...ctx.active].map(async (s) => { await s.fail(new StreamFailure('unavailable', 'the server is shutting down')) }))
    }
  }
}
