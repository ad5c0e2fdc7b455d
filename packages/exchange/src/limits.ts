/**
 * Per-peer limits of the exchange server, across all of a peer's connections (libp2p's `maxInboundStreams`
 * counts per connection, and a peer may open many): concurrent streams per peer and protocol, concurrent
 * streams in total, and a token bucket on the CIDs a peer requests per second. One misbehaving peer holds
 * at most its own share, so it cannot starve the others. docs/security.md lists every limit.
 */
import { FerryError } from '@ferry/errors'
import {
  MAX_ANNOUNCE_STREAMS_PER_PEER, MAX_BLOCK_STREAMS_PER_PEER, MAX_CATALOG_STREAMS_PER_PEER, MAX_SCAN_STREAMS_PER_PEER, MAX_SERVED_ANNOUNCE_STREAMS,
  MAX_SERVED_BLOCK_STREAMS, MAX_SERVED_CATALOG_STREAMS, MAX_SERVED_SCAN_STREAMS, REQUEST_BURST_PER_PEER, REQUEST_RATE_PER_PEER
} from './constants.js'

/** Options of `PeerLimits`; every field defaults to the constant of the same meaning. */
export interface PeerLimitsInit {
  blockStreamsPerPeer?: number
  scanStreamsPerPeer?: number
  blockStreamsTotal?: number
  scanStreamsTotal?: number
  catalogStreamsPerPeer?: number
  catalogStreamsTotal?: number
  announceStreamsPerPeer?: number
  announceStreamsTotal?: number
  /** CIDs per second a peer may request, sustained. */
  requestRate?: number
  /** CIDs a peer may request at once after a quiet spell. */
  requestBurst?: number
}

export type LimitedProtocol = 'blocks' | 'scan' | 'catalog' | 'announce'

const NO_STREAMS = (): Record<LimitedProtocol, number> => ({ blocks: 0, scan: 0, catalog: 0, announce: 0 })

/** Peers remembered before idle ones are swept (each costs ~100 bytes). */
const SWEEP_AT = 1024

interface PeerState {
  streams: Record<LimitedProtocol, number>
  /** Tokens in the bucket; negative while requests wait for it to refill (their debt). */
  tokens: number
  refilled: number
}

/** A granted stream slot: call `release` once when the stream ends. */
export interface StreamSlot { release: () => void }

/** Stream counts and request budgets of every peer the server sees. */
export class PeerLimits {
  private readonly peers = new Map<string, PeerState>()
  private readonly totals: Record<LimitedProtocol, number> = NO_STREAMS()
  private readonly perPeer: Record<LimitedProtocol, number>
  private readonly total: Record<LimitedProtocol, number>
  private readonly rate: number
  private readonly burst: number

  constructor (init: PeerLimitsInit = {}) {
    this.perPeer = {
      blocks: init.blockStreamsPerPeer ?? MAX_BLOCK_STREAMS_PER_PEER,
      scan: init.scanStreamsPerPeer ?? MAX_SCAN_STREAMS_PER_PEER,
      catalog: init.catalogStreamsPerPeer ?? MAX_CATALOG_STREAMS_PER_PEER,
      announce: init.announceStreamsPerPeer ?? MAX_ANNOUNCE_STREAMS_PER_PEER
    }
    this.total = {
      blocks: init.blockStreamsTotal ?? MAX_SERVED_BLOCK_STREAMS,
      scan: init.scanStreamsTotal ?? MAX_SERVED_SCAN_STREAMS,
      catalog: init.catalogStreamsTotal ?? MAX_SERVED_CATALOG_STREAMS,
      announce: init.announceStreamsTotal ?? MAX_SERVED_ANNOUNCE_STREAMS
    }
    this.rate = init.requestRate ?? REQUEST_RATE_PER_PEER
    this.burst = init.requestBurst ?? REQUEST_BURST_PER_PEER
  }

  private state (peer: string): PeerState {
    let s = this.peers.get(peer)
    if (s === undefined) {
      // peers that left in debt are only forgotten here: sweep now and then, so many PeerIds cannot grow the map
      if (this.peers.size >= SWEEP_AT) for (const [p, st] of this.peers) this.forget(p, st)
      s = { streams: NO_STREAMS(), tokens: this.burst, refilled: performance.now() }
      this.peers.set(peer, s)
    }
    return s
  }

  /** Forgets a peer with no stream open and a full bucket (nothing left to remember). */
  private forget (peer: string, s: PeerState): void {
    this.refill(s)
    if (Object.values(s.streams).every((n) => n === 0) && s.tokens >= this.burst) this.peers.delete(peer)
  }

  /** Streams `peer` has open on `protocol` now. */
  streams (peer: string, protocol: LimitedProtocol): number {
    return this.peers.get(peer)?.streams[protocol] ?? 0
  }

  /**
   * A slot for a new stream of `peer`, or a message saying which limit it would exceed. The caller ends a
   * refused stream with ERROR LIMIT and that message.
   */
  open (peer: string, protocol: LimitedProtocol): StreamSlot | string {
    const s = this.state(peer)
    if (s.streams[protocol] >= this.perPeer[protocol]) {
      this.forget(peer, s)
      return `${s.streams[protocol]} ${protocol} streams already open from this peer, across its connections: the limit is ${this.perPeer[protocol]}`
    }
    if (this.totals[protocol] >= this.total[protocol]) {
      this.forget(peer, s)
      return `the server is serving its limit of ${this.total[protocol]} ${protocol} streams: try again later`
    }
    s.streams[protocol]++
    this.totals[protocol]++
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        s.streams[protocol]--
        this.totals[protocol]--
        this.forget(peer, s)
      }
    }
  }

  private refill (s: PeerState): void {
    const now = performance.now()
    s.tokens = Math.min(this.burst, s.tokens + (now - s.refilled) * this.rate / 1000)
    s.refilled = now
  }

  /**
   * Takes `n` request tokens from `peer`'s bucket, waiting while it is in debt, so a peer that asks faster
   * than the rate is slowed to it (not cut off: a real pull may burst). Resolves to the milliseconds waited;
   * rejects with ERR_ABORTED if `signal` fires first.
   */
  async take (peer: string, n: number, signal?: AbortSignal): Promise<number> {
    const s = this.state(peer)
    this.refill(s)
    s.tokens -= n
    if (s.tokens >= 0) return 0
    const waitMs = Math.ceil(-s.tokens * 1000 / this.rate)
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer)
        reject(new FerryError('ERR_ABORTED', 'stream ended while waiting for its request budget', { cause: signal?.reason }))
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, waitMs)
      if (signal?.aborted === true) onAbort()
      else signal?.addEventListener('abort', onAbort, { once: true })
    })
    return waitMs
  }

  /** Peers with state kept (for tests: it must not grow without bound). */
  get size (): number {
    return this.peers.size
  }
}
