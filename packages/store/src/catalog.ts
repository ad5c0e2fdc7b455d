/**
 * `Catalog`: the node's SQLite database (`catalog.db`) of scans, their entries and the leaf index.
 *
 * One database, one module per concern, each owning its statements over the shared handle (catalog-db.ts:
 * open, pragmas, migrations):
 *
 * - scans.ts: scans and entries (`scans`, `entries`)
 * - leaf-index.ts: source files and their leaves (`sources`, `leaves`)
 * - scan-nodes.ts: which scans each inner node belongs to (`scan_nodes`)
 * - signatures.ts: the origins' signatures and the provenance of replicas (`scans.signature`, `scan_provenance`)
 * - pull-journal.ts: durable progress of pulls (`pulls`, `pull_files`)
 * - tasks.ts: the daemon's durable tasks (`tasks`, `task_files`, `task_events`)
 * - subscriptions.ts: the daemon's standing rules and what they queued (`subscriptions`, `subscription_scans`)
 * - scan-writer.ts: the `ScanWriter` that streams one scan in, in batches, across the first four
 *
 * This file composes them into the `Catalog` the other packages use.
 */
import { FerryError } from '@ferry/errors'
import { openDatabase, positive, type DatabaseOptions } from './catalog-db.js'
import { openScans, type EntryRecord, type ListScansOptions, type ScanFeed, type ScanPage, type ScanPageQuery, type ScanRecord } from './scans.js'
import { openLeafIndex, RAW_CODE, type LeafLocation, type SourceRecord } from './leaf-index.js'
import { DAG_PB, openScanNodes } from './scan-nodes.js'
import { openSignatures, type ProvenanceRecord } from './signatures.js'
import { DEFAULT_FLUSH_ROWS, newScanWriter, type ScanWriter } from './scan-writer.js'
import { createPullJournal, type PullJournal } from './pull-journal.js'
import { openTaskStore, type TaskStore } from './tasks.js'
import { openSubscriptionStore, type SubscriptionStore } from './subscriptions.js'
import { createPlacedFiles, type PlacedFiles } from './placed-files.js'
import { openFollowedFiles, type FollowedFiles } from './followed-files.js'
import type { SignatureCheck } from './scan-signature.js'
import { openOpenScans, type OpenScans } from './open-scans.js'
import { openReplicaEntries, type ReplicaEntry } from './replica-entries.js'
import type { CID } from 'multiformats/cid'

export { fromSqliteError, DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_CACHE_MIB } from './catalog-db.js'
export {
  ENTRIES_PAGE_ROWS, type EntryRecord, type EntryType, type ListScansOptions, type ScanFeed, type ScanListing, type ScanPage, type ScanPageQuery, type ScanRecord,
  type ScanState, type SkippedEntry
} from './scans.js'
export { RAW_CODE, type LeafLocation, type LeafRecord, type SourceRecord } from './leaf-index.js'
export { DEFAULT_FLUSH_ROWS, type ScanSummary, type ScanWriter } from './scan-writer.js'
export type { ProvenanceRecord } from './signatures.js'
export { REPLICA_PAGE_ROWS, type ReplicaEntry } from './replica-entries.js'
export type { OpenScans, OpenScanRecord, PublishedEntry, PublishFile, WatchRecord } from './open-scans.js'

/** File name of the catalog inside a home. */
export const CATALOG_FILE = 'catalog.db'

/** Options of `openCatalog`. */
export interface CatalogOptions extends DatabaseOptions {
  /** Rows a ScanWriter buffers before writing them (default DEFAULT_FLUSH_ROWS). */
  flushRows?: number
}

/** The catalog of a home. */
export interface Catalog {
  /** Absolute path of the database file. */
  readonly file: string
  /** Schema version of the database. */
  readonly schemaVersion: number
  /** Migration versions applied when this catalog was opened ([] if it was current). */
  readonly migrated: readonly number[]
  /** Starts a new scan (state 'importing'). */
  createScanWriter: (init: { collection?: string | null, name: string, sourcePath: string, origin: string, created?: number }) => ScanWriter
  /** Scans ordered by creation time, oldest first. */
  listScans: (options?: ListScansOptions) => ScanRecord[]
  /**
   * One page of complete scans in row id order after `query.after` (the `id` of the previous page's last
   * scan), read in bounded memory: what a remote catalog listing serves.
   */
  pageScans: (query: ScanPageQuery) => ScanPage
  /** A change feed of the scans completed from now on, by this process or any other (one cheap check per poll). */
  scanFeed: () => ScanFeed
  /**
   * A scan by id (number or decimal string; any state) or by root CID (string or CID; the newest complete
   * scan with that root). Undefined if none. ERR_INVALID_CID if the string is neither.
   */
  getScan: (rootOrId: string | number | CID) => ScanRecord | undefined
  /** A scan's entries in path order (UTF-8 byte order: a directory comes before everything under it). */
  entries: (scanId: number) => IterableIterator<EntryRecord>
  /**
   * A replica's entries in path order, in pages (at most `pageRows` each, default REPLICA_PAGE_ROWS), each
   * with what `placed` recorded for `prefix + path` (`prefix`: the destination's absolute path and a
   * separator): the fast no-op's one range scan (replica-entries.ts).
   */
  replicaEntries: (scanId: number, prefix: string, pageRows?: number) => IterableIterator<ReplicaEntry[]>
  /** One entry of a scan by path, or undefined. */
  getEntry: (scanId: number, path: string) => EntryRecord | undefined
  /** Where a pulled replica came from (empty for a scan imported here), most bytes first. */
  provenance: (scanId: number) => ProvenanceRecord[]
  /**
   * Checks a stored scan's signature over its record and entries (streamed from the catalog) against `signer`
   * (a PeerId string; default the record's origin).
   */
  checkSignature: (scan: ScanRecord, signer?: string) => Promise<SignatureCheck>
  /** Every known location of a leaf, most recently indexed first. */
  findLeaf: (cid: CID) => LeafLocation[]
  /**
   * The collections of the scans a block belongs to (null = a scan without collection), without repeats:
   * for a raw leaf, the scans that last indexed a source file holding it; for a dag-pb node, the scans it
   * was recorded for (`ScanWriter.addNodes`). [] if the block belongs to no scan this catalog knows.
   */
  blockCollections: (cid: CID) => Array<string | null>
  /** The collections of the complete scans with this root (null = no collection), without repeats. */
  rootCollections: (root: CID) => Array<string | null>
  /** The index of one source file, or undefined: lets an importer skip re-hashing an unchanged file. */
  getSource: (absPath: string) => SourceRecord | undefined
  /**
   * Removes importing scans whose writer process (on this host) no longer runs: imports cut short by a
   * crash or a kill. Returns how many were removed.
   */
  removeStaleImports: () => number
  /** Durable progress of pulls (resume after a crash or a dropped link). */
  readonly pulls: PullJournal
  /** The daemon's durable tasks (@ferry/tasks runs them). */
  readonly tasks: TaskStore
  /** The daemon's subscriptions (@ferry/tasks runs them). */
  readonly subscriptions: SubscriptionStore
  /** Files pulls placed, for the quick check (placed-files.ts). */
  readonly placed: PlacedFiles
  /** Watches and open scans with their signed entries (open-scans.ts). */
  readonly open: OpenScans
  /** What followers of open scans placed (followed-files.ts). */
  readonly followed: FollowedFiles
  /**
   * Runs `fn` as one write transaction: the catalog writes it makes (their own transactions nest as
   * savepoints) commit together, with one fsync instead of one each; if it throws, none is kept.
   * `relaxed`: commit without the fsync (`synchronous = NORMAL` for it): the writes survive the process
   * being killed, a power cut may lose them (for rows that only save work, like what a follower placed).
   */
  batch: <T>(fn: () => T, options?: { relaxed?: boolean }) => T
  close: () => void
}

/**
 * Opens `file` (creating it unless read-only), sets WAL / busy timeout / foreign keys, and migrates it.
 * ERR_HOME_TOO_NEW if its schema is newer than this code; ERR_HOME_CORRUPT if it is not a catalog.
 */
export function openCatalog (file: string, options: CatalogOptions = {}): Catalog {
  const flushRows = Math.ceil(positive(options.flushRows, DEFAULT_FLUSH_ROWS))
  const h = openDatabase(file, options)
  const scans = openScans(h)
  const leafIndex = openLeafIndex(h)
  const nodes = openScanNodes(h)
  const signatures = openSignatures(h)
  const writerDeps = { h, scans, leafIndex, nodes, signatures, flushRows }

  const createScanWriter: Catalog['createScanWriter'] = (init) => {
    h.requireWritable('start a scan')
    if (typeof init.name !== 'string' || typeof init.sourcePath !== 'string' || typeof init.origin !== 'string') {
      throw new FerryError('ERR_INVALID_ARGUMENT', 'A scan needs a name, a source path and an origin')
    }
    return newScanWriter(writerDeps, scans.create(init))
  }

  const blockCollections: Catalog['blockCollections'] = (cid) => {
    if (cid.code === RAW_CODE) return leafIndex.collections(cid)
    if (cid.code === DAG_PB) return nodes.collections(cid)
    return []
  }

  return {
    file,
    schemaVersion: h.schemaVersion,
    migrated: h.migrated,
    createScanWriter,
    listScans: scans.list,
    pageScans: scans.page,
    scanFeed: scans.feed,
    getScan: scans.get,
    entries: scans.entries,
    replicaEntries: openReplicaEntries(h),
    getEntry: scans.getEntry,
    provenance: signatures.provenance,
    checkSignature: signatures.check,
    findLeaf: leafIndex.find,
    blockCollections,
    rootCollections: scans.rootCollections,
    getSource: leafIndex.get,
    removeStaleImports: scans.removeStaleImports,
    pulls: createPullJournal(h.db, h.guard, h.relaxed),
    tasks: openTaskStore(h),
    subscriptions: openSubscriptionStore(h),
    placed: createPlacedFiles(h.db, h.guard, h.relaxed),
    open: openOpenScans(h, leafIndex, nodes),
    followed: openFollowedFiles(h),
    batch: <T>(fn: () => T, options?: { relaxed?: boolean }): T => {
      h.requireWritable('write to the catalog')
      const run = (): T => h.guard(() => h.db.transaction(fn).immediate())
      return options?.relaxed === true ? h.relaxed(run) : run()
    },
    close: h.close
  }
}
