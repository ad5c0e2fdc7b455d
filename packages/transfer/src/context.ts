import { resolve } from 'node:path'
import { HashPool } from '@ferry/dag'
import type { Catalog, InnerBlocks, PullPlan } from '@ferry/store'
import type { CID } from 'multiformats/cid'
import { DEFAULT_DEADLINE_MS } from './constants.js'
import type { PullOptions } from './options.js'
import { PeerState } from './peers.js'
import type { Staging } from './staging.js'
import type { PullProblem, PullProgressEvent } from './types.js'

/** Byte counters of one run, as PullResult reports them. */
export interface PullCounters {
  bytesFetched: number
  bytesLocal: number
  bytesPresent: number
  bytesResumed: number
  fromPeers: Record<string, number>
  /** Bytes fetched per peer id and connection index. */
  fromConnections: Record<string, number[]>
  /** When a leaf last arrived or was written (the fetch deadline counts from it). */
  lastProgress: number
  /** Rows this run wrote to the catalog's placed_files (one per file placed or adopted; `pull:held`). */
  placedRows: number
}

/**
 * What every phase of one pull shares: the options, the abort controller (a fatal error in any phase
 * aborts every worker), the peers, the counters and the problems found so far.
 */
export interface PullContext {
  readonly options: PullOptions
  readonly root: CID
  /** Absolute destination. */
  readonly dest: string
  readonly catalog: Catalog
  readonly blocks: InnerBlocks
  readonly emit: (event: PullProgressEvent) => void
  readonly controller: AbortController
  readonly signal: AbortSignal
  readonly peers: PeerState[]
  readonly deadlineMs: number
  readonly started: number
  readonly counters: PullCounters
  readonly problems: PullProblem[]
  /** The hash pool: the caller's, or one made on first use (`ownPool`) and closed by `closeContext`. */
  pool: () => HashPool
  hashPool?: HashPool
  readonly ownPool: boolean
  /** The staging once the fetch phase opened it: closed on every way out. */
  staging?: Staging
  /** Set by reconcile: the destination did not exist before this run. */
  freshDest: boolean
  /** The plan on disk (entries, files and leaves, placed stats), once the record phase opened it: closed by `closeContext`. */
  table?: PullPlan
}

/** A context for `options`; `closeContext` must follow, whatever happens. */
export function createContext (options: PullOptions): PullContext {
  const emit = options.onProgress ?? (() => {})
  const controller = new AbortController()
  const outer = options.signal
  if (outer?.aborted === true) controller.abort(outer.reason)
  else outer?.addEventListener('abort', () => { controller.abort(outer.reason) }, { once: true, signal: controller.signal })
  const ctx: PullContext = {
    options,
    root: options.root,
    dest: resolve(options.dest),
    catalog: options.home.catalog,
    blocks: options.home.blocks,
    emit,
    controller,
    signal: controller.signal,
    peers: options.peers.map((spec) => new PeerState(spec, emit)),
    deadlineMs: options.deadlineMs ?? DEFAULT_DEADLINE_MS,
    started: performance.now(),
    counters: { bytesFetched: 0, bytesLocal: 0, bytesPresent: 0, bytesResumed: 0, fromPeers: {}, fromConnections: {}, lastProgress: Date.now(), placedRows: 0 },
    problems: [],
    pool: () => (ctx.hashPool ??= new HashPool()),
    ...(options.pool != null ? { hashPool: options.pool } : {}),
    ownPool: options.pool == null,
    freshDest: false
  }
  return ctx
}

/** Closes what the pull opened: the staging's handles, the peers' connections, a pool it made itself. */
export async function closeContext (ctx: PullContext): Promise<void> {
  if (!ctx.signal.aborted) ctx.controller.abort() // detaches from the caller's signal
  await ctx.staging?.close(false)
  ctx.table?.close()
  await Promise.all(ctx.peers.map(async (p) => { await p.close() }))
  if (ctx.ownPool) await ctx.hashPool?.close()
}
