/**
 * Publishing one complete file into an open scan: hashed and built by the importer's own code
 * (`importFile`, so its CID is the one `ferry add` gives it), its inner nodes stored, then its entry signed
 * and recorded with its leaves in one transaction (`catalog.open.publish`). From then on its CID is servable
 * over /ferry/blocks and the entry is announced.
 */
import { importFile, type HashPool } from '@ferry/dag'
import type { Home, OpenScanRecord, PublishedEntry } from '@ferry/store'
import type { CID } from 'multiformats/cid'

/** What publishing a file gave: the new entry, or why the file must wait. */
export type PublishOutcome =
  | { published: PublishedEntry, previous?: PublishedEntry }
  | { published?: undefined, retry: string }

/** Imports `abs` as `rel` and publishes it into `open` (a new version if the path was published before). */
export async function publishFile (home: Home, pool: HashPool, open: OpenScanRecord, abs: string, rel: string, signal: AbortSignal): Promise<PublishOutcome> {
  const nodes: CID[] = []
  let leaves: Array<{ cid: CID, offset: number, length: number }> = []
  const result = await importFile(abs, rel, {
    pool,
    signal,
    sink: {
      putBlocks: async (blocks) => {
        for (const b of blocks) nodes.push(b.cid)
        await home.blocks.putMany(blocks)
      },
      addEntry: () => {},
      addSource: (_path, _size, _mtime, l) => { leaves = l }
    }
  })
  if (result.entry === undefined) return { retry: result.skipped.message }
  const { entry } = result
  const previous = home.catalog.open.latest(open.id, rel)
  if (previous !== undefined && previous.cid.equals(entry.cid) && previous.mode === entry.mode && previous.mtimeMs === entry.mtimeMs) {
    return { published: previous } // touched, not changed: nothing new to publish
  }
  const published = await home.catalog.open.publish(open.id, {
    path: rel, absPath: abs, cid: entry.cid, size: entry.size, mode: entry.mode, mtimeMs: entry.mtimeMs, leaves, nodes
  }, home.privateKey)
  return { published, previous }
}
