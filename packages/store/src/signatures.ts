/**
 * Signatures and provenance of stored scans (schema step 4): the origin's signature in `scans.signature`,
 * `signature_format` and `signed_at`, and table `scan_provenance` (the peers a pulled replica came from).
 * The signed encoding and the crypto are in scan-signature.ts; this module feeds them the stored entries.
 */
import { EntriesDigest, signScanRecord, verifyScanSignature, type ScanSignature, type SignatureCheck, type Signer } from './scan-signature.js'
import { lazyStatements, type CatalogDb } from './catalog-db.js'
import type { EntryType, ScanRecord, ScanTotals } from './scans.js'

/** One peer a pulled replica came from. */
export interface ProvenanceRecord {
  /** PeerId string. */
  peer: string
  /** Bytes fetched from it in the run that completed the pull (0: it sent only the record or inner blocks). */
  bytes: number
  /** ms since the epoch when that pull completed. */
  fetched: number
}

/** Signatures and provenance of a catalog. */
export interface Signatures {
  /** Stores a scan's signature (if any) and provenance rows. Call inside a write transaction. */
  store: (scanId: number, signature: ScanSignature | undefined, provenance: readonly ProvenanceRecord[]) => void
  /** Signs `scan` (as stored, with `totals`) and its stored entries with `key`. */
  sign: (scan: ScanRecord, totals: ScanTotals, key: Signer, signedAt: number) => Promise<ScanSignature>
  /** Checks a stored scan's signature over its record and stored entries against `signer` (default its origin). */
  check: (scan: ScanRecord, signer?: string) => Promise<SignatureCheck>
  /** Where a pulled replica came from, most bytes first. */
  provenance: (scanId: number) => ProvenanceRecord[]
}

const SQL = {
  setSignature: 'UPDATE scans SET signature = ?, signature_format = ?, signed_at = ? WHERE id = ?',
  insertProvenance: 'INSERT OR REPLACE INTO scan_provenance (scan_id, peer, bytes, fetched) VALUES (?, ?, ?, ?)',
  provenance: 'SELECT peer, bytes, fetched FROM scan_provenance WHERE scan_id = ? ORDER BY bytes DESC, peer',
  signedEntries: 'SELECT path, type, size, mode, mtime_ms AS mtimeMs, cid, target FROM entries WHERE scan_id = ? ORDER BY path'
}

interface SignedRow { path: string, type: EntryType, size: number, mode: number, mtimeMs: number, cid: Buffer, target: string | null }

/** The signatures and provenance of the catalog `h`. */
export function openSignatures (h: CatalogDb): Signatures {
  const q = lazyStatements(h.db, SQL)

  /**
   * Digest of a scan's stored entries in path order, for its signature. One synchronous pass over a single
   * statement (no paging, CIDs left binary): faster than `entries()`, and nothing else can use the statement
   * meanwhile. Memory stays flat: rows are hashed as they are read.
   */
  const digestStored = (scanId: number): { count: number, digest: Uint8Array } => h.guard(() => {
    const d = new EntriesDigest()
    for (const r of q.signedEntries.iterate(scanId) as IterableIterator<SignedRow>) {
      d.add({ path: r.path, type: r.type, size: r.size, mode: r.mode, mtimeMs: r.mtimeMs, cid: r.cid, ...(r.target !== null ? { target: r.target } : {}) })
    }
    return { count: d.count, digest: d.digest() }
  })

  return {
    store: (scanId, sig, provenance) => {
      if (sig !== undefined) q.setSignature.run(Buffer.from(sig.bytes), sig.format, sig.signedAt, scanId)
      const insert = q.insertProvenance
      for (const p of provenance) insert.run(scanId, p.peer, p.bytes, p.fetched)
    },
    sign: async (scan, t, key, signedAt) => await signScanRecord(key, {
      root: t.root,
      collection: scan.collection,
      name: scan.name,
      origin: scan.origin,
      files: t.files,
      directories: t.directories,
      symlinks: t.symlinks,
      bytes: t.bytes,
      created: scan.created,
      skipped: t.skipped,
      signedAt
    }, digestStored(scan.id)),
    check: async (scan, signer) => {
      if (scan.root === null) return { ok: false, reason: 'the scan is still being imported' }
      let digest
      try {
        digest = digestStored(scan.id)
      } catch (err) {
        return { ok: false, reason: `its stored entries cannot be read back as signed (${(err as Error).message})` }
      }
      return await verifyScanSignature({ ...scan, root: scan.root }, digest, scan.signature, signer)
    },
    provenance: (scanId) => h.guard(() => q.provenance.all(scanId) as ProvenanceRecord[])
  }
}
