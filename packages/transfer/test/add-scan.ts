/** Imports `dir` into `home` as a signed scan (what `ferry add` does), for the pull tests' sources. */
import { importDirectory, type HashPool } from '@ferry/dag'
import type { Home } from '@ferry/store'
import type { CID } from 'multiformats/cid'

export async function addScan (home: Home, dir: string, pool: HashPool): Promise<CID> {
  const writer = home.catalog.createScanWriter({ name: 'scan', sourcePath: dir, origin: home.peerId.toString(), collection: 'visit' })
  const r = await importDirectory(dir, {
    pool,
    sink: {
      putBlocks: async (b) => {
        writer.addNodes(b.map((x) => x.cid))
        await home.blocks.putMany(b)
      },
      addEntry: (e) => { writer.addEntry(e) },
      addSource: (p, s, m, l) => { writer.addSource(p, s, m, l) }
    }
  })
  await writer.commitSigned({ root: r.root, files: r.files, directories: r.directories, symlinks: r.symlinks, bytes: r.bytes, skipped: r.skipped }, home.privateKey)
  return r.root
}
