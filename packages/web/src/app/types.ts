/** The API's answers as the page reads them (docs/api.md; docs/api.openapi.json is the contract). */

export interface Space { path: string, available: number, total: number }

export interface NodeInfo {
  name: string
  peerId: string
  addresses: string[]
  version: string
  home: string
  started: string
  api: string
  space: Space
}

export interface PeerState { state: 'connected' | 'disconnected' | 'unreachable' | 'refused' | 'unknown', since: string | null, reason: string | null }

export interface Peer { name: string, id: string, addrs: string[], trusted: boolean, state: PeerState }

export interface CatalogRow {
  root: string
  collection: string | null
  name: string
  origin: string
  files: number
  directories: number
  symlinks: number
  bytes: number
  created: string
  skipped: number
  state: 'sealed' | 'open'
  held: boolean
}

export interface CatalogPage { rows: CatalogRow[], next: string | null }

/** Where a task is in its life (@ferry/store `TaskCondition`). */
export type TaskCondition = 'QUEUED' | 'ACTIVE' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED'

/**
 * A durable task as @ferry/tasks records it (@ferry/store `TaskRecord`, mirrored here because the browser
 * code imports nothing of the daemon's). The task routes are not in the API yet: the views render this
 * shape from `GET /v1/tasks` (`{ tasks: TaskRecord[] }`) and `GET /v1/tasks/{id}` once they exist.
 */
export interface TaskRecord {
  taskId: string
  label: string | null
  root: string
  sources: string[]
  destination: string
  collection: string | null
  condition: TaskCondition
  requested: string
  started: string | null
  completed: string | null
  deadline: string
  files: number
  directories: number
  bytesTotal: number
  bytesTransferred: number
  pending: number
  succeeded: number
  failed: number
  retrying: number
  skipped: number
  cancelled: number
  /** Bytes per second over the time the task was ACTIVE. */
  effectiveSpeed: number
  /** Expected completion at the effective speed, or null. */
  eta: string | null
  attempts: number
  reason: { code: string, message: string } | null
  updated: string
}

/** The last error of an entry that did not succeed (@ferry/store `TaskFileFailure`). */
export interface TaskFileFailure { path: string, code: string, message: string, when: string, attempts: number }

/** A task with its failed entries (@ferry/tasks `TaskDetail`). */
export interface TaskDetail extends TaskRecord { fileErrors: TaskFileFailure[] }

/** One event of a task's log (@ferry/store `TaskEvent`). */
export interface TaskEvent { id: number, taskId: string, time: string, kind: string, message: string }
