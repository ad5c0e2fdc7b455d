/**
 * The shared handle of `catalog.db`: opens the SQLite file, sets its pragmas and applies the missing schema
 * steps (migrations.ts). The catalog's modules (scans.ts, leaf-index.ts, scan-nodes.ts, signatures.ts,
 * pull-journal.ts) each prepare their own statements over this one handle.
 *
 * Safety with several processes on one home: WAL journal (readers never block the writer), a busy timeout
 * (a writer waits for another instead of failing), every write in a `BEGIN IMMEDIATE` transaction (takes the
 * write lock up front, so no deadlock on lock upgrade) and `synchronous = FULL` (a committed transaction
 * survives power loss; cheap here because writes are batched).
 *
 * `relaxed` commits without the fsync (`synchronous = NORMAL` for that call): for writes a power cut may
 * lose because they are redone or only informational (a pull's phase marks, a task's progress counters and
 * event log lines). Such a commit survives the process being killed (it is in the WAL, in the kernel's
 * cache); in WAL mode the database stays a prefix of its commits, and the next FULL commit makes every
 * earlier one durable with it. One fsync of the WAL costs 7 ms here, blocking the event loop (docs/benchmarks.md).
 */
import Database from 'better-sqlite3'
import { FerryError, fromSystemError, errorMessage } from '@ferry/errors'
import { MIGRATIONS, type Migration } from './migrations.js'
import type BetterSqlite3 from 'better-sqlite3'

/** How long a write waits for another process's transaction before failing with ERR_IO. */
export const DEFAULT_BUSY_TIMEOUT_MS = 10_000

/**
 * SQLite page cache per connection, in MiB. The leaf index takes random inserts (hashes), so a cache above
 * SQLite's 2 MiB default keeps a big import from thrashing; 64 MiB cost ~40 MB of peak memory on a
 * 200,000-file import and pushed it near the 300 MB limit (bench: import suite).
 */
export const DEFAULT_CACHE_MIB = 16

/** Options of `openDatabase`. */
export interface DatabaseOptions {
  /** Open without writing: no migration (an older catalog is refused), writers refused. */
  readonly?: boolean
  busyTimeoutMs?: number
  /** Page cache in MiB (default DEFAULT_CACHE_MIB). */
  cacheMiB?: number
  /** Schema steps to apply instead of MIGRATIONS (tests and tools). */
  migrations?: readonly Migration[]
}

/** An open, migrated catalog database. */
export interface CatalogDb {
  readonly db: BetterSqlite3.Database
  /** Absolute path of the database file. */
  readonly file: string
  readonly readonly: boolean
  /** Schema version of the database. */
  readonly schemaVersion: number
  /** Migration versions applied by this open ([] if it was current). */
  readonly migrated: readonly number[]
  /** Runs `fn`, turning a SQLite error into a FerryError naming the catalog. */
  guard: <T>(fn: () => T) => T
  /**
   * Runs `fn` (its own transactions or single statements) under `guard`, committing without an fsync: for
   * writes whose loss in a power cut is harmless (redone, or informational). Not for a state others rely on.
   */
  relaxed: <T>(fn: () => T) => T
  /** ERR_PERMISSION if the catalog is open read-only. */
  requireWritable: (action: string) => void
  close: () => void
}

/** Named statements of one module, each prepared on first use (a read-only catalog never prepares writes). */
export type Statements<K extends string> = { readonly [k in K]: BetterSqlite3.Statement }

/** Turns a better-sqlite3 error into a FerryError naming `what`. */
export function fromSqliteError (err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err
  const code = (err as { code?: string } | null | undefined)?.code ?? ''
  const reason = errorMessage(err)
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

/** `value` if it is a positive finite number, else `fallback`. */
export function positive (value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback
}

/** `sql`'s statements on `db`, each prepared the first time it is used. */
export function lazyStatements<K extends string> (db: BetterSqlite3.Database, sql: Record<K, string>): Statements<K> {
  const out = {} as Record<K, BetterSqlite3.Statement>
  for (const key of Object.keys(sql) as K[]) {
    let prepared: BetterSqlite3.Statement | undefined
    Object.defineProperty(out, key, { enumerable: true, get: () => (prepared ??= db.prepare(sql[key])) })
  }
  return out
}

function checkMigrations (migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new FerryError('ERR_INTERNAL', `Catalog migration #${i} has version ${m.version}, expected ${i + 1}`)
  })
}

function tooNew (file: string, version: number, latest: number): FerryError {
  return new FerryError('ERR_HOME_TOO_NEW', `${file} has schema version ${version}, this Ferry knows up to ${latest}: upgrade Ferry`,
    { details: { path: file, version, supported: latest } })
}

/** Applies the steps after the database's version in one IMMEDIATE transaction; returns the versions applied. */
function migrate (db: BetterSqlite3.Database, file: string, migrations: readonly Migration[], latest: number): number[] {
  const migrated: number[] = []
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number
    if (current > latest) throw tooNew(file, current, latest)
    for (const m of migrations) {
      if (m.version <= current) continue
      m.up(db)
      migrated.push(m.version)
    }
    db.pragma(`user_version = ${latest}`)
  }).immediate()
  return migrated
}

/** Sets the pragmas and migrates (unless read-only). Returns the schema version and the steps applied. */
function prepareSchema (db: BetterSqlite3.Database, file: string, options: DatabaseOptions, migrations: readonly Migration[]): { version: number, migrated: number[] } {
  const latest = migrations.length
  const version = db.pragma('user_version', { simple: true }) as number
  if (version > latest) throw tooNew(file, version, latest)
  db.pragma('foreign_keys = ON')
  db.pragma(`cache_size = ${-Math.round(positive(options.cacheMiB, DEFAULT_CACHE_MIB) * 1024)}`)
  if (options.readonly === true) {
    if (version < latest) {
      throw new FerryError('ERR_HOME_CORRUPT', `${file} has schema version ${version} and needs upgrading to ${latest}: open the home once without read-only`,
        { details: { path: file, version, supported: latest } })
    }
    return { version, migrated: [] }
  }
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  if (version === latest) return { version, migrated: [] }
  return { version: latest, migrated: migrate(db, file, migrations, latest) }
}

/**
 * Opens `file` (creating it unless read-only), sets WAL / busy timeout / foreign keys, and migrates it.
 * ERR_HOME_TOO_NEW if its schema is newer than this code; ERR_HOME_CORRUPT if it is not a catalog.
 */
export function openDatabase (file: string, options: DatabaseOptions = {}): CatalogDb {
  const readonly = options.readonly === true
  const what = `catalog ${file}`
  const migrations = options.migrations ?? MIGRATIONS
  checkMigrations(migrations)
  let db: BetterSqlite3.Database
  try {
    db = new Database(file, { readonly, fileMustExist: readonly, timeout: positive(options.busyTimeoutMs, DEFAULT_BUSY_TIMEOUT_MS) })
  } catch (err) {
    throw fromSqliteError(err, what)
  }
  let schema: { version: number, migrated: number[] }
  try {
    schema = prepareSchema(db, file, options, migrations)
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
  let relaxedDepth = 0
  const relaxed = <T>(fn: () => T): T => guard(() => {
    // nested calls (a relaxed write inside another) leave the outer one to restore FULL
    if (db.inTransaction || relaxedDepth > 0) return fn()
    relaxedDepth++
    db.pragma('synchronous = NORMAL')
    try {
      return fn()
    } finally {
      relaxedDepth--
      db.pragma('synchronous = FULL')
    }
  })
  const requireWritable = (action: string): void => {
    if (readonly) throw new FerryError('ERR_PERMISSION', `Cannot ${action}: ${file} is open read-only`)
  }
  const close = (): void => {
    if (db.open) db.close()
  }
  return { db, file, readonly, schemaVersion: schema.version, migrated: schema.migrated, guard, relaxed, requireWritable, close }
}
