/**
 * The independent reference: ipfs-unixfs-importer computing a root for a directory on disk with the IPIP-499
 * `unixfs-v1-2025` profile, Ferry's format. Ferry's roots must equal these.
 */
import { createReadStream, readdirSync, lstatSync } from 'node:fs'
import { join } from 'node:path'
import { importer, type ImportCandidate } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { MemoryBlockstore } from 'blockstore-core/memory'

/** Overrides of the profile, for tests that need tiny chunks, narrow nodes or early sharding. */
export interface OracleOptions {
  chunkSize?: number
  maxChildren?: number
  shardSplitThresholdBytes?: number
}

function * candidates (root: string, prefix: string): Generator<ImportCandidate> {
  const walk = function * (dir: string, rel: string): Generator<ImportCandidate> {
    const names = readdirSync(dir).sort()
    if (names.length === 0) yield { path: rel }
    for (const name of names) {
      const abs = join(dir, name)
      const r = `${rel}/${name}`
      const st = lstatSync(abs)
      if (st.isDirectory()) yield * walk(abs, r)
      else if (st.isFile()) yield { path: r, content: createReadStream(abs) }
    }
  }
  yield * walk(root, prefix)
}

/** Root CID (string) that ipfs-unixfs-importer gives the directory `root` (regular files and dirs only). */
export async function oracleRoot (root: string, options: OracleOptions = {}): Promise<string> {
  const prefix = 'scan'
  let last: string | undefined
  // The IPIP-499 profile itself, not Ferry's constants: our defaults are checked against the standard.
  for await (const entry of importer(candidates(root, prefix), new MemoryBlockstore(), {
    profile: 'unixfs-v1-2025',
    ...(options.chunkSize != null ? { chunker: fixedSize({ chunkSize: options.chunkSize }) } : {}),
    ...(options.maxChildren != null ? { layout: balanced({ maxChildrenPerNode: options.maxChildren }) } : {}),
    ...(options.shardSplitThresholdBytes != null ? { shardSplitThresholdBytes: options.shardSplitThresholdBytes } : {})
  })) {
    if (entry.path === prefix) last = entry.cid.toString()
  }
  if (last === undefined) throw new Error('oracle produced no root')
  return last
}
