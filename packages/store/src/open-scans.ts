/**
 * Watches and open scans (schema step 8): the directories the daemon watches (`watches`), the scans still
 * being acquired (`open_scans`) and the files published into them, each signed on its own
 * (`open_entries`, open-entry-signature.ts). An open scan owns a placeholder row in `scans` (state
 * 'importing', no writer: never removed as a stale import) so the leaf index and `scan_nodes` can point at
 * it, and the access check finds the collection of a published file's blocks as for any scan.
 */
import { CID } from 'multiformats/cid'
import { FerryError } from '@ferry/errors'
import { lazyStatements, type CatalogDb, type Statements } from './catalog-db.js'
import { pendingSource, type LeafIndex, type LeafRecord } from './leaf-index.js'
import type { ScanNodes } from './scan-nodes.js'
import { openScanId, signOpenEntry, signOpenSeal, type OpenScanIdentity } from './open-entry-signature.js'
import type { Signer } from './scan-signature.js'

/** A watched directory: files completed in it are published into the open scan (collection, name). */
export interface WatchRecord {
  id: number
  /** Absolute path of the watched directory. */
  dir: string
  collection: string
  name: string
  /** A file unchanged this long (ms) counts as complete. */
  settleMs: number
  /** ms since the epoch. */
  created: number
}

/** An open (or sealed) scan. */
export interface OpenScanRecord extends OpenScanIdentity {
  id: number
  /** The identifier (openScanId) that stands for it where a root would. */
  key: CID
  collection: string
  sourcePath: string
  state: 'open' | 'sealed'
  /** The sealed scan's root, once sealed. */
  sealedRoot: CID | null
  /** The placeholder row in `scans` (null once sealed). */
  scanId: number | null
  /** Once sealed: the origin's signed statement of how many entries it published and the root. */
  seal: { entries: number, sealedAt: number, signature: Uint8Array } | null
  /** Files published so far (the next seq). */
  published: number
  /** Sum of the latest version's sizes, per path. */
  bytes: number
}

/** One published file (a version of a path), as stored and announced. */
export interface PublishedEntry {
  /** Row id: the order of the change feed. */
  id: number
  openId: number
  seq: number
  path: string
  cid: CID
  size: number
  mode: number
  mtimeMs: number
  published: number
  signature: Uint8Array
  /** Earlier versions of this path (0 for the first). */
  version: number
}

/** A file to publish: its entry and where its bytes are. */
export interface PublishFile {
  path: string
  absPath: string
  cid: CID
  size: number
  mode: number
  mtimeMs: number
  leaves: readonly LeafRecord[]
  /** Inner dag-pb nodes of the file (a multi-chunk file's nodes). */
  nodes: readonly CID[]
}

/** The watches and open scans of a catalog. */
export interface OpenScans {
  addWatch: (w: Omit<WatchRecord, 'id' | 'created'>) => WatchRecord
  listWatches: () => WatchRecord[]
  /** Removes a watch by id; the open scan stays (seal it). Undefined if there was none. */
  removeWatch: (id: number) => WatchRecord | undefined
  /** The open scan (collection, name), started now if none is open. */
  ensureOpen: (init: { collection: string, name: string, origin: string, sourcePath: string }) => OpenScanRecord
  /** The open scan (collection, name), or the newest sealed one; undefined if none. */
  find: (collection: string, name: string) => OpenScanRecord | undefined
  /** Every open scan. */
  listOpen: () => OpenScanRecord[]
  /** The open (or sealed) scan with this key (openScanId), or undefined. */
  byKey: (key: CID) => OpenScanRecord | undefined
  /** The latest version published of `path`, or undefined. */
  latest: (openId: number, path: string) => PublishedEntry | undefined
  /** Signs and records the next entry, its leaves and nodes, in one transaction. */
  publish: (openId: number, file: PublishFile, key: Signer, now?: number) => Promise<PublishedEntry>
  /**
   * Publishes `files` as the next entries, in order, each signed, all in one transaction (one commit, one
   * fsync for the lot: a watch publishes what closed while the last commit ran together). A path given twice
   * gets two versions.
   */
  publishMany: (openId: number, files: PublishFile[], key: Signer, now?: number) => Promise<PublishedEntry[]>
  /** Up to `limit` entries after `afterSeq` (-1: from the first), in seq order. */
  entries: (openId: number, afterSeq: number, limit: number) => PublishedEntry[]
  /** A change feed of entries published from now on, by any process. */
  feed: () => { poll: () => PublishedEntry[] }
  /**
   * Marks the open scan sealed with `root` (the complete scan it was sealed into), signing the statement
   * (entries published, root) with the origin's key; drops its placeholder.
   */
  seal: (openId: number, root: CID, key: Signer, now?: number) => Promise<OpenScanRecord>
  /**
   * A follower's copy of another node's open scan, to serve it on (a relay): the open scan with the origin's
   * identity (its key is the origin's), created unless this catalog has it. Never signed here.
   */
  mirror: (id: OpenScanIdentity & { collection: string }, sourcePath: string) => OpenScanRecord
  /**
   * Records an entry of a mirrored open scan as the origin signed it (signature passed on unchanged), with
   * where its bytes are now when this node holds them (`file`: its leaves and inner nodes then serve it).
   * Entries are recorded in seq order without gaps; one already recorded is left as it is.
   */
  record: (openId: number, entry: Omit<PublishedEntry, 'id' | 'openId'>, file?: Omit<PublishFile, 'path' | 'cid' | 'size' | 'mode' | 'mtimeMs'> & { size: number, mtimeMs: number }) => void
  /** Marks a mirrored open scan sealed with the origin's signed seal; drops its placeholder. */
  sealMirror: (openId: number, seal: { root: CID, sealedAt: number, signature: Uint8Array }) => void
}

const SQL = {
  addWatch: 'INSERT INTO watches (dir, collection, name, settle_ms, created) VALUES (?, ?, ?, ?, ?)',
  watchByName: 'SELECT id, dir, collection, name, settle_ms AS settleMs, created FROM watches WHERE collection = ? AND name = ?',
  watchById: 'SELECT id, dir, collection, name, settle_ms AS settleMs, created FROM watches WHERE id = ?',
  listWatches: 'SELECT id, dir, collection, name, settle_ms AS settleMs, created FROM watches ORDER BY id',
  removeWatch: 'DELETE FROM watches WHERE id = ?',
  placeholder: 'INSERT INTO scans (collection, name, source_path, origin, created, state) VALUES (?, ?, ?, ?, ?, \'importing\')',
  addOpen: 'INSERT INTO open_scans (collection, name, origin, source_path, created, scan_id, key) VALUES (?, ?, ?, ?, ?, ?, ?)',
  openByKey: 'SELECT id, collection, name, origin, source_path AS sourcePath, created, state, sealed_root AS sealedRoot, scan_id AS scanId, sealed_at AS sealedAt, seal_signature AS sealSignature FROM open_scans WHERE key = ?',
  openByName: `SELECT ${'id, collection, name, origin, source_path AS sourcePath, created, state, sealed_root AS sealedRoot, scan_id AS scanId, sealed_at AS sealedAt, seal_signature AS sealSignature'} FROM open_scans WHERE collection = ? AND name = ? ORDER BY state = 'open' DESC, id DESC LIMIT 1`,
  openById: 'SELECT id, collection, name, origin, source_path AS sourcePath, created, state, sealed_root AS sealedRoot, scan_id AS scanId, sealed_at AS sealedAt, seal_signature AS sealSignature FROM open_scans WHERE id = ?',
  listOpen: 'SELECT id, collection, name, origin, source_path AS sourcePath, created, state, sealed_root AS sealedRoot, scan_id AS scanId, sealed_at AS sealedAt, seal_signature AS sealSignature FROM open_scans WHERE state = \'open\' ORDER BY id',
  // seq runs 0, 1, ... without gaps: the next one is max + 1, found in the (open_id, seq) index (no count over the entries)
  counts: 'SELECT coalesce(max(seq) + 1, 0) AS next FROM open_entries WHERE open_id = ?',
  bytes: 'SELECT coalesce(sum(size), 0) AS bytes FROM open_entries e WHERE open_id = ? AND seq = (SELECT max(seq) FROM open_entries WHERE open_id = e.open_id AND path = e.path)',
  placeholderBytes: 'SELECT bytes FROM scans WHERE id = ?',
  latest: 'SELECT * FROM open_entries WHERE open_id = ? AND path = ? ORDER BY seq DESC LIMIT 1',
  versions: 'SELECT count(*) AS n FROM open_entries WHERE open_id = ? AND path = ?',
  insertMirrored: 'INSERT OR IGNORE INTO open_entries (open_id, seq, path, cid, size, mode, mtime_ms, published, signature, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  insertEntry: 'INSERT INTO open_entries (open_id, seq, path, cid, size, mode, mtime_ms, published, signature, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
  entries: 'SELECT * FROM open_entries WHERE open_id = ? AND seq > ? ORDER BY seq LIMIT ?',
  maxEntry: 'SELECT coalesce(max(id), 0) AS id FROM open_entries',
  entriesAfter: 'SELECT * FROM open_entries WHERE id > ? ORDER BY id LIMIT 1000',
  entryById: 'SELECT * FROM open_entries WHERE id = ?',
  changes: 'SELECT total_changes() AS n',
  seal: 'UPDATE open_scans SET state = \'sealed\', sealed_root = ?, sealed_at = ?, seal_signature = ?, scan_id = NULL WHERE id = ? AND state = \'open\'',
  // the placeholder's files and bytes are kept as the entries come (one more path, or a version replacing
  // the latest's size): an aggregate over all the entries at each publish made publishing O(entries)
  placeholderCounts: 'UPDATE scans SET files = files + ?, bytes = bytes + ? WHERE id = ?',
  dropPlaceholder: 'DELETE FROM scans WHERE id = ? AND state = \'importing\''
} as const

interface OpenRow {
  id: number,
  collection: string,
  name: string,
  origin: string,
  sourcePath: string,
  created: number,
  state: 'open' | 'sealed',
  sealedRoot: string | null,
  scanId: number | null,
  sealedAt: number | null,
  sealSignature: Uint8Array | null
}
interface EntryRow { id: number, open_id: number, seq: number, path: string, cid: Uint8Array, size: number, mode: number, mtime_ms: number, published: number, signature: Uint8Array, version: number }

function toEntry (r: EntryRow): PublishedEntry {
  return {
    id: r.id,
    openId: r.open_id,
    seq: r.seq,
    path: r.path,
    cid: CID.decode(r.cid),
    size: r.size,
    mode: r.mode,
    mtimeMs: r.mtime_ms,
    published: r.published,
    signature: new Uint8Array(r.signature),
    version: r.version
  }
}

/** A change feed of published entries: one pragma per poll when nothing changed, else the rows above the last seen. */
function entryFeed (h: CatalogDb, q: Statements<keyof typeof SQL>): { poll: () => PublishedEntry[] } {
  const version = (): string => `${String(h.db.pragma('data_version', { simple: true }))}:${(q.changes.get() as { n: number }).n}`
  let last = h.guard(version)
  let seen = h.guard(() => (q.maxEntry.get() as { id: number }).id)
  return {
    poll: () => h.guard(() => {
      const now = version()
      if (now === last) return []
      last = now
      const rows = (q.entriesAfter.all(seen) as EntryRow[]).map(toEntry)
      if (rows.length > 0) seen = rows[rows.length - 1]!.id
      return rows
    })
  }
}

/** The placeholder's counts after one more entry of a path whose latest version was `before` (if any). */
function countEntry (q: Statements<keyof typeof SQL>, scanId: number, size: number, before: EntryRow | undefined): void {
  q.placeholderCounts.run(before === undefined ? 1 : 0, size - (before?.size ?? 0), scanId)
}

function mustRow (q: Statements<keyof typeof SQL>, id: number): OpenRow {
  const row = q.openById.get(id) as OpenRow | undefined
  if (row === undefined) throw new FerryError('ERR_NOT_FOUND', `No open scan ${id}`)
  return row
}

interface MirrorDeps {
  h: CatalogDb
  q: Statements<keyof typeof SQL>
  leafIndex: LeafIndex
  nodes: ScanNodes
  byId: (id: number) => OpenScanRecord
  toOpen: (r: OpenRow) => OpenScanRecord
}

/** The mirror methods of OpenScans (a follower's copy of another node's open scan, to relay it). */
function mirrorMethods ({ h, q, leafIndex, nodes, byId, toOpen }: MirrorDeps): Pick<OpenScans, 'mirror' | 'record' | 'sealMirror'> {
  const mirrored = h.db.transaction((o: OpenScanRecord, e: Omit<PublishedEntry, 'id' | 'openId'>, file: Parameters<OpenScans['record']>[2]) => {
    if (e.seq > o.published) throw new FerryError('ERR_INVALID_ARGUMENT', `Entry ${e.seq} of ${o.name} cannot be recorded before entry ${o.published}`)
    const before = q.latest.get(o.id, e.path) as EntryRow | undefined
    const added = q.insertMirrored.run(o.id, e.seq, e.path, Buffer.from(e.cid.bytes), e.size, e.mode, e.mtimeMs, e.published, Buffer.from(e.signature), e.version).changes === 1
    if (added && o.scanId !== null) countEntry(q, o.scanId, e.size, before)
    if (file !== undefined && o.scanId !== null) {
      leafIndex.putSources(o.scanId, [pendingSource(file.absPath, file.size, file.mtimeMs, file.leaves)])
      nodes.insert(o.scanId, file.nodes.map((c) => nodes.key(c)).filter((k): k is Buffer => k !== undefined))
    }
  })
  return {
    mirror: (id, sourcePath) => h.guard(() => h.db.transaction(() => {
      h.requireWritable('mirror an open scan')
      const key = openScanId(id)
      const row = q.openByKey.get(key.toString()) as OpenRow | undefined
      if (row !== undefined) return toOpen(row)
      const scanId = Number(q.placeholder.run(id.collection, id.name, sourcePath, id.origin, id.created).lastInsertRowid)
      return byId(Number(q.addOpen.run(id.collection, id.name, id.origin, sourcePath, id.created, scanId, key.toString()).lastInsertRowid))
    }).immediate()),
    record: (openId, entry, file) => {
      const o = byId(openId)
      if (o.state !== 'open') return
      h.guard(() => { mirrored.immediate(o, entry, file) })
    },
    sealMirror: (openId, seal) => h.guard(() => h.db.transaction(() => {
      const o = byId(openId)
      if (o.state !== 'open') return
      q.seal.run(seal.root.toString(), seal.sealedAt, Buffer.from(seal.signature), openId)
      if (o.scanId !== null) q.dropPlaceholder.run(o.scanId)
    }).immediate())
  }
}

/** `publishMany` of OpenScans: signs the entries, then inserts them in one transaction. */
function publisher ({ h, q, leafIndex, nodes, byId }: MirrorDeps): OpenScans['publishMany'] {
  /** Inserts the signed entries `seq0`, `seq0 + 1`, ... in one transaction (one commit); returns their row ids. */
  const insert = h.db.transaction((o: OpenScanRecord, files: PublishFile[], seq0: number, published: number, signatures: Uint8Array[]) => files.map((file, i) => {
    const before = q.latest.get(o.id, file.path) as EntryRow | undefined
    const version = (q.versions.get(o.id, file.path) as { n: number }).n
    const row = q.insertEntry.get(o.id, seq0 + i, file.path, Buffer.from(file.cid.bytes), file.size, file.mode, file.mtimeMs, published, Buffer.from(signatures[i]!), version) as { id: number }
    leafIndex.putSources(o.scanId!, [pendingSource(file.absPath, file.size, file.mtimeMs, file.leaves)])
    nodes.insert(o.scanId!, file.nodes.map((c) => nodes.key(c)).filter((k): k is Buffer => k !== undefined))
    countEntry(q, o.scanId!, file.size, before)
    return row.id
  }))
  const publishMany = async (openId: number, files: PublishFile[], key: Signer, now = Date.now()): Promise<PublishedEntry[]> => {
    const o = byId(openId)
    if (o.state !== 'open' || o.scanId === null) throw new FerryError('ERR_CONFLICT', `${o.collection}/${o.name} is sealed: nothing more can be published into it`)
    if (files.length === 0) return []
    const seq0 = o.published
    const signatures = await Promise.all(files.map(async (file, i) => await signOpenEntry(key, o, { seq: seq0 + i, path: file.path, size: file.size, mode: file.mode, mtimeMs: file.mtimeMs, cid: file.cid, published: now })))
    const ids = h.guard(() => insert.immediate(o, files, seq0, now, signatures))
    return ids.map((id) => toEntry(q.entryById.get(id) as EntryRow))
  }
  return publishMany
}

/** The watches and open scans of the catalog `h`, writing leaves and nodes through the given modules. */
export function openOpenScans (h: CatalogDb, leafIndex: LeafIndex, nodes: ScanNodes): OpenScans {
  const q = lazyStatements(h.db, SQL)
  const toOpen = (r: OpenRow): OpenScanRecord => {
    const c = q.counts.get(r.id) as { next: number }
    // while open, the placeholder keeps the sum (countEntry); a sealed scan's is summed once asked
    const kept = r.scanId === null ? undefined : q.placeholderBytes.get(r.scanId) as { bytes: number } | undefined
    const { bytes } = kept ?? q.bytes.get(r.id) as { bytes: number }
    const { sealedAt, sealSignature, ...rest } = r
    const seal = sealedAt === null || sealSignature === null ? null : { entries: c.next, sealedAt, signature: new Uint8Array(sealSignature) }
    return { ...rest, key: openScanId(r), sealedRoot: r.sealedRoot === null ? null : CID.parse(r.sealedRoot), published: c.next, bytes, seal }
  }
  const byId = (id: number): OpenScanRecord => h.guard(() => toOpen(mustRow(q, id)))
  const publishMany = publisher({ h, q, leafIndex, nodes, byId, toOpen })
  return {
    ...mirrorMethods({ h, q, leafIndex, nodes, byId, toOpen }),
    addWatch: (w) => h.guard(() => {
      h.requireWritable('add a watch')
      if (q.watchByName.get(w.collection, w.name) !== undefined) {
        throw new FerryError('ERR_CONFLICT', `A watch already publishes into ${w.collection}/${w.name}: remove it first (ferry watches --remove)`)
      }
      const id = Number(q.addWatch.run(w.dir, w.collection, w.name, w.settleMs, Date.now()).lastInsertRowid)
      return q.watchById.get(id) as WatchRecord
    }),
    listWatches: () => h.guard(() => q.listWatches.all() as WatchRecord[]),
    removeWatch: (id) => h.guard(() => {
      const w = q.watchById.get(id) as WatchRecord | undefined
      if (w !== undefined) q.removeWatch.run(id)
      return w
    }),
    ensureOpen: (init) => h.guard(() => h.db.transaction(() => {
      const row = q.openByName.get(init.collection, init.name) as OpenRow | undefined
      if (row?.state === 'open' && row.origin !== init.origin) {
        throw new FerryError('ERR_CONFLICT', `${init.collection}/${init.name} is another node's open scan, followed here (${row.origin}): watch into another name`)
      }
      if (row?.state === 'open') return toOpen(row)
      const created = Date.now()
      const scanId = Number(q.placeholder.run(init.collection, init.name, init.sourcePath, init.origin, created).lastInsertRowid)
      const key = openScanId({ origin: init.origin, collection: init.collection, name: init.name, created }).toString()
      return byId(Number(q.addOpen.run(init.collection, init.name, init.origin, init.sourcePath, created, scanId, key).lastInsertRowid))
    }).immediate()),
    find: (collection, name) => h.guard(() => {
      const row = q.openByName.get(collection, name) as OpenRow | undefined
      return row === undefined ? undefined : toOpen(row)
    }),
    listOpen: () => h.guard(() => (q.listOpen.all() as OpenRow[]).map(toOpen)),
    byKey: (key) => h.guard(() => {
      const row = q.openByKey.get(key.toString()) as OpenRow | undefined
      return row === undefined ? undefined : toOpen(row)
    }),
    latest: (openId, path) => h.guard(() => {
      const r = q.latest.get(openId, path) as EntryRow | undefined
      return r === undefined ? undefined : toEntry(r)
    }),
    publish: async (openId, file, key, now) => (await publishMany(openId, [file], key, now))[0]!,
    publishMany,
    entries: (openId, afterSeq, limit) => h.guard(() => (q.entries.all(openId, afterSeq, limit) as EntryRow[]).map(toEntry)),
    feed: () => entryFeed(h, q),
    seal: async (openId, root, key, now = Date.now()) => {
      const o = byId(openId)
      if (o.state !== 'open') throw new FerryError('ERR_CONFLICT', `${o.collection}/${o.name} is already sealed`)
      const signature = await signOpenSeal(key, o, { entries: o.published, root, sealedAt: now })
      return h.guard(() => h.db.transaction(() => {
        if (q.seal.run(root.toString(), now, Buffer.from(signature), openId).changes !== 1) throw new FerryError('ERR_CONFLICT', `${o.collection}/${o.name} is already sealed`)
        if (o.scanId !== null) q.dropPlaceholder.run(o.scanId)
        return byId(openId)
      }).immediate())
    }
  }
}
