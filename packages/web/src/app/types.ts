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

/** A file a task could not transfer. */
export interface FailedFile { path: string, reason: string }

/** One entry of a task's event log. */
export interface TaskLogEntry { at: string, message: string }

/**
 * A durable task as issue 11 describes its record. The task service is not on this daemon yet: every field
 * is optional here, and the views show what is there.
 */
export interface TaskRecord {
  taskId: string
  label?: string
  state?: string
  sources?: string[]
  destination?: string
  condition?: string
  requested?: string
  completed?: string | null
  deadline?: string | null
  files?: { total?: number, pending?: number, succeeded?: number, failed?: number, retrying?: number, skipped?: number, cancelled?: number }
  bytes?: { total?: number, transferred?: number }
  /** Bytes per second over the task's active time. */
  speed?: number
  log?: TaskLogEntry[]
  failed?: FailedFile[]
}
