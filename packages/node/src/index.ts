/**
 * @ferry/node: the Ferry libp2p node (identity from the home, TCP + Noise + yamux tuned for bulk, the
 * exchange server behind the trust gate), trust management and the daemon.
 */
import '@ferry/compat'
export * from './constants.js'
export { createFerryNode, usesNativeCipher, type FerryNode, type FerryNodeInit } from './node.js'
export { runDaemon, readDaemonInfo, type DaemonInfo, type RunDaemonOptions } from './daemon.js'
export {
  TrustGate, parsePeerId, notTrustedMessage, notPermittedMessage, listTrusted, trustPeer, untrustPeer, listGrants, grantPeer, revokePeer,
  openCollection, CONFIG_RECHECK_MS, type TrustedPeer, type TrustGateOptions, type RefusalKind
} from './trust.js'
export { SWARM_KEY_FILE, readSwarmKey, writeSwarmKey, parseSwarmKey, newSwarmKeyText, type SwarmKey } from './pnet.js'
export { homeSources, readLeafHere, type LeafReader } from './sources.js'
export { LeafReaderPool, type LeafReaderPoolOptions } from './leaf-pool.js'
export { ferryNoiseCrypto } from './noise-crypto.js'
export { slabReadOptions } from './tcp-reads.js'
