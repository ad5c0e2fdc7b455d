/**
 * `apiService`: the HTTP API as a daemon service (`runDaemon({ services })`): started once the node
 * listens, on 127.0.0.1 and the config's `api.port` (0 = a free port), its URL written to daemon.json.
 */
import os from 'node:os'
import { freeSpace, readConfig } from '@ferry/store'
import { FerryError } from '@ferry/errors'
import { addPeer, listPeers, removePeer, type DaemonContext, type DaemonServiceStarter, type NamedPeer } from '@ferry/node'
import type { SubscriptionService } from '@ferry/tasks'
import type { ApiContext, RemoteCatalogPage, RemoteCatalogQuery } from './context.js'
import { buildApi } from './server.js'
import type { EventStreamOptions } from './sse.js'
import { ensureApiToken } from './token.js'
import { loadWebAssets } from '@ferry/web'

/** The API listens on this address only. */
export const API_HOST = '127.0.0.1'

/** Options of `apiService`. */
export interface ApiServiceOptions {
  /** Ferry's version, for GET /v1/node. */
  version: string
  /** Port instead of the config's `api.port`. */
  port?: number
  events?: EventStreamOptions
  /** The daemon's subscriptions (`subscriptionDaemonService({ onStarted })`), once running. */
  subscriptions?: () => SubscriptionService | undefined
}

/** Longest a dial of a peer for its catalog, or one page from it, may take. */
export const REMOTE_CATALOG_TIMEOUT_MS = 15_000

/** Dials `peer`'s addresses in turn and reads one page of its catalog. */
async function remoteCatalog (d: DaemonContext, peer: NamedPeer, query: RemoteCatalogQuery): Promise<RemoteCatalogPage> {
  let failure: unknown = new FerryError('ERR_NETWORK', `Peer ${peer.name} has no address to dial`)
  for (const addr of peer.addrs) {
    const signal = AbortSignal.timeout(REMOTE_CATALOG_TIMEOUT_MS)
    let client
    try {
      client = await d.node.dialPeer(addr, { signal })
    } catch (err) {
      failure = err
      continue
    }
    try {
      const pages = client.listCatalog({ pageSize: query.limit, signal, collection: query.collection, prefix: query.prefix, cursor: query.cursor })
      for await (const page of pages) return page // one page; leaving the loop ends the stream
      return { rows: [], next: new Uint8Array(0) }
    } finally {
      await client.close()
    }
  }
  throw failure
}

/** The routes' view of a running daemon. */
export function fromDaemon (d: DaemonContext, version: string, url: () => string, extra: Pick<ApiContext, 'subscriptions'> = {}): ApiContext {
  const dir = d.home.dir
  return {
    home: dir,
    version,
    node: () => ({ name: os.hostname(), peerId: d.info.peerId, addresses: d.node.addrs(), started: d.info.started }),
    space: async (p) => await freeSpace(p),
    remoteCatalog: async (peer, query) => await remoteCatalog(d, peer, query),
    holds: (root) => {
      try {
        return d.home.catalog.getScan(root) !== undefined
      } catch {
        return false // not a CID this catalog can look up: not held
      }
    },
    url,
    listPeers: async () => await listPeers(dir),
    trusted: async () => (await readConfig(dir)).trusted,
    addPeer: async (name, addr) => await addPeer(dir, name, addr, d.info.peerId),
    removePeer: async (name) => await removePeer(dir, name),
    peerState: (id) => d.peers.state(id),
    checkPeer: (peer) => { void d.peers.check(peer).catch(() => {}) },
    events: d.events,
    ...extra
  }
}

/** The API as a service of `runDaemon`. */
export function apiService (options: ApiServiceOptions): DaemonServiceStarter {
  return async (d) => {
    const token = await ensureApiToken(d.home.dir)
    let url = ''
    const assets = await loadWebAssets()
    const app = await buildApi(fromDaemon(d, options.version, () => url, options.subscriptions !== undefined ? { subscriptions: options.subscriptions } : {}), { token, events: options.events, assets })
    const port = options.port ?? d.home.config.api?.port ?? 0
    try {
      await app.listen({ host: API_HOST, port })
    } catch (err) {
      await app.close()
      throw new FerryError('ERR_NETWORK', `Cannot listen on ${API_HOST}:${port} for the API: ${(err as Error).message} (set "api": { "port": N } in config.json; 0 = a free port)`, { cause: err })
    }
    const address = app.server.address()
    url = `http://${API_HOST}:${typeof address === 'object' && address !== null ? address.port : port}`
    return { info: { api: url }, stop: async () => { await app.close() } }
  }
}
