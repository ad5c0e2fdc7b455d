import type { OpenEntriesAnswer, Publication, RemoteCatalogRow, CatalogPage, ListCatalogOptions, WatchAnnouncementsOptions } from '@ferry/exchange'
import type { BlockPeer, PullProgressEvent, PullResult } from '@ferry/transfer'
import type { CID } from 'multiformats/cid'

/**
 * A connected source as the follow engine needs it: blocks and scans (what a pull needs), an open scan's
 * entries, the catalog and the announcements. `PeerClient` of @ferry/exchange is one.
 */
export interface FollowPeer extends BlockPeer {
  openEntries: (key: CID, fromSeq: number, max: number, options?: { signal?: AbortSignal }) => Promise<OpenEntriesAnswer>
  listCatalog: (options?: ListCatalogOptions) => AsyncIterable<CatalogPage>
  watchPublications: (options?: WatchAnnouncementsOptions) => AsyncIterable<Publication>
}

/** A source to follow from: a label for messages and how to (re)connect to it. */
export interface FollowPeerSpec {
  label: string
  connect: (signal: AbortSignal) => Promise<FollowPeer>
}

/** An open scan as a catalog row names it: its key (the row's root) and its identity. */
export type OpenScanRow = Pick<RemoteCatalogRow, 'root' | 'collection' | 'name' | 'origin' | 'created'>

/** Where one followed open scan stands: the shape `ferry task`, `ferry subscriptions` and the API show. */
export interface OpenScanStatus {
  collection: string
  name: string
  /** Entries the source published so far (that this follower has seen). */
  published: number
  /** Of the latest version of each path, those placed here verified. */
  arrived: number
  /** ms from the publication of the latest file that arrived to its verified arrival here; null before the first. */
  lagMs: number | null
  /** Bytes of the latest versions seen and not yet placed. */
  backlogBytes: number
}

/** Typed progress of a follow. */
export type FollowProgressEvent =
  /** A scan of the collection learned of: open (followed file by file) or sealed (pulled as any scan). */
  | { type: 'follow:scan', name: string, key: string, state: 'open' | 'sealed' }
  /** A file placed, verified; `lagMs` from its publication at the origin; `fetched` bytes came from the peer. */
  | { type: 'follow:file', name: string, path: string, seq: number, size: number, lagMs: number, fetched: number }
  /** An entry not fetched: already here (journal) or superseded by a later version of the same path. */
  | { type: 'follow:skip', name: string, path: string, seq: number, reason: 'journal' | 'superseded' }
  /** A version the source no longer serves (rewritten since): the next version, or the seal, replaces it. */
  | { type: 'follow:stale', name: string, path: string, seq: number, message: string }
  /** A file at the destination that this follow did not place (or that changed since): never replaced. */
  | { type: 'follow:conflict', name: string, path: string, seq: number }
  /** Temporary files a follower killed outright left in the scan's directory, removed at the start. */
  | { type: 'follow:swept', name: string, paths: string[] }
  /** The source is unreachable (retrying) or connected again. */
  | { type: 'follow:peer', peer: string, state: 'down' | 'connected', message?: string }
  /** The scan was sealed, its root verified and the replica recorded (`result` of the pull of the root). */
  | { type: 'follow:sealed', name: string, root: string, result: PullResult | null }
  /** Progress of the pull that verifies a sealed scan (or pulls a scan already sealed). */
  | { type: 'follow:pull', name: string, event: PullProgressEvent }
  /** The status of one open scan, after each change. */
  | { type: 'follow:status', key: string, status: OpenScanStatus }
