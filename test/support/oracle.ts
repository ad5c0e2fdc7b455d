/**
 * The independent reference: ipfs-unixfs-importer computing a root for a directory on disk with Ferry's
 * parameters. Ferry's roots must equal these.
 */
import { createReadStream, readdirSync, lstatSync } from 'node:fs'
import { join } from 'node:path'
import { importer, type ImportCandidate } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { DEFAULT_CHUNK_SIZE, DEFAULT_MAX_CHILDREN, DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES } from '@ferry/dag'

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
  for await (const entry of importer(candidates(root, prefix), new MemoryBlockstore(), {
    cidVersion: 1,
    rawLeaves: true,
    chunker: fixedSize({ chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: options.maxChildren ?? DEFAULT_MAX_CHILDREN }),
    shardSplitThresholdBytes: options.shardSplitThresholdBytes ?? DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES,
    reduceSingleLeafToSelf: true
  })) {
    if (entry.path === prefix) last = entry.cid.toString()
  }
  if (last === undefined) throw new Error('oracle produced no root')
  return last
}
