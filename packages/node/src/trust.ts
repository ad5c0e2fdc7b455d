/**
 * Who may fetch what from this node: the trust gate, and the commands that edit the lists in config.json.
 *
 * The gate (`TrustGate`) puts together three pieces:
 * - the policy (access-policy.ts, pure): the trusted PeerIds, the per-collection grants and open mode;
 * - the catalog: which collections a scan root (complete local scans with that root) or a block (raw
 *   leaf: through the leaf index and the scan that last indexed its source file; inner node: `scan_nodes`)
 *   is in, asked only when some collection has grants. Decisions are made from what the catalog knows,
 *   never from a claim of the client;
 * - the reload of config.json (config-watch.ts), so `ferry trust`, `untrust`, `grant` and `revoke` in
 *   another process take effect without a restart. Checks are at most CONFIG_RECHECK_MS apart while
 *   requests flow (a stat per block cost 3% of a serving daemon's CPU), except that a refusal always
 *   re-checks first: a new trust or grant applies to the very next request, a revocation within
 *   CONFIG_RECHECK_MS. A config.json that fails to parse keeps the last good lists (and logs why) rather
 *   than opening or closing the node by accident.
 */
import path from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { FerryError } from '@ferry/errors'
import { CONFIG_FILE, type Catalog, type Home, type PeerEntry } from '@ferry/store'
import { accessPolicy, grantsOf, policyListsOf, type AccessPolicy, type AccessSubject, type RefusalKind, type Verdict } from './access-policy.js'
import { configWatch, type ConfigWatch } from './config-watch.js'
import type { AccessDecision, AccessRequest, Authorize } from '@ferry/exchange'
import type { Logger, PeerId } from '@libp2p/interface'

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

/** Options of `TrustGate`. */
export interface TrustGateOptions {
  /** Serve every peer that connects (grants still apply). */
  open?: boolean
  log: Logger
  /** Called on every refusal (the daemon prints a rate-limited line). */
  onRefused?: (peer: string, kind: RefusalKind, reason: string) => void
}

/** The access hook of a node: its `AccessPolicy`, kept in step with config.json, over the home's catalog. */
export class TrustGate {
  private current: AccessPolicy
  private readonly watch: ConfigWatch
  private readonly log: Logger

  constructor (private readonly home: Pick<Home, 'dir' | 'config' | 'peerId'> & { catalog: Pick<Catalog, 'blockCollections' | 'rootCollections'> }, private readonly options: TrustGateOptions) {
    const open = options.open === true
    const self = home.peerId.toString()
    this.log = options.log
    this.current = accessPolicy({ trusted: home.config.trusted, grants: grantsOf(home.config.grants), open, self })
    this.watch = configWatch({
      file: path.join(home.dir, CONFIG_FILE),
      log: this.log,
      onChange: (cfg) => {
        const lists = policyListsOf(cfg)
        this.current = accessPolicy({ ...lists, open, self })
        this.log('trusted list reloaded: %d peers, %d collections with grants', lists.trusted.length, lists.grants.size)
      }
    })
  }

  /** The policy in force (after the last reload). */
  get policy (): AccessPolicy {
    return this.current
  }

  /** PeerIds trusted right now (after the last reload). */
  get list (): string[] {
    return [...this.current.trusted]
  }

  /** Whether `peer` may read `collection` under the current grants (null = a scan without collection). */
  mayRead (peer: string, collection: string | null): boolean {
    return this.current.mayRead(peer, collection)
  }

  /** The hook for the exchange server. */
  readonly authorize: Authorize = async (peer, request) => {
    const fresh = await this.watch.refreshIfDue()
    const decision = this.judge(peer, request)
    if (decision.allow || fresh) return this.reported(peer, decision)
    await this.watch.refresh() // never refuse on lists that may be stale: a trust or grant just added counts at once
    return this.reported(peer, this.judge(peer, request))
  }

  /** Re-reads the lists if config.json changed. Concurrent callers share one check. */
  async refresh (): Promise<void> {
    await this.watch.refresh()
  }

  private reported (peer: PeerId, decision: Verdict): AccessDecision {
    if (decision.allow) return decision
    this.log('refused %s: %s', peer, decision.reason)
    this.options.onRefused?.(peer.toString(), decision.kind, decision.reason)
    return { allow: false, reason: decision.reason }
  }

  private judge (peer: PeerId, request: AccessRequest): Verdict {
    return this.current.decide(peer.toString(), this.subjectOf(request))
  }

  /** What `request` asks for, its collections looked up in the catalog only if the policy asks. */
  private subjectOf (request: AccessRequest): AccessSubject {
    const { catalog } = this.home
    const { root, cid } = request
    if (root !== undefined) return { kind: 'scan', name: root.toString(), collections: () => catalog.rootCollections(root) }
    if (cid !== undefined) return { kind: 'block', name: cid.toString(), collections: () => catalog.blockCollections(cid) }
    return { kind: 'peer' }
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
  delete grants[collection]
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
