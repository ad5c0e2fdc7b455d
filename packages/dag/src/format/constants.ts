/**
 * Named parameters of Ferry's DAG format: the IPIP-499 `unixfs-v1-2025` CID profile (CIDv1, sha2-256, raw
 * leaves, 1 MiB chunks, balanced layout of 1024 links per node, HAMT fanout 256, 256 KiB shard threshold
 * measured in 'block-bytes'). They are fixed per scan: changing any of them changes every root.
 */

/** Bytes per raw leaf: files are cut into fixed-size chunks of this size (the last one may be shorter). */
export const DEFAULT_CHUNK_SIZE = 1_048_576

/**
 * Most links in one file node of the balanced layout (`unixfs-v1-2025`). The importer's own default without a
 * profile, Kubo's legacy default and the `unixfs-v0-2015` profile use 174.
 */
export const DEFAULT_MAX_CHILDREN = 1024

/** A directory is HAMT-sharded when its estimated size (see docs/format.md) exceeds this many bytes. */
export const DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES = 262_144

/**
 * How a flat directory's size is estimated against the shard threshold (the importer's `shardSplitStrategy`):
 * - 'block-bytes' (`unixfs-v1-2025`): the byte length of the directory's dag-pb block, protobuf overhead and
 *   Tsize varints included, but without its links to non-empty subdirectories (see estimateDirectorySize);
 * - 'links-bytes' (the importer's default without a profile, `unixfs-v0-2015`): for each link, the UTF-8
 *   length of its name plus the byte length of its CID, again without links to non-empty subdirectories.
 */
export type ShardSplitStrategy = 'block-bytes' | 'links-bytes'

/** Ferry's shard size estimate: the `unixfs-v1-2025` profile's. */
export const DEFAULT_SHARD_SPLIT_STRATEGY: ShardSplitStrategy = 'block-bytes'

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
