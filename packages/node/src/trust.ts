/**
 * Who may fetch what from this node.
 *
 * 1. Who may connect and ask at all: the PeerIds in config.json `trusted`, or everyone in open mode.
 * 2. What they may read: config.json `grants` maps a collection to the PeerIds allowed to read it. A
 *    collection with no entry (and a scan without collection) is readable by every peer that passed (1); a
 *    collection with an entry only by the peers listed ([] = nobody). Grants apply in open mode too.
 *
 * Decisions are made on the server from what the catalog knows, never from a claim of the client:
 * - a scan request: allowed if at least one complete local scan with that root is in a readable collection
 *   (a root this node does not hold is let through: the answer is NOT_FOUND anyway);
 * - a block: allowed if at least one scan it belongs to (raw leaf: through the leaf index and the scan that
 *   last indexed its source file; inner node: `scan_nodes`) is in a readable collection. A block that
 *   belongs to no scan is refused unless the node is open. Without any grant no lookup is made at all.
 *
 * The hook re-reads the lists whenever config.json changes (one stat per check, shared by concurrent checks;
 * the file re-read only when its size, mtime or inode moved), so `ferry trust`, `untrust`, `grant` and
 * `revoke` in another process take effect without a restart. Checks are at most CONFIG_RECHECK_MS apart
 * while requests flow (a stat per block cost 3% of a serving daemon's CPU), except that a refusal always
 * re-checks first: a new trust or grant applies to the very next request, a revocation within
 * CONFIG_RECHECK_MS. A
 * config.json that fails to parse keeps the last good lists (and logs why) rather than opening or closing
 * the node by accident.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { FerryError } from '@ferry/errors'
import { CONFIG_FILE, type Catalog, type FerryConfig, type Home, type PeerEntry } from '@ferry/store'
import type { AccessDecision, AccessRequest, Authorize } from '@ferry/exchange'
import type { Logger, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * Parses a PeerId string (`12D3Koo...` or `Qm...`), with a one-line error naming the bad input.
 * ERR_INVALID_ARGUMENT if it is not one.
 */
export function parsePeerId (text: string): PeerId {
  let id: PeerId
  try {
    id = peerIdFromString(text.trim())
  } catch (err) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `"${text}" is not a peer ID (they look like 12D3KooW...; \`ferry id\` prints one)`, { cause: err, details: { peerId: text } })
  }
  if (id.type === 'url') throw new FerryError('ERR_INVALID_ARGUMENT', `"${text}" is not a key-based peer ID`, { details: { peerId: text } })
  return id
}

/** The message a refused peer receives. */
export function notTrustedMessage (peer: string, self: string): string {
  return `peer ${peer} is not trusted by ${self}: ask its operator to run \`ferry trust ${peer}\``
}

/** The message a trusted peer receives for a collection outside its grants. */
export function notPermittedMessage (what: string, collection: string, peer: string, self: string): string {
  return `not permitted: ${what} is in collection "${collection}", which ${self} grants to other peers only: ask its operator to run \`ferry grant ${collection} ${peer}\``
}

interface Stamp { size: number, mtimeMs: number, ino: number }

/** Longest time a served request may go on using lists read from config.json before they are checked again. */
export const CONFIG_RECHECK_MS = 200

/** Why a request was refused, for the operator's log: 'not trusted', a collection name, or 'no scan'. */
export type RefusalKind = 'not trusted' | 'no scan' | { collection: string }

/** A decision before it is reported: a refusal keeps its kind for the operator's log. */
type Verdict = { allow: true } | { allow: false, kind: RefusalKind, reason: string }

/** Options of `TrustGate`. */
export interface TrustGateOptions {
  /** Serve every peer that connects (grants still apply). */
  open?: boolean
  log: Logger
  /** Called on every refusal (the daemon prints a rate-limited line). */
  onRefused?: (peer: string, kind: RefusalKind, reason: string) => void
}

/** Parses `grants` loosely (the file may be mid-edit): collection -> set of PeerId strings. */
function grantsOf (value: unknown): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return out
  for (const [collection, ids] of Object.entries(value)) {
    out.set(collection, new Set(Array.isArray(ids) ? ids.filter((t): t is string => typeof t === 'string') : []))
  }
  return out
}

/** The access hook of a node: reads `trusted` and `grants` from config.json as they change. */
export class TrustGate {
  private trusted: Set<string>
  private grants: Map<string, Set<string>>
  private stamp: Stamp | undefined
  private refreshing: Promise<void> | undefined
  /** performance.now() when the last check started (-Infinity: never). */
  private checkedAt = -Infinity
  private readonly file: string
  private readonly open: boolean
  private readonly log: Logger
  private readonly self: string

  constructor (private readonly home: Pick<Home, 'dir' | 'config' | 'peerId'> & { catalog: Pick<Catalog, 'blockCollections' | 'rootCollections'> }, private readonly options: TrustGateOptions) {
    this.file = path.join(home.dir, CONFIG_FILE)
    this.trusted = new Set(home.config.trusted)
    this.grants = grantsOf(home.config.grants)
    this.open = options.open === true
    this.log = options.log
    this.self = home.peerId.toString()
  }

  /** PeerIds trusted right now (after the last reload). */
  get list (): string[] {
    return [...this.trusted]
  }

  /** Whether `peer` may read `collection` under the current grants (null = a scan without collection). */
  mayRead (peer: string, collection: string | null): boolean {
    if (collection === null) return true
    const granted = this.grants.get(collection)
    return granted === undefined || granted.has(peer)
  }

  /** The hook for the exchange server. */
  readonly authorize: Authorize = async (peer, request) => {
    const fresh = performance.now() - this.checkedAt >= CONFIG_RECHECK_MS
    if (fresh) await this.refresh()
    const decision = this.judge(peer, request)
    if (decision.allow || fresh) return this.reported(peer, decision)
    await this.refresh() // never refuse on lists that may be stale: a trust or grant just added counts at once
    return this.reported(peer, this.judge(peer, request))
  }

  private reported (peer: PeerId, decision: Verdict): AccessDecision {
    if (decision.allow) return decision
    this.log('refused %s: %s', peer, decision.reason)
    this.options.onRefused?.(peer.toString(), decision.kind, decision.reason)
    return { allow: false, reason: decision.reason }
  }

  private judge (peer: PeerId, request: AccessRequest): Verdict {
    const id = peer.toString()
    if (!this.open && !this.trusted.has(id)) return this.refuse('not trusted', notTrustedMessage(id, this.self))
    if (this.grants.size === 0) return { allow: true } // nothing restricted: no lookup, as before grants existed
    if (request.root !== undefined) return this.decide(id, `scan ${request.root.toString()}`, this.home.catalog.rootCollections(request.root), true)
    if (request.cid !== undefined) return this.decide(id, `block ${request.cid.toString()}`, this.home.catalog.blockCollections(request.cid), this.open)
    return { allow: true }
  }

  /** Allowed if any of `collections` is readable; `unmapped` decides when there are none. */
  private decide (peer: string, what: string, collections: Array<string | null>, unmapped: boolean): Verdict {
    if (collections.length === 0) {
      return unmapped ? { allow: true } : this.refuse('no scan', `not permitted: ${what} belongs to no scan on ${this.self}`)
    }
    if (collections.some((c) => this.mayRead(peer, c))) return { allow: true }
    const collection = collections[0] as string // every one is a restricted collection, so not null
    return this.refuse({ collection }, notPermittedMessage(what, collection, peer, this.self))
  }

  private refuse (kind: RefusalKind, reason: string): Verdict {
    return { allow: false, kind, reason }
  }

  /** Re-reads the trusted list if config.json changed. Concurrent callers share one check. */
  async refresh (): Promise<void> {
    this.checkedAt = performance.now()
    this.refreshing ??= this.check().finally(() => { this.refreshing = undefined })
    await this.refreshing
  }

  private async check (): Promise<void> {
    let st
    try {
      st = await fs.stat(this.file)
    } catch (err) {
      this.log.error('cannot stat %s, keeping the last trusted list: %e', this.file, err)
      return
    }
    const stamp = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }
    if (this.stamp !== undefined && stamp.size === this.stamp.size && stamp.mtimeMs === this.stamp.mtimeMs && stamp.ino === this.stamp.ino) return
    try {
      const cfg = JSON.parse(await fs.readFile(this.file, 'utf8')) as Partial<FerryConfig>
      const list = Array.isArray(cfg.trusted) ? cfg.trusted.filter((t): t is string => typeof t === 'string') : []
      this.trusted = new Set(list)
      this.grants = grantsOf(cfg.grants)
      this.stamp = stamp
      this.log('trusted list reloaded: %d peers, %d collections with grants', list.length, this.grants.size)
    } catch (err) {
      this.log.error('cannot read %s, keeping the last trusted list: %e', this.file, err)
    }
  }
}

/** One trusted peer, with its address-book name if any. */
export interface TrustedPeer {
  id: string
  name?: string
}

/** The trusted peers of a home, with their names from the address book. */
export function listTrusted (home: Pick<Home, 'config'>): TrustedPeer[] {
  const names = new Map(home.config.peers.map((p) => [p.id, p.name]))
  return home.config.trusted.map((id) => {
    const name = names.get(id)
    return name === undefined ? { id } : { id, name }
  })
}

/**
 * Adds `peerIdText` to the trusted list (and names it in the address book if `name` is given). Returns
 * whether it was newly trusted. ERR_INVALID_ARGUMENT for a bad PeerId or a name another peer already has.
 */
export async function trustPeer (home: Pick<Home, 'config' | 'saveConfig' | 'peerId'>, peerIdText: string, options: { name?: string } = {}): Promise<boolean> {
  const id = parsePeerId(peerIdText).toString()
  const cfg = home.config
  const name = options.name?.trim()
  let peers: PeerEntry[] = cfg.peers
  if (name !== undefined) {
    if (name === '') throw new FerryError('ERR_INVALID_ARGUMENT', 'A peer name cannot be empty')
    const taken = cfg.peers.find((p) => p.name === name && p.id !== id)
    if (taken !== undefined) throw new FerryError('ERR_INVALID_ARGUMENT', `The name "${name}" is already used by peer ${taken.id}`)
    const existing = cfg.peers.find((p) => p.id === id)
    peers = existing === undefined
      ? [...cfg.peers, { name, id, addrs: [] }]
      : cfg.peers.map((p) => p.id === id ? { ...p, name } : p)
  }
  const added = !cfg.trusted.includes(id)
  if (!added && peers === cfg.peers) return false
  await home.saveConfig({ ...cfg, trusted: added ? [...cfg.trusted, id] : cfg.trusted, peers })
  return added
}

/** The grants of a home: collection -> PeerIds, sorted by collection. */
export function listGrants (home: Pick<Home, 'config'>): Array<{ collection: string, peers: string[] }> {
  return Object.entries(home.config.grants ?? {}).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([collection, peers]) => ({ collection, peers: [...peers] }))
}

function checkCollection (collection: string): string {
  if (collection === '') throw new FerryError('ERR_INVALID_ARGUMENT', 'A collection name cannot be empty')
  return collection
}

/**
 * Lets `peerIdText` read `collection` (which from then on only its grantees may read). Returns whether the
 * grant is new. ERR_INVALID_ARGUMENT for a bad PeerId or an empty collection.
 */
export async function grantPeer (home: Pick<Home, 'config' | 'saveConfig'>, collection: string, peerIdText: string): Promise<boolean> {
  checkCollection(collection)
  const id = parsePeerId(peerIdText).toString()
  const cfg = home.config
  const current = cfg.grants?.[collection]
  if (current?.includes(id) === true) return false
  await home.saveConfig({ ...cfg, grants: { ...cfg.grants, [collection]: [...(current ?? []), id] } })
  return true
}

/**
 * Stops `peerIdText` reading `collection`. The collection stays restricted even when its list becomes
 * empty (then nobody may read it): revoking never opens a collection. Returns whether the peer had a grant.
 */
export async function revokePeer (home: Pick<Home, 'config' | 'saveConfig'>, collection: string, peerIdText: string): Promise<boolean> {
  checkCollection(collection)
  const id = parsePeerId(peerIdText).toString()
  const cfg = home.config
  const current = cfg.grants?.[collection]
  if (current?.includes(id) !== true) return false
  await home.saveConfig({ ...cfg, grants: { ...cfg.grants, [collection]: current.filter((p) => p !== id) } })
  return true
}

/** Removes every grant of `collection`, so every trusted peer may read it again. Returns whether it had any entry. */
export async function openCollection (home: Pick<Home, 'config' | 'saveConfig'>, collection: string): Promise<boolean> {
  checkCollection(collection)
  const cfg = home.config
  if (cfg.grants?.[collection] === undefined) return false
  const grants = { ...cfg.grants }
  delete grants[collection] // eslint-disable-line @typescript-eslint/no-dynamic-delete
  await home.saveConfig({ ...cfg, grants })
  return true
}

/** Removes `peerIdText` from the trusted list (the address book keeps it). Returns whether it was trusted. */
export async function untrustPeer (home: Pick<Home, 'config' | 'saveConfig'>, peerIdText: string): Promise<boolean> {
  const id = parsePeerId(peerIdText).toString()
  const cfg = home.config
  if (!cfg.trusted.includes(id)) return false
  await home.saveConfig({ ...cfg, trusted: cfg.trusted.filter((t) => t !== id) })
  return true
}
