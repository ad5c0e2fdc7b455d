import { FerryError } from '@ferry/errors'
import { UnixFS } from 'ipfs-unixfs'
import { checkCid, encodeNode, sumTsize, type NodeRef } from './cid.js'
import {
  DEFAULT_SHARD_FANOUT_BITS, DEFAULT_SHARD_SPLIT_STRATEGY, DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES, RAW_CODE,
  type ShardSplitStrategy
} from './constants.js'
import { buildShard } from './hamt.js'
import { nameProblem, utf8 } from './names.js'
import type { BuildResult } from './file-builder.js'
import type { PBLink } from '@ipld/dag-pb'

/** What a directory entry is. */
export type EntryType = 'file' | 'directory' | 'symlink'

/**
 * One entry of a directory. Its type (`type`, else `ref.type`, which every builder sets) matters because
 * the importer's shard estimate counts links to files, symlinks and empty directories but not links to
 * non-empty directories (see estimateDirectorySize). Without either, raw leaves, refs with size > 0 and
 * the empty directory are recognised; any other dag-pb ref is refused as ambiguous.
 */
export interface DirEntry {
  name: string
  ref: NodeRef
  type?: EntryType
}

/** Options of buildDirectory. */
export interface DirectoryOptions {
  /** Shard when the estimate exceeds this (default DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES = 262144). */
  shardSplitThresholdBytes?: number
  /**
   * How the estimate is measured (default DEFAULT_SHARD_SPLIT_STRATEGY = 'block-bytes', the `unixfs-v1-2025`
   * profile's; 'links-bytes' is the importer's default without a profile). See estimateDirectorySize.
   */
  shardSplitStrategy?: ShardSplitStrategy
  /** Fanout bits of shard nodes (default DEFAULT_SHARD_FANOUT_BITS = 8, i.e. 256 slots); 1 to 16. */
  fanoutBits?: number
}

/** Root of every empty directory (flat UnixFS directory, no links, no mode or mtime). */
export const EMPTY_DIRECTORY_CID = encodeNode(new UnixFS({ type: 'directory' }).marshal(), []).cid

/** The UnixFS `Data` of every flat directory Ferry writes (type only: no mode, no mtime). */
const DIRECTORY_DATA = new UnixFS({ type: 'directory' }).marshal()

/** Bytes of a protobuf varint holding `n` (a safe integer >= 0). */
function varintLength (n: number): number {
  let length = 1
  for (let v = n; v >= 128; v = Math.floor(v / 128)) length++
  return length
}

/** Bytes a dag-pb node spends on one link as @ipld/dag-pb writes it: Hash, Name and Tsize, length-prefixed. */
function linkBlockBytes (nameBytes: number, cidBytes: number, tsize: number): number {
  const inner = 1 + varintLength(cidBytes) + cidBytes + 1 + varintLength(nameBytes) + nameBytes + 1 + varintLength(tsize)
  return 1 + varintLength(inner) + inner
}

/** Bytes a flat directory node spends on its `Data` field (4: tag, length, `08 01`). */
const DIRECTORY_DATA_BYTES = 1 + varintLength(DIRECTORY_DATA.byteLength) + DIRECTORY_DATA.byteLength

function checkStrategy (strategy: unknown): ShardSplitStrategy {
  if (strategy !== 'block-bytes' && strategy !== 'links-bytes') {
    throw new FerryError('ERR_INVALID_ARGUMENT', `shardSplitStrategy must be 'block-bytes' or 'links-bytes', got ${String(strategy)}`)
  }
  return strategy
}

/**
 * The importer's size estimate of a flat directory over `entries`, which decides sharding: the directory is
 * sharded when this exceeds the threshold (strictly).
 * - 'block-bytes' (default, `unixfs-v1-2025`): the byte length of the directory's dag-pb block, i.e. its
 *   `Data` field (4 bytes) plus each link's encoded length (name, CID and Tsize, with protobuf tags and
 *   varints), as ipfs-unixfs-importer 17's dir-flat.js computes it;
 * - 'links-bytes': for each link, the UTF-8 length of its name plus the byte length of its CID.
 * With both, links to non-empty directories count 0, because the importer checks the estimate while
 * subdirectories are still unbuilt and have no CID; a link to an empty directory counts like a file's. So
 * under 'block-bytes' a directory with non-empty subdirectories can stay flat with a block larger than the
 * threshold.
 */
export function estimateDirectorySize (entries: DirEntry[], strategy: ShardSplitStrategy = DEFAULT_SHARD_SPLIT_STRATEGY): number {
  const blockBytes = checkStrategy(strategy) === 'block-bytes'
  let total = blockBytes ? DIRECTORY_DATA_BYTES : 0
  for (const entry of entries) {
    const { name, ref } = entry
    if (entryType(entry) === 'directory' && !ref.cid.equals(EMPTY_DIRECTORY_CID)) continue
    const nameBytes = utf8(name).byteLength
    const cidBytes = ref.cid.bytes.byteLength
    total += blockBytes ? linkBlockBytes(nameBytes, cidBytes, ref.tsize) : nameBytes + cidBytes
  }
  return total
}

/** The entry's type: given, else the ref's, else inferred where unambiguous. */
function entryType (entry: DirEntry): EntryType {
  const type = entry.type ?? entry.ref.type
  if (type !== undefined) return type
  const { cid, size } = entry.ref
  if (cid.code === RAW_CODE || size > 0) return 'file'
  if (cid.equals(EMPTY_DIRECTORY_CID)) return 'directory'
  throw new FerryError('ERR_INVALID_ARGUMENT', `Entry ${JSON.stringify(entry.name)}: give its type (directory or symlink?)`, {
    details: { cid: cid.toString() }
  })
}

function checkEntries (entries: DirEntry[]): void {
  const seen = new Set<string>()
  for (const entry of entries) {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a JavaScript caller may pass anything
    const problem = nameProblem(entry?.name)
    if (problem !== undefined) {
      throw new FerryError('ERR_INVALID_ARGUMENT', `Invalid directory entry name ${JSON.stringify(entry.name)}: ${problem}`)
    }
    if (seen.has(entry.name)) {
      throw new FerryError('ERR_INVALID_ARGUMENT', `Duplicate directory entry name ${JSON.stringify(entry.name)}`)
    }
    seen.add(entry.name)
    const { ref } = entry
    const type = entryType(entry)
    try {
      checkCid(ref.cid, `Entry ${JSON.stringify(entry.name)}`)
    } catch (err) {
      throw new FerryError('ERR_INVALID_ARGUMENT', (err as Error).message, { cause: err })
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a JavaScript caller may pass any type
    if (type !== 'file' && type !== 'directory' && type !== 'symlink') {
      throw new FerryError('ERR_INVALID_ARGUMENT', `Entry ${JSON.stringify(entry.name)} has unknown type ${String(type)}`)
    }
    if (ref.cid.code === RAW_CODE && type !== 'file') {
      throw new FerryError('ERR_INVALID_ARGUMENT', `Entry ${JSON.stringify(entry.name)} is a raw leaf but typed ${type}`)
    }
    if (!Number.isSafeInteger(ref.tsize) || ref.tsize < 0) {
      throw new FerryError('ERR_INVALID_ARGUMENT', `Entry ${JSON.stringify(entry.name)} has invalid tsize ${String(ref.tsize)}`)
    }
  }
}

/**
 * A UnixFS directory over `entries` (any order), flat or HAMT-sharded as the importer decides: sharded when
 * estimateDirectorySize(entries, shardSplitStrategy) > shardSplitThresholdBytes, except that a directory
 * without entries is never sharded. Subdirectories are built first by the caller and passed in as entries.
 * Returns the root (size 0) and every new block, the root last.
 */
export function buildDirectory (entries: DirEntry[], options: DirectoryOptions = {}): BuildResult {
  const threshold = options.shardSplitThresholdBytes ?? DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES
  const strategy = checkStrategy(options.shardSplitStrategy ?? DEFAULT_SHARD_SPLIT_STRATEGY)
  const bits = options.fanoutBits ?? DEFAULT_SHARD_FANOUT_BITS
  if (!Number.isSafeInteger(threshold) || threshold < 0) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `shardSplitThresholdBytes must be an integer >= 0, got ${String(threshold)}`)
  }
  if (!Number.isInteger(bits) || bits < 1 || bits > 16) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `fanoutBits must be an integer from 1 to 16, got ${String(bits)}`)
  }
  checkEntries(entries)
  // The importer builds an empty directory as a leaf, never through its shard check; 'block-bytes' would
  // otherwise count its 4 bytes of Data against a threshold below 4.
  if (entries.length > 0 && estimateDirectorySize(entries, strategy) > threshold) {
    const shard = buildShard(entries, bits)
    return { root: { ...shard.root, type: 'directory' }, blocks: shard.blocks }
  }

  const links: PBLink[] = entries.map(({ name, ref }) => ({ Name: name, Tsize: ref.tsize, Hash: ref.cid }))
  const block = encodeNode(DIRECTORY_DATA, links)
  return { root: { cid: block.cid, size: 0, tsize: block.bytes.byteLength + sumTsize(links), type: 'directory' }, blocks: [block] }
}

/** A UnixFS symlink node whose Data is the UTF-8 target, as Kubo and the importer write it (no links). */
export function buildSymlink (target: string): BuildResult {
  if (typeof target !== 'string' || target.length === 0 || target.includes('\0') || /\p{Cs}/u.test(target)) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `Invalid symlink target ${JSON.stringify(target)}`)
  }
  const block = encodeNode(new UnixFS({ type: 'symlink', data: utf8(target) }).marshal(), [])
  return { root: { cid: block.cid, size: 0, tsize: block.bytes.byteLength, type: 'symlink' }, blocks: [block] }
}
