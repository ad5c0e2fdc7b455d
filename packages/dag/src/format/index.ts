/**
 * Ferry's DAG format: the UnixFS DAG that `ipfs-unixfs-importer` 17 builds with the IPIP-499 `unixfs-v1-2025`
 * profile (CIDv1, sha2-256, raw leaves, 1 MiB chunks, balanced layout of 1024 links, HAMT sharding by block
 * size), built from leaves the caller hashes, and read back with every block verified. See docs/format.md.
 */
export * from './constants.js'
export { DEFAULT_SHARD_SPLIT_STRATEGY, type ShardSplitStrategy } from './constants.js'
export { rawLeafCid, leafRef, sha256, EMPTY_FILE_CID, type Block, type NodeRef } from './cid.js'
export { FileBuilder, buildFile, type FileLayoutOptions, type BuildResult } from './file-builder.js'
export {
  buildDirectory, buildSymlink, estimateDirectorySize, EMPTY_DIRECTORY_CID,
  type DirEntry, type DirectoryOptions, type EntryType
} from './directory.js'
export { hamtSlot } from './hamt.js'
export { MAX_NAME_BYTES, MAX_PATH_BYTES, nameProblem, pathProblem, pathUnder, peerNameProblem, symlinkTargetProblem } from './names.js'
export { checkCid } from './cid.js'
export {
  walkDag, fileLeaves, listDirectory,
  type GetBlock, type DagEntry, type DirectoryLink, type FileLeaf, type ReadOptions
} from './reader.js'
