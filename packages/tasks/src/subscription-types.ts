import type { Catalog, FerryConfig, StuckScan, SubscriptionRecord, TaskReason } from '@ferry/store'
import type { OpenEntryRow, OpenScanStatus } from '@ferry/follow'
import type { FollowDeps } from './subscription-follow.js'
import type { TaskService } from './types.js'

/** A row of a remote catalog or an announcement, as much of it as a subscription reads. */
export interface CatalogRowLike {
  root: string
  collection: string | null
  name: string
  state: string
  /** PeerId of the origin (an open row's identity needs it). */
  origin?: string
  /** ms since the epoch (an open row's identity needs it). */
  created?: number
}

/** What a subscription with published files yields (`PeerClient.watchPublications`). */
export type PublicationLike = { type: 'scan', row: CatalogRowLike } | { type: 'file', file: OpenEntryRow & { key: { toString: () => string }, collection: string | null, name: string, origin: string, created: number } }

/** The part of a peer client a subscription uses (`PeerClient` from @ferry/exchange). */
export interface CatalogPeer {
  listCatalog: (options: { collection?: string, pageSize?: number, signal?: AbortSignal }) => AsyncIterable<{ rows: CatalogRowLike[] }>
  watchAnnouncements: (options: { collection?: string, onSubscribed?: () => void, signal?: AbortSignal }) => AsyncIterable<CatalogRowLike>
  /** Announcements with published files (ANNOUNCE_SUBSCRIBE_FILES); used when the rule follows open scans. */
  watchPublications?: (options: { collection?: string, onSubscribed?: () => void, signal?: AbortSignal }) => AsyncIterable<PublicationLike>
  close: () => Promise<void>
}

/** A request for a standing rule. */
export interface SubscriptionRequest {
  collection: string
  /** Absolute directory; each scan goes into `<destination>/<scan name>` (subscription-naming.ts). */
  destination: string
  /** Names of the address book or multiaddrs ending in /p2p/<PeerId>; none = every named peer. */
  from?: string[]
  /** Shell command run when each of the rule's tasks ends (as a task's `onDone`). */
  onDone?: string
}

/**
 * Where a watcher of one source is: `connecting` (dialling, subscribing), `listing` (subscribed, catching
 * up from the catalog), `watching` (caught up, announcements arrive), `retrying` (the last session failed:
 * `error`, next try at `retryAt`), `unresolved` (the `--from` value names nobody now).
 */
export type SourceState = 'connecting' | 'listing' | 'watching' | 'retrying' | 'unresolved'

/** One source of a rule, as shown. */
export interface SourceView {
  /** PeerId (null when unresolved). */
  peer: string | null
  name: string | null
  /** The address of the current or last session. */
  addr: string | null
  state: SourceState
  /** ISO 8601: since when in this state. */
  since: string
  error: TaskReason | null
  /** ISO 8601 of the next attempt, when retrying. */
  retryAt: string | null
  /** ISO 8601 of the end of the last complete catalog listing. */
  lastListed: string | null
  /** Scans of the collection in that listing. */
  listed: number
}

/**
 * A rule's state, as Rucio names a rule's: OK (every scan it found is replicated), REPLICATING (tasks
 * queued or active), STUCK (some task FAILED or was CANCELLED: `stuck` says why; or no source can be
 * asked), WAITING (no scan of the collection found yet on any source: none there, or not granted to us).
 */
export type SubscriptionState = 'OK' | 'REPLICATING' | 'STUCK' | 'WAITING'

/** A rule with its state, counts and sources: what the API answers. */
export interface SubscriptionView extends SubscriptionRecord {
  state: SubscriptionState
  /** One line saying why it is in that state. */
  reason: string
  counts: { scans: number, queued: number, active: number, succeeded: number, failed: number, cancelled: number }
  /** The scans whose task FAILED or was CANCELLED (the first STUCK_SHOWN), with the task's reason. */
  stuck: StuckScan[]
  sources: SourceView[]
  /** The open scans followed now: files published vs arrived, the latest file's lag, the backlog. */
  openScans: OpenScanStatus[]
}

/** The daemon's subscriptions: what the HTTP API calls. */
export interface SubscriptionService {
  /**
   * Stores a rule and starts watching its sources, or returns the rule for the same collection and
   * destination (`existing: true`). ERR_USAGE for a `from` naming nobody, ERR_INVALID_ARGUMENT for a
   * relative destination or an empty collection, ERR_CONFLICT when the existing rule has other sources.
   */
  create: (request: SubscriptionRequest) => Promise<{ subscription: SubscriptionView, existing: boolean }>
  /** Every rule with its state, oldest first. */
  list: () => SubscriptionView[]
  get: (id: string) => SubscriptionView | undefined
  /**
   * Stops a rule and forgets it; its tasks go on unless `cancelTasks` (then its QUEUED and ACTIVE tasks
   * are cancelled, their ids returned). ERR_NOT_FOUND for an unknown id.
   */
  remove: (id: string, options?: { cancelTasks?: boolean }) => { subscription: SubscriptionView, cancelled: string[] }
  /** Stops every watcher. Idempotent. */
  close: () => Promise<void>
}

/** What `createSubscriptionService` needs. */
export interface SubscriptionServiceInit {
  catalog: Pick<Catalog, 'subscriptions'>
  tasks: Pick<TaskService, 'create' | 'cancel'>
  /** Connects to a source (the daemon's node: `node.dialPeer(addr, { signal })`). */
  dial: (addr: string, signal: AbortSignal) => Promise<CatalogPeer>
  /** The address book, read fresh (config.json `peers`). */
  peers: () => Promise<FerryConfig['peers']>
  /** This node's PeerId, for the messages that ask a source to grant us a collection. */
  self?: string
  /** Every source's catalog is listed again this often, and the sources resolved again (default SUBSCRIPTION_POLL_MS). */
  pollMs?: number
  /** Backoff between sessions of a source that failed (defaults SUBSCRIPTION_RETRY_INITIAL_MS / _MAX_MS). */
  retryInitialMs?: number
  retryMaxMs?: number
  /** One-line status messages. */
  log?: (line: string) => void
  signal?: AbortSignal
  /** Follow open scans of the rules' collections (the daemon gives it; without it only sealed scans are taken). */
  follow?: FollowDeps
}
