/**
 * One connection to a source shared by everything that follows from it, re-established after a failure:
 * a network error, a timeout or the peer closing drops the connection; the next use reconnects, trying
 * each source in turn, with a growing backoff, until the deadline passes without a working connection.
 */
import { FerryError, isFerryError } from '@ferry/errors'
import { BUSY_PAUSE_MS, DEFAULT_FOLLOW_DEADLINE_MS, MAX_RECONNECT_BACKOFF_MS } from './constants.js'
import type { FollowPeer, FollowPeerSpec, FollowProgressEvent } from './types.js'

/** A shared, self-healing connection to the sources of a follow. */
export interface Source {
  /** Runs `fn` against a connected peer; on a network failure reconnects and runs it again. */
  use: <T>(fn: (peer: FollowPeer) => Promise<T>) => Promise<T>
  /**
   * As `use`, for a `/ferry/catalog` request: one at a time per source (a server allows a peer
   * MAX_CATALOG_STREAMS_PER_PEER of them; one refused with ERROR LIMIT is retried after a pause).
   */
  catalog: <T>(fn: (peer: FollowPeer) => Promise<T>) => Promise<T>
  close: () => Promise<void>
}

/** Options of `createSource`. */
export interface SourceInit {
  peers: FollowPeerSpec[]
  signal: AbortSignal
  onProgress?: (e: FollowProgressEvent) => void
  /** Give up once no source has answered for this long; default DEFAULT_FOLLOW_DEADLINE_MS. */
  deadlineMs?: number
}

/** True for ERROR LIMIT from the source (too many streams of ours at once): worth retrying as is. */
export function isBusy (err: unknown): boolean {
  return isFerryError(err, 'ERR_PROTOCOL') && err.details.wireCode === 'limit'
}

/** True for a failure of the connection, not of the request: worth reconnecting for. */
export function isConnectionFailure (err: unknown, signal: AbortSignal): boolean {
  if (signal.aborted) return false
  return isFerryError(err, 'ERR_NETWORK') || isFerryError(err, 'ERR_TIMEOUT') || isFerryError(err, 'ERR_ABORTED')
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    const t = setTimeout(done, ms)
    function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}

/** The shared connection (see the module comment). */
export function createSource (init: SourceInit): Source {
  const { peers, signal } = init
  if (peers.length === 0) throw new FerryError('ERR_USAGE', 'Following needs a source: give --from PEER')
  const deadlineMs = init.deadlineMs ?? DEFAULT_FOLLOW_DEADLINE_MS
  let current: Promise<FollowPeer> | undefined
  let turn = 0
  let lastGood = Date.now()
  let down = false
  const connect = async (): Promise<FollowPeer> => {
    for (let attempt = 0; ; attempt++) {
      const spec = peers[turn % peers.length]!
      try {
        const peer = await spec.connect(signal)
        if (down) init.onProgress?.({ type: 'follow:peer', peer: spec.label, state: 'connected' })
        down = false
        return peer
      } catch (err) {
        if (!isConnectionFailure(err, signal) && !isFerryError(err, 'ERR_PEER_REFUSED')) throw err
        turn++
        down = true
        init.onProgress?.({ type: 'follow:peer', peer: spec.label, state: 'down', message: (err as Error).message })
        if (Date.now() - lastGood > deadlineMs) throw new FerryError('ERR_NETWORK', `No source answered for ${Math.round(deadlineMs / 1000)} s (${spec.label}: ${(err as Error).message})`, { cause: err })
        await sleep(Math.min(MAX_RECONNECT_BACKOFF_MS, 250 * 2 ** Math.min(attempt, 5)), signal)
        if (signal.aborted) throw new FerryError('ERR_ABORTED', 'Follow aborted', { cause: signal.reason })
      }
    }
  }
  const use = async <T>(fn: (peer: FollowPeer) => Promise<T>): Promise<T> => {
    for (;;) {
      const attempt = current ??= connect()
      let peer: FollowPeer | undefined
      try {
        peer = await attempt
        const out = await fn(peer)
        lastGood = Date.now()
        return out
      } catch (err) {
        if (peer === undefined && current === attempt) current = undefined
        if (peer !== undefined && isBusy(err) && Date.now() - lastGood <= deadlineMs) {
          await sleep(BUSY_PAUSE_MS, signal)
          continue
        }
        if (!isConnectionFailure(err, signal) || peer === undefined) throw err
        if (current === attempt) {
          current = undefined
          down = true
          init.onProgress?.({ type: 'follow:peer', peer: peer.id, state: 'down', message: (err as Error).message })
          await peer.close().catch(() => {})
        }
        if (Date.now() - lastGood > deadlineMs) throw err
        await sleep(250, signal)
      }
    }
  }
  let queue: Promise<unknown> = Promise.resolve()
  const catalog = async <T>(fn: (peer: FollowPeer) => Promise<T>): Promise<T> => {
    const run = queue.then(async () => await use(fn))
    queue = run.catch(() => {})
    return await run
  }
  return {
    use,
    catalog,
    close: async () => {
      const c = current
      current = undefined
      await (await c?.catch(() => undefined))?.close().catch(() => {})
    }
  }
}
