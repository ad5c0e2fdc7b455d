/**
 * @ferry/transfer: replication of a scan into a destination directory from any number of peers, verified,
 * resumable, never overwriting. The network is behind the narrow `BlockPeer` interface.
 */
export { pull, type PullOptions } from './pull.js'
export * from './constants.js'
export { InflightBudget } from './inflight.js'
export { PULL_PHASES } from './types.js'
/** @internal the pull's work queue (exported for its bounded-window test) */
export { WorkQueue, type WorkItem } from './queue.js'
export type { BlockPeer, BlockResult, ConnectOptions, PeerSpec, PhaseTime, PullPhase, PullProblem, PullProgressEvent, PullResult, ScanEntryInfo, ScanInfo } from './types.js'
