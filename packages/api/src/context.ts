/**
 * What the API's routes need from the daemon, as a narrow interface: the daemon gives its own
 * (`fromDaemon`), the OpenAPI script and unit tests give small stand-ins.
 */
import type { EventBus, NamedPeer, PeerState } from '@ferry/node'
import type { SubscriptionService } from '@ferry/tasks'

/** What GET /v1/peers/:name/catalog asks a peer for. */
export interface RemoteCatalogQuery {
  collection?: string
  prefix?: string
  /** The previous page's `next`; none for the first page. */
  cursor?: Uint8Array
  limit: number
}

/** A page of a remote catalog: rows as the peer sent them (`created` in ms), and the next cursor (empty: last). */
export interface RemoteCatalogPage {
  rows: Array<{ root: string, collection: string | null, name: string, origin: string, files: number, directories: number, symlinks: number, bytes: number, created: number, skipped: number, state: 'sealed' | 'open' }>
  next: Uint8Array
}

/** The daemon, as the routes see it. */
export interface ApiContext {
  /** The home directory. */
  home: string
  version: string
  /** Name (the host's), PeerId, listening addresses and start time of the node. */
  node: () => { name: string, peerId: string, addresses: string[], started: string }
  /** Free and total bytes of the filesystem holding `path` (or its nearest existing ancestor). */
  space: (path: string) => Promise<{ available: number, total: number }>
  /** One page of a named peer's catalog, dialled from this node (`PeerClient.listCatalog`). */
  remoteCatalog: (peer: NamedPeer, query: RemoteCatalogQuery) => Promise<RemoteCatalogPage>
  /** Whether this node holds a complete scan with this root. */
  holds: (root: string) => boolean
  /** The API's base URL, once it listens. */
  url: () => string
  /** Named peers (fresh from config.json). */
  listPeers: () => Promise<NamedPeer[]>
  /** PeerIds this node trusts (fresh from config.json). */
  trusted: () => Promise<string[]>
  addPeer: (name: string, addr: string) => Promise<{ peer: NamedPeer, changed: boolean }>
  removePeer: (name: string) => Promise<NamedPeer>
  /** The daemon's view of a peer. */
  peerState: (id: string) => PeerState
  /** Asks for a check of a peer (added just now); not awaited by the route. */
  checkPeer: (peer: NamedPeer) => void
  events: EventBus
  /** The daemon's subscriptions, once running (undefined: the routes answer 503). */
  subscriptions?: () => SubscriptionService | undefined
}
