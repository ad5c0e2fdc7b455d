/**
 * Scans and their entries: tables `scans` and `entries` (schema step 1; step 4 adds the signature columns,
 * read here and written by signatures.ts). Entries are read back in pages, so a scan of 10^6 entries never
 * sits in memory and the connection is not held between pages.
 */
import os from 'node:os'
import { CID } from 'multiformats/cid'
import { FerryError } from '@ferry/errors'
import { lazyStatements, type CatalogDb, type Statements } from './catalog-db.js'
import type { ScanSignature } from './scan-signature.js'
import type BetterSqlite3 from 'better-sqlite3'

/** Entries read per query by `entries()`. */
export const ENTRIES_PAGE_ROWS = 2_000

/** Type of a scan entry. */
export type EntryType = 'file' | 'directory' | 'symlink'

/** State of a scan: being written, or sealed. */
export type ScanState = 'importing' | 'complete'

/** One file, directory or symlink of a scan. */
export interface EntryRecord {
  /** Relative, '/'-separated, no '.', '..' or empty segments; '' is the scan's root directory. */
  path: string
  type: EntryType
  /** Bytes for files; whatever the caller chose for directories and symlinks (usually 0). */
  size: number
  /** st_mode bits as the caller recorded them. */
  mode: number
  mtimeMs: number
  /** The entry's node in the DAG. */
  cid: CID
  /** Symlink target; undefined for other types. */
  target?: string
}

/** An entry that could not be read and is not in the scan. */
export interface SkippedEntry {
  path: string
  /** A FerryError code or errno code. */
  code: string
  message: string
}

/** One scan, as stored. */
export interface ScanRecord {
  id: number
  /** The scan's root CID; null while importing. */
  root: CID | null
  collection: string | null
  name: string
  /** Absolute path the scan was taken from (on the origin node). */
  sourcePath: string
  /** PeerId string of the node that took the scan. */
  origin: string
  files: number
  directories: number
  symlinks: number
  bytes: number
  skipped: SkippedEntry[]
  /** ms since the epoch. */
  created: number
  state: ScanState
  /** The origin's signature over the record and entries; undefined if the scan was never signed. */
  signature?: ScanSignature
}

/** Filter of `listScans`. */
export interface ListScansOptions {
  /** Only scans of this collection. */
  collection?: string
  /** Also list scans still importing (default: complete scans only). */
  includeImporting?: boolean
}

/** A complete scan as a catalog listing shows it: no source path, no signature, the skipped entries counted. */
export interface ScanListing {
  /** Row id: the listing's order and its cursor. */
  id: number
  root: CID
  collection: string | null
  name: string
  origin: string
  files: number
  directories: number
  symlinks: number
  bytes: number
  /** ms since the epoch. */
  created: number
  /** How many entries were skipped. */
  skipped: number
}

/** Query of `pageScans`: complete scans in row id order, after a cursor. */
export interface ScanPageQuery {
  /** Only scans with a row id above this: the `id` of the last scan of the previous page. */
  after?: number
  /** At most this many scans (at least 1). */
  limit: number
  /** Only scans of this collection. */
  collection?: string
  /** Only scans whose name starts with this (case-sensitive). */
  prefix?: string
  /** Leave out the scans of these collections (the ones the asker may not read). */
  hidden?: readonly string[]
}

/** One page of `pageScans`; `more` if scans follow the last one. */
export interface ScanPage { scans: ScanListing[], more: boolean }

/**
 * Scans completed by any process since the feed's last `poll` (or its creation), oldest row first. A poll
 * costs one `PRAGMA data_version` when nothing was committed since the last one.
 */
export interface ScanFeed { poll: () => ScanListing[] }

/** What a new scan row is created with. */
export interface ScanInit { collection?: string | null, name: string, sourcePath: string, origin: string, created?: number }

/** The counts and skipped list a scan is completed with. */
export interface ScanTotals { root: CID, files: number, directories: number, symlinks: number, bytes: number, skipped: SkippedEntry[] }

/** Scans and entries of a catalog. */
export interface Scans {
  /** Inserts a scan in state 'importing', owned by this process; returns its id. */
  create: (init: ScanInit) => number
  byId: (id: number) => ScanRecord | undefined
  list: (options?: ListScansOptions) => ScanRecord[]
  /** By id (number or decimal string) or by root (the newest complete scan). */
  get: (rootOrId: string | number | CID) => ScanRecord | undefined
  /** Writes entry rows made by `entryRow`. Call inside a write transaction. */
  insertEntries: (rows: readonly unknown[][]) => void
  /** Sets totals and flips an importing scan to 'complete'; returns the rows changed (0: it is gone). */
  complete: (id: number, totals: ScanTotals) => number
  /** Deletes a scan (its entries, nodes and provenance cascade). */
  remove: (id: number) => number
  entries: (scanId: number) => IterableIterator<EntryRecord>
  getEntry: (scanId: number, path: string) => EntryRecord | undefined
  rootCollections: (root: CID) => Array<string | null>
  removeStaleImports: () => number
  /** One page of complete scans, by row id after `query.after`, in bounded memory (a keyset query on the primary key). */
  page: (query: ScanPageQuery) => ScanPage
  /** A new change feed of completed scans, starting now. */
  feed: () => ScanFeed
}

const SCAN_COLUMNS = 'id, root, collection, name, source_path, origin, files, directories, symlinks, bytes, skipped, created, state, signature, signature_format, signed_at'
const LISTING_COLUMNS = 'id, root, collection, name, origin, files, directories, symlinks, bytes, json_array_length(skipped) AS skipped, created'
/** Scans read per query by a feed catching up. */
const FEED_PAGE_ROWS = 1_000
const ENTRY_COLUMNS = 'path, type, size, mode, mtime_ms, cid, target'

const SQL = {
  insertScan: 'INSERT INTO scans (collection, name, source_path, origin, created, state, writer_pid, writer_host) VALUES (?, ?, ?, ?, ?, \'importing\', ?, ?)',
  scanById: `SELECT ${SCAN_COLUMNS} FROM scans WHERE id = ?`,
  scanByRoot: `SELECT ${SCAN_COLUMNS} FROM scans WHERE root = ? AND state = 'complete' ORDER BY created DESC, id DESC LIMIT 1`,
  complete: 'UPDATE scans SET root = ?, files = ?, directories = ?, symlinks = ?, bytes = ?, skipped = ?, state = \'complete\', writer_pid = NULL, writer_host = NULL WHERE id = ? AND state = \'importing\'',
  deleteScan: 'DELETE FROM scans WHERE id = ?',
  importing: 'SELECT id, writer_pid AS pid FROM scans WHERE state = \'importing\' AND writer_host = ?',
  rootCollections: 'SELECT DISTINCT collection FROM scans WHERE root = ? AND state = \'complete\'',
  insertEntry: 'INSERT INTO entries (scan_id, path, type, size, mode, mtime_ms, cid, target) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  firstEntries: `SELECT ${ENTRY_COLUMNS} FROM entries WHERE scan_id = ? ORDER BY path LIMIT ?`,
  entriesAfter: `SELECT ${ENTRY_COLUMNS} FROM entries WHERE scan_id = ? AND path > ? ORDER BY path LIMIT ?`,
  entry: `SELECT ${ENTRY_COLUMNS} FROM entries WHERE scan_id = ? AND path = ?`,
  maxId: 'SELECT coalesce(max(id), 0) AS id FROM scans',
  importingIds: 'SELECT id FROM scans WHERE state = \'importing\'',
  changes: 'SELECT total_changes() AS n',
  feedAfter: `SELECT ${LISTING_COLUMNS}, state FROM scans WHERE id > ? ORDER BY id LIMIT ${FEED_PAGE_ROWS}`,
  feedIds: `SELECT ${LISTING_COLUMNS}, state FROM scans WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`
}

interface ScanRow {
  id: number
  root: string | null
  collection: string | null
  name: string
  source_path: string
  origin: string
  files: number
  directories: number
  symlinks: number
  bytes: number
  skipped: string
  created: number
  state: ScanState
  signature: Buffer | null
  signature_format: number | null
  signed_at: number | null
}

interface ListingRow { id: number, root: string, collection: string | null, name: string, origin: string, files: number, directories: number, symlinks: number, bytes: number, skipped: number, created: number }

interface EntryRow { path: string, type: EntryType, size: number, mode: number, mtime_ms: number, cid: Buffer, target: string | null }

/** Normalised text form of a root: CIDv1 base32, so one root has one spelling in the database. */
export function rootKey (cid: CID): string {
  return cid.toV1().toString()
}

export function isNonNegativeNumber (n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0
}

function checkPath (p: string): void {
  if (p === '') return
  if (p.startsWith('/') || p.endsWith('/') || p.includes('\0') || p.split('/').some(s => s === '' || s === '.' || s === '..')) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `Entry path "${p}" is not a clean relative path`, { details: { path: p } })
  }
}

/** Checks an entry and makes its row for `insertEntries`. */
export function entryRow (scanId: number, e: EntryRecord): unknown[] {
  checkPath(e.path)
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a JavaScript caller may pass any type
  if (e.type !== 'file' && e.type !== 'directory' && e.type !== 'symlink') {
    throw new FerryError('ERR_INVALID_ARGUMENT', `Entry "${e.path}" has unknown type "${String(e.type)}"`)
  }
  if (!isNonNegativeNumber(e.size) || !Number.isInteger(e.mode) || typeof e.mtimeMs !== 'number' || !Number.isFinite(e.mtimeMs)) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `Entry "${e.path}" has an invalid size, mode or mtime`)
  }
  const cid = CID.asCID(e.cid)
  if (cid === null) throw new FerryError('ERR_INVALID_CID', `Entry "${e.path}" has no CID`)
  return [scanId, e.path, e.type, e.size, e.mode, e.mtimeMs, Buffer.from(cid.bytes), e.target ?? null]
}

function parseSkipped (json: string): SkippedEntry[] {
  try {
    return JSON.parse(json) as SkippedEntry[]
  } catch {
    return [{ path: '', code: 'ERR_HOME_CORRUPT', message: 'the list of skipped entries could not be read' }]
  }
}

function toScan (row: ScanRow): ScanRecord {
  return {
    id: row.id,
    root: row.root === null ? null : CID.parse(row.root),
    collection: row.collection,
    name: row.name,
    sourcePath: row.source_path,
    origin: row.origin,
    files: row.files,
    directories: row.directories,
    symlinks: row.symlinks,
    bytes: row.bytes,
    skipped: parseSkipped(row.skipped),
    created: row.created,
    state: row.state,
    ...(row.signature !== null ? { signature: { format: row.signature_format ?? 0, signedAt: row.signed_at ?? 0, bytes: new Uint8Array(row.signature) } } : {})
  }
}

function toListing (row: ListingRow): ScanListing {
  return {
    id: row.id,
    root: CID.parse(row.root),
    collection: row.collection,
    name: row.name,
    origin: row.origin,
    files: row.files,
    directories: row.directories,
    symlinks: row.symlinks,
    bytes: row.bytes,
    created: row.created,
    skipped: row.skipped
  }
}

function toEntry (row: EntryRow): EntryRecord {
  const e: EntryRecord = { path: row.path, type: row.type, size: row.size, mode: row.mode, mtimeMs: row.mtime_ms, cid: CID.decode(row.cid) }
  if (row.target !== null) e.target = row.target
  return e
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The root a `get` argument names, or ERR_INVALID_CID. */
function parseRoot (rootOrId: string | CID): CID {
  const root = CID.asCID(rootOrId)
  if (root !== null) return root
  try {
    return CID.parse(String(rootOrId))
  } catch (err) {
    throw new FerryError('ERR_INVALID_CID', `"${String(rootOrId)}" is neither a scan id nor a CID`, { cause: err })
  }
}

/** `listScans`: its statement per filter (four at most), prepared on first use. */
function scanLister (h: CatalogDb): Scans['list'] {
  const byFilter = new Map<string, BetterSqlite3.Statement>()
  return (opts = {}) => h.guard(() => {
    const where: string[] = []
    const params: unknown[] = []
    if (opts.includeImporting !== true) where.push('state = \'complete\'')
    if (opts.collection !== undefined) {
      where.push('collection = ?')
      params.push(opts.collection)
    }
    const sql = `SELECT ${SCAN_COLUMNS} FROM scans ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created, id`
    let s = byFilter.get(sql)
    if (s === undefined) byFilter.set(sql, s = h.db.prepare(sql))
    return (s.all(...params) as ScanRow[]).map(toScan)
  })
}

/**
 * `pageScans`: its statement per filter combination (eight at most), prepared on first use. The collection
 * test is written `+collection` so SQLite walks the primary key from the cursor instead of sorting a whole
 * collection per page: a listing of N scans reads each row about once, whatever the page size.
 */
function scanPager (h: CatalogDb): Scans['page'] {
  const byFilter = new Map<string, BetterSqlite3.Statement>()
  return (query) => h.guard(() => {
    const where = ['state = \'complete\'', 'id > ?']
    const params: unknown[] = [query.after ?? 0]
    if (query.collection !== undefined) {
      where.push('+collection = ?')
      params.push(query.collection)
    }
    if (query.prefix !== undefined && query.prefix !== '') {
      where.push('instr(name, ?) = 1')
      params.push(query.prefix)
    }
    if (query.hidden !== undefined && query.hidden.length > 0) {
      where.push('(collection IS NULL OR collection NOT IN (SELECT value FROM json_each(?)))')
      params.push(JSON.stringify(query.hidden))
    }
    const sql = `SELECT ${LISTING_COLUMNS} FROM scans WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`
    let s = byFilter.get(sql)
    if (s === undefined) byFilter.set(sql, s = h.db.prepare(sql))
    const limit = Math.max(1, Math.floor(query.limit))
    const rows = s.all(...params, limit + 1) as ListingRow[]
    return { scans: rows.slice(0, limit).map(toListing), more: rows.length > limit }
  })
}

/**
 * A change feed: remembers the highest row id seen and the scans seen importing (as many as imports run at
 * once; those running when the feed is made included). A poll first compares `PRAGMA data_version` (changed by other connections' commits) and
 * `total_changes()` (this one's) with the last poll's, and only if either moved reads the importing scans
 * seen before and the rows above the highest id: a scan whose import began before another's completed is
 * still announced once it completes, and a removed row's reused id is seen again.
 */
function scanFeed (h: CatalogDb, q: Statements<keyof typeof SQL>): ScanFeed {
  const version = (): string => `${String(h.db.pragma('data_version', { simple: true }))}:${(q.changes.get() as { n: number }).n}`
  let last = h.guard(version)
  let seen = h.guard(() => (q.maxId.get() as { id: number }).id)
  // imports already running when the feed starts are announced when they complete, like later ones
  let importing = new Set(h.guard(() => (q.importingIds.all() as Array<{ id: number }>).map((r) => r.id)))
  const take = (rows: Array<ListingRow & { state: ScanState }>, out: ScanListing[], still: Set<number>): void => {
    for (const r of rows) {
      if (r.state === 'complete') out.push(toListing(r))
      else still.add(r.id)
    }
  }
  return {
    poll: () => h.guard(() => {
      const now = version()
      if (now === last) return []
      last = now
      const out: ScanListing[] = []
      const still = new Set<number>()
      if (importing.size > 0) take(q.feedIds.all(JSON.stringify([...importing])) as Array<ListingRow & { state: ScanState }>, out, still)
      seen = Math.min(seen, (q.maxId.get() as { id: number }).id)
      while (true) {
        const rows = q.feedAfter.all(seen) as Array<ListingRow & { state: ScanState }>
        take(rows, out, still)
        if (rows.length > 0) seen = rows[rows.length - 1]!.id
        if (rows.length < FEED_PAGE_ROWS) break
      }
      importing = still
      return out.sort((a, b) => a.id - b.id)
    })
  }
}

/** Reads a scan's entries page by page in path order. */
function entryPages (h: CatalogDb, q: Statements<keyof typeof SQL>): Scans['entries'] {
  return function * entries (scanId) {
    let after: string | null = null
    while (true) {
      const page: EntryRow[] = h.guard(() => after === null
        ? q.firstEntries.all(scanId, ENTRIES_PAGE_ROWS) as EntryRow[]
        : q.entriesAfter.all(scanId, after, ENTRIES_PAGE_ROWS) as EntryRow[])
      for (const row of page) yield toEntry(row)
      if (page.length < ENTRIES_PAGE_ROWS) return
      after = page[page.length - 1]!.path
    }
  }
}

/** The scans and entries of the catalog `h`. */
export function openScans (h: CatalogDb): Scans {
  const q = lazyStatements(h.db, SQL)
  const byId = (id: number): ScanRecord | undefined => h.guard(() => {
    const row = q.scanById.get(id) as ScanRow | undefined
    return row === undefined ? undefined : toScan(row)
  })
  return {
    create: (init) => h.guard(() => Number(q.insertScan.run(init.collection ?? null, init.name, init.sourcePath, init.origin,
      init.created ?? Date.now(), process.pid, os.hostname()).lastInsertRowid)),
    byId,
    list: scanLister(h),
    page: scanPager(h),
    feed: () => scanFeed(h, q),
    get: (rootOrId) => {
      if (typeof rootOrId === 'number') return byId(rootOrId)
      if (typeof rootOrId === 'string' && /^[0-9]+$/.test(rootOrId)) return byId(Number(rootOrId))
      const key = rootKey(parseRoot(rootOrId))
      return h.guard(() => {
        const row = q.scanByRoot.get(key) as ScanRow | undefined
        return row === undefined ? undefined : toScan(row)
      })
    },
    insertEntries: (rows) => {
      const insert = q.insertEntry
      for (const r of rows) insert.run(r)
    },
    complete: (id, t) => q.complete.run(rootKey(t.root), t.files, t.directories, t.symlinks, t.bytes, JSON.stringify(t.skipped), id).changes,
    remove: (id) => q.deleteScan.run(id).changes,
    entries: entryPages(h, q),
    getEntry: (scanId, path) => h.guard(() => {
      const row = q.entry.get(scanId, path) as EntryRow | undefined
      return row === undefined ? undefined : toEntry(row)
    }),
    rootCollections: (root) => h.guard(() => (q.rootCollections.all(rootKey(root)) as Array<{ collection: string | null }>).map((r) => r.collection)),
    removeStaleImports: () => {
      h.requireWritable('remove stale imports')
      return h.guard(() => h.db.transaction(() => {
        let removed = 0
        for (const r of q.importing.all(os.hostname()) as Array<{ id: number, pid: number | null }>) {
          if (r.pid === process.pid || (r.pid !== null && isAlive(r.pid))) continue
          removed += q.deleteScan.run(r.id).changes
        }
        return removed
      }).immediate())
    }
  }
}
