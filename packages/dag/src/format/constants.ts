/**
 * Named parameters of Ferry's DAG format. They match `ipfs-unixfs-importer` 17's defaults except the chunk
 * size (1 MiB instead of 256 KiB) and are fixed per scan: changing any of them changes every root.
 */

/** Bytes per raw leaf: files are cut into fixed-size chunks of this size (the last one may be shorter). */
export const DEFAULT_CHUNK_SIZE = 1_048_576

/** Most links in one file node of the balanced layout (the importer's and Kubo's default). */
export const DEFAULT_MAX_CHILDREN = 174

/** A directory is HAMT-sharded when its estimated size (see docs/format.md) exceeds this many bytes. */
export const DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES = 262_144

/** Bits of the name hash consumed per HAMT level: 8 bits gives 256 slots per shard node. */
export const DEFAULT_SHARD_FANOUT_BITS = 8

/** Multicodec of raw leaves. */
export const RAW_CODE = 0x55

/** Multicodec of UnixFS inner nodes (dag-pb). */
export const DAG_PB_CODE = 0x70

/** Multihash code of sha2-256, the only hash Ferry accepts for blocks. */
export const SHA2_256_CODE = 0x12

/** Multihash code of the HAMT name hash (murmur3-x64-64), written into every shard node's `hashType`. */
export const MURMUR3_X64_64_CODE = 0x22

/** Deepest file tree the reader follows; honest trees need ceil(log_maxChildren(leaves)) levels. */
export const MAX_FILE_DEPTH = 64

/** Deepest chain of HAMT sub-shards the reader follows. */
export const MAX_SHARD_DEPTH = 64
