/**
 * What a node lists on /ferry/catalog and announces on /ferry/announce, read from its home: pages of the
 * complete scans a peer may read (the collections whose grants exclude it are left out in the query
 * itself, so a page is never padded with rows it may not see), and the scans completed since, found by a
 * change feed polled every `pollMs` only while someone subscribes. `ferry add` commits in another process:
 * the feed notices through SQLite's `PRAGMA data_version` on the node's own connection (one pragma per
 * poll when nothing changed), then reads only the rows above the last one seen.
 */
import { DEFAULT_ANNOUNCE_POLL_MS, type CatalogRow, type CatalogSource, type PublishedFileRow } from '@ferry/exchange'
import { openScanId, type Home, type OpenScanRecord, type PublishedEntry, type ScanFeed, type ScanListing } from '@ferry/store'
import type { Logger } from '@libp2p/interface'
import type { TrustGate } from './trust.js'

/** A node's CatalogSource, with `close` to stop its poller. */
export interface HomeCatalog extends CatalogSource {
  /** Polls the change feeds now (only while someone subscribes). */
  pollNow: () => void
  close: () => void
}

/** Options of `homeCatalog`. */
export interface HomeCatalogOptions {
  /** How often the change feed is polled while someone subscribes; default DEFAULT_ANNOUNCE_POLL_MS. */
  pollMs?: number
  log: Logger
}

/**
 * A catalog listing's row as it goes on the wire: a complete scan is sealed; an open scan (still being
 * acquired) is open, with its key for a root and the files published so far.
 */
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
    state: s.open === true ? 'open' : 'sealed'
  }
}

/** A published entry of `open` as ANNOUNCE_FILE carries it. */
export function publishedFileRow (open: Pick<OpenScanRecord, 'origin' | 'collection' | 'name' | 'created'>, e: PublishedEntry): PublishedFileRow {
  return {
    key: openScanId(open),
    collection: open.collection,
    name: open.name,
    origin: open.origin,
    created: open.created,
    seq: e.seq,
    path: e.path,
    cid: e.cid,
    size: e.size,
    mode: e.mode,
    mtimeMs: e.mtimeMs,
    published: e.published,
    version: e.version,
    signature: e.signature
  }
}

/**
 * Files published into open scans from now on, by this process or another, polled every `pollMs` while
 * someone listens (the open-entries change feed: one pragma per poll when nothing changed).
 */
function fileFeed (home: Pick<Home, 'catalog'>, pollMs: number, log: Logger): Pick<CatalogSource, 'watchFiles'> & { poll: () => void, close: () => void } {
  const listeners = new Set<(file: PublishedFileRow) => void>()
  const opens = new Map<number, OpenScanRecord>()
  let feed: { poll: () => PublishedEntry[] } | undefined
  let timer: NodeJS.Timeout | undefined
  const poll = (): void => {
    try {
      for (const e of feed?.poll() ?? []) {
        let open = opens.get(e.openId)
        if (open === undefined) {
          open = home.catalog.open.listOpen().find((o) => o.id === e.openId)
          if (open === undefined) continue
          opens.set(e.openId, open)
        }
        const row = publishedFileRow(open, e)
        for (const l of listeners) l(row)
      }
    } catch (err) {
      log.error('checking the catalog for published files failed: %e', err)
    }
  }
  const stop = (): void => { clearInterval(timer); timer = undefined; feed = undefined }
  return {
    poll,
    watchFiles (listener) {
      listeners.add(listener)
      if (timer === undefined) {
        feed = home.catalog.open.feed()
        timer = setInterval(poll, pollMs)
        timer.unref()
      }
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0) stop()
      }
    },
    close () { listeners.clear(); stop() }
  }
}

/** The CatalogSource of `home`, filtered by `trust`'s grants. */
export function homeCatalog (home: Pick<Home, 'catalog'>, trust: Pick<TrustGate, 'policy' | 'mayRead'>, options: HomeCatalogOptions): HomeCatalog {
  const listeners = new Set<(row: CatalogRow) => void>()
  const pollMs = options.pollMs ?? DEFAULT_ANNOUNCE_POLL_MS
  let feed: ScanFeed | undefined
  let timer: NodeJS.Timeout | undefined
  const files = fileFeed(home, pollMs, options.log)

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
      const page = home.catalog.pageScans({ ...query, hidden: trust.policy.hiddenFrom(peer.toString()), includeOpen: true })
      return { rows: page.scans.map((s) => ({ position: s.id, row: catalogRow(s) })), more: page.more }
    },
    mayRead: (peer, collection) => trust.mayRead(peer.toString(), collection),
    openEntries (peer, key, fromSeq, max) {
      const open = home.catalog.open.byKey(key)
      if (open === undefined || !trust.mayRead(peer.toString(), open.collection)) return { state: 'unknown', seal: null, entries: [] }
      const entries = home.catalog.open.entries(open.id, fromSeq - 1, max).map((e) => publishedFileRow(open, e))
      const seal = open.seal === null || open.sealedRoot === null ? null : { root: open.sealedRoot, ...open.seal }
      return { state: seal === null ? 'open' : 'sealed', seal, entries }
    },
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
    watchFiles: files.watchFiles,
    pollNow () {
      poll()
      files.poll()
    },
    close () {
      listeners.clear()
      stop()
      files.close()
    }
  }
}
