/**
 * Peers by name for the CLI: `--from` values that are names become their addresses (the address book in
 * config.json), and the peer states come from the running daemon's API.
 */
import type { FerryConfig } from '@ferry/store'
import { apiClientApi, nodeApi } from './lazy.js'

/**
 * The multiaddrs for `--from` values: multiaddrs as they are, names of the address book as their
 * addresses. libp2p is loaded only when a name must be resolved. ERR_USAGE for an unknown name.
 */
export async function fromAddrs (cfg: Pick<FerryConfig, 'peers'>, from: string[]): Promise<string[]> {
  if (from.every((f) => f.startsWith('/'))) return from
  const { resolvePeerAddrs } = await nodeApi()
  return from.flatMap((f) => resolvePeerAddrs(cfg, f))
}

/** A peer's state as shown by `ferry peers`. */
export interface ShownState { state: string, since: string | null, reason: string | null }

/** A peer as `ferry peers --json` prints it (GET /v1/peers's shape). */
export interface ShownPeer { name: string, id: string, addrs: string[], trusted: boolean, state: ShownState }

/** The running daemon's API client, or undefined when no daemon (with an API) runs on the home in `dir`. */
async function daemonApi (dir: string): Promise<import('@ferry/api/client').ApiClient | undefined> {
  const info = await (await nodeApi()).readDaemonInfo(dir)
  if (info?.api === undefined) return undefined
  return await (await apiClientApi()).apiClient(dir, info.api)
}

/**
 * The daemon's view of the peers: a map PeerId -> state, 'no daemon' when none runs, or the reason its
 * API could not answer.
 */
export async function daemonPeers (dir: string): Promise<Map<string, ShownState> | 'no daemon' | { failed: string }> {
  try {
    const client = await daemonApi(dir)
    if (client === undefined) return 'no daemon'
    const { peers } = await client.request<{ peers: ShownPeer[] }>('GET', '/v1/peers')
    return new Map(peers.map((p) => [p.id, p.state]))
  } catch (err) {
    return { failed: (err as Error).message }
  }
}

/**
 * Tells a running daemon about a peer just added to config.json, so it checks it now rather than at its
 * next round (the same POST is a no-op on the file). Returns a warning if the daemon could not be told.
 */
export async function tellDaemon (dir: string, name: string, addr: string): Promise<string | undefined> {
  try {
    await (await daemonApi(dir))?.request('POST', '/v1/peers', { name, addr })
    return undefined
  } catch (err) {
    return `the running daemon was not told (${(err as Error).message}); it checks the peer within 30 s`
  }
}

function when (iso: string | null): string {
  return iso === null ? '' : ` since ${iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC')}`
}

/** "connected since ...", "unreachable since ... (reason)", "refused us since ...: reason", ... */
export function describeState (s: ShownState): string {
  switch (s.state) {
    case 'connected': return `connected${when(s.since)}`
    case 'disconnected': return `disconnected${when(s.since)}`
    case 'unreachable': return `unreachable${when(s.since)}${s.reason !== null ? ` (${s.reason})` : ''}`
    case 'refused': return `refused us${when(s.since)}${s.reason !== null ? `: ${s.reason}` : ''}`
    default: return s.reason !== null ? `unknown (${s.reason})` : 'unknown (not checked yet)'
  }
}
