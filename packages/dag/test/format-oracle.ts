/**
 * Test support for the format tests: a small tree description, Ferry's builders run over it, and
 * ipfs-unixfs-importer 17 run over the same tree with the IPIP-499 `unixfs-v1-2025` profile (the oracle).
 */
import { MemoryBlockstore } from 'blockstore-core'
import { importer, type ImportCandidate, type ImporterOptions } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import {
  buildDirectory, buildFile, buildSymlink, EMPTY_FILE_CID,
  type Block, type DirEntry, type GetBlock, type NodeRef, type ShardSplitStrategy
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

/**
 * Overrides of the format's parameters, given to both sides. What is left out is each side's own default:
 * Ferry's constants on one side, the importer's `unixfs-v1-2025` profile on the other, so the defaults are
 * checked against the profile rather than copied into the oracle.
 */
export interface Params {
  chunkSize?: number
  maxChildren?: number
  shardSplitThresholdBytes?: number
  shardSplitStrategy?: ShardSplitStrategy
  fanoutBits?: number
}

/** The shard estimate and file width of the importer without a profile (and of `unixfs-v0-2015`). */
export const LINKS_BYTES: Params = { shardSplitStrategy: 'links-bytes', maxChildren: 174 }

/** The importer's options for `p`: the `unixfs-v1-2025` profile plus the overrides in `p`, nothing else. */
export function importerOptions (p: Params = {}): ImporterOptions {
  const options: ImporterOptions = { profile: 'unixfs-v1-2025' }
  if (p.chunkSize !== undefined) options.chunker = fixedSize({ chunkSize: p.chunkSize })
  if (p.maxChildren !== undefined) options.layout = balanced({ maxChildrenPerNode: p.maxChildren })
  if (p.shardSplitThresholdBytes !== undefined) options.shardSplitThresholdBytes = p.shardSplitThresholdBytes
  if (p.shardSplitStrategy !== undefined) options.shardSplitStrategy = p.shardSplitStrategy
  if (p.fanoutBits !== undefined) options.shardFanoutBits = p.fanoutBits
  return options
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
    const d = buildDirectory(entries, {
      shardSplitThresholdBytes: p.shardSplitThresholdBytes, shardSplitStrategy: p.shardSplitStrategy, fanoutBits: p.fanoutBits
    })
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
