import type { CID } from 'multiformats/cid'
import type { DagEntry } from '../format/index.js'
import type { HashPool } from '../import/hash-pool.js'

type EntryType = DagEntry['type']

/** One way in which a directory differs from a root. */
export type Difference =
  | { path: string, kind: 'missing', expected: EntryType }
  | { path: string, kind: 'extra', actual: string }
  | { path: string, kind: 'type', expected: EntryType, actual: string }
  | {
    path: string
    kind: 'changed'
    expectedSize: number
    actualSize: number
    /** Offset of the first byte that differs; with `exact: false`, the start of the first chunk that differs. */
    offset: number
    exact: boolean
  }
  | { path: string, kind: 'target', expected: string, actual: string }
  | { path: string, kind: 'unreadable', code: string, message: string }

export interface VerifyResult {
  ok: boolean
  root: CID
  files: number
  directories: number
  symlinks: number
  /** File bytes hashed and found equal. */
  bytes: number
  differences: Difference[]
}

export type VerifyProgressEvent =
  | { type: 'verify:file', path: string, size: number, ok: boolean }
  | { type: 'verify:difference', difference: Difference }

export interface VerifyOptions {
  pool?: HashPool
  signal?: AbortSignal
  concurrency?: number
  onProgress?: (event: VerifyProgressEvent) => void
  /**
   * The original bytes of a leaf when this node has them (the scan was imported or pulled here), so a
   * change can be located to the exact byte; otherwise only to its chunk.
   */
  readLeaf?: (cid: CID) => Promise<Uint8Array | undefined>
}
