/**
 * A pull's plan on disk (issue 12): the signed entry list, the DAG's files with their leaves, and what the
 * pull placed with the stat taken then, in a scratch SQLite database of its own, so a pull's memory follows
 * its window, not the scan. Written by the record and DAG phases, read in windows by reconcile, fetch and
 * finish.
 *
 * The database is in memory while the plan holds at most `memoryRows` rows (PLAN_MEMORY_ROWS: entries plus
 * files), and past that a file beside the catalog (`plan-<pid>-<random>.db` in the home, the rows so far
 * copied there once with VACUUM INTO), unlinked as soon as it is open: nothing to remove at the end,
 * nothing left behind by `kill -9`. It holds nothing a resume needs (a resume redoes
 * the record and the DAG walk from local blocks; the pull's durable state is the catalog's journal and the
 * staged files), so it is never synced: `synchronous = OFF`, the rollback journal in memory, one
 * connection, exclusive.
 *
 * What it holds in memory at once is counted (`held`, tests assert it): entries waiting to be inserted or
 * read as one page, file rows in its page cache (at most two pages of `window` rows), placed marks waiting
 * to be written or read as one page.
 */
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type BetterSqlite3 from 'better-sqlite3'
import { CID } from 'multiformats/cid'
import { fromSqliteError } from './catalog-db.js'
import { PLAN_MEMORY_ROWS } from './constants.js'
import type { PlacedStat } from './placed-files.js'
import type { EntryRecord, EntryType } from './scans.js'

/** A leaf of a planned file: its CID, where it sits in the file and its length. */
export interface PlanLeaf { cid: CID, offset: number, length: number }

/** A file of the scan as the plan keeps it: its DAG entry's path, CID and size, its signed mode and mtime, its leaves. */
export interface PlanFileRow {
  path: string
  cid: CID
  size: number
  mode: number
  mtimeMs: number
  leaves: PlanLeaf[]
}

/** A planned file with the stat taken when this pull placed it (undefined: not placed by this pull, or not stat'ed). */
export interface PlanPlacedRow { index: number, file: PlanFileRow, placed: boolean, stat?: PlacedStat }

/** The most rows the plan held in memory at once, by kind (tests count them). */
export interface PlanHeld { entries: number, files: number, placed: number }

/** Page cache of file rows: this many pages of `window` rows at most. */
const FILE_PAGES = 2

const SCHEMA = `
CREATE TABLE entries (seq INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, type TEXT NOT NULL, size INTEGER NOT NULL,
  mode INTEGER NOT NULL, mtime REAL NOT NULL, cid BLOB NOT NULL, target TEXT);
CREATE TABLE files (idx INTEGER PRIMARY KEY, path TEXT NOT NULL, cid BLOB NOT NULL, size INTEGER NOT NULL,
  mode INTEGER NOT NULL, mtime REAL NOT NULL, leaves BLOB, placed INTEGER NOT NULL DEFAULT 0,
  psize INTEGER, pmtime REAL, pctime REAL, pino INTEGER);
`

interface EntryRow { seq: number, path: string, type: string, size: number, mode: number, mtime: number, cid: Uint8Array, target: string | null }
interface FileRow { idx: number, path: string, cid: Uint8Array, size: number, mode: number, mtime: number, leaves: Uint8Array | null, placed: number, psize: number | null, pmtime: number | null, pctime: number | null, pino: number | null }

/**
 * Leaves as one blob: per leaf a 2-byte CID length, the CID, the offset (float64) and the length (uint32).
 * NULL for the common case of a file that is its own single leaf (a raw leaf CID), an empty blob for none.
 */
export function encodeLeaves (cid: CID, size: number, leaves: readonly PlanLeaf[]): Uint8Array | null {
  const only = leaves[0]
  if (leaves.length === 1 && only !== undefined && only.offset === 0 && only.length === size && only.cid.equals(cid)) return null
  let bytes = 0
  for (const l of leaves) bytes += 2 + l.cid.bytes.length + 12
  const out = new Uint8Array(bytes)
  const view = new DataView(out.buffer)
  let at = 0
  for (const l of leaves) {
    view.setUint16(at, l.cid.bytes.length)
    out.set(l.cid.bytes, at + 2)
    at += 2 + l.cid.bytes.length
    view.setFloat64(at, l.offset)
    view.setUint32(at + 8, l.length)
    at += 12
  }
  return out
}

/** The inverse of `encodeLeaves`. */
export function decodeLeaves (cid: CID, size: number, blob: Uint8Array | null): PlanLeaf[] {
  if (blob === null) return [{ cid, offset: 0, length: size }]
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength)
  const leaves: PlanLeaf[] = []
  for (let at = 0; at < blob.length;) {
    const n = view.getUint16(at)
    const leafCid = CID.decode(blob.subarray(at + 2, at + 2 + n))
    at += 2 + n
    leaves.push({ cid: leafCid, offset: view.getFloat64(at), length: view.getUint32(at + 8) })
    at += 12
  }
  return leaves
}

function entryOf (r: EntryRow): EntryRecord {
  const e: EntryRecord = { path: r.path, type: r.type as EntryType, size: r.size, mode: r.mode, mtimeMs: r.mtime, cid: CID.decode(r.cid) }
  if (r.target !== null) e.target = r.target
  return e
}

function fileOf (r: FileRow): PlanFileRow {
  const cid = CID.decode(r.cid)
  return { path: r.path, cid, size: r.size, mode: r.mode, mtimeMs: r.mtime, leaves: decodeLeaves(cid, r.size, r.leaves) }
}

function statOf (r: FileRow): PlacedStat | undefined {
  if (r.psize === null || r.pmtime === null || r.pctime === null || r.pino === null) return undefined
  return { size: r.psize, mtimeMs: r.pmtime, ctimeMs: r.pctime, ino: r.pino }
}

/** Prepared statements of the plan database. */
interface PlanStatements {
  addEntry: BetterSqlite3.Statement
  entry: BetterSqlite3.Statement
  entriesPage: BetterSqlite3.Statement
  addFile: BetterSqlite3.Statement
  filesPage: BetterSqlite3.Statement
  placedPage: BetterSqlite3.Statement
  mark: BetterSqlite3.Statement
}

function prepare (db: BetterSqlite3.Database): PlanStatements {
  return {
    addEntry: db.prepare('INSERT OR IGNORE INTO entries (path, type, size, mode, mtime, cid, target) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    entry: db.prepare('SELECT * FROM entries WHERE path = ?'),
    entriesPage: db.prepare('SELECT * FROM entries WHERE seq > ? ORDER BY seq LIMIT ?'),
    addFile: db.prepare('INSERT INTO files (idx, path, cid, size, mode, mtime, leaves) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    filesPage: db.prepare('SELECT * FROM files WHERE idx >= ? ORDER BY idx LIMIT ?'),
    placedPage: db.prepare('SELECT * FROM files WHERE idx >= ? AND placed = 1 ORDER BY idx LIMIT ?'),
    mark: db.prepare('UPDATE files SET placed = 1, psize = ?, pmtime = ?, pctime = ?, pino = ? WHERE idx = ?')
  }
}

/**
 * One pull's plan on disk; `close` when the pull ends (whatever happens). Rows are appended in batches of
 * `window` and read back in pages of `window`.
 */
export class PullPlan {
  private db: BetterSqlite3.Database
  private st: PlanStatements
  private readonly pendingEntries: EntryRecord[] = []
  private readonly pendingFiles: PlanFileRow[] = []
  private readonly pendingMarks: Array<{ index: number, stat?: PlacedStat }> = []
  private readonly pages = new Map<number, PlanFileRow[]>()
  private entryRows = 0
  private fileRows = 0
  private disk = false
  /** The most rows held at once, by kind. */
  readonly held: PlanHeld = { entries: 0, files: 0, placed: 0 }

  /**
   * A new, empty plan paged by `window` rows: in memory up to `memoryRows` rows (entries plus files), then a
   * scratch database file in directory `dir` (the home).
   */
  constructor (private readonly dir: string, readonly window: number, private readonly memoryRows = PLAN_MEMORY_ROWS) {
    this.db = this.guard(() => new Database(':memory:'))
    this.db.exec(SCHEMA)
    this.st = prepare(this.db)
  }

  /** True once the plan moved to its file (it held more than `memoryRows` rows). */
  get onDisk (): boolean {
    return this.disk
  }

  /** Before inserting `more` rows: past `memoryRows`, copies the database to its file and goes on there. */
  private room (more: number): void {
    if (this.disk || this.entryRows + this.fileRows + more <= this.memoryRows) return
    const file = join(this.dir, `plan-${process.pid}-${randomBytes(6).toString('hex')}.db`)
    let db: BetterSqlite3.Database
    try {
      this.db.exec(`VACUUM INTO '${file.replaceAll('\'', '\'\'')}'`)
      db = new Database(file)
    } catch (err) {
      throw fromSqliteError(err, `the pull's plan database ${file}`)
    } finally {
      rmSync(file, { force: true }) // the open handle keeps it; nothing left on disk after close or kill -9
    }
    db.pragma('journal_mode = MEMORY')
    db.pragma('synchronous = OFF')
    db.pragma('locking_mode = EXCLUSIVE')
    db.pragma('cache_size = -8192')
    this.db.close()
    this.db = db
    this.st = prepare(db)
    this.disk = true
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw fromSqliteError(err, 'the pull\'s plan database')
    }
  }

  /** Signed entries so far (flushed or not). */
  get entryCount (): number {
    return this.entryRows + this.pendingEntries.length
  }

  /** Files so far (flushed or not). */
  get fileCount (): number {
    return this.fileRows + this.pendingFiles.length
  }

  /**
   * Appends a signed entry, in the list's order; returns the path of a duplicate if this batch's insert met
   * one (the entry of that path is kept once, the caller refuses the list), else undefined.
   */
  addEntry (e: EntryRecord): string | undefined {
    this.pendingEntries.push(e)
    if (this.pendingEntries.length > this.held.entries) this.held.entries = this.pendingEntries.length
    return this.pendingEntries.length >= this.window ? this.flushEntries() : undefined
  }

  /** Inserts the entries waiting; returns the path of the first duplicate met, if any. */
  flushEntries (): string | undefined {
    if (this.pendingEntries.length === 0) return undefined
    this.room(this.pendingEntries.length)
    let duplicate: string | undefined
    this.guard(() => this.db.transaction(() => {
      for (const e of this.pendingEntries) {
        const r = this.st.addEntry.run(e.path, e.type, e.size, e.mode, e.mtimeMs, e.cid.bytes, e.target ?? null)
        if (r.changes === 0) duplicate ??= e.path
        else this.entryRows++
      }
    })())
    this.pendingEntries.length = 0
    return duplicate
  }

  /** The signed entry at `path` (entries must be flushed). */
  entry (path: string): EntryRecord | undefined {
    const r = this.guard(() => this.st.entry.get(path)) as EntryRow | undefined
    return r === undefined ? undefined : entryOf(r)
  }

  /** The signed entries in their order, a page of `window` at a time. */
  * entries (): Generator<EntryRecord> {
    this.flushEntries()
    for (let after = 0; ;) {
      const rows = this.guard(() => this.st.entriesPage.all(after, this.window)) as EntryRow[]
      if (rows.length === 0) return
      if (rows.length > this.held.entries) this.held.entries = rows.length
      after = (rows[rows.length - 1] as EntryRow).seq
      for (const r of rows) yield entryOf(r)
    }
  }

  /** Appends the next file of the scan (index = files so far). */
  addFile (f: PlanFileRow): void {
    this.pendingFiles.push(f)
    if (this.pendingFiles.length > this.held.files) this.held.files = this.pendingFiles.length
    if (this.pendingFiles.length >= this.window) this.flushFiles()
  }

  /** Inserts the files waiting. */
  flushFiles (): void {
    if (this.pendingFiles.length === 0) return
    this.room(this.pendingFiles.length)
    this.guard(() => this.db.transaction(() => {
      for (const f of this.pendingFiles) this.st.addFile.run(this.fileRows++, f.path, f.cid.bytes, f.size, f.mode, f.mtimeMs, encodeLeaves(f.cid, f.size, f.leaves))
    })())
    this.pendingFiles.length = 0
  }

  /** File `index` of the scan, from the page cache (at most FILE_PAGES pages of `window` rows). */
  file (index: number): PlanFileRow | undefined {
    if (index < 0 || index >= this.fileCount) return undefined
    const page = Math.floor(index / this.window)
    let rows = this.pages.get(page)
    if (rows === undefined) {
      this.flushFiles()
      rows = (this.guard(() => this.st.filesPage.all(page * this.window, this.window)) as FileRow[]).map(fileOf)
      if (this.pages.size >= FILE_PAGES) this.pages.delete(this.pages.keys().next().value as number)
      this.pages.set(page, rows)
      let held = 0
      for (const p of this.pages.values()) held += p.length
      if (held > this.held.files) this.held.files = held
    } else {
      this.pages.delete(page) // most recently used last
      this.pages.set(page, rows)
    }
    return rows[index - page * this.window]
  }

  /** File `index` was placed (or hashed) by this pull; `stat`: its lstat right after, when taken then. */
  markPlaced (index: number, stat?: PlacedStat): void {
    this.pendingMarks.push(stat !== undefined ? { index, stat } : { index })
    if (this.pendingMarks.length > this.held.placed) this.held.placed = this.pendingMarks.length
    if (this.pendingMarks.length >= this.window) this.flushMarks()
  }

  private flushMarks (): void {
    if (this.pendingMarks.length === 0) return
    this.guard(() => this.db.transaction(() => {
      for (const { index, stat } of this.pendingMarks) this.st.mark.run(stat?.size ?? null, stat?.mtimeMs ?? null, stat?.ctimeMs ?? null, stat?.ino ?? null, index)
    })())
    this.pendingMarks.length = 0
  }

  /** Every file with what this pull recorded of it (`placedOnly`: only those it placed), a page at a time. */
  * placedFiles (placedOnly: boolean): Generator<PlanPlacedRow> {
    this.flushFiles()
    this.flushMarks()
    const page = placedOnly ? this.st.placedPage : this.st.filesPage
    for (let from = 0; ;) {
      const rows = this.guard(() => page.all(from, this.window)) as FileRow[]
      if (rows.length === 0) return
      if (rows.length > this.held.placed) this.held.placed = rows.length
      from = (rows[rows.length - 1] as FileRow).idx + 1
      for (const r of rows) {
        const stat = statOf(r)
        yield { index: r.idx, file: fileOf(r), placed: r.placed === 1, ...(stat !== undefined ? { stat } : {}) }
      }
    }
  }

  /** Closes the database (its file is already gone). Idempotent. */
  close (): void {
    this.pages.clear()
    if (this.db.open) this.db.close()
  }
}
