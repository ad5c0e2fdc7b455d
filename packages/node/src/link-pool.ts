/**
 * Idle connections of their own (`dialPeer({ own: true })`, libp2p's `force`) kept for the next client that
 * wants one to the same peer, instead of a new TCP connection, Noise handshake and yamux session each time:
 * the daemon's tasks open `connections - 1` such connections per source for every scan, and a visit is
 * hundreds of scans one after the other (docs/benchmarks.md, "A visit through a subscription").
 *
 * A connection comes back when its client is closed after normal use (`release`), stays at most
 * `idleMs`, and is closed then, when the pool is full for that peer, or when the pool closes. A client that
 * saw its connection fail closes it for good (`discard`), so a broken connection is never handed out again.
 */
import type { Connection } from '@libp2p/interface'

/** How long an idle connection of its own is kept for the next client to that peer. */
export const DEFAULT_LINK_IDLE_MS = 10_000

/** Idle connections kept per peer at most (the most a pull opens: MAX_CONNECTIONS_PER_PEER - 1 extra). */
export const DEFAULT_LINK_POOL_PER_PEER = 15

export interface LinkPoolInit {
  idleMs?: number
  perPeer?: number
}

interface Idle { connection: Connection, timer: ReturnType<typeof setTimeout> }

/** The pool of one node; `close` closes what it holds. */
export class LinkPool {
  private readonly idle = new Map<string, Idle[]>()
  private readonly idleMs: number
  private readonly perPeer: number
  private closed = false

  constructor (init: LinkPoolInit = {}) {
    this.idleMs = init.idleMs ?? DEFAULT_LINK_IDLE_MS
    this.perPeer = init.perPeer ?? DEFAULT_LINK_POOL_PER_PEER
  }

  /** An idle open connection to `peer` (a PeerId string), taken out of the pool; undefined if none. */
  take (peer: string): Connection | undefined {
    const list = this.idle.get(peer)
    while (list !== undefined && list.length > 0) {
      const item = list.pop() as Idle
      clearTimeout(item.timer)
      if (item.connection.status === 'open') {
        if (list.length === 0) this.idle.delete(peer)
        return item.connection
      }
    }
    this.idle.delete(peer)
    return undefined
  }

  /** Gives `connection` back after normal use: kept for `idleMs` if it is open and there is room, else closed. */
  async release (connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const list = this.idle.get(peer) ?? []
    if (this.closed || connection.status !== 'open' || list.length >= this.perPeer) {
      await closeConnection(connection)
      return
    }
    const timer = setTimeout(() => {
      const now = this.idle.get(peer)
      const i = now?.findIndex((x) => x.connection === connection) ?? -1
      if (i >= 0) now?.splice(i, 1)
      if (now?.length === 0) this.idle.delete(peer)
      void closeConnection(connection)
    }, this.idleMs)
    timer.unref()
    list.push({ connection, timer })
    this.idle.set(peer, list)
  }

  /** Idle connections held now, over every peer. */
  get size (): number {
    let n = 0
    for (const list of this.idle.values()) n += list.length
    return n
  }

  /** Closes every idle connection; later releases close theirs at once. */
  async close (): Promise<void> {
    this.closed = true
    const all = [...this.idle.values()].flat()
    this.idle.clear()
    for (const item of all) clearTimeout(item.timer)
    await Promise.all(all.map(async (item) => { await closeConnection(item.connection) }))
  }
}

/** Closes gracefully, else aborts (a close that fails leaves nothing half-open). */
export async function closeConnection (connection: Connection): Promise<void> {
  await connection.close().catch((err: unknown) => { connection.abort(err instanceof Error ? err : new Error(String(err))) })
}
