/**
 * `apiService`: the HTTP API as a daemon service (`runDaemon({ services })`): started once the node
 * listens, on 127.0.0.1 and the config's `api.port` (0 = a free port), its URL written to daemon.json.
 */
import { readConfig } from '@ferry/store'
import { FerryError } from '@ferry/errors'
import { addPeer, listPeers, removePeer, type DaemonContext, type DaemonServiceStarter } from '@ferry/node'
import type { ApiContext } from './context.js'
import { buildApi } from './server.js'
import type { EventStreamOptions } from './sse.js'
import { ensureApiToken } from './token.js'

/** The API listens on this address only. */
export const API_HOST = '127.0.0.1'

/** Options of `apiService`. */
export interface ApiServiceOptions {
  /** Ferry's version, for GET /v1/node. */
  version: string
  /** Port instead of the config's `api.port`. */
  port?: number
  events?: EventStreamOptions
}

/** The routes' view of a running daemon. */
export function fromDaemon (d: DaemonContext, version: string, url: () => string): ApiContext {
  const dir = d.home.dir
  return {
    home: dir,
    version,
    node: () => ({ peerId: d.info.peerId, addresses: d.node.addrs(), started: d.info.started }),
    url,
    listPeers: async () => await listPeers(dir),
    trusted: async () => (await readConfig(dir)).trusted,
    addPeer: async (name, addr) => await addPeer(dir, name, addr, d.info.peerId),
    removePeer: async (name) => await removePeer(dir, name),
    peerState: (id) => d.peers.state(id),
    checkPeer: (peer) => { void d.peers.check(peer).catch(() => {}) },
    events: d.events
  }
}

/** The API as a service of `runDaemon`. */
export function apiService (options: ApiServiceOptions): DaemonServiceStarter {
  return async (d) => {
    const token = await ensureApiToken(d.home.dir)
    let url = ''
    const app = await buildApi(fromDaemon(d, options.version, () => url), { token, events: options.events })
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
