import { FerryError } from '@ferry/errors'
import { UnixFS } from 'ipfs-unixfs'
import { checkCid, encodeNode, sumTsize, type NodeRef } from './cid.js'
import { DEFAULT_SHARD_FANOUT_BITS, DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES, RAW_CODE } from './constants.js'
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
  /** Fanout bits of shard nodes (default DEFAULT_SHARD_FANOUT_BITS = 8, i.e. 256 slots); 1 to 16. */
  fanoutBits?: number
}

/** Root of every empty directory (flat UnixFS directory, no links, no mode or mtime). */
export const EMPTY_DIRECTORY_CID = encodeNode(new UnixFS({ type: 'directory' }).marshal(), []).cid

/**
 * The importer's size estimate of a directory (its 'links-bytes' strategy): for each link the UTF-8 length
 * of its name plus the byte length of its CID. Links to non-empty directories count 0, because the importer
 * checks the estimate while subdirectories are still unbuilt and have no CID; a link to an empty directory
 * counts like a file's. The directory is sharded when this exceeds the threshold (strictly).
 */
export function estimateDirectorySize (entries: DirEntry[]): number {
  let total = 0
  for (const entry of entries) {
    const { name, ref } = entry
    if (entryType(entry) === 'directory' && !ref.cid.equals(EMPTY_DIRECTORY_CID)) continue
    total += utf8(name).byteLength + ref.cid.bytes.byteLength
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
    const problem = nameProblem(entry?.name)
    if (problem !== undefined) {
      throw new FerryError('ERR_INVALID_ARGUMENT', `Invalid directory entry name ${JSON.stringify(entry?.name)}: ${problem}`)
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
 * estimateDirectorySize(entries) > shardSplitThresholdBytes. Subdirectories are built first by the caller and
 * passed in as entries. Returns the root (size 0) and every new block, the root last.
 */
export function buildDirectory (entries: DirEntry[], options: DirectoryOptions = {}): BuildResult {
  const threshold = options.shardSplitThresholdBytes ?? DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES
  const bits = options.fanoutBits ?? DEFAULT_SHARD_FANOUT_BITS
  if (!Number.isSafeInteger(threshold) || threshold < 0) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `shardSplitThresholdBytes must be an integer >= 0, got ${String(threshold)}`)
  }
  if (!Number.isInteger(bits) || bits < 1 || bits > 16) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `fanoutBits must be an integer from 1 to 16, got ${String(bits)}`)
  }
  checkEntries(entries)
  if (estimateDirectorySize(entries) > threshold) {
    const shard = buildShard(entries, bits)
    return { root: { ...shard.root, type: 'directory' }, blocks: shard.blocks }
  }

  const links: PBLink[] = entries.map(({ name, ref }) => ({ Name: name, Tsize: ref.tsize, Hash: ref.cid }))
  const block = encodeNode(new UnixFS({ type: 'directory' }).marshal(), links)
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
