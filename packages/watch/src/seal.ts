/**
 * Sealing an open scan: the finished directory is imported exactly as `ferry add` imports it (same
 * importer, same signed record), so the sealed root is the root `ferry add` gives; the open scan is then
 * marked sealed with that root. Files whose final CID differs from their last published version (or that
 * were never published) are listed, so nothing silently differs from what was announced.
 */
import { FerryError } from '@ferry/errors'
import { importDirectory, type HashPool } from '@ferry/dag'
import type { Home, OpenScanRecord } from '@ferry/store'

/** What a seal gave. */
export interface SealResult {
  root: string
  files: number
  bytes: number
  /** Files published while open (all versions). */
  published: number
  /** Paths whose sealed CID is not their last published one (never published, or changed since). */
  differs: string[]
  /** Entries the import skipped. */
  skipped: Array<{ path: string, code: string, message: string }>
}

/** Imports `open.sourcePath` as a complete signed scan (collection, name) and seals `open` with its root. */
export async function sealOpenScan (home: Home, pool: HashPool, open: OpenScanRecord, signal?: AbortSignal): Promise<SealResult> {
  if (open.state !== 'open') throw new FerryError('ERR_CONFLICT', `${open.collection}/${open.name} is already sealed (root ${String(open.sealedRoot)})`)
  const writer = home.catalog.createScanWriter({ collection: open.collection, name: open.name, sourcePath: open.sourcePath, origin: home.peerId.toString() })
  const differs: string[] = []
  try {
    const result = await importDirectory(open.sourcePath, {
      pool,
      signal,
      sink: {
        putBlocks: async (blocks) => {
          writer.addNodes(blocks.map((b) => b.cid))
          await home.blocks.putMany(blocks)
        },
        addEntry: (e) => {
          writer.addEntry(e)
          if (e.type !== 'file') return
          const last = home.catalog.open.latest(open.id, e.path)
          if (last === undefined || !last.cid.equals(e.cid)) differs.push(e.path)
        },
        addSource: (p, size, mtimeMs, leaves) => { writer.addSource(p, size, mtimeMs, leaves) }
      }
    })
    const { root, files, directories, symlinks, bytes, skipped } = result
    await writer.commitSigned({ root, files, directories, symlinks, bytes, skipped }, home.privateKey)
    await home.catalog.open.seal(open.id, root, home.privateKey)
    return { root: root.toString(), files, bytes, published: open.published, differs: differs.sort(), skipped }
  } catch (err) {
    writer.abort()
    throw err
  }
}
