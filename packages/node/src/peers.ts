/**
 * The address book: named peers in config.json `peers` ([{ name, id, addrs }]), so users type `esrf`
 * instead of a multiaddr. Every change re-reads config.json and writes it atomically (`writeConfig`), so the
 * daemon and the CLI, each in its own process, see each other's changes. Naming a peer never trusts it:
 * trust stays in `trusted` (`ferry trust`).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { FerryError } from '@ferry/errors'
import { readConfig, writeConfig, type FerryConfig, type PeerEntry } from '@ferry/store'
import { parsePeerId } from './trust.js'

/** A peer name: a short slug (lowercase letter first, then letters, digits, '-' or '_'; at most 32). */
export const PEER_NAME_PATTERN = '^[a-z][a-z0-9_-]{0,31}$'

const NAME_RE = new RegExp(PEER_NAME_PATTERN)

/** A named peer of the address book, with its full dial addresses (each ending in /p2p/<id>). */
export interface NamedPeer {
  name: string
  id: string
  /** Full multiaddrs, each ending in /p2p/<id>. */
  addrs: string[]
}

/** ERR_USAGE unless `name` is a peer name (PEER_NAME_PATTERN). */
export function checkPeerName (name: string): string {
  if (!NAME_RE.test(name)) {
    throw new FerryError('ERR_USAGE', `"${name}" is not a peer name: use a short slug (a lowercase letter, then up to 31 lowercase letters, digits, '-' or '_'), like esrf or soleil-2`, { details: { field: 'name', name } })
  }
  return name
}

/**
 * Splits a multiaddr that ends in /p2p/<PeerId> into the PeerId and the address without it. ERR_USAGE for
 * anything else, with the reason.
 */
export function parsePeerAddr (text: string): { id: string, addr: string } {
  let ma
  try {
    ma = multiaddr(text)
  } catch (err) {
    throw new FerryError('ERR_USAGE', `"${text}" is not a multiaddr (like /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...)`, { cause: err, details: { field: 'addr', addr: text } })
  }
  const parts = ma.getComponents()
  const last = parts.at(-1)
  if (last?.name !== 'p2p' || last.value === undefined) {
    throw new FerryError('ERR_USAGE', `"${text}" does not end in /p2p/<PeerId>: add the peer's ID (\`ferry id\` on that node prints its full addresses)`, { details: { field: 'addr', addr: text } })
  }
  if (parts.length < 2) throw new FerryError('ERR_USAGE', `"${text}" has no address before /p2p/`, { details: { field: 'addr', addr: text } })
  let id: string
  try {
    id = parsePeerId(last.value).toString()
  } catch (err) {
    throw new FerryError('ERR_USAGE', `"${text}" ends in /p2p/${last.value}, which is not a peer ID (they look like 12D3KooW...)`, { cause: err, details: { field: 'addr', addr: text } })
  }
  return { id, addr: text.slice(0, text.lastIndexOf('/p2p/')) }
}

function full (entry: PeerEntry): string[] {
  return entry.addrs.map((a) => `${a}/p2p/${entry.id}`)
}

/** The named peers of a config, in the order of the file. Entries without a name (from `ferry trust`) are left out. */
export function namedPeers (cfg: Pick<FerryConfig, 'peers'>): NamedPeer[] {
  return cfg.peers.flatMap((p) => p.name !== undefined && NAME_RE.test(p.name) ? [{ name: p.name, id: p.id, addrs: full(p) }] : [])
}

/** Reads the named peers of the home in `dir` from config.json. */
export async function listPeers (dir: string): Promise<NamedPeer[]> {
  return namedPeers(await readConfig(dir))
}

/**
 * Names the peer at `addr` (ending in /p2p/<PeerId>) `name` in the home in `dir`. Adding an address to a
 * peer already under that name merges it. ERR_USAGE for a bad name or address, ERR_CONFLICT if the name is
 * another peer's or the peer has another name. Returns the entry and whether anything changed.
 */
export async function addPeer (dir: string, name: string, addr: string, self?: string): Promise<{ peer: NamedPeer, changed: boolean }> {
  checkPeerName(name)
  const { id, addr: bare } = parsePeerAddr(addr)
  if (self !== undefined && id === self) throw new FerryError('ERR_USAGE', `${addr} is this node itself`, { details: { field: 'addr', addr } })
  const cfg = await readConfig(dir)
  const byName = cfg.peers.find((p) => p.name === name)
  if (byName !== undefined && byName.id !== id) {
    throw new FerryError('ERR_CONFLICT', `The name "${name}" is already peer ${byName.id}: remove it first (\`ferry peer remove ${name}\`) or pick another name`, { details: { name, id: byName.id } })
  }
  const byId = cfg.peers.find((p) => p.id === id)
  if (byId?.name !== undefined && byId.name !== name) {
    throw new FerryError('ERR_CONFLICT', `Peer ${id} is already in the address book as "${byId.name}"`, { details: { name: byId.name, id } })
  }
  const addrs = byId === undefined ? [bare] : byId.addrs.includes(bare) ? byId.addrs : [...byId.addrs, bare]
  const entry: PeerEntry = { ...byId, name, id, addrs }
  const changed = byId === undefined || byId.name !== name || addrs !== byId.addrs
  if (changed) {
    const peers = byId === undefined ? [...cfg.peers, entry] : cfg.peers.map((p) => p === byId ? entry : p)
    await writeConfig(dir, { ...cfg, peers })
  }
  return { peer: { name, id, addrs: full(entry) }, changed }
}

/**
 * Removes the peer named `name` from the address book of the home in `dir` (its trust, if any, stays).
 * ERR_NOT_FOUND if no peer has that name. Returns the removed peer.
 */
export async function removePeer (dir: string, name: string): Promise<NamedPeer> {
  const cfg = await readConfig(dir)
  const entry = cfg.peers.find((p) => p.name === name)
  if (entry === undefined) {
    throw new FerryError('ERR_NOT_FOUND', `No peer named "${name}" in the address book (\`ferry peers\` lists them)`, { details: { name } })
  }
  await writeConfig(dir, { ...cfg, peers: cfg.peers.filter((p) => p !== entry) })
  return { name, id: entry.id, addrs: full(entry) }
}

/**
 * The multiaddrs to dial for a `--from` value: a multiaddr (starts with '/') as it is, a known peer name as
 * its addresses. ERR_USAGE for an unknown name or a named peer without addresses.
 */
export function resolvePeerAddrs (cfg: Pick<FerryConfig, 'peers'>, from: string): string[] {
  if (from.startsWith('/')) return [from]
  const peer = namedPeers(cfg).find((p) => p.name === from)
  if (peer === undefined) {
    throw new FerryError('ERR_USAGE', `--from ${from}: not a multiaddr and no peer of that name (\`ferry peers\` lists them; \`ferry peer add ${from} <multiaddr>\` adds one)`, { details: { from } })
  }
  if (peer.addrs.length === 0) throw new FerryError('ERR_USAGE', `--from ${from}: the address book has no address for it (\`ferry peer add ${from} <multiaddr>\`)`, { details: { from } })
  return peer.addrs
}
