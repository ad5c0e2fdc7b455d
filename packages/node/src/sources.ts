/**
 * What a node serves, read from its home: inner dag-pb nodes from the block store, raw leaves from the
 * source files through the leaf index (re-hashed on every read: a changed file is reported, never served),
 * and scans from the catalog. Nothing is cached here, so a scan that `ferry add` commits in another process
 * is served on the next request (the catalog is SQLite in WAL mode; blocks are files); the daemon puts a
 * LeafCache of just-published leaves in front of the leaf reader (leaf-cache.ts).
 */
import { isFerryError } from '@ferry/errors'
import { readLeaf, type Home } from '@ferry/store'
import type { BlockLookup, BlockSource, ScanSource } from '@ferry/exchange'
import type { CID } from 'multiformats/cid'

const RAW = 0x55
const DAG_PB = 0x70
const SHA2_256 = 0x12

/** Reads raw leaves; the default is `readLeaf` on the main thread, a LeafReaderPool reads on workers. */
export type LeafReader = (home: Pick<Home, 'catalog'>, cid: CID, signal: AbortSignal) => Promise<BlockLookup>

/** `readLeaf` from @ferry/store, as a BlockLookup. */
export const readLeafHere: LeafReader = async (home, cid, signal) => {
  const r = await readLeaf(home.catalog, cid, { signal })
  if (r.status === 'ok') return { status: 'ok', bytes: r.bytes }
  if (r.status === 'changed') return { status: 'changed', message: `source file changed since import: ${r.reason}` }
  return { status: 'missing' }
}

/**
 * `reader`, calling `onChanged` with each reason (one per source file: "PATH changed since it was imported",
 * "PATH was deleted or moved ...") of every leaf it could not serve because its source file changed.
 */
export function reportingChanges (reader: LeafReader, onChanged?: (reason: string) => void): LeafReader {
  if (onChanged === undefined) return reader
  return async (home, cid, signal) => {
    const r = await reader(home, cid, signal)
    if (r.status === 'changed') for (const reason of r.message.replace(/^source file changed since import: /, '').split('; ')) onChanged(reason)
    return r
  }
}

/** The BlockSource and ScanSource of `home`. */
export function homeSources (home: Pick<Home, 'catalog' | 'blocks'>, readLeafFn: LeafReader = readLeafHere): { blocks: BlockSource, scans: ScanSource } {
  const blocks: BlockSource = {
    async get (cid, { signal }) {
      if (cid.multihash.code !== SHA2_256) return { status: 'missing', message: 'only sha2-256 blocks are served' }
      if (cid.code === DAG_PB) {
        try {
          return { status: 'ok', bytes: await home.blocks.get(cid, { signal }) }
        } catch (err) {
          if (isFerryError(err, 'ERR_BLOCK_NOT_FOUND')) return { status: 'missing' }
          if (isFerryError(err, 'ERR_BAD_BLOCK')) return { status: 'missing', message: 'the stored copy was corrupt' }
          throw err
        }
      }
      if (cid.code === RAW) return await readLeafFn(home, cid, signal)
      return { status: 'missing', message: 'only raw and dag-pb blocks are served' }
    }
  }
  const scans: ScanSource = {
    getScan (root) {
      const scan = home.catalog.getScan(root)
      if (scan === undefined || scan.root === null) return undefined
      const { id } = scan
      return {
        record: {
          root: scan.root,
          collection: scan.collection,
          name: scan.name,
          origin: scan.origin,
          files: scan.files,
          directories: scan.directories,
          symlinks: scan.symlinks,
          bytes: scan.bytes,
          skipped: scan.skipped,
          created: scan.created,
          ...(scan.signature !== undefined ? { signature: scan.signature } : {})
        },
        entries: () => home.catalog.entries(id)
      }
    }
  }
  return { blocks, scans }
}
