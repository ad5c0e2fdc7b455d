/**
 * A rule's open scans (issue 13): an open scan of the rule's collection is followed as soon as a source
 * lists or announces it, into `<destination>/<scan name>/`, its files placed as they are published
 * (@ferry/follow). Once its seal is verified the sealed row is offered to the rule like any complete scan:
 * its task pulls the root over what is placed (nothing fetched again), verifies it and records the replica,
 * and completes. A name the rule already replicated is not followed (its next scan goes to `<name>~<root>`
 * once sealed, as before): a follow never writes over another scan's files.
 */
import { errorMessage } from '@ferry/errors'
import { createSource, followScan, type FollowPeer, type OpenEntryRow, type OpenScanStatus, type ScanFollower } from '@ferry/follow'
import type { Catalog, InnerBlocks, SubscriptionRecord, SubscriptionStore } from '@ferry/store'
import type { CatalogRowLike } from './subscription-types.js'

/** What a rule needs to follow open scans: the node's home and a way to dial a source. */
export interface FollowDeps {
  home: { catalog: Catalog, blocks: InnerBlocks }
  dial: (addr: string, signal: AbortSignal) => Promise<FollowPeer>
  /** Page an open scan this often when nothing is announced (default @ferry/follow's). */
  pollMs?: number
}

/** An open scan's row as listed or announced. */
export type OpenRowLike = CatalogRowLike & { origin: string, created: number }

/** The open scans one rule follows. */
export interface OpenFollows {
  /** An open row: followed unless it is already, or its name is taken by a scan the rule replicated. */
  open: (row: OpenRowLike, addr: string, peer: string) => void
  /** A file announced into an open scan (a hint: used if it is the next entry). */
  file: (key: string, e: OpenEntryRow) => void
  /** Whether a scan of this name is followed now (its sealed row then waits for the follower's seal check). */
  following: (name: string) => boolean
  status: () => OpenScanStatus[]
  stop: () => Promise<void>
}

interface Followed { f: ScanFollower, controller: AbortController, done: Promise<void> }

/** The open-scan follows of `rule`; `onSealed` gets the sealed row once a follower verified the seal. */
export function openFollows (rule: SubscriptionRecord, store: SubscriptionStore, deps: FollowDeps, onSealed: (row: CatalogRowLike, addr: string, peer: string) => void, log?: (line: string) => void): OpenFollows {
  const followers = new Map<string, Followed>()
  const start = (row: OpenRowLike, addr: string, peer: string): void => {
    const controller = new AbortController()
    const source = createSource({ peers: [{ label: addr, connect: async (signal) => await deps.dial(addr, signal) }], signal: controller.signal })
    const f = followScan({
      row, dest: rule.destination, source, peers: [], home: deps.home, signal: controller.signal, sealed: 'stop', ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {})
    })
    const done = f.done.then((r) => {
      followers.delete(row.root)
      onSealed({ root: r.root, collection: row.collection, name: row.name, state: 'sealed' }, addr, peer)
    }, (err: unknown) => {
      followers.delete(row.root)
      if (!controller.signal.aborted) log?.(`Subscription ${rule.id}: following ${row.name}: ${errorMessage(err)} (it is replicated once sealed)`)
    }).finally(async () => { await source.close() })
    followers.set(row.root, { f, controller, done })
  }
  return {
    open: (row, addr, peer) => {
      if (followers.has(row.root) || store.hasDir(rule.id, row.name)) return
      try {
        start(row, addr, peer)
      } catch (err) {
        log?.(`Subscription ${rule.id}: cannot follow ${row.name}: ${errorMessage(err)}`)
      }
    },
    file: (key, e) => { followers.get(key)?.f.push(e) },
    following: (name) => [...followers.values()].some((x) => x.f.name === name),
    status: () => [...followers.values()].map((x) => x.f.status()),
    stop: async () => {
      const all = [...followers.values()]
      for (const x of all) x.controller.abort()
      await Promise.all(all.map(async (x) => { await x.done }))
    }
  }
}
