/**
 * `ScanWriter`: streams one scan into the catalog. It buffers entries, sources with their leaves, and inner
 * nodes, and writes them every `flushRows` rows in one transaction across scans.ts, leaf-index.ts and
 * scan-nodes.ts, so a scan of 10^6 entries never sits in memory. Commit flips the scan to 'complete' and
 * stores its signature and provenance (signatures.ts) in one transaction.
 */
import { CID } from 'multiformats/cid'
import { FerryError } from '@ferry/errors'
import { fromSqliteError, type CatalogDb } from './catalog-db.js'
import { entryRow, isNonNegativeNumber, type EntryRecord, type ScanRecord, type Scans, type ScanTotals, type SkippedEntry } from './scans.js'
import { pendingSource, type LeafIndex, type LeafRecord, type PendingSource } from './leaf-index.js'
import type { ScanNodes } from './scan-nodes.js'
import type { ProvenanceRecord, Signatures } from './signatures.js'
import type { ScanSignature, Signer } from './scan-signature.js'

/**
 * Rows (entries + sources + leaves) a ScanWriter buffers before writing them in one transaction (~3 MiB).
 * Big batches matter: each commit rewrites the leaf-index pages it touched, and hash keys touch most of them;
 * 50,000 was fastest, but cost ~17 MB more peak memory on a 200,000-file import (bench: import suite).
 */
export const DEFAULT_FLUSH_ROWS = 10_000

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

/** What a scan writer writes through. */
export interface ScanWriterDeps {
  h: CatalogDb
  scans: Scans
  leafIndex: LeafIndex
  nodes: ScanNodes
  signatures: Signatures
  flushRows: number
}

type WriterState = 'open' | 'committed' | 'aborted' | 'failed'

/** Rows waiting for the next flush. */
interface Batch { entries: unknown[][], sources: PendingSource[], nodes: Buffer[] }

const emptyBatch = (): Batch => ({ entries: [], sources: [], nodes: [] })

function checkRoot (id: number, root: CID): CID {
  const cid = CID.asCID(root)
  if (cid === null) throw new FerryError('ERR_INVALID_CID', `Scan ${id} cannot be committed without a root CID`)
  return cid
}

/** The summary's root and counts, checked, and its skipped list normalised. */
function checkTotals (id: number, summary: ScanSummary): ScanTotals {
  const root = checkRoot(id, summary.root)
  for (const k of ['files', 'directories', 'symlinks', 'bytes'] as const) {
    if (!isNonNegativeNumber(summary[k])) throw new FerryError('ERR_INVALID_ARGUMENT', `Scan summary has an invalid "${k}"`)
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checked like the counts: a JavaScript caller may omit it
  const skipped = (summary.skipped ?? []).map(s => ({ path: String(s.path), code: String(s.code), message: String(s.message) }))
  return { root, files: summary.files, directories: summary.directories, symlinks: summary.symlinks, bytes: summary.bytes, skipped }
}

const gone = (id: number): FerryError =>
  new FerryError('ERR_NOT_FOUND', `Scan ${id} disappeared while it was being written (removed as a stale import?)`)

/** Completes scan `id` with `summary` in one transaction. False if the scan is no longer importing. */
function completeScan (d: ScanWriterDeps, id: number, summary: ScanSummary): boolean {
  const totals = checkTotals(id, summary)
  const changed = d.h.guard(() => d.h.db.transaction(() => {
    const n = d.scans.complete(id, totals)
    if (n === 1) d.signatures.store(id, summary.signature, summary.provenance ?? [])
    return n
  }).immediate())
  return changed === 1
}

/** Signs scan `id` as stored (record and entries) with `summary`'s totals. */
async function signStored (d: ScanWriterDeps, id: number, summary: Omit<ScanSummary, 'signature'>, key: Signer, signedAt: number): Promise<ScanSignature> {
  const row = d.scans.byId(id)
  if (row === undefined) throw gone(id)
  const root = checkRoot(id, summary.root)
  return await d.signatures.sign(row, { ...summary, root }, key, signedAt)
}

/** A writer for the scan row `id` (state 'importing'), just created. */
export function newScanWriter (d: ScanWriterDeps, id: number): ScanWriter {
  let batch = emptyBatch()
  let rows = 0
  let state: WriterState = 'open'
  const writeBatch = d.h.db.transaction((b: Batch) => {
    d.scans.insertEntries(b.entries)
    d.nodes.insert(id, b.nodes)
    d.leafIndex.putSources(id, b.sources)
  })

  const requireOpen = (): void => {
    if (state !== 'open') throw new FerryError('ERR_INVALID_ARGUMENT', `Scan writer ${id} is ${state}`)
  }
  const flush = (): void => {
    requireOpen()
    if (batch.entries.length === 0 && batch.sources.length === 0 && batch.nodes.length === 0) return
    const b = batch
    batch = emptyBatch()
    rows = 0
    try {
      writeBatch.immediate(b)
    } catch (err) {
      state = 'failed'
      throw fromSqliteError(err, `catalog ${d.h.file}`)
    }
  }
  const added = (n: number): void => {
    rows += n
    if (rows >= d.flushRows) flush()
  }

  const commit = (summary: ScanSummary): ScanRecord => {
    flush()
    state = completeScan(d, id, summary) ? 'committed' : 'failed'
    if (state === 'failed') throw gone(id)
    const record = d.scans.byId(id)
    if (record === undefined) throw new FerryError('ERR_NOT_FOUND', `Scan ${id} disappeared right after commit`)
    return record
  }

  return {
    id,
    addEntry: (e) => {
      requireOpen()
      batch.entries.push(entryRow(id, e))
      added(1)
    },
    addSource: (absPath, size, mtimeMs, leaves) => {
      requireOpen()
      const source = pendingSource(absPath, size, mtimeMs, leaves)
      batch.sources.push(source)
      added(1 + source.leaves.length)
    },
    addNodes: (cids) => {
      requireOpen()
      for (const c of cids) {
        const key = d.nodes.key(c)
        if (key === undefined) continue
        batch.nodes.push(key)
        added(1)
      }
    },
    flush,
    commit,
    commitSigned: async (summary, key, signedAt = Date.now()) => {
      flush()
      return commit({ ...summary, signature: await signStored(d, id, summary, key, signedAt) })
    },
    abort: () => {
      if (state === 'committed' || state === 'aborted') return
      state = 'aborted'
      batch = emptyBatch()
      d.h.guard(() => d.h.db.transaction(() => { d.scans.remove(id) }).immediate())
    }
  }
}
