import type { Block, NodeRef } from '../format/index.js'
import type { CID } from 'multiformats/cid'

/** Something left out of a scan, and why. `code` is an errno (EACCES, EIO, ENOENT) or a Ferry code. */
export interface SkippedEntry {
  /** Relative path inside the scan, '/'-separated. */
  path: string
  code: string
  message: string
}

/** One entry of a scan with the metadata the DAG does not carry (mode, mtime). */
export interface ImportedEntry {
  /** Relative path, '/'-separated; '' for the scan's root directory. */
  path: string
  type: 'file' | 'directory' | 'symlink'
  /** File bytes (0 for directories and symlinks). */
  size: number
  mode: number
  mtimeMs: number
  cid: CID
  /** Symlink target, as stored. */
  target?: string
}

/** Where a leaf's bytes live in a source file. */
export interface LeafLocation {
  cid: CID
  offset: number
  length: number
}

/**
 * Where an import puts what it produces. The importer never stores file content: only inner DAG nodes
 * (`putBlocks`), the entry list and the leaf index (`addSource`).
 */
export interface ImportSink {
  putBlocks: (blocks: Block[]) => void | Promise<void>
  addEntry: (entry: ImportedEntry) => void
  addSource: (absPath: string, size: number, mtimeMs: number, leaves: LeafLocation[]) => void
}

export type ImportProgressEvent =
  | { type: 'import:file', path: string, size: number }
  | { type: 'import:directory', path: string }
  | { type: 'import:skipped', entry: SkippedEntry }

export interface ImportResult {
  root: CID
  ref: NodeRef
  files: number
  /** Directories, the root included. */
  directories: number
  symlinks: number
  /** File bytes imported. */
  bytes: number
  skipped: SkippedEntry[]
}

/** Shared memory that hash workers read a slice into (`LeafKeeper`). */
export interface LeafRoom {
  buffer: SharedArrayBuffer
  offset: number
  length: number
}

/**
 * Where an import keeps the leaves it hashes, to serve them without reading the file again (a daemon's
 * cache of just-published leaves): the workers read each slice into a room it reserves, and it learns the
 * digests of the chunks there once they are hashed.
 */
export interface LeafKeeper {
  /** Room for a slice of `length` bytes, or undefined: this slice is not kept. */
  reserve: (length: number) => LeafRoom | undefined
  /**
   * The workers are done with `room`: its chunks (`chunkSize` bytes each, the last shorter) hashed to
   * `digests` (32 bytes each), or undefined when the slice could not be read.
   */
  settle: (room: LeafRoom, chunkSize: number, digests?: Uint8Array) => void
}
