/**
 * `AccessPolicy`: who may read what, decided from plain data (the trusted PeerIds, the per-collection
 * grants, open mode) and nothing else: no file, no clock, no catalog. The trust gate (trust.ts) keeps it
 * in step with config.json and looks up, in the catalog, which collections a scan or block is in.
 *
 * 1. Who may ask at all: the trusted PeerIds, or everyone in open mode.
 * 2. What they may read: `grants` maps a collection to the PeerIds allowed to read it. A collection with no
 *    entry (and a scan without collection, `null`) is readable by every peer that passed (1); a collection
 *    with an entry only by the peers listed ([] = nobody). Grants apply in open mode too.
 * 3. A scan or block is readable if any collection it is in is readable. A root in no collection this node
 *    knows is let through (the answer is NOT_FOUND anyway); a block in none is refused unless the node is
 *    open. Without any grant the collections are not asked for at all.
 */
import type { FerryConfig } from '@ferry/store'

/** Why a request was refused, for the operator's log: 'not trusted', a collection name, or 'no scan'. */
export type RefusalKind = 'not trusted' | 'no scan' | { collection: string }

/** A decision; a refusal keeps its kind for the operator's log and the reason sent to the peer. */
export type Verdict = { allow: true } | { allow: false, kind: RefusalKind, reason: string }

/**
 * What a request asks for. `collections` lists the collections the scan or block is in (null: a scan
 * without collection); it is called only when some collection is restricted.
 */
export type AccessSubject =
  | { kind: 'peer' }
  | { kind: 'scan' | 'block', name: string, collections: () => ReadonlyArray<string | null> }

/** Options of `accessPolicy`: plain data, as in config.json. */
export interface AccessPolicyInit {
  /** PeerId strings allowed to ask. */
  trusted: Iterable<string>
  /** Collection → the PeerId strings allowed to read it. */
  grants: ReadonlyMap<string, ReadonlySet<string>>
  /** Every peer may ask (grants still apply). */
  open: boolean
  /** This node's PeerId string, named in the refusals. */
  self: string
}

/** Who may read what (see the module comment). */
export interface AccessPolicy {
  readonly open: boolean
  /** PeerId strings trusted. */
  readonly trusted: ReadonlySet<string>
  /** Collections with grants: those only their grantees may read. */
  readonly grants: ReadonlyMap<string, ReadonlySet<string>>
  /** Whether `peer` may read `collection` (null = a scan without collection), trust aside. */
  mayRead: (peer: string, collection: string | null) => boolean
  /** The collections whose grants exclude `peer`: left out of what it is shown (a catalog listing). */
  hiddenFrom: (peer: string) => string[]
  /** The decision on `peer` asking for `subject`. */
  decide: (peer: string, subject: AccessSubject) => Verdict
}

/** The message a refused peer receives. */
export function notTrustedMessage (peer: string, self: string): string {
  return `peer ${peer} is not trusted by ${self}: ask its operator to run \`ferry trust ${peer}\``
}

/** The message a trusted peer receives for a collection outside its grants. */
export function notPermittedMessage (what: string, collection: string, peer: string, self: string): string {
  return `not permitted: ${what} is in collection "${collection}", which ${self} grants to other peers only: ask its operator to run \`ferry grant ${collection} ${peer}\``
}

/** Parses `grants` loosely (the file may be mid-edit): collection -> set of PeerId strings. */
export function grantsOf (value: unknown): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return out
  for (const [collection, ids] of Object.entries(value)) {
    out.set(collection, new Set(Array.isArray(ids) ? ids.filter((t): t is string => typeof t === 'string') : []))
  }
  return out
}

/** The `trusted` and `grants` of a config.json, read loosely (the file may be mid-edit). */
export function policyListsOf (cfg: Partial<FerryConfig>): { trusted: string[], grants: Map<string, Set<string>> } {
  const trusted = Array.isArray(cfg.trusted) ? cfg.trusted.filter((t): t is string => typeof t === 'string') : []
  return { trusted, grants: grantsOf(cfg.grants) }
}

/** A policy over `init`'s lists (copied: later changes to them do not count). */
export function accessPolicy (init: AccessPolicyInit): AccessPolicy {
  const trusted: ReadonlySet<string> = new Set(init.trusted)
  const grants: ReadonlyMap<string, ReadonlySet<string>> = new Map([...init.grants].map(([c, ids]) => [c, new Set(ids)]))
  const { open, self } = init

  const mayRead = (peer: string, collection: string | null): boolean => {
    if (collection === null) return true
    const granted = grants.get(collection)
    return granted === undefined || granted.has(peer)
  }

  /** Allowed if any of `collections` is readable; `unmapped` decides when there are none. */
  const readable = (peer: string, what: string, collections: ReadonlyArray<string | null>, unmapped: boolean): Verdict => {
    if (collections.length === 0) {
      return unmapped ? { allow: true } : { allow: false, kind: 'no scan', reason: `not permitted: ${what} belongs to no scan on ${self}` }
    }
    if (collections.some((c) => mayRead(peer, c))) return { allow: true }
    const collection = collections[0] as string // every one is a restricted collection, so not null
    return { allow: false, kind: { collection }, reason: notPermittedMessage(what, collection, peer, self) }
  }

  const decide = (peer: string, subject: AccessSubject): Verdict => {
    if (!open && !trusted.has(peer)) return { allow: false, kind: 'not trusted', reason: notTrustedMessage(peer, self) }
    if (grants.size === 0 || subject.kind === 'peer') return { allow: true } // nothing restricted: no lookup
    return readable(peer, `${subject.kind} ${subject.name}`, subject.collections(), subject.kind === 'scan' || open)
  }

  const hiddenFrom = (peer: string): string[] => [...grants].filter(([, ids]) => !ids.has(peer)).map(([c]) => c)

  return { open, trusted, grants, mayRead, hiddenFrom, decide }
}
