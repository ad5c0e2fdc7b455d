import type { OpenScanStatus } from '@ferry/follow'
import type { Catalog, InnerBlocks, TaskCondition, TaskEvent, TaskFileFailure, TaskRecord } from '@ferry/store'
import type { BlockPeer } from '@ferry/transfer'

/** A request for a replication: pull `root` into `destination` from `sources`. */
export interface TaskRequest {
  /** The scan's root CID. */
  root: string
  /** Absolute (or resolved against the daemon's working directory) destination directory. */
  destination: string
  /** Multiaddrs of the peers to fetch from, each ending in /p2p/<PeerId>. */
  sources: string[]
  label?: string
  /** The scan's collection, when the requester knows it (chooses the default hook before the record is in). */
  collection?: string
  /** When to give up: an absolute time (ISO 8601 or ms since the epoch). Default: `deadlineMs` from now. */
  deadline?: string | number
  /** Relative deadline, also used again by `retry` once the first has passed (default DEFAULT_TASK_DEADLINE_MS). */
  deadlineMs?: number
  /** Shell command run when the task ends (overrides the collection's hook in config.json). */
  onDone?: string
  /** Pull options: re-hash files already in place, fsync before placing, allow escaping symlinks. */
  checksum?: boolean
  fsync?: boolean
  allowEscapingSymlinks?: boolean
}

/** A task with the last error of every entry that did not succeed (the first FILE_ERRORS_SHOWN). */
export interface TaskDetail extends TaskRecord {
  fileErrors: TaskFileFailure[]
  /**
   * The open scans whose files were followed into the task's destination before its seal (a subscription's
   * task of a followed scan), from the follow journal; empty for any other task.
   */
  openScans: OpenScanStatus[]
}

/** A live update: a task's record changed (at most every TASK_PERSIST_MS while it runs), or an event was logged. */
export type TaskUpdate =
  | { type: 'task', task: TaskRecord }
  | { type: 'event', event: TaskEvent }

/**
 * The daemon's durable tasks: what the HTTP API (and tests) call. Every method is synchronous against the
 * catalog except `close`; running happens in the background.
 */
export interface TaskService {
  /**
   * Queues a task, or returns the live (QUEUED or ACTIVE) task for the same root and destination with
   * `existing: true`. ERR_INVALID_CID / ERR_INVALID_ARGUMENT for a bad request.
   */
  create: (request: TaskRequest) => { task: TaskRecord, existing: boolean }
  /** Tasks newest first, optionally of some conditions only. */
  list: (options?: { conditions?: TaskCondition[], limit?: number }) => TaskRecord[]
  /** One task with its entries' last errors; undefined if unknown. */
  get: (taskId: string) => TaskDetail | undefined
  /** The task's event log, oldest first (after event id `after`). ERR_NOT_FOUND for an unknown task. */
  events: (taskId: string, options?: { after?: number, limit?: number }) => TaskEvent[]
  /** Stops a task at once: CANCELLED (a final task is returned unchanged). ERR_NOT_FOUND if unknown. */
  cancel: (taskId: string) => TaskRecord
  /**
   * Queues a FAILED or CANCELLED task again; the pull then fetches only what is not in place yet. A
   * deadline that has passed is renewed (`deadlineMs`, default the task's own). ERR_INVALID_ARGUMENT for
   * a live or SUCCEEDED task, or when another live task holds the same root and destination.
   */
  retry: (taskId: string, options?: { deadlineMs?: number }) => TaskRecord
  /** Calls `listener` on every update until the returned function is called. */
  subscribe: (listener: (update: TaskUpdate) => void) => () => void
  /** Resolves when the task reaches one of `conditions` (default any final one); rejects if `signal` aborts. */
  waitFor: (taskId: string, options?: { conditions?: TaskCondition[], signal?: AbortSignal }) => Promise<TaskRecord>
  /**
   * Stops running: pulls are aborted and their tasks stay ACTIVE (resumed by the next service on this home),
   * hooks still running are killed. Idempotent.
   */
  close: () => Promise<void>
}

/** How a task's pull asks the daemon's node for a connection. */
export interface TaskDialOptions { own?: boolean, shareOf?: number }

/** What `createTaskService` needs. */
export interface TaskServiceInit {
  /** The daemon's open home: the catalog holds the tasks, the config the default hooks. */
  home: { dir: string, catalog: Catalog, blocks: InnerBlocks }
  /**
   * Connects to a source (the daemon's own libp2p node: `node.dialPeer(addr, { signal, ...options })`);
   * `own`: a connection of its own, one of `shareOf` to that source (PeerSpec's ConnectOptions).
   */
  dialPeer: (addr: string, signal: AbortSignal, options?: TaskDialOptions) => Promise<BlockPeer>
  /** Connections per source of each pull (default: the engine's DEFAULT_CONNECTIONS). */
  connections?: number
  /**
   * Bytes of leaves the running tasks' pulls may have in flight together (asked of a peer and not yet
   * written), one budget shared by all of them (default DEFAULT_TASK_INFLIGHT_BYTES).
   */
  inflightBytes?: number
  /** Tasks run at once (default DEFAULT_TASK_CONCURRENCY). */
  concurrency?: number
  /** Hooks are killed after this long (default DEFAULT_HOOK_TIMEOUT_MS). */
  hookTimeoutMs?: number
  /** Default hooks per collection; default: read from the home's config.json (`hooks`) when a task ends. */
  hooks?: () => Promise<Record<string, string> | undefined>
  /** Backoff between runs of a task after a transient failure (defaults TASK_RETRY_INITIAL_MS / _MAX_MS). */
  retryInitialMs?: number
  retryMaxMs?: number
  /** Counters are persisted at most this often (default TASK_PERSIST_MS). */
  persistMs?: number
  /** How often the catalog is looked at for tasks queued or cancelled by other processes (default TASK_POLL_MS). */
  pollMs?: number
  /** Stops the service, as `close`. */
  signal?: AbortSignal
  /** One-line status messages (task started, ended, hook failed). Default: none. */
  log?: (line: string) => void
}
