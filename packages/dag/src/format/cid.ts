import { createHash } from 'node:crypto'
import { encode as encodePb, prepare, type PBLink } from '@ipld/dag-pb'
import { FerryError } from '@ferry/errors'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { DAG_PB_CODE, RAW_CODE, SHA2_256_CODE } from './constants.js'

/** A hashed block: its CID and the exact bytes that hash to it. */
export interface Block {
  cid: CID
  bytes: Uint8Array
}

/** A child of a file or directory node: what a dag-pb link needs. */
export interface NodeRef {
  /** CID of the child's root block. */
  cid: CID
  /** File bytes under the child (0 for directories and symlinks). */
  size: number
  /** dag-pb Tsize: the child's block bytes plus the Tsize of all its links (for a raw leaf: its length). */
  tsize: number
  /**
   * What the child is; set by every builder here. buildDirectory needs it to estimate like the importer
   * (see estimateDirectorySize); keep it when storing refs, or give DirEntry.type.
   */
  type?: 'file' | 'directory' | 'symlink'
}

/** The sha2-256 digest (32 bytes) of some bytes. */
export function sha256 (bytes: Uint8Array): Uint8Array {
  const digest = createHash('sha256').update(bytes).digest()
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
}

/** The CIDv1 (raw codec, sha2-256) of a leaf, from its 32-byte sha2-256 digest. */
export function rawLeafCid (sha256Digest: Uint8Array): CID {
  if (!(sha256Digest instanceof Uint8Array) || sha256Digest.byteLength !== 32) {
    throw new FerryError('ERR_INVALID_ARGUMENT', 'A sha2-256 digest must be 32 bytes', {
      details: { length: (sha256Digest as Uint8Array | undefined)?.byteLength }
    })
  }
  // copied: Digest.create keeps a reference, and the caller's buffer may be reused or transferred
  return CID.createV1(RAW_CODE, Digest.create(SHA2_256_CODE, sha256Digest.slice()))
}

/** The NodeRef of a raw leaf (one chunk of `size` bytes) from its sha2-256 digest. */
export function leafRef (sha256Digest: Uint8Array, size: number): NodeRef {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `Invalid leaf size ${String(size)}`)
  }
  return { cid: rawLeafCid(sha256Digest), size, tsize: size, type: 'file' }
}

/** Root of every empty file: the raw leaf of zero bytes (what the importer makes for a 0-byte file). */
export const EMPTY_FILE_CID: CID = rawLeafCid(sha256(new Uint8Array(0)))

/** Hashes dag-pb bytes into a CIDv1 block. */
export function dagPbBlock (bytes: Uint8Array): Block {
  return { cid: CID.createV1(DAG_PB_CODE, Digest.create(SHA2_256_CODE, sha256(bytes))), bytes }
}

/**
 * Encodes a dag-pb node exactly as the importer does (`encode(prepare(node))`: links sorted by the UTF-8
 * bytes of their names, stably; links before data) and hashes it.
 */
export function encodeNode (data: Uint8Array, links: PBLink[]): Block {
  return dagPbBlock(encodePb(prepare({ Data: data, Links: links })))
}

/** Sum of the Tsize of some links (what a node adds to its own length to get its Tsize). */
export function sumTsize (links: PBLink[]): number {
  let total = 0
  for (const link of links) total += link.Tsize ?? 0
  return total
}

/**
 * Throws ERR_BAD_BLOCK unless `cid` is a sha2-256 CID of a raw or dag-pb block. Identity CIDs (which embed
 * their data) and every other hash are refused.
 */
export function checkCid (cid: CID, what: string): void {
  const mh = cid.multihash
  if (mh.code !== SHA2_256_CODE || mh.digest.byteLength !== 32) {
    throw new FerryError('ERR_BAD_BLOCK', `${what} uses multihash 0x${mh.code.toString(16)}, only sha2-256 is accepted`, {
      details: { cid: cid.toString() }
    })
  }
  if (cid.code !== RAW_CODE && cid.code !== DAG_PB_CODE) {
    throw new FerryError('ERR_BAD_BLOCK', `${what} uses codec 0x${cid.code.toString(16)}, expected raw or dag-pb`, {
      details: { cid: cid.toString() }
    })
  }
}

/** Throws ERR_BAD_BLOCK unless `bytes` hash (sha2-256) to `cid`. */
export function verifyBlock (cid: CID, bytes: Uint8Array): void {
  checkCid(cid, 'Block')
  const expected = cid.multihash.digest
  const actual = sha256(bytes)
  let same = actual.byteLength === expected.byteLength
  for (let i = 0; same && i < actual.byteLength; i++) same = actual[i] === expected[i]
  if (!same) {
    throw new FerryError('ERR_BAD_BLOCK', `Block bytes do not match ${cid.toString()}`, {
      details: { cid: cid.toString(), length: bytes.byteLength }
    })
  }
}
