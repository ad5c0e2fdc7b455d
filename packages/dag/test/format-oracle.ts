/**
 * Test support for the format tests: a small tree description, Ferry's builders run over it, and
 * ipfs-unixfs-importer 17 run over the same tree with the same parameters (the oracle).
 */
import { MemoryBlockstore } from 'blockstore-core'
import { importer, type ImportCandidate, type ImporterOptions } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import {
  buildDirectory, buildFile, buildSymlink, EMPTY_FILE_CID, DEFAULT_CHUNK_SIZE, DEFAULT_MAX_CHILDREN,
  DEFAULT_SHARD_FANOUT_BITS, DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES,
  type Block, type DirEntry, type GetBlock, type NodeRef
} from '@ferry/dag'

/** A symlink in a test tree. */
export class Link {
  constructor (readonly target: string) {}
}
/** A test tree: a directory maps names to file contents, symlinks or directories. */
export type Tree = Map<string, Uint8Array | Link | Tree>

/** A directory from an object (insertion order kept). */
export function dir (entries: Record<string, Uint8Array | Link | Tree> | Array<[string, Uint8Array | Link | Tree]> = {}): Tree {
  return new Map(Array.isArray(entries) ? entries : Object.entries(entries))
}

export interface Params {
  chunkSize?: number
  maxChildren?: number
  shardSplitThresholdBytes?: number
  fanoutBits?: number
}

/** The parameters Ferry uses, as importer options. */
export function importerOptions (p: Params = {}): ImporterOptions {
  return {
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    wrapWithDirectory: false,
    chunker: fixedSize({ chunkSize: p.chunkSize ?? DEFAULT_CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: p.maxChildren ?? DEFAULT_MAX_CHILDREN }),
    shardSplitThresholdBytes: p.shardSplitThresholdBytes ?? DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES,
    shardFanoutBits: p.fanoutBits ?? DEFAULT_SHARD_FANOUT_BITS
  }
}

export interface Built {
  root: NodeRef
  /** Every block by CID string, raw leaves included. */
  blocks: Map<string, Uint8Array>
}

/**
 * A blockstore for the importer that records every put by full CID (MemoryBlockstore keys by multihash
 * only, so its getAll() cannot tell raw from dag-pb) and also keeps the blocks in a MemoryBlockstore.
 */
export class RecordingBlockstore {
  readonly blocks = new Map<string, Uint8Array>()
  readonly memory = new MemoryBlockstore()

  async put (cid: CID, bytes: Uint8Array): Promise<CID> {
    this.blocks.set(cid.toString(), bytes)
    await this.memory.put(cid, bytes)
    return cid
  }
}

/** The importer's DAG of one file. */
export async function oracleFile (content: Uint8Array, p: Params = {}): Promise<{ cid: CID, size: number, blocks: Map<string, Uint8Array> }> {
  const bs = new RecordingBlockstore()
  let last
  for await (const entry of importer([{ content }], bs, importerOptions(p))) last = entry
  if (last === undefined) throw new Error('importer yielded nothing')
  return { cid: last.cid, size: Number(last.size), blocks: bs.blocks }
}

/** The importer's DAG of a tree imported as 'root/...'; empty directories are passed as directory candidates. */
export async function oracleTree (tree: Tree, p: Params = {}): Promise<{ cid: CID, size: number, blocks: Map<string, Uint8Array>, store: MemoryBlockstore }> {
  const candidates: ImportCandidate[] = []
  const flatten = (t: Tree, path: string): void => {
    if (t.size === 0) candidates.push({ path })
    for (const [name, node] of t) {
      const child = `${path}/${name}`
      if (node instanceof Uint8Array) candidates.push({ path: child, content: node })
      else if (node instanceof Link) candidates.push({ path: child, link: node.target })
      else flatten(node, child)
    }
  }
  flatten(tree, 'root')
  const bs = new RecordingBlockstore()
  let root
  for await (const entry of importer(candidates, bs, importerOptions(p))) {
    if (entry.path === 'root') root = entry
  }
  if (root === undefined) throw new Error('importer yielded no root')
  return { cid: root.cid, size: Number(root.size), blocks: bs.blocks, store: bs.memory }
}

function addBlocks (into: Map<string, Uint8Array>, blocks: Block[]): void {
  for (const b of blocks) into.set(b.cid.toString(), b.bytes)
}

/** Ferry's DAG of one file. */
export function ferryFile (content: Uint8Array, p: Params = {}): Built {
  const { root, blocks, leaves } = buildFile(content, { chunkSize: p.chunkSize, maxChildren: p.maxChildren })
  const all = new Map<string, Uint8Array>()
  addBlocks(all, leaves)
  addBlocks(all, blocks)
  if (content.byteLength === 0) all.set(EMPTY_FILE_CID.toString(), new Uint8Array(0))
  return { root, blocks: all }
}

/** Ferry's DAG of a tree, built bottom-up like a scan does, entries handed over in reverse order. */
export function ferryTree (tree: Tree, p: Params = {}): Built {
  const all = new Map<string, Uint8Array>()
  const build = (t: Tree): NodeRef => {
    const entries: DirEntry[] = []
    for (const [name, node] of t) {
      if (node instanceof Uint8Array) {
        const f = ferryFile(node, p)
        for (const [k, v] of f.blocks) all.set(k, v)
        entries.push({ name, ref: f.root, type: 'file' })
      } else if (node instanceof Link) {
        const s = buildSymlink(node.target)
        addBlocks(all, s.blocks)
        entries.push({ name, ref: s.root, type: 'symlink' })
      } else {
        entries.push({ name, ref: build(node), type: 'directory' })
      }
    }
    // the builder must not depend on entry order
    entries.reverse()
    const d = buildDirectory(entries, { shardSplitThresholdBytes: p.shardSplitThresholdBytes, fanoutBits: p.fanoutBits })
    addBlocks(all, d.blocks)
    return d.root
  }
  const root = build(tree)
  return { root, blocks: all }
}

/** A GetBlock over a map of blocks that counts its calls. */
export function mapGetter (blocks: Map<string, Uint8Array>): GetBlock & { calls: string[] } {
  const calls: string[] = []
  const get = async (cid: CID): Promise<Uint8Array> => {
    calls.push(cid.toString())
    const bytes = blocks.get(cid.toString())
    if (bytes === undefined) throw new Error(`no block ${cid.toString()}`)
    return bytes
  }
  return Object.assign(get, { calls })
}

/** Deterministic pseudo-random bytes. */
export function bytesOf (length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

/** Asserts two block maps hold the same blocks; returns a readable difference or undefined. */
export function blockDifference (a: Map<string, Uint8Array>, b: Map<string, Uint8Array>): string | undefined {
  for (const [k, v] of a) {
    const w = b.get(k)
    if (w === undefined) return `${k} missing from the second map`
    if (Buffer.compare(Buffer.from(v), Buffer.from(w)) !== 0) return `${k} differs`
  }
  for (const k of b.keys()) if (!a.has(k)) return `${k} missing from the first map`
  return undefined
}

export { CID }
