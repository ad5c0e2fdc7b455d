/**
 * @ferry/node: the Ferry libp2p node (identity from the home, TCP + Noise + yamux tuned for bulk, the
 * exchange server behind the trust gate), trust management and the daemon.
 */
export * from './constants.js'
export { bulkTransport, createFerryNode, usesNativeCipher, type DialPeerInit, type FerryNode, type FerryNodeInit } from './node.js'
export {
  runDaemon, readDaemonInfo, type DaemonInfo, type RunDaemonOptions, type DaemonContext, type DaemonService, type DaemonServiceStarter
} from './daemon.js'
export { createEventBus, type EventBus, type DaemonEvent, type DaemonEventBody, type PeerEvent, type WatchEvent, type TaskBusEvent } from './events.js'
export { createPeerBook, type PeerBook, type PeerBookInit, type PeerState, type PeerStateName } from './peer-book.js'
export {
  PEER_NAME_PATTERN, checkPeerName, parsePeerAddr, namedPeers, listPeers, addPeer, removePeer, resolvePeerAddrs, type NamedPeer
} from './peers.js'
export {
  TrustGate, parsePeerId, listTrusted, trustPeer, untrustPeer, listGrants, grantPeer, revokePeer, openCollection, type TrustedPeer,
  type TrustGateOptions
} from './trust.js'
export {
  accessPolicy, notTrustedMessage, notPermittedMessage, type AccessPolicy, type AccessPolicyInit, type AccessSubject, type RefusalKind,
  type Verdict
} from './access-policy.js'
export { CONFIG_RECHECK_MS, configWatch, type ConfigWatch, type ConfigWatchInit } from './config-watch.js'
export { SWARM_KEY_FILE, readSwarmKey, writeSwarmKey, parseSwarmKey, newSwarmKeyText, type SwarmKey } from './pnet.js'
export { homeSources, readLeafHere, type LeafReader } from './sources.js'
export { LeafReaderPool, type LeafReaderPoolOptions } from './leaf-pool.js'
export { LeafCache, cachedLeaves, type LeafCacheOptions, type LeafCacheStats } from './leaf-cache.js'
export { ferryNoiseCrypto } from './noise-crypto.js'
export { slabReadOptions } from './tcp-reads.js'
