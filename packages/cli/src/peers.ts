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

/** The daemon's view of the peers, or undefined when no daemon runs (or it has no API). */
export async function daemonPeers (dir: string): Promise<Map<string, ShownState> | undefined> {
  const info = await (await nodeApi()).readDaemonInfo(dir)
  if (info?.api === undefined) return undefined
  const client = await (await apiClientApi()).apiClient(dir, info.api)
  const { peers } = await client.request<{ peers: ShownPeer[] }>('GET', '/v1/peers')
  return new Map(peers.map((p) => [p.id, p.state]))
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
