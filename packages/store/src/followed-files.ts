/**
 * The follow journal (schema step 10): every file a follower of an open scan placed, by absolute path, with
 * the entry it came from. A follower restarted mid-scan skips an entry whose file is recorded here with the
 * same CID (and still untouched, placed_files), so it catches up without fetching again; the counts and the
 * latest lag per open scan are what `ferry task`, `ferry subscriptions` and the API show.
 */
import { CID } from 'multiformats/cid'
import { lazyStatements, type CatalogDb } from './catalog-db.js'

/** One file a follower placed. */
export interface FollowedFile {
  /** Absolute path of the file at the destination. */
  file: string
  /** The open scan's key (openScanId), as text. */
  key: string
  /** Its path in the scan. */
  path: string
  seq: number
  cid: CID
  size: number
  /** ms since the epoch: when the origin published the entry. */
  published: number
  /** ms since the epoch: when it was placed, verified. */
  arrived: number
}

/** What has arrived of one open scan (at every destination it is followed into). */
export interface FollowedSummary {
  /** Files recorded. */
  arrived: number
  /** The entry with the highest seq that arrived, or null. */
  latest: { seq: number, published: number, arrived: number } | null
}

/** The follow journal of a catalog. */
export interface FollowedFiles {
  /** Records (or replaces) the file placed at `f.file`. */
  record: (f: FollowedFile) => void
  /** The file recorded at this absolute path, or undefined. */
  get: (file: string) => FollowedFile | undefined
  /** Counts and the latest arrival of the open scan `key` under `dir` (absolute; '' for every destination). */
  summary: (key: string, dir?: string) => FollowedSummary
  /**
   * The open scans whose files were placed under `dir` (absolute), one row per key: files arrived, the
   * entries up to the last one that arrived (its seq + 1), and the latest arrival.
   */
  under: (dir: string) => Array<FollowedSummary & { key: string, entries: number }>
}

const SQL = {
  record: 'INSERT INTO followed_files (file, key, path, seq, cid, size, published, arrived) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (file) DO UPDATE SET key = excluded.key, path = excluded.path, seq = excluded.seq, cid = excluded.cid, size = excluded.size, published = excluded.published, arrived = excluded.arrived',
  get: 'SELECT * FROM followed_files WHERE file = ?',
  count: 'SELECT count(*) AS n FROM followed_files WHERE key = ? AND substr(file, 1, length(?)) = ?',
  latest: 'SELECT seq, published, arrived FROM followed_files WHERE key = ? AND substr(file, 1, length(?)) = ? ORDER BY seq DESC LIMIT 1',
  keysUnder: 'SELECT DISTINCT key FROM followed_files WHERE substr(file, 1, length(?)) = ? LIMIT 100'
} as const

interface Row { file: string, key: string, path: string, seq: number, cid: Uint8Array, size: number, published: number, arrived: number }

/** The follow journal over the catalog `h`. */
export function openFollowedFiles (h: CatalogDb): FollowedFiles {
  const q = lazyStatements(h.db, SQL)
  return {
    record: (f) => h.guard(() => {
      h.requireWritable('record a followed file')
      q.record.run(f.file, f.key, f.path, f.seq, Buffer.from(f.cid.bytes), f.size, f.published, f.arrived)
    }),
    get: (file) => h.guard(() => {
      const r = q.get.get(file) as Row | undefined
      return r === undefined ? undefined : { ...r, cid: CID.decode(new Uint8Array(r.cid)) }
    }),
    summary: (key, dir = '') => h.guard(() => {
      const { n } = q.count.get(key, dir, dir) as { n: number }
      const latest = q.latest.get(key, dir, dir) as FollowedSummary['latest'] | undefined
      return { arrived: n, latest: latest ?? null }
    }),
    under: (dir) => h.guard(() => {
      const prefix = dir.endsWith('/') ? dir : `${dir}/`
      return (q.keysUnder.all(prefix, prefix) as Array<{ key: string }>).map(({ key }) => {
        const { n } = q.count.get(key, prefix, prefix) as { n: number }
        const latest = (q.latest.get(key, prefix, prefix) as FollowedSummary['latest'] | undefined) ?? null
        return { key, arrived: n, latest, entries: latest === null ? 0 : latest.seq + 1 }
      })
    })
  }
}
