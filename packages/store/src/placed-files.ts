import type BetterSqlite3 from 'better-sqlite3'

/** What a file looked like right after Ferry placed (or hashed and adopted) it at a pull's destination. */
export interface PlacedStat {
  size: number
  mtimeMs: number
  ctimeMs: number
  ino: number
}

/**
 * The files Ferry itself wrote at pull destinations, by absolute path, with their size, mtime, ctime and
 * inode at that moment. A pull trusts rsync's quick check (same size and mtime) only for a file still
 * exactly as recorded here: ctime and inode change with any write, rename or chmod, even one that puts the
 * mtime back. Every other file already at a destination is hashed.
 */
export interface PlacedFiles {
  /** Records files as placed now (replacing what was known of those paths), in one transaction. */
  record: (files: Iterable<{ path: string } & PlacedStat>) => void
  /** True if `path` was placed by Ferry and `st` still matches what was recorded. */
  trusted: (path: string, st: PlacedStat) => boolean
}

interface PlacedRow { size: number, mtime_ms: number, ctime_ms: number, ino: number }

/**
 * The table over the catalog's handle; `record` is a `relaxed` commit (a row lost in a power cut only
 * means that file is hashed by the next pull instead of trusted).
 */
export function createPlacedFiles (db: BetterSqlite3.Database, guard: <T>(fn: () => T) => T, relaxed: <T>(fn: () => T) => T = guard): PlacedFiles {
  let select: BetterSqlite3.Statement | undefined
  return {
    record: (files) => {
      relaxed(() => db.transaction(() => {
        const put = db.prepare('INSERT INTO placed_files (path, size, mtime_ms, ctime_ms, ino) VALUES (?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, ctime_ms = excluded.ctime_ms, ino = excluded.ino')
        for (const f of files) put.run(f.path, f.size, f.mtimeMs, f.ctimeMs, f.ino)
      }).immediate())
    },
    trusted: (path, st) => guard(() => {
      select ??= db.prepare('SELECT size, mtime_ms, ctime_ms, ino FROM placed_files WHERE path = ?')
      const row = select.get(path) as PlacedRow | undefined
      return row != null && row.size === st.size && row.mtime_ms === st.mtimeMs && row.ctime_ms === st.ctimeMs && row.ino === st.ino
    })
  }
}
