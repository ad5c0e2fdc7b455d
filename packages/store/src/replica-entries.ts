/**
 * The fast no-op's read of the catalog: a replica's entries, each joined with what `placed_files` recorded
 * for it at the destination, in path order, one page per query. One ordered range scan of `entries` with an
 * index lookup of `placed_files` inside SQLite per row, instead of a JavaScript round trip per file; no CID
 * is read or decoded (the no-op compares stats, not blocks); each row is one flat object.
 */
import { lazyStatements, type CatalogDb } from './catalog-db.js'
import type { EntryType } from './scans.js'

/** Rows read per query by `replicaEntries()`. */
export const REPLICA_PAGE_ROWS = 4_096

/** One entry of a replica with the placed-files row of its absolute path (nulls when there is none). */
export interface ReplicaEntry {
  /** The entry's path in the scan ('' is the root directory). */
  path: string
  type: EntryType
  size: number
  mode: number
  mtimeMs: number
  /** A symlink's target; null otherwise. */
  target: string | null
  /** What `placed_files` holds for `prefix + path`: null if Ferry recorded no file placed there. */
  placedSize: number | null
  placedMtimeMs: number | null
  placedCtimeMs: number | null
  placedIno: number | null
}

const COLUMNS = 'e.path AS path, e.type AS type, e.size AS size, e.mode AS mode, e.mtime_ms AS mtimeMs, e.target AS target, ' +
  'p.size AS placedSize, p.mtime_ms AS placedMtimeMs, p.ctime_ms AS placedCtimeMs, p.ino AS placedIno'
const FROM = 'FROM entries e LEFT JOIN placed_files p ON p.path = (? || e.path)'

const SQL = {
  first: `SELECT ${COLUMNS} ${FROM} WHERE e.scan_id = ? ORDER BY e.path LIMIT ?`,
  after: `SELECT ${COLUMNS} ${FROM} WHERE e.scan_id = ? AND e.path > ? ORDER BY e.path LIMIT ?`
}

/**
 * `replicaEntries(scanId, prefix)`: the scan's entries in path order (UTF-8 byte order), in pages of at
 * most `pageRows`, each with the `placed_files` row of `prefix + path` (`prefix`: the destination's absolute
 * path ending in the separator). The connection is not held between pages.
 */
export function openReplicaEntries (h: CatalogDb): (scanId: number, prefix: string, pageRows?: number) => IterableIterator<ReplicaEntry[]> {
  const q = lazyStatements(h.db, SQL)
  return function * replicaEntries (scanId, prefix, pageRows = REPLICA_PAGE_ROWS) {
    let after: string | null = null
    while (true) {
      const page: ReplicaEntry[] = h.guard(() => after === null
        ? q.first.all(prefix, scanId, pageRows) as ReplicaEntry[]
        : q.after.all(prefix, scanId, after, pageRows) as ReplicaEntry[])
      if (page.length > 0) yield page
      if (page.length < pageRows) return
      after = page[page.length - 1]!.path
    }
  }
}
