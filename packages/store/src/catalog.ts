/**
 * `Catalog`: the node's SQLite database (`catalog.db`) of scans, their entries and the leaf index.
 *
 * Safety with several processes on one home: WAL journal (readers never block the writer), a busy timeout
 * (a writer waits for another instead of failing), every write in a `BEGIN IMMEDIATE` transaction (takes the
 * write lock up front, so no deadlock on lock upgrade) and `synchronous = FULL` (a committed transaction
 * survives power loss; cheap here because writes are batched).
 *
 * Streaming: a `ScanWriter` buffers rows and writes them every `flushRows` rows in one transaction, and
 * `entries()` reads back in pages, so a scan of 10^6 entries never sits in memory and the connection is not
 * held between pages.
 */
import { createPullJournal, type PullJournal } from './pull-journal.js'
import { createPlacedFiles, type PlacedFiles } from './placed-files.js'
import os from 'node:os'
import Database from 'better-sqlite3'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { FerryError, fromSystemError } from '@ferry/errors'
import { MIGRATIONS, type Migration } from './migrations.js'
import { EntriesDigest, signScanRecord, verifyScanSignature, type ScanSignature, type SignatureCheck, type Signer } from './scan-signature.js'
import type BetterSqlite3 from 'better-sqlite3'

/** How long a write waits for another process's transaction before failing with ERR_IO. */
export const DEFAULT_BUSY_TIMEOUT_MS = 10_000

/**
 * Rows (entries + sources + leaves) a ScanWriter buffers before writing them in one transaction (~3 MiB).
 * Big batches matter: each commit rewrites the leaf-index pages it touched, and hash keys touch most of them;
 * 50,000 was fastest, but cost ~17 MB more peak memory on a 200,000-file import (bench: import suite).
 */
export const DEFAULT_FLUSH_ROWS = 10_000

/**
 * SQLite page cache per connection, in MiB. The leaf index takes random inserts (hashes), so a cache above
 * SQLite's 2 MiB default keeps a big import from thrashing; 64 MiB cost ~40 MB of peak memory on a
 * 200,000-file import and pushed it near the 300 MB limit (bench: import suite).
 */
export const DEFAULT_CACHE_MIB = 16

/** Entries read per query by `entries()`. */
export const ENTRIES_PAGE_ROWS = 2_000

/** Multicodec of raw leaves (the CIDs `getSource` returns). */
export const RAW_CODE = 0x55

/** Multicodec of inner nodes (dag-pb). */
const DAG_PB = 0x70

/** File name of the catalog inside a home. */
export const CATALOG_FILE = 'catalog.db'

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

/** One peer a pulled replica came from. */
export interface ProvenanceRecord {
  /** PeerId string. */
  peer: string
  /** Bytes fetched from it in the run that completed the pull (0: it sent only the record or inner blocks). */
  bytes: number
  /** ms since the epoch when that pull completed. */
  fetched: number
}

/** Where a leaf's bytes sit on this machine. */
export interface LeafLocation {
  /** Absolute path of the source file. */
  path: string
  offset: number
  length: number
  /** Size and mtime of the file when it was hashed: if the file differs now, it has changed. */
  size: number
  mtimeMs: number
}

/** One leaf of a source file, as given to `addSource`. */
export interface LeafRecord {
  cid: CID
  offset: number
  length: number
}

/** An indexed source file, as returned by `getSource`. */
export interface SourceRecord {
  path: string
  size: number
  mtimeMs: number
  /** The scan that last indexed it; null if that scan was removed. */
  scanId: number | null
  /** Its leaves in offset order, as raw-codec CIDv1. */
  leaves: LeafRecord[]
}

/** Summary given to `ScanWriter.commit`. */
export interface ScanSummary {
  root: CID
  files: number
  directories: number
  symlinks: number
  bytes: number
  skipped: SkippedEntry[]
  /** The origin's signature (a replica stores the origin's, unchanged). */
  signature?: ScanSignature
  /** Where a pulled replica came from. */
  provenance?: ProvenanceRecord[]
}

/** Streams one scan into the catalog. Not safe to share between concurrent async tasks without care. */
export interface ScanWriter {
  /** Id of the scan row (state 'importing' until commit). */
  readonly id: number
  /** Buffers one entry; written with the next flush. */
  addEntry: (e: EntryRecord) => void
  /**
   * Buffers one source file and its leaves. A path already indexed (by any scan) is replaced: its old leaf
   * rows are deleted, unless size, mtime and leaves are all unchanged, in which case nothing is rewritten.
   */
  addSource: (absPath: string, size: number, mtimeMs: number, leaves: readonly LeafRecord[]) => void
  /**
   * Buffers inner dag-pb nodes (directory, file and shard nodes) that belong to this scan, so the access
   * check can tell which collection they are in (`blockCollections`). Other codecs are ignored.
   */
  addNodes: (cids: Iterable<CID>) => void
  /** Writes buffered rows now (addEntry/addSource do it every `flushRows` rows). */
  flush: () => void
  /** Flushes, records the summary and flips the scan to 'complete'. */
  commit: (summary: ScanSummary) => ScanRecord
  /**
   * Like commit, but first signs the record and its entries (read back in path order, streamed) with `key`,
   * the node key of the scan's origin (docs/format.md, "Signed scan records"). `signedAt` defaults to now.
   */
  commitSigned: (summary: Omit<ScanSummary, 'signature'>, key: Signer, signedAt?: number) => Promise<ScanRecord>
  /**
   * Removes the scan and its entries. Source/leaf rows it wrote stay: they describe files on disk, not the
   * scan. Does nothing after commit, so it is safe in a `finally`.
   */
  abort: () => void
}

/** Options of `openCatalog`. */
export interface CatalogOptions {
  /** Open without writing: no migration (an older catalog is refused), writers refused. */
  readonly?: boolean
  busyTimeoutMs?: number
  flushRows?: number
  /** Page cache in MiB (default DEFAULT_CACHE_MIB). */
  cacheMiB?: number
  /** Schema steps to apply instead of MIGRATIONS (tests and tools). */
  migrations?: readonly Migration[]
}

/** Filter of `listScans`. */
export interface ListScansOptions {
  /** Only scans of this collection. */
  collection?: string
  /** Also list scans still importing (default: complete scans only). */
  includeImporting?: boolean
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
   * A scan by id (number or decimal string; any state) or by root CID (string or CID; the newest complete
   * scan with that root). Undefined if none. ERR_INVALID_CID if the string is neither.
   */
  getScan: (rootOrId: string | number | CID) => ScanRecord | undefined
  /** A scan's entries in path order (UTF-8 byte order: a directory comes before everything under it). */
  entries: (scanId: number) => IterableIterator<EntryRecord>
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
  /** Files pulls placed, for the quick check (placed-files.ts). */
  readonly placed: PlacedFiles
  close: () => void
}

/** Turns a better-sqlite3 error into a FerryError naming `what`. */
export function fromSqliteError (err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err
  const code = (err as { code?: string })?.code ?? ''
  const reason = (err as Error)?.message ?? String(err)
  if (code === 'SQLITE_FULL') return new FerryError('ERR_NO_SPACE', `No space left while writing ${what}`, { cause: err })
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new FerryError('ERR_IO', `${what} is locked by another Ferry process: try again`, { cause: err })
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new FerryError('ERR_HOME_CORRUPT', `${what} is not a valid Ferry catalog (${reason}): restore it from a backup`, { cause: err })
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH')) {
    return new FerryError('ERR_PERMISSION', `Cannot write ${what}: ${reason}`, { cause: err })
  }
  if (code.startsWith('SQLITE_CANTOPEN')) return new FerryError('ERR_IO', `Cannot open ${what}: ${reason}`, { cause: err })
  if (code.startsWith('SQLITE_CONSTRAINT')) return new FerryError('ERR_INVALID_ARGUMENT', `Rejected by ${what}: ${reason}`, { cause: err })
  if (code.startsWith('SQLITE_')) return new FerryError('ERR_IO', `I/O error on ${what}: ${reason}`, { cause: err })
  return fromSystemError(err, what)
}

function checkMigrations (migrations: readonly Migration[]): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new FerryError('ERR_INTERNAL', `Catalog migration #${i} has version ${m.version}, expected ${i + 1}`)
  })
  return migrations.length
}

function checkPath (p: string): void {
  if (p === '') return
  if (p.startsWith('/') || p.endsWith('/') || p.includes('\0') || p.split('/').some(s => s === '' || s === '.' || s === '..')) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `Entry path "${p}" is not a clean relative path`, { details: { path: p } })
  }
}

/** `value` if it is a positive finite number, else `fallback`. */
function positive (value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback
}

function isNonNegativeNumber (n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0
}

/** Normalised text form of a root: CIDv1 base32, so one root has one spelling in the database. */
function rootKey (cid: CID): string {
  return cid.toV1().toString()
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
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

interface EntryRow { path: string, type: EntryType, size: number, mode: number, mtime_ms: number, cid: Buffer, target: string | null }

function toScan (row: ScanRow): ScanRecord {
  let skipped: SkippedEntry[]
  try {
    skipped = JSON.parse(row.skipped) as SkippedEntry[]
  } catch {
    skipped = [{ path: '', code: 'ERR_HOME_CORRUPT', message: 'the list of skipped entries could not be read' }]
  }
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
    skipped,
    created: row.created,
    state: row.state,
    ...(row.signature !== null ? { signature: { format: row.signature_format ?? 0, signedAt: row.signed_at ?? 0, bytes: new Uint8Array(row.signature) } } : {})
  }
}

function toEntry (row: EntryRow): EntryRecord {
  const e: EntryRecord = { path: row.path, type: row.type, size: row.size, mode: row.mode, mtimeMs: row.mtime_ms, cid: CID.decode(row.cid) }
  if (row.target !== null) e.target = row.target
  return e
}

/** Binary key of a leaf: its multihash (a raw leaf and any other CID of the same bytes share it). */
function leafKey (cid: CID): Buffer {
  const mh = cid.multihash.bytes
  return Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength)
}

/** Indexed integer key of a leaf: the first 8 bytes of its digest, as a signed 64-bit integer. */
function leafIndexKey (cid: CID): bigint {
  const d = cid.multihash.digest
  const first = Buffer.alloc(8)
  first.set(d.subarray(0, 8))
  return first.readBigInt64BE(0)
}

/**
 * Opens `file` (creating it unless read-only), sets WAL / busy timeout / foreign keys, and migrates it.
 * ERR_HOME_TOO_NEW if its schema is newer than this code; ERR_HOME_CORRUPT if it is not a catalog.
 */
export function openCatalog (file: string, options: CatalogOptions = {}): Catalog {
  const readonly = options.readonly === true
  const migrations = options.migrations ?? MIGRATIONS
  const latest = checkMigrations(migrations)
  const flushRows = Math.ceil(positive(options.flushRows, DEFAULT_FLUSH_ROWS))
  const what = `catalog ${file}`
  let db: BetterSqlite3.Database
  try {
    db = new Database(file, { readonly, fileMustExist: readonly, timeout: positive(options.busyTimeoutMs, DEFAULT_BUSY_TIMEOUT_MS) })
  } catch (err) {
    throw fromSqliteError(err, what)
  }
  const migrated: number[] = []
  let version: number
  try {
    version = db.pragma('user_version', { simple: true }) as number
    if (version > latest) {
      throw new FerryError('ERR_HOME_TOO_NEW', `${file} has schema version ${version}, this Ferry knows up to ${latest}: upgrade Ferry`,
        { details: { path: file, version, supported: latest } })
    }
    db.pragma('foreign_keys = ON')
    db.pragma(`cache_size = ${-Math.round(positive(options.cacheMiB, DEFAULT_CACHE_MIB) * 1024)}`)
    if (readonly) {
      if (version < latest) {
        throw new FerryError('ERR_HOME_CORRUPT', `${file} has schema version ${version} and needs upgrading to ${latest}: open the home once without read-only`,
          { details: { path: file, version, supported: latest } })
      }
    } else {
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = FULL')
      if (version < latest) {
        db.transaction(() => {
          const current = db.pragma('user_version', { simple: true }) as number
          if (current > latest) {
            throw new FerryError('ERR_HOME_TOO_NEW', `${file} has schema version ${current}, this Ferry knows up to ${latest}: upgrade Ferry`)
          }
          for (const m of migrations) {
            if (m.version <= current) continue
            m.up(db)
            migrated.push(m.version)
          }
          db.pragma(`user_version = ${latest}`)
        }).immediate()
        version = latest
      }
    }
  } catch (err) {
    db.close()
    throw fromSqliteError(err, what)
  }

  const guard = <T>(fn: () => T): T => {
    try {
      return fn()
    } catch (err) {
      throw fromSqliteError(err, what)
    }
  }

  // Statements are prepared lazily so a catalog opened for reading only never prepares writes.
  const stmts = new Map<string, BetterSqlite3.Statement>()
  const stmt = (sql: string): BetterSqlite3.Statement => {
    let s = stmts.get(sql)
    if (s === undefined) {
      s = db.prepare(sql)
      stmts.set(sql, s)
    }
    return s
  }

  const SCAN_COLUMNS = 'id, root, collection, name, source_path, origin, files, directories, symlinks, bytes, skipped, created, state, signature, signature_format, signed_at'

  const scanById = (id: number): ScanRecord | undefined => {
    const row = stmt(`SELECT ${SCAN_COLUMNS} FROM scans WHERE id = ?`).get(id) as ScanRow | undefined
    return row === undefined ? undefined : toScan(row)
  }

  const requireWritable = (action: string): void => {
    if (readonly) throw new FerryError('ERR_PERMISSION', `Cannot ${action}: ${file} is open read-only`)
  }

  const createScanWriter: Catalog['createScanWriter'] = (init) => {
    requireWritable('start a scan')
    if (typeof init.name !== 'string' || typeof init.sourcePath !== 'string' || typeof init.origin !== 'string') {
      throw new FerryError('ERR_INVALID_ARGUMENT', 'A scan needs a name, a source path and an origin')
    }
    const id = guard(() => Number(stmt(
      'INSERT INTO scans (collection, name, source_path, origin, created, state, writer_pid, writer_host) VALUES (?, ?, ?, ?, ?, \'importing\', ?, ?)'
    ).run(init.collection ?? null, init.name, init.sourcePath, init.origin, init.created ?? Date.now(), process.pid, os.hostname()).lastInsertRowid))
    return newScanWriter(id)
  }

  interface PendingSource { path: string, size: number, mtimeMs: number, leaves: Array<{ key: Buffer, indexKey: bigint, offset: number, length: number }> }

  const newScanWriter = (id: number): ScanWriter => {
    let entries: unknown[][] = []
    let sources: PendingSource[] = []
    let nodes: Buffer[] = []
    let rows = 0
    let state: 'open' | 'committed' | 'aborted' | 'failed' = 'open'

    const requireOpen = (): void => {
      if (state !== 'open') throw new FerryError('ERR_INVALID_ARGUMENT', `Scan writer ${id} is ${state}`)
    }

    const sameLeaves = (sourceId: number, leaves: PendingSource['leaves']): boolean => {
      const count = (stmt('SELECT count(*) AS n FROM leaves WHERE source_id = ?').get(sourceId) as { n: number }).n
      if (count !== leaves.length) return false
      const sorted = [...leaves].sort((a, b) => a.offset - b.offset)
      let i = 0
      for (const row of stmt('SELECT "offset", length, cid FROM leaves WHERE source_id = ? ORDER BY "offset"').iterate(sourceId) as IterableIterator<{ offset: number, length: number, cid: Buffer }>) {
        const want = sorted[i++]
        if (want === undefined || want.offset !== row.offset || want.length !== row.length || !want.key.equals(row.cid)) return false
      }
      return true
    }

    const writeBuffered = db.transaction((es: unknown[][], ss: PendingSource[], ns: Buffer[]) => {
      const insertEntry = stmt('INSERT INTO entries (scan_id, path, type, size, mode, mtime_ms, cid, target) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      for (const e of es) insertEntry.run(e)
      if (ns.length > 0) {
        const insertNode = stmt('INSERT OR IGNORE INTO scan_nodes (cid, scan_id) VALUES (?, ?)')
        for (const n of ns) insertNode.run(n, id)
      }
      const insertLeaf = stmt('INSERT INTO leaves (source_id, "offset", length, cid, cid_key) VALUES (?, ?, ?, ?, ?)')
      for (const s of ss) {
        const old = stmt('SELECT id, size, mtime_ms FROM sources WHERE path = ?').get(s.path) as { id: number, size: number, mtime_ms: number } | undefined
        let sourceId: number
        if (old === undefined) {
          sourceId = Number(stmt('INSERT INTO sources (path, size, mtime_ms, scan_id) VALUES (?, ?, ?, ?)').run(s.path, s.size, s.mtimeMs, id).lastInsertRowid)
        } else {
          sourceId = old.id
          stmt('UPDATE sources SET size = ?, mtime_ms = ?, scan_id = ? WHERE id = ?').run(s.size, s.mtimeMs, id, sourceId)
          if (old.size === s.size && old.mtime_ms === s.mtimeMs && sameLeaves(sourceId, s.leaves)) continue
          stmt('DELETE FROM leaves WHERE source_id = ?').run(sourceId)
        }
        for (const l of s.leaves) insertLeaf.run(sourceId, l.offset, l.length, l.key, l.indexKey)
      }
    })

    const flush = (): void => {
      requireOpen()
      if (entries.length === 0 && sources.length === 0 && nodes.length === 0) return
      const es = entries
      const ss = sources
      const ns = nodes
      entries = []
      sources = []
      nodes = []
      rows = 0
      try {
        writeBuffered.immediate(es, ss, ns)
      } catch (err) {
        state = 'failed'
        throw fromSqliteError(err, what)
      }
    }

    const addEntry = (e: EntryRecord): void => {
      requireOpen()
      checkPath(e.path)
      if (e.type !== 'file' && e.type !== 'directory' && e.type !== 'symlink') {
        throw new FerryError('ERR_INVALID_ARGUMENT', `Entry "${e.path}" has unknown type "${String(e.type)}"`)
      }
      if (!isNonNegativeNumber(e.size) || !Number.isInteger(e.mode) || typeof e.mtimeMs !== 'number' || !Number.isFinite(e.mtimeMs)) {
        throw new FerryError('ERR_INVALID_ARGUMENT', `Entry "${e.path}" has an invalid size, mode or mtime`)
      }
      const cid = CID.asCID(e.cid)
      if (cid === null) throw new FerryError('ERR_INVALID_CID', `Entry "${e.path}" has no CID`)
      entries.push([id, e.path, e.type, e.size, e.mode, e.mtimeMs, Buffer.from(cid.bytes), e.target ?? null])
      if (++rows >= flushRows) flush()
    }

    const addSource = (absPath: string, size: number, mtimeMs: number, leaves: readonly LeafRecord[]): void => {
      requireOpen()
      if (typeof absPath !== 'string' || !absPath.startsWith('/')) {
        throw new FerryError('ERR_INVALID_ARGUMENT', `Source path "${String(absPath)}" is not absolute`)
      }
      if (!isNonNegativeNumber(size) || typeof mtimeMs !== 'number' || !Number.isFinite(mtimeMs)) {
        throw new FerryError('ERR_INVALID_ARGUMENT', `Source "${absPath}" has an invalid size or mtime`)
      }
      const converted = leaves.map(l => {
        if (!isNonNegativeNumber(l.offset) || !isNonNegativeNumber(l.length) || l.offset + l.length > size) {
          throw new FerryError('ERR_INVALID_ARGUMENT', `Source "${absPath}" has a leaf outside the file (offset ${l.offset}, length ${l.length})`)
        }
        return { key: leafKey(l.cid), indexKey: leafIndexKey(l.cid), offset: l.offset, length: l.length }
      })
      sources.push({ path: absPath, size, mtimeMs, leaves: converted })
      rows += 1 + converted.length
      if (rows >= flushRows) flush()
    }

    const addNodes = (cids: Iterable<CID>): void => {
      requireOpen()
      for (const c of cids) {
        const cid = CID.asCID(c)
        if (cid === null || cid.code !== DAG_PB) continue
        nodes.push(leafKey(cid))
        if (++rows >= flushRows) flush()
      }
    }

    const commit = (summary: ScanSummary): ScanRecord => {
      flush()
      const root = CID.asCID(summary.root)
      if (root === null) throw new FerryError('ERR_INVALID_CID', `Scan ${id} cannot be committed without a root CID`)
      for (const k of ['files', 'directories', 'symlinks', 'bytes'] as const) {
        if (!isNonNegativeNumber(summary[k])) throw new FerryError('ERR_INVALID_ARGUMENT', `Scan summary has an invalid "${k}"`)
      }
      const skipped = (summary.skipped ?? []).map(s => ({ path: String(s.path), code: String(s.code), message: String(s.message) }))
      const sig = summary.signature
      const changed = guard(() => db.transaction(() => {
        const n = stmt(
          'UPDATE scans SET root = ?, files = ?, directories = ?, symlinks = ?, bytes = ?, skipped = ?, signature = ?, signature_format = ?, signed_at = ?, state = \'complete\', writer_pid = NULL, writer_host = NULL WHERE id = ? AND state = \'importing\''
        ).run(rootKey(root), summary.files, summary.directories, summary.symlinks, summary.bytes, JSON.stringify(skipped),
          sig === undefined ? null : Buffer.from(sig.bytes), sig?.format ?? null, sig?.signedAt ?? null, id).changes
        if (n === 1) {
          const insert = stmt('INSERT OR REPLACE INTO scan_provenance (scan_id, peer, bytes, fetched) VALUES (?, ?, ?, ?)')
          for (const p of summary.provenance ?? []) insert.run(id, p.peer, p.bytes, p.fetched)
        }
        return n
      }).immediate())
      if (changed !== 1) {
        state = 'failed'
        throw new FerryError('ERR_NOT_FOUND', `Scan ${id} disappeared while it was being written (removed as a stale import?)`)
      }
      state = 'committed'
      const record = guard(() => scanById(id))
      if (record === undefined) throw new FerryError('ERR_NOT_FOUND', `Scan ${id} disappeared right after commit`)
      return record
    }

    const commitSigned: ScanWriter['commitSigned'] = async (summary, key, signedAt = Date.now()) => {
      flush()
      const row = guard(() => scanById(id))
      if (row === undefined) throw new FerryError('ERR_NOT_FOUND', `Scan ${id} disappeared while it was being written (removed as a stale import?)`)
      const root = CID.asCID(summary.root)
      if (root === null) throw new FerryError('ERR_INVALID_CID', `Scan ${id} cannot be committed without a root CID`)
      const digest = digestStored(id)
      const signature = await signScanRecord(key, {
        root, collection: row.collection, name: row.name, origin: row.origin, files: summary.files, directories: summary.directories,
        symlinks: summary.symlinks, bytes: summary.bytes, created: row.created, skipped: summary.skipped, signedAt
      }, digest)
      return commit({ ...summary, signature })
    }

    const abort = (): void => {
      if (state === 'committed' || state === 'aborted') return
      state = 'aborted'
      entries = []
      sources = []
      nodes = []
      guard(() => db.transaction(() => { stmt('DELETE FROM scans WHERE id = ?').run(id) }).immediate())
    }

    return { id, addEntry, addSource, addNodes, flush, commit, commitSigned, abort }
  }

  const listScans: Catalog['listScans'] = (opts = {}) => guard(() => {
    const where: string[] = []
    const params: unknown[] = []
    if (opts.includeImporting !== true) where.push('state = \'complete\'')
    if (opts.collection !== undefined) {
      where.push('collection = ?')
      params.push(opts.collection)
    }
    const sql = `SELECT ${SCAN_COLUMNS} FROM scans ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created, id`
    return (stmt(sql).all(...params) as ScanRow[]).map(toScan)
  })

  const getScan: Catalog['getScan'] = (rootOrId) => {
    if (typeof rootOrId === 'number') return guard(() => scanById(rootOrId))
    if (typeof rootOrId === 'string' && /^[0-9]+$/.test(rootOrId)) return guard(() => scanById(Number(rootOrId)))
    let root = CID.asCID(rootOrId)
    if (root === null) {
      try {
        root = CID.parse(String(rootOrId))
      } catch (err) {
        throw new FerryError('ERR_INVALID_CID', `"${String(rootOrId)}" is neither a scan id nor a CID`, { cause: err })
      }
    }
    const key = rootKey(root)
    return guard(() => {
      const row = stmt(`SELECT ${SCAN_COLUMNS} FROM scans WHERE root = ? AND state = 'complete' ORDER BY created DESC, id DESC LIMIT 1`).get(key) as ScanRow | undefined
      return row === undefined ? undefined : toScan(row)
    })
  }

  function * entries (scanId: number): IterableIterator<EntryRecord> {
    let after: string | null = null
    while (true) {
      const page: EntryRow[] = guard(() => after === null
        ? stmt('SELECT path, type, size, mode, mtime_ms, cid, target FROM entries WHERE scan_id = ? ORDER BY path LIMIT ?').all(scanId, ENTRIES_PAGE_ROWS) as EntryRow[]
        : stmt('SELECT path, type, size, mode, mtime_ms, cid, target FROM entries WHERE scan_id = ? AND path > ? ORDER BY path LIMIT ?').all(scanId, after, ENTRIES_PAGE_ROWS) as EntryRow[])
      for (const row of page) yield toEntry(row)
      if (page.length < ENTRIES_PAGE_ROWS) return
      after = page[page.length - 1]!.path
    }
  }

  const getEntry: Catalog['getEntry'] = (scanId, path) => guard(() => {
    const row = stmt('SELECT path, type, size, mode, mtime_ms, cid, target FROM entries WHERE scan_id = ? AND path = ?').get(scanId, path) as EntryRow | undefined
    return row === undefined ? undefined : toEntry(row)
  })

  const provenance: Catalog['provenance'] = (scanId) => guard(() =>
    stmt('SELECT peer, bytes, fetched FROM scan_provenance WHERE scan_id = ? ORDER BY bytes DESC, peer').all(scanId) as ProvenanceRecord[])

  /**
   * Digest of a scan's stored entries in path order, for its signature. One synchronous pass over a single
   * statement (no paging, CIDs left binary): faster than `entries()`, and nothing else can use the statement
   * meanwhile. Memory stays flat: rows are hashed as they are read.
   */
  const digestStored = (scanId: number): { count: number, digest: Uint8Array } => guard(() => {
    const d = new EntriesDigest()
    const rows = stmt('SELECT path, type, size, mode, mtime_ms AS mtimeMs, cid, target FROM entries WHERE scan_id = ? ORDER BY path').iterate(scanId) as IterableIterator<{ path: string, type: EntryType, size: number, mode: number, mtimeMs: number, cid: Buffer, target: string | null }>
    for (const r of rows) d.add({ path: r.path, type: r.type, size: r.size, mode: r.mode, mtimeMs: r.mtimeMs, cid: r.cid, ...(r.target !== null ? { target: r.target } : {}) })
    return { count: d.count, digest: d.digest() }
  })

  const checkSignature: Catalog['checkSignature'] = async (scan, signer) => {
    if (scan.root === null) return { ok: false, reason: 'the scan is still being imported' }
    let digest
    try {
      digest = digestStored(scan.id)
    } catch (err) {
      return { ok: false, reason: `its stored entries cannot be read back as signed (${(err as Error).message})` }
    }
    return await verifyScanSignature({ ...scan, root: scan.root }, digest, scan.signature, signer)
  }

  const findLeaf: Catalog['findLeaf'] = (cid) => guard(() =>
    (stmt('SELECT s.path AS path, l."offset" AS "offset", l.length AS length, s.size AS size, s.mtime_ms AS mtimeMs FROM leaves l JOIN sources s ON s.id = l.source_id WHERE l.cid_key = ? AND l.cid = ? ORDER BY s.id DESC')
      .all(leafIndexKey(cid), leafKey(cid)) as LeafLocation[]))

  const blockCollections: Catalog['blockCollections'] = (cid) => guard(() => {
    let rows: Array<{ collection: string | null }>
    if (cid.code === RAW_CODE) {
      rows = stmt('SELECT DISTINCT sc.collection AS collection FROM leaves l JOIN sources s ON s.id = l.source_id JOIN scans sc ON sc.id = s.scan_id WHERE l.cid_key = ? AND l.cid = ?')
        .all(leafIndexKey(cid), leafKey(cid)) as Array<{ collection: string | null }>
    } else if (cid.code === DAG_PB) {
      rows = stmt('SELECT DISTINCT sc.collection AS collection FROM scan_nodes n JOIN scans sc ON sc.id = n.scan_id WHERE n.cid = ?')
        .all(leafKey(cid)) as Array<{ collection: string | null }>
    } else {
      return []
    }
    return rows.map((r) => r.collection)
  })

  const rootCollections: Catalog['rootCollections'] = (root) => guard(() =>
    (stmt('SELECT DISTINCT collection FROM scans WHERE root = ? AND state = \'complete\'').all(rootKey(root)) as Array<{ collection: string | null }>)
      .map((r) => r.collection))

  const getSource: Catalog['getSource'] = (absPath) => guard(() => {
    const row = stmt('SELECT id, path, size, mtime_ms, scan_id FROM sources WHERE path = ?').get(absPath) as { id: number, path: string, size: number, mtime_ms: number, scan_id: number | null } | undefined
    if (row === undefined) return undefined
    const leaves = (stmt('SELECT "offset", length, cid FROM leaves WHERE source_id = ? ORDER BY "offset"').all(row.id) as Array<{ offset: number, length: number, cid: Buffer }>)
      .map(l => ({ cid: CID.createV1(RAW_CODE, Digest.decode(l.cid)), offset: l.offset, length: l.length }))
    return { path: row.path, size: row.size, mtimeMs: row.mtime_ms, scanId: row.scan_id, leaves }
  })

  const removeStaleImports: Catalog['removeStaleImports'] = () => {
    requireWritable('remove stale imports')
    return guard(() => db.transaction(() => {
      const rows = stmt('SELECT id, writer_pid AS pid FROM scans WHERE state = \'importing\' AND writer_host = ?').all(os.hostname()) as Array<{ id: number, pid: number | null }>
      let removed = 0
      for (const r of rows) {
        if (r.pid === process.pid || (r.pid !== null && isAlive(r.pid))) continue
        removed += stmt('DELETE FROM scans WHERE id = ?').run(r.id).changes
      }
      return removed
    }).immediate())
  }

  const close = (): void => {
    if (db.open) db.close()
  }

  return {
    file,
    schemaVersion: version,
    migrated,
    createScanWriter,
    listScans,
    getScan,
    entries,
    getEntry,
    provenance,
    checkSignature,
    findLeaf,
    blockCollections,
    rootCollections,
    getSource,
    removeStaleImports,
    pulls: createPullJournal(db, guard),
    placed: createPlacedFiles(db, guard),
    close
  }
}
