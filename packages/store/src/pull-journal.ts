import type BetterSqlite3 from 'better-sqlite3'
import type { CID } from 'multiformats/cid'

export type PullState = 'active' | 'complete' | 'failed'

/** One replication of a root into a destination directory. */
export interface PullRecord {
  id: number
  root: string
  dest: string
  state: PullState
  created: number
  updated: number
  /** Bytes fetched from peers over every run of this pull. */
  bytesFetched: number
  /** The last phase of the pull engine done (record, dag, reconcile, space, fetch, place, finish), if any. */
  phase?: string
}

/** Durable progress of pulls: which leaves of which staged file are safely on disk. */
export interface PullJournal {
  /** The pull of `root` into `dest` (absolute), created 'active' if new; an old one is re-activated. */
  open: (root: CID, dest: string) => PullRecord
  get: (root: CID, dest: string) => PullRecord | undefined
  /** A pull by id, or undefined. */
  getById: (pullId: number) => PullRecord | undefined
  /** Records that the engine finished `phase` of this pull (the run can stop here and resume after it). */
  phaseDone: (pullId: number, phase: string) => void
  /** Bitmaps (bit i = leaf i written and fsynced) of files still staged, by path. */
  progress: (pullId: number) => Map<string, Uint8Array>
  /**
   * Records progress in one transaction: bitmaps of staged files, files now in place (rows removed) and
   * bytes fetched since the last checkpoint. Call only after the data it describes is fsynced, or with
   * `durable: false` (a relaxed commit) when that data was not fsynced either: a resumed pull re-verifies
   * what the bitmaps say is staged, so after a power cut they only save re-fetching. Default durable.
   */
  checkpoint: (pullId: number, update: { files?: Iterable<[string, Uint8Array]>, done?: Iterable<string>, bytesFetched?: number, durable?: boolean }) => void
  finish: (pullId: number, state: PullState) => void
}

interface PullRow { id: number, root: string, dest: string, state: PullState, created: number, updated: number, bytes_fetched: number, phase?: string | null }

function toRecord (r: PullRow): PullRecord {
  return { id: r.id, root: r.root, dest: r.dest, state: r.state, created: r.created, updated: r.updated, bytesFetched: r.bytes_fetched, ...(r.phase != null ? { phase: r.phase } : {}) }
}

/**
 * The journal over the catalog's handle. The row, its phase marks and its end are `relaxed` commits (no
 * fsync): after a power cut the pull redoes a phase whose mark was lost, and the checkpoints (durable) say
 * what is safely staged.
 */
export function createPullJournal (db: BetterSqlite3.Database, guard: <T>(fn: () => T) => T, relaxed: <T>(fn: () => T) => T = guard): PullJournal {
  const select = (root: string, dest: string): PullRow | undefined =>
    db.prepare('SELECT * FROM pulls WHERE root = ? AND dest = ?').get(root, dest) as PullRow | undefined
  return {
    open: (root, dest) => relaxed(() => db.transaction(() => {
      const now = Date.now()
      const existing = select(root.toString(), dest)
      if (existing != null) {
        db.prepare('UPDATE pulls SET state = \'active\', updated = ? WHERE id = ?').run(now, existing.id)
        return toRecord({ ...existing, state: 'active', updated: now })
      }
      const id = Number(db.prepare('INSERT INTO pulls (root, dest, created, updated) VALUES (?, ?, ?, ?)').run(root.toString(), dest, now, now).lastInsertRowid)
      return toRecord({ id, root: root.toString(), dest, state: 'active', created: now, updated: now, bytes_fetched: 0 })
    }).immediate()),
    get: (root, dest) => guard(() => {
      const row = select(root.toString(), dest)
      return row == null ? undefined : toRecord(row)
    }),
    getById: (pullId) => guard(() => {
      const row = db.prepare('SELECT * FROM pulls WHERE id = ?').get(pullId) as PullRow | undefined
      return row == null ? undefined : toRecord(row)
    }),
    phaseDone: (pullId, phase) => { relaxed(() => db.prepare('UPDATE pulls SET phase = ?, updated = ? WHERE id = ?').run(phase, Date.now(), pullId)) },
    progress: (pullId) => guard(() => {
      const out = new Map<string, Uint8Array>()
      for (const r of db.prepare('SELECT path, done FROM pull_files WHERE pull_id = ?').iterate(pullId) as Iterable<{ path: string, done: Buffer }>) {
        out.set(r.path, new Uint8Array(r.done))
      }
      return out
    }),
    checkpoint: (pullId, update) => {
      (update.durable === false ? relaxed : guard)(() => db.transaction(() => {
        const put = db.prepare('INSERT INTO pull_files (pull_id, path, done) VALUES (?, ?, ?) ON CONFLICT (pull_id, path) DO UPDATE SET done = excluded.done')
        for (const [path, bitmap] of update.files ?? []) put.run(pullId, path, Buffer.from(bitmap.buffer, bitmap.byteOffset, bitmap.byteLength))
        const del = db.prepare('DELETE FROM pull_files WHERE pull_id = ? AND path = ?')
        for (const path of update.done ?? []) del.run(pullId, path)
        db.prepare('UPDATE pulls SET updated = ?, bytes_fetched = bytes_fetched + ? WHERE id = ?').run(Date.now(), update.bytesFetched ?? 0, pullId)
      }).immediate())
    },
    finish: (pullId, state) => {
      relaxed(() => {
        db.transaction(() => {
          db.prepare('UPDATE pulls SET state = ?, updated = ? WHERE id = ?').run(state, Date.now(), pullId)
          if (state === 'complete') db.prepare('DELETE FROM pull_files WHERE pull_id = ?').run(pullId)
        }).immediate()
      })
    }
  }
}
