import type { Stats } from 'node:fs'
import { FerryError } from '@ferry/errors'
import { DEFAULT_CHUNK_SIZE, type Block, type DirEntry, type NodeRef, type ShardSplitStrategy } from '../format/index.js'
import { HashPool, DEFAULT_QUEUE_PER_WORKER } from './hash-pool.js'
import { Semaphore } from './semaphore.js'
import type { ImportProgressEvent, ImportResult, ImportSink, LeafKeeper, SkippedEntry } from './types.js'

/** Chunks hashed per worker request: large enough to amortise messaging, small enough to spread a big file. */
export const DEFAULT_CHUNKS_PER_TASK = 16

export interface ImportOptions {
  /** Leaf size in bytes; default 1 MiB. */
  chunkSize?: number
  /** Max links per file node; default 1024 (unixfs-v1-2025). */
  maxChildren?: number
  /** HAMT threshold; default 256 KiB (unixfs-v1-2025). */
  shardSplitThresholdBytes?: number
  /** How a directory's size is estimated against the threshold; default 'block-bytes' (unixfs-v1-2025). */
  shardSplitStrategy?: ShardSplitStrategy
  /** A pool to share; otherwise one is created (and closed) for this import. */
  pool?: HashPool
  /** Files hashed concurrently; default 4 per hashing worker, at least 8. */
  concurrency?: number
  sink?: ImportSink
  /** Keeps the leaves as they were hashed (read into its shared memory), e.g. to serve them from there. */
  keepLeaves?: LeafKeeper
  signal?: AbortSignal
  onProgress?: (event: ImportProgressEvent) => void
}

/** A directory being imported: built once its listing and every child are done. */
export interface DirState {
  rel: string
  name: string
  stat: Stats
  entries: DirEntry[]
  /** Children not yet done, plus one while the listing runs. */
  pending: number
  parent?: DirState
}

/** One entry of a listing, named three ways. */
export interface Child {
  /** Its name in the parent directory. */
  name: string
  /** Its path on this machine. */
  abs: string
  /** Its path inside the scan, '/'-separated. */
  rel: string
}

/** A regular file found by the walk, with the stat taken before it is hashed. */
export interface FileJob extends Child {
  stat: Stats
}

/** What one import shares between its steps: the resolved options, the counters and what is in flight. */
export interface ImportRun {
  readonly options: ImportOptions
  readonly chunkSize: number
  /** Bytes hashed per worker request. */
  readonly taskBytes: number
  readonly sink: ImportSink
  readonly signal?: AbortSignal
  readonly pool: HashPool
  /** True when the pool was created for this import (and is closed with it). */
  readonly ownPool: boolean
  /** Files in flight. */
  readonly sem: Semaphore
  readonly emit: (event: ImportProgressEvent) => void
  readonly result: Omit<ImportResult, 'root' | 'ref'>
  /** Inner-block writes not yet settled. */
  readonly writes: Set<Promise<void>>
  /** Settles with the root directory's node once it is built, or with the import's failure. */
  readonly root: Promise<NodeRef>
  readonly resolveRoot: (ref: NodeRef) => void
  readonly rejectRoot: (err: unknown) => void
  /** The first error that ends the import. */
  failure: unknown
}

const NULL_SINK: ImportSink = { putBlocks: () => {}, addEntry: () => {}, addSource: () => {} }

/** The state of a new import with `options`; creates a hash pool unless one is given. */
export function startRun (options: ImportOptions): ImportRun {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  const pool = options.pool ?? new HashPool()
  let resolveRoot!: (ref: NodeRef) => void
  let rejectRoot!: (err: unknown) => void
  const root = new Promise<NodeRef>((resolve, reject) => { resolveRoot = resolve; rejectRoot = reject })
  root.catch(() => {})
  return {
    options,
    chunkSize,
    taskBytes: chunkSize * DEFAULT_CHUNKS_PER_TASK,
    sink: options.sink ?? NULL_SINK,
    signal: options.signal,
    pool,
    ownPool: options.pool == null,
    sem: new Semaphore(options.concurrency ?? Math.max(8, pool.size * DEFAULT_QUEUE_PER_WORKER)),
    emit: options.onProgress ?? (() => {}),
    result: { files: 0, directories: 0, symlinks: 0, bytes: 0, skipped: [] },
    writes: new Set(),
    root,
    resolveRoot,
    rejectRoot,
    failure: undefined
  }
}

/** Ends the import with `err`, unless it already failed. */
export function fail (run: ImportRun, err: unknown): void {
  if (run.failure !== undefined) return
  run.failure = err
  run.rejectRoot(err)
}

/** The error an aborted import ends with. */
export function abortError (signal?: AbortSignal): FerryError {
  return new FerryError('ERR_ABORTED', 'Import aborted', { cause: signal?.reason })
}

/** Throws the import's failure, after recording an abort as one. */
export function checkAbort (run: ImportRun): void {
  if (run.signal?.aborted === true) fail(run, abortError(run.signal))
  if (run.failure !== undefined) throw run.failure
}

/** Hands inner blocks to the sink without waiting; a write that fails ends the import. */
export function put (run: ImportRun, blocks: Block[]): void {
  if (blocks.length === 0) return
  const p = Promise.resolve(run.sink.putBlocks(blocks)).catch((err) => { fail(run, err) }).finally(() => run.writes.delete(p))
  run.writes.add(p)
}

function skipReason (code: string, err?: Error): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM': return 'permission denied'
    case 'EIO': return 'I/O error while reading'
    case 'ENOENT': return 'vanished before it could be read'
    case 'ERR_CHANGED': return `changed while being read${err != null ? ` (${err.message})` : ''}`
    default: return err?.message ?? code
  }
}

/** Records `path` as left out of the scan, and says so. */
export function skip (run: ImportRun, path: string, code: string, err?: Error): void {
  const entry: SkippedEntry = { path, code, message: skipReason(code, err) }
  run.result.skipped.push(entry)
  run.emit({ type: 'import:skipped', entry })
}
