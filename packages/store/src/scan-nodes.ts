/**
 * Inner nodes: table `scan_nodes` (schema step 3), the scans each inner dag-pb node (directory, file and
 * shard nodes) belongs to, so the access check can tell which collection a requested node is in. Raw leaves
 * are not listed here: they map to scans through the leaf index (leaf-index.ts).
 */
import { CID } from 'multiformats/cid'
import { lazyStatements, type CatalogDb } from './catalog-db.js'
import { leafKey } from './leaf-index.js'

/** Multicodec of inner nodes (dag-pb). */
export const DAG_PB = 0x70

/** Inner nodes of a catalog. */
export interface ScanNodes {
  /** The key of a dag-pb node for `insert`, or undefined for any other codec (ignored). */
  key: (cid: CID) => Buffer | undefined
  /** Records nodes (keys from `key`) for `scanId`; repeats are ignored. Call inside a write transaction. */
  insert: (scanId: number, keys: readonly Buffer[]) => void
  /** The collections of the scans a dag-pb node was recorded for. */
  collections: (cid: CID) => Array<string | null>
}

const SQL = {
  insert: 'INSERT OR IGNORE INTO scan_nodes (cid, scan_id) VALUES (?, ?)',
  collections: 'SELECT DISTINCT sc.collection AS collection FROM scan_nodes n JOIN scans sc ON sc.id = n.scan_id WHERE n.cid = ?'
}

/** The inner-node map of the catalog `h`. */
export function openScanNodes (h: CatalogDb): ScanNodes {
  const q = lazyStatements(h.db, SQL)
  return {
    key: (c) => {
      const cid = CID.asCID(c)
      return cid === null || cid.code !== DAG_PB ? undefined : leafKey(cid)
    },
    insert: (scanId, keys) => {
      if (keys.length === 0) return
      const insert = q.insert
      for (const k of keys) insert.run(k, scanId)
    },
    collections: (cid) => h.guard(() => (q.collections.all(leafKey(cid)) as Array<{ collection: string | null }>).map((r) => r.collection))
  }
}
