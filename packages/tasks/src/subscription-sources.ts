/**
 * Which peers a subscription watches: its `--from` values (names of the address book or multiaddrs ending
 * in /p2p/<PeerId>), or every named peer of the address book when it has none. Resolved again on every
 * sync, so a peer added to the book (or a new address) is watched without a restart.
 */
import { FerryError } from '@ferry/errors'
import type { PeerEntry } from '@ferry/store'

/** A peer a rule watches. */
export interface SourcePeer {
  /** PeerId. */
  id: string
  /** Its name in the address book, if any. */
  name: string | null
  /** Full multiaddrs (each ending in /p2p/<id>), tried in turn. */
  addrs: string[]
}

/** A `--from` value that names nobody (any more): shown as the source's state. */
export interface UnresolvedSource { from: string, message: string }

const full = (p: PeerEntry): string[] => p.addrs.map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${p.id}`))

/** PeerId at the end of a multiaddr, or undefined. */
function peerIdOf (addr: string): string | undefined {
  const at = addr.lastIndexOf('/p2p/')
  if (!addr.startsWith('/') || at < 0) return undefined
  const id = addr.slice(at + 5)
  return /^[1-9A-HJ-NP-Za-km-z]+$/.test(id) ? id : undefined
}

/** Checks the `--from` values of a new rule: ERR_USAGE for a name not in the book or a bad multiaddr. */
export function checkFrom (book: PeerEntry[], from: string[]): void {
  for (const f of from) {
    const r = resolveOne(book, f)
    if ('message' in r) throw new FerryError('ERR_USAGE', r.message, { details: { field: 'from', from: f } })
  }
}

function resolveOne (book: PeerEntry[], f: string): SourcePeer | UnresolvedSource {
  if (f.startsWith('/')) {
    const id = peerIdOf(f)
    if (id === undefined) return { from: f, message: `--from ${f}: not a multiaddr ending in /p2p/<PeerId>` }
    return { id, name: book.find((p) => p.id === id)?.name ?? null, addrs: [f] }
  }
  const entry = book.find((p) => p.name === f)
  if (entry === undefined) return { from: f, message: `--from ${f}: no peer of that name in the address book (\`ferry peer add ${f} <multiaddr>\`)` }
  if (entry.addrs.length === 0) return { from: f, message: `--from ${f}: the address book has no address for it` }
  return { id: entry.id, name: f, addrs: full(entry) }
}

/** The peers of a rule (one per PeerId, addresses merged), and the values that resolve to nobody. */
export function resolveSources (book: PeerEntry[], from: string[]): { peers: SourcePeer[], unresolved: UnresolvedSource[] } {
  const resolved = from.length > 0
    ? from.map((f) => resolveOne(book, f))
    : book.filter((p) => p.name !== undefined && p.addrs.length > 0).map((p) => ({ id: p.id, name: p.name ?? null, addrs: full(p) }))
  const byId = new Map<string, SourcePeer>()
  const unresolved: UnresolvedSource[] = []
  for (const r of resolved) {
    if ('message' in r) {
      unresolved.push(r)
      continue
    }
    const before = byId.get(r.id)
    if (before === undefined) byId.set(r.id, { ...r, addrs: [...r.addrs] })
    else for (const a of r.addrs) if (!before.addrs.includes(a)) before.addrs.push(a)
  }
  return { peers: [...byId.values()], unresolved }
}
