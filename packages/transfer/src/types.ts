import type { CID } from 'multiformats/cid'
import type { SkippedEntry } from '@ferry/dag'
import type { RemoteScanRecord, ScanEntry } from '@ferry/exchange'

/**
 * What a peer answered for one block. `ok` bytes were already hashed and match the CID. A looser form of
 * @ferry/exchange's BlockResult (chunks and message optional), so any source can implement a BlockPeer.
 */
export type BlockResult =
  /** `chunks`, when given, are the same bytes as they arrived: written with writev, they skip a copy. */
  | { status: 'ok', bytes: Uint8Array, chunks?: Uint8Array[] }
  | { status: 'missing' | 'changed' | 'denied' | 'bad', message?: string }

/** A scan's record as peers exchange it (the wire type of @ferry/exchange). */
export type ScanInfo = RemoteScanRecord

/**
 * One entry of a scan's signed entry list: its DAG node plus the metadata the DAG does not carry (modes,
 * mtimes). The CID is what ties the signed list to the DAG.
 */
export type ScanEntryInfo = ScanEntry

/**
 * A connected peer as the pull engine needs it: block requests (many may be outstanding; the
 * implementation batches and pipelines them) and the scan record. Throws FerryError ERR_TIMEOUT,
 * ERR_NETWORK or ERR_PEER_REFUSED when the peer fails as a whole.
 */
export interface BlockPeer {
  readonly id: string
  get: (cid: CID, options?: { signal?: AbortSignal }) => Promise<BlockResult>
  getScan: (root: CID, options?: { signal?: AbortSignal }) => Promise<{ record: ScanInfo, entries: AsyncIterable<ScanEntryInfo> }>
  close: () => Promise<void>
  /**
   * Closes a connection of its own (ConnectOptions.own) for good after a failure on it, where `close`
   * may keep it for the next pull; absent: `close` does.
   */
  discard?: () => Promise<void>
}

/** How a pull asks for a connection to a source. */
export interface ConnectOptions {
  /**
   * A connection of its own (a TCP connection not shared with other clients of that peer, perhaps one an
   * earlier pull left idle), given up with the BlockPeer: the pull's extra connections to one source
   * (PullOptions.connections).
   */
  own?: boolean
}

/** A source to pull from: a label for messages (its address) and how to (re)connect to it. */
export interface PeerSpec {
  label: string
  connect: (signal: AbortSignal, options?: ConnectOptions) => Promise<BlockPeer>
}

export type PullProgressEvent =
  | { type: 'pull:plan', files: number, bytes: number, missingBytes: number, presentBytes: number, missingFiles: number }
  | { type: 'pull:bytes', peer: string, bytes: number }
  | { type: 'pull:local', bytes: number }
  | { type: 'pull:file', path: string, size: number }
  /** `peer`: its PeerId once known, else its label; `label`: the PeerSpec's label, the same in every event. */
  | { type: 'pull:peer', peer: string, label?: string, state: 'connected' | 'down' | 'retrying' | 'banned' | 'refused' | 'gone', message?: string }
  | { type: 'pull:checkpoint', bytes: number }
  /**
   * Once, when the finish phase ends: the most the plan held at once. `reconcileFiles`: destination stats
   * in one reconcile window; `stagedFiles`: files being written; `queuedLeaves`: leaves taken, not written.
   * `entries`, `dagFiles`, `placedFiles`: rows of the plan on disk in memory at once (signed entries being
   * written or read, file rows in its page cache, placed marks being written or read). Each follows
   * `PullOptions.planWindow`, not the size of the scan. `placedRows`: rows this run wrote to the catalog's
   * placed_files, once per file it placed or adopted; `stagedLookups`: earlier runs' staged files it
   * lstat'ed to resume them (those in the staging directory). Counts, not bounds. Emitted once, by the finish phase.
   */
  | { type: 'pull:held', reconcileFiles: number, stagedFiles: number, queuedLeaves: number, entries: number, dagFiles: number, placedFiles: number, placedRows: number, stagedLookups: number }
  /**
   * One of the extra connections to a source (`connection` 1 .. connections - 1; connection 0 is the peer's
   * own, reported by `pull:peer`) came up or was lost; a lost one is redialled, its requests asked on the others.
   */
  | { type: 'pull:connection', peer: string, label: string, connection: number, state: 'connected' | 'down', message?: string }

/** A file not placed at the destination, and why. */
export interface PullProblem {
  path: string
  code: 'ERR_CONFLICT' | 'ERR_UNAVAILABLE' | 'ERR_CHANGED_AT_SOURCE' | 'ERR_MISSING_AT_SOURCE' | 'ERR_UNSAFE_SYMLINK'
  message: string
}

export interface PullResult {
  root: string
  dest: string
  /** Every file in the scan is in place and verified, and none was missing at the source. */
  complete: boolean
  files: number
  directories: number
  symlinks: number
  /** File bytes in the scan. */
  bytes: number
  /** Bytes received from peers in this run. */
  bytesFetched: number
  /** Bytes copied from files this node already had (verified). */
  bytesLocal: number
  /** Bytes already in place at the destination before this run. */
  bytesPresent: number
  /** Bytes an interrupted run had staged that re-verified and were kept (not fetched again). */
  bytesResumed: number
  /** Bytes fetched per peer id. */
  fromPeers: Record<string, number>
  /**
   * Bytes fetched per peer id and connection (index 0 .. connections - 1; a redialled connection keeps its
   * index). Absent when nothing was fetched (a no-op, a run stopped before the fetch).
   */
  fromConnections?: Record<string, number[]>
  /** Entries the origin skipped (missing at source). */
  skipped: SkippedEntry[]
  /** Files that exist at the destination with other content (not overwritten), or could not be fetched. */
  problems: PullProblem[]
  /** Time spent before the first leaf was requested: scan record, DAG walk, reconcile, space check. */
  planSeconds: number
  seconds: number
  /** The last phase this run completed ('finish' when it ran to the end; another with `stopAfter`). */
  phase?: PullPhase
  /**
   * Per phase this run went through: wall seconds, and CPU seconds of the whole process (every thread) meanwhile.
   * The record's includes the quick no-op check. Absent for a fast no-op (no phase ran).
   */
  phaseTimes?: Partial<Record<PullPhase, PhaseTime>>
}

/** Where a phase's time went: wall seconds, and the process's CPU seconds (user + system, all threads) meanwhile. */
export interface PhaseTime { seconds: number, cpuSeconds: number }

/**
 * The phases of the pull engine, in order (docs/architecture.md, "Pull"). Each is journaled when done
 * (`PullRecord.phase`); `PullOptions.stopAfter` ends a run after one.
 */
export const PULL_PHASES = ['record', 'dag', 'reconcile', 'space', 'fetch', 'place', 'finish'] as const
export type PullPhase = typeof PULL_PHASES[number]
