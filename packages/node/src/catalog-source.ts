/**
 * What a node lists on /ferry/catalog and announces on /ferry/announce, read from its home: pages of the
 * complete scans a peer may read (the collections whose grants exclude it are left out in the query
 * itself, so a page is never padded with rows it may not see), and the scans completed since, found by a
 * change feed polled every `pollMs` only while someone subscribes. `ferry add` commits in another process:
 * the feed notices through SQLite's `PRAGMA data_version` on the node's own connection (one pragma per
 * poll when nothing changed), then reads only the rows above the last one seen.
 */
import { DEFAULT_ANNOUNCE_POLL_MS, type CatalogRow, type CatalogSource } from '@ferry/exchange'
import type { Home, ScanFeed, ScanListing } from '@ferry/store'
import type { Logger } from '@libp2p/interface'
import type { TrustGate } from './trust.js'

/** A node's CatalogSource, with `close` to stop its poller. */
export interface HomeCatalog extends CatalogSource {
  close: () => void
}

/** Options of `homeCatalog`. */
export interface HomeCatalogOptions {
  /** How often the change feed is polled while someone subscribes; default DEFAULT_ANNOUNCE_POLL_MS. */
  pollMs?: number
  log: Logger
}

/** A catalog listing's row as it goes on the wire. Everything this catalog holds is complete: sealed. */
export function catalogRow (s: ScanListing): CatalogRow {
  return {
    root: s.root,
    collection: s.collection,
    name: s.name,
    origin: s.origin,
    files: s.files,
    directories: s.directories,
    symlinks: s.symlinks,
    bytes: s.bytes,
    created: s.created,
    skipped: s.skipped,
    state: 'sealed'
  }
}

/** The CatalogSource of `home`, filtered by `trust`'s grants. */
export function homeCatalog (home: Pick<Home, 'catalog'>, trust: Pick<TrustGate, 'policy' | 'mayRead'>, options: HomeCatalogOptions): HomeCatalog {
  const listeners = new Set<(row: CatalogRow) => void>()
  const pollMs = options.pollMs ?? DEFAULT_ANNOUNCE_POLL_MS
  let feed: ScanFeed | undefined
  let timer: NodeJS.Timeout | undefined

  const poll = (): void => {
    let done: ScanListing[]
    try {
      done = feed?.poll() ?? []
    } catch (err) {
      options.log.error('checking the catalog for new scans failed: %e', err)
      return
    }
    for (const s of done) {
      const row = catalogRow(s)
      for (const l of listeners) l(row)
    }
  }
  const stop = (): void => {
    clearInterval(timer)
    timer = undefined
    feed = undefined
  }

  return {
    page (peer, query) {
      const page = home.catalog.pageScans({ ...query, hidden: trust.policy.hiddenFrom(peer.toString()) })
      return { rows: page.scans.map((s) => ({ position: s.id, row: catalogRow(s) })), more: page.more }
    },
    mayRead: (peer, collection) => trust.mayRead(peer.toString(), collection),
    watch (listener) {
      listeners.add(listener)
      if (timer === undefined) {
        feed = home.catalog.scanFeed() // from now on: a new subscriber catches up with a listing
        timer = setInterval(poll, pollMs)
        timer.unref()
      }
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0) stop()
      }
    },
    close () {
      listeners.clear()
      stop()
    }
  }
}
