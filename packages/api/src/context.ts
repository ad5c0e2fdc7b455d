/**
 * What the API's routes need from the daemon, as a narrow interface: the daemon gives its own
 * (`fromDaemon`), the OpenAPI script and unit tests give small stand-ins.
 */
import type { EventBus, NamedPeer, PeerState } from '@ferry/node'

/** The daemon, as the routes see it. */
export interface ApiContext {
  /** The home directory. */
  home: string
  version: string
  /** PeerId, listening addresses and start time of the node. */
  node: () => { peerId: string, addresses: string[], started: string }
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
}
