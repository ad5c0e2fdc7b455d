import type { HashPool } from '@ferry/dag'
import type { Catalog, InnerBlocks } from '@ferry/store'
import type { CID } from 'multiformats/cid'
import type { InflightBudget } from './inflight.js'
import type { PeerSpec, PullPhase, PullProgressEvent } from './types.js'

/** What `pull()` replicates, from where, into where, and how. */
export interface PullOptions {
  root: CID
  dest: string
  /** Where to fetch from; tried in parallel. May be empty when this node already has everything. */
  peers: PeerSpec[]
  /** The local node: its catalog (scans, leaf index, pull journal) and inner-block store. */
  home: { catalog: Catalog, blocks: InnerBlocks }
  signal?: AbortSignal
  onProgress?: (event: PullProgressEvent) => void
  /** Leaf requests in flight per peer (spread over its connections). */
  window?: number
  /**
   * Files the reconcile sorts at once, and leaves the work queue holds not yet written (default
   * DEFAULT_QUEUE_WINDOW): what the plan holds in memory follows this, not the size of the scan.
   */
  planWindow?: number
  /**
   * Bytes of leaves in flight (asked of a peer and not yet written) shared with other pulls: each leaf
   * waits for its share before it is asked for, on top of `window`. Default: none (only `window` bounds it).
   */
  inflight?: InflightBudget
  /** Connections opened to each peer for leaf requests, 1 .. MAX_CONNECTIONS_PER_PEER; default DEFAULT_CONNECTIONS. */
  connections?: number
  /** Give up when no leaf has arrived for this long (peers are retried with backoff meanwhile). */
  deadlineMs?: number
  /** Re-hash files already at the destination instead of trusting size and mtime. */
  checksum?: boolean
  /** Make each file's data durable (fsync) before its name appears; default false, as rsync. */
  fsync?: boolean
  checkpointMs?: number
  checkpointBytes?: number
  pool?: HashPool
  /**
   * Recreate symlinks whose target is absolute or climbs out of `dest` (see docs/security.md). Default false:
   * such links are not created and are reported as ERR_UNSAFE_SYMLINK problems.
   */
  allowEscapingSymlinks?: boolean
  /** Free space to leave on the destination, in bytes (default: 1% of its filesystem, at most 64 MiB). */
  spaceMarginBytes?: number
  /**
   * Stop once this phase is done and journaled (a task that plans now and fetches later): the result then
   * says `complete: false` and `phase`. A later pull of the same root into the same dest goes on from there.
   */
  stopAfter?: PullPhase
}
