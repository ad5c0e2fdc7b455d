import type { CID } from 'multiformats/cid'
import type { GetBlock } from '../format/index.js'
import { HashPool, DEFAULT_QUEUE_PER_WORKER } from '../import/hash-pool.js'
import { Semaphore } from '../import/semaphore.js'
import type { VerifyOptions, VerifyProgressEvent, VerifyResult } from './types.js'

/** What one verification shares between its steps: the reference, the pool, the result and what is in flight. */
export interface VerifyRun {
  readonly get: GetBlock
  readonly signal?: AbortSignal
  readonly readLeaf?: VerifyOptions['readLeaf']
  readonly pool: HashPool
  /** True when the pool was created for this verification (and is closed with it). */
  readonly ownPool: boolean
  /** Files compared at once. */
  readonly sem: Semaphore
  readonly emit: (event: VerifyProgressEvent) => void
  readonly result: VerifyResult
  /** File comparisons not yet settled. */
  readonly inflight: Set<Promise<void>>
  /** The first error that ends the verification. */
  failure: unknown
}

/** The state of a new verification against `root`; creates a hash pool unless one is given. */
export function startVerify (root: CID, get: GetBlock, options: VerifyOptions): VerifyRun {
  const pool = options.pool ?? new HashPool()
  return {
    get,
    signal: options.signal,
    readLeaf: options.readLeaf,
    pool,
    ownPool: options.pool == null,
    sem: new Semaphore(options.concurrency ?? Math.max(8, pool.size * DEFAULT_QUEUE_PER_WORKER)),
    emit: options.onProgress ?? (() => {}),
    result: { ok: false, root, files: 0, directories: 0, symlinks: 0, bytes: 0, differences: [] },
    inflight: new Set(),
    failure: undefined
  }
}
