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
  /** Where this node writes now (live tasks, subscriptions), each with its filesystem's free space. */
  destinations: Array<Space & { use: Array<'task' | 'subscription'> }>
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

/**
 * A durable task, its failed entries and its log as @ferry/store records them, a task with its failed
 * entries (GET /v1/tasks/{id}) and a standing rule with its state (GET /v1/subscriptions) as @ferry/tasks
 * makes them: the same types, imported for their shape only (esbuild drops type imports, so nothing of the
 * daemon's code reaches the browser).
 */
export type { TaskCondition, TaskEvent, TaskFileFailure, TaskRecord } from '@ferry/store'
export type { TaskDetail, SubscriptionView as Subscription, SourceView as SubscriptionSource } from '@ferry/tasks'
