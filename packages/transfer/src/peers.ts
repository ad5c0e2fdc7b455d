import { FerryError, isFerryError } from '@ferry/errors'
import type { BlockPeer, PeerSpec, PullProgressEvent } from './types.js'
import { INITIAL_BACKOFF_MS, MAX_BACKOFF_MS } from './constants.js'

export type PeerStatus = 'idle' | 'connecting' | 'up' | 'down' | 'banned' | 'refused' | 'gone'

/** One source of a pull and what we learnt about it. */
export class PeerState {
  status: PeerStatus = 'idle'
  peer?: BlockPeer
  /** Bytes of verified leaves it sent in this run. */
  bytes = 0
  lastError?: string
  private backoff = INITIAL_BACKOFF_MS
  private connecting?: Promise<BlockPeer | undefined>
  /** Dials to this peer, one after the other: libp2p joins a dial to a peer already being dialled. */
  private dials: Promise<unknown> = Promise.resolve()

  constructor (readonly spec: PeerSpec, private readonly emit: (e: PullProgressEvent) => void) {}

  get name (): string {
    return this.peer?.id ?? this.spec.label
  }

  get usable (): boolean {
    return this.status !== 'banned' && this.status !== 'refused' && this.status !== 'gone'
  }

  /** Connects (once at a time); undefined if it failed (status says why). */
  async connect (signal: AbortSignal): Promise<BlockPeer | undefined> {
    if (this.peer != null && this.status === 'up') return this.peer
    if (!this.usable) return undefined
    this.connecting ??= (async () => {
      this.status = 'connecting'
      try {
        const peer = await this.dial(signal)
        this.peer = peer
        this.status = 'up'
        this.backoff = INITIAL_BACKOFF_MS
        this.emit({ type: 'pull:peer', peer: peer.id, label: this.spec.label, state: 'connected' })
        return peer
      } catch (err) {
        if (signal.aborted) throw err
        this.fail(err)
        return undefined
      } finally {
        this.connecting = undefined
      }
    })()
    return await this.connecting
  }

  /**
   * Dials the peer once the dials before have settled; `own`: a connection of its own (PeerLink). libp2p
   * would hand a dial started while another to the same peer runs that other's connection.
   */
  async dial (signal: AbortSignal, own = false): Promise<BlockPeer> {
    const run = this.dials.then(async () => await this.spec.connect(signal, own ? { own } : undefined))
    this.dials = run.catch(() => {})
    return await run
  }

  /** Records a failure of the peer as a whole; refusals are final, the rest are retried with backoff. */
  fail (err: unknown): void {
    this.lastError = err instanceof Error ? err.message : String(err)
    const peer = this.peer
    this.peer = undefined
    peer?.close().catch(() => {})
    if (isFerryError(err, 'ERR_PEER_REFUSED')) {
      this.status = 'refused'
      this.emit({ type: 'pull:peer', peer: this.name, label: this.spec.label, state: 'refused', message: this.lastError })
    } else if (this.status !== 'banned') {
      this.status = 'down'
      this.emit({ type: 'pull:peer', peer: this.name, label: this.spec.label, state: 'down', message: this.lastError })
    }
  }

  /** A peer that sent bytes not matching their CID is not asked again in this pull. */
  ban (message: string): void {
    this.status = 'banned'
    this.lastError = message
    const peer = this.peer
    this.peer = undefined
    peer?.close().catch(() => {})
    this.emit({ type: 'pull:peer', peer: this.name, label: this.spec.label, state: 'banned', message })
  }

  /** Waits before the next reconnect attempt (doubling up to a maximum). */
  async waitBackoff (signal: AbortSignal): Promise<void> {
    this.emit({ type: 'pull:peer', peer: this.name, label: this.spec.label, state: 'retrying', message: `retrying in ${(this.backoff / 1000).toFixed(1)} s` })
    await sleep(this.backoff, signal)
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS)
  }

  async close (): Promise<void> {
    await this.peer?.close().catch(() => {})
  }
}

/**
 * One extra connection to a source (index 1 .. connections - 1; the PeerState is connection 0), carrying its
 * share of the leaf requests. Its loss is its own: redialled with backoff while the others go on. A refusal
 * or a ban is the peer's (the owner's `fail`, `ban`), and ends every connection to it.
 */
export class PeerLink {
  status: 'idle' | 'connecting' | 'up' | 'down' = 'idle'
  peer?: BlockPeer
  private backoff = INITIAL_BACKOFF_MS
  /** Set when a connection that was up is lost: its first redial goes at once (the peer was fine a moment ago). */
  private redialNow = false

  constructor (readonly owner: PeerState, readonly index: number, private readonly emit: (e: PullProgressEvent) => void) {}

  /** Dials a connection of its own; undefined if that failed or the peer is no longer usable. */
  async connect (signal: AbortSignal): Promise<BlockPeer | undefined> {
    if (this.peer != null && this.status === 'up') return this.peer
    if (!this.owner.usable) return undefined
    this.status = 'connecting'
    try {
      const peer = await this.owner.dial(signal, true)
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a ban or refusal may come while it dials
      if (!this.owner.usable) {
        await peer.close().catch(() => {})
        this.status = 'down'
        return undefined
      }
      this.peer = peer
      this.status = 'up'
      this.backoff = INITIAL_BACKOFF_MS
      this.emit({ type: 'pull:connection', peer: peer.id, label: this.owner.spec.label, connection: this.index, state: 'connected' })
      return peer
    } catch (err) {
      if (signal.aborted) throw err
      // never the peer's refusal: connection 0 to the same node got through, so a failed dial here (a
      // handshake that timed out on a loaded host, say, which dialPeer calls final) is this connection's
      this.down(err)
      return undefined
    }
  }

  /** A request over this connection failed: closed, to be redialled; a refusal is the whole peer's. */
  fail (err: unknown): void {
    this.down(err)
    if (isFerryError(err, 'ERR_PEER_REFUSED')) this.owner.fail(err)
  }

  /** Closes this connection and says so; the supervisor redials it after a backoff. */
  private down (err: unknown): void {
    const peer = this.peer
    this.peer = undefined
    this.redialNow = this.status === 'up'
    this.status = 'down'
    ;(peer?.discard ?? peer?.close)?.call(peer).catch(() => {})
    const message = err instanceof Error ? err.message : String(err)
    this.emit({ type: 'pull:connection', peer: this.owner.name, label: this.owner.spec.label, connection: this.index, state: 'down', message })
  }

  /** Waits before the next redial (none after losing a connection that was up, then doubling up to a maximum). */
  async waitBackoff (signal: AbortSignal): Promise<void> {
    if (this.redialNow) {
      this.redialNow = false
      return
    }
    await sleep(this.backoff, signal)
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS)
  }

  async close (): Promise<void> {
    const peer = this.peer
    this.peer = undefined
    this.status = 'down'
    await peer?.close().catch(() => {})
  }
}

export async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw new FerryError('ERR_ABORTED', 'Aborted', { cause: signal.reason })
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(t); reject(new FerryError('ERR_ABORTED', 'Aborted', { cause: signal.reason })) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
