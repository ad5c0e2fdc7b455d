/**
 * `createFerryNode`: a libp2p node with the home's identity, TCP + Noise + yamux tuned for bulk transfer,
 * no discovery, no DHT, no identify (Ferry peers are dialled by address and speak only Ferry's protocols),
 * and the exchange server registered with the home's blocks and scans behind the trust gate. With a
 * `swarm.key` in the home the node is in a private network (libp2p pnet, see pnet.ts) on top of Noise.
 */
import { availableParallelism } from 'node:os'
import { noise } from '@chainsafe/libp2p-noise'
import { defaultCrypto, pureJsCrypto } from '@chainsafe/libp2p-noise/crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { FerryError, errorMessage, errorName } from '@ferry/errors'
import { DEFAULT_STREAMS_PER_PEER, PeerClient, VerifyPool, startExchangeServer, type ClientComponents, type ExchangeServer, type ExchangeServerInit, type PeerClientInit } from '@ferry/exchange'
import { DEFAULT_LISTEN, type Home } from '@ferry/store'
import {
  DEFAULT_LEAF_READERS, DEFAULT_VERIFY_WORKERS_PER_NODE, INBOUND_CONNECTIONS_PER_SECOND_PER_HOST, MAX_CONNECTIONS, MAX_INCOMING_PENDING_CONNECTIONS,
  YAMUX_INITIAL_STREAM_WINDOW, YAMUX_MAX_INBOUND_STREAMS, YAMUX_MAX_READ_BUFFER, YAMUX_MAX_STREAM_WINDOW
} from './constants.js'
import { LeafReaderPool } from './leaf-pool.js'
import { closeConnection, LinkPool } from './link-pool.js'
import { ferryNoiseCrypto } from './noise-crypto.js'
import { slabReadOptions } from './tcp-reads.js'
import { cuttingConnection } from './test-cut.js'
import { homeSources, readLeafHere, reportingChanges, type LeafReader } from './sources.js'
import { readSwarmKey, type SwarmKey } from './pnet.js'
import { TrustGate, type TrustGateOptions } from './trust.js'
import { homeCatalog, type HomeCatalog } from './catalog-source.js'
import { cachedLeaves, type LeafCache } from './leaf-cache.js'
import type { Connection, PeerId } from '@libp2p/interface'

/** Options of `createFerryNode`. */
export interface FerryNodeInit {
  /** The open home whose identity, blocks, scans and trust list the node uses. */
  home: Home
  /** Multiaddrs to listen on; default the home's config `listen`, else DEFAULT_LISTEN. [] listens nowhere (a pure client). */
  listen?: string[]
  /** Serve every peer, trusted or not (the node logs a warning). Default false. */
  open?: boolean
  /** Yamux windows (bytes). Both ends must use the same initial window: change it for measurements only. */
  yamux?: { initialStreamWindowSize?: number, maxStreamWindowSize?: number }
  /**
   * Worker threads that read and re-hash leaves for the server (default DEFAULT_LEAF_READERS, at most
   * cores - 1); 0 reads them on the main thread with `readLeaf`.
   */
  leafReaders?: number
  /** Reads raw leaves for the server instead of the worker pool (tests: a hostile double). */
  readLeaf?: LeafReader
  /** Leaves just published, served from memory before the leaf index is read (the daemon's watches fill it). */
  leafCache?: LeafCache
  /**
   * Worker threads that verify blocks received by clients made with `dialPeer` (default
   * DEFAULT_VERIFY_WORKERS_PER_NODE = 0: blocks are hashed on the main thread as the chunks they arrived in,
   * because a worker needs them copied into memory of their own first, which measured as costly as hashing).
   */
  verifyWorkers?: number
  /** Options of the exchange server (timeouts, read-ahead, per-peer limits). */
  server?: Pick<ExchangeServerInit, 'idleTimeoutMs' | 'readAhead' | 'limits' | 'firstFrameTimeoutMs' | 'keepAliveMs'>
  /** How often the catalog is checked for new scans to announce while a peer subscribes; default DEFAULT_ANNOUNCE_POLL_MS. */
  announcePollMs?: number
  /** Called on every refused request (the daemon prints it). */
  onRefused?: TrustGateOptions['onRefused']
  /** Called for every leaf not served because its source file changed, with why (the daemon logs it). */
  onSourceChanged?: (reason: string) => void
  /** Test hook (test-cut.ts): after this many bytes of leaves served, abort the newest connection carrying blocks, once. */
  cutConnectionAfterBytes?: number
  /** How long a connection of its own (`dialPeer({ own: true })`) is kept idle for the next; default DEFAULT_LINK_IDLE_MS. */
  linkIdleMs?: number
  /** Where the test hook says what it cut (the daemon's output). */
  say?: (line: string) => void
}

/** Options of `FerryNode.dialPeer`: the client's, and how to connect. */
export type DialPeerInit = Omit<PeerClientInit, 'peer'> & {
  signal?: AbortSignal
  /**
   * A connection (libp2p's `force`) that only this client uses: an idle one left by an earlier such client
   * (link-pool.ts), else a new one. Closing the client gives it back to that pool for DEFAULT_LINK_IDLE_MS;
   * its `discard` closes it. Default: the node's connection to that peer, shared, opened if there is none.
   */
  own?: boolean
  /**
   * This client is one of `shareOf` connections to the peer: it opens its share of the exchange's
   * DEFAULT_STREAMS_PER_PEER streams (rounded up), so the server's per-peer stream limit holds. Ignored with `streams`.
   */
  shareOf?: number
}

/** A started Ferry node. */
export interface FerryNode {
  readonly libp2p: Libp2p
  readonly peerId: PeerId
  readonly server: ExchangeServer
  readonly trust: TrustGate
  /** True if the node only talks to peers with the same `swarm.key` (private network). */
  readonly privateNetwork: boolean
  /** Listening addresses, each ending in /p2p/<PeerId>. */
  addrs: () => string[]
  /**
   * Checks the catalog for completed scans and published files now, instead of at the next poll: for a
   * daemon service that has just committed one (the watch service), so subscribers hear of it at once.
   */
  announceNow: () => void
  /**
   * Connects to a peer at `addr` (a multiaddr string or object ending in /p2p/<PeerId>) and returns a client
   * for it. ERR_INVALID_ARGUMENT for an address without /p2p/, ERR_NETWORK / ERR_TIMEOUT if it cannot be
   * reached.
   */
  dialPeer: (addr: string | Multiaddr, init?: DialPeerInit) => Promise<PeerClient>
  /** Stops the server (open streams end with ERROR UNAVAILABLE) and the libp2p node. */
  stop: () => Promise<void>
}

/**
 * True if Noise will use Node's native chacha20-poly1305 for bulk data (not the pure-JS cipher, measured
 * 4-5x slower). Noise 17 picks the native cipher on Node for messages of 1200 bytes and more; a bundler that
 * maps its `browser` field would silently swap in the pure-JS one.
 */
export function usesNativeCipher (): boolean {
  return defaultCrypto.chaCha20Poly1305Encrypt !== pureJsCrypto.chaCha20Poly1305Encrypt &&
    defaultCrypto.chaCha20Poly1305Decrypt !== pureJsCrypto.chaCha20Poly1305Decrypt
}

function toMultiaddr (addr: string | Multiaddr): Multiaddr {
  if (typeof addr !== 'string') return addr
  try {
    return multiaddr(addr)
  } catch (err) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `"${addr}" is not a multiaddr (like /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...)`, { cause: err })
  }
}

/** `addr` as a multiaddr that names its peer (ends in /p2p/<PeerId>): ERR_INVALID_ARGUMENT before any dial otherwise. */
function peerMultiaddr (addr: string | Multiaddr): Multiaddr {
  const ma = toMultiaddr(addr)
  if (ma.getComponents().findLast((c) => c.name === 'p2p') === undefined) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `Multiaddr ${ma.toString()} does not end in /p2p/<PeerId>: the peer's identity must be known to dial it`)
  }
  return ma
}

/** libp2p's multi-line listen failure as one line per address ("Cannot listen on /ip4/...: EADDRINUSE ..."). */
function listenError (err: unknown): unknown {
  if (errorName(err) !== 'UnsupportedListenAddressesError') return err
  const problems = ((err as Error).message.match(/^ {2}\/\S+: .*$/gm) ?? []).map((l) => l.trim().replace(/: (\w*Error): /, ': '))
  return new FerryError('ERR_NETWORK', `Cannot listen on ${problems.length > 0 ? problems.join('; ') : 'the configured addresses'}`, { cause: err })
}

/** How long the pnet nonce exchange may take before the connection is dropped. */
const PNET_HANDSHAKE_TIMEOUT_MS = 5_000

/**
 * A hint for a dial whose security handshake failed: the usual cause is a private-network mismatch (one
 * side has a swarm.key the other lacks, or a different one), which Noise sees as garbage or silence.
 */
function handshakeHint (privateNetwork: boolean): string {
  return privateNetwork
    ? ' (this node is in a private network: the other node must have the same swarm.key; `ferry pnet status` prints its fingerprint)'
    : ' (if that node is in a private network, copy its swarm.key into this home with `ferry pnet import FILE`)'
}

/** Step 1: the addresses to listen on, each checked to be a multiaddr. */
function listenAddrs (init: FerryNodeInit): string[] {
  const { home } = init
  const listen = init.listen ?? (home.config.listen.length > 0 ? home.config.listen : [...DEFAULT_LISTEN])
  for (const a of listen) toMultiaddr(a)
  return listen
}

/**
 * The data path of every Ferry node, as libp2p options: TCP with slab reads on dialled connections, Noise
 * with ferryNoiseCrypto, yamux tuned for bulk, no connection monitor. Exported so that the bare-stream
 * benchmark (bench/tools/bench-throughput.js) measures exactly this stack without a home.
 */
export function bulkTransport (windows?: FerryNodeInit['yamux']): Pick<Libp2pOptions, 'transports' | 'connectionEncrypters' | 'streamMuxers' | 'connectionMonitor'> {
  return {
    transports: [tcp({ dialOpts: slabReadOptions() })],
    connectionEncrypters: [noise({ crypto: ferryNoiseCrypto() })],
    streamMuxers: [yamux({
      maxInboundStreams: YAMUX_MAX_INBOUND_STREAMS,
      streamOptions: {
        initialStreamWindowSize: windows?.initialStreamWindowSize ?? YAMUX_INITIAL_STREAM_WINDOW,
        maxStreamWindowSize: windows?.maxStreamWindowSize ?? YAMUX_MAX_STREAM_WINDOW,
        maxReadBufferLength: YAMUX_MAX_READ_BUFFER
      }
    })],
    // The ping-based monitor would abort a busy connection whose pings queue behind megabytes of blocks;
    // yamux keep-alive and the exchange's own timeouts cover liveness.
    connectionMonitor: { enabled: false }
  }
}

/** Step 2: the libp2p node (started): TCP, Noise, yamux tuned for bulk, pnet with a swarm key. */
async function startLibp2p (init: FerryNodeInit, listen: string[], swarmKey: SwarmKey | undefined): Promise<Libp2p> {
  const { home } = init
  return await createLibp2p({
    ...(swarmKey !== undefined ? { connectionProtector: preSharedKey({ psk: swarmKey.bytes, timeout: PNET_HANDSHAKE_TIMEOUT_MS }) } : {}),
    privateKey: home.privateKey,
    addresses: { listen, announce: home.config.announce },
    ...bulkTransport(init.yamux),
    // libp2p's own bounds on connections (docs/security.md); per-peer stream and request limits are the exchange server's
    connectionManager: {
      maxConnections: MAX_CONNECTIONS,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
      inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_SECOND_PER_HOST
    }
  }).catch((err: unknown) => { throw listenError(err) })
}

/**
 * Step 3: the exchange server with the home's blocks, scans and catalog behind `trust`, leaves read by a worker pool
 * (or `init.readLeaf`). On failure the libp2p node and the pool are stopped.
 */
async function startServing (libp2p: Libp2p, init: FerryNodeInit, trust: TrustGate, cores: number): Promise<{ server: ExchangeServer, catalog: HomeCatalog, leafPool?: LeafReaderPool }> {
  const leafReaders = Math.min(init.leafReaders ?? DEFAULT_LEAF_READERS, cores - 1)
  const leafPool = leafReaders > 0 && init.readLeaf == null ? new LeafReaderPool({ workers: leafReaders }) : undefined
  const catalog = homeCatalog(init.home, trust, { pollMs: init.announcePollMs, log: libp2p.logger.forComponent('ferry:node:catalog') })
  try {
    let reader = init.readLeaf ?? leafPool?.reader ?? readLeafHere
    if (init.leafCache !== undefined) reader = cachedLeaves(reader, init.leafCache)
    if (init.cutConnectionAfterBytes !== undefined) reader = cuttingConnection(reader, () => libp2p, init.cutConnectionAfterBytes, init.say ?? (() => {}))
    const sources = homeSources(init.home, reportingChanges(reader, init.onSourceChanged))
    const server = await startExchangeServer(libp2p, { ...sources, catalog, authorize: trust.authorize, ...init.server })
    return { server, catalog, ...(leafPool !== undefined ? { leafPool } : {}) }
  } catch (err) {
    catalog.close()
    await libp2p.stop()
    await leafPool?.close()
    throw err
  }
}

/** What a connect attempt's failure means to the caller, with a hint for a failed secure handshake. */
function dialFailure (err: unknown, ma: Multiaddr, signal: AbortSignal | undefined, privateNetwork: boolean): FerryError {
  const reason = errorMessage(err)
  if (signal?.aborted === true) return new FerryError('ERR_ABORTED', 'Operation aborted', { cause: signal.reason })
  if (errorName(err) === 'TimeoutError' || errorName(err) === 'AbortError') {
    return new FerryError('ERR_TIMEOUT', `Timed out connecting to ${ma.toString()}`, { cause: err, details: { addr: ma.toString() } })
  }
  const other = /identity key (\w+) does not match expected remote identity key (\w+)/.exec(reason)
  if (other != null) {
    // Not retried, and nothing to do with private networks: the address is right, the PeerId is not
    return new FerryError('ERR_PEER_REFUSED', `Cannot connect to ${ma.toString()}: the node there is ${other[1] ?? '?'}, not ${other[2] ?? '?'} as its /p2p/ part says; check the PeerId (\`ferry id\` on that node prints its addresses)`, { cause: err, details: { addr: ma.toString(), actual: other[1] } })
  }
  if (errorName(err) === 'EncryptionFailedError' && /ECONNRESET|EPIPE/.test(reason) && !privateNetwork) {
    // The other side dropped the connection mid-handshake, as libp2p does past its inbound rate per host
    // (INBOUND_CONNECTIONS_PER_SECOND_PER_HOST) or its pending-connection bound: transient, so retried. In a
    // private network a reset is what a key mismatch looks like, so there it stays final (below).
    return new FerryError('ERR_NETWORK', `Cannot connect to ${ma.toString()}: the connection was reset during the handshake (${reason})`, { cause: err, details: { addr: ma.toString() } })
  }
  if (errorName(err) === 'EncryptionFailedError') {
    // Not retried: a handshake that fails this way (usually a private-network key mismatch) fails again.
    return new FerryError('ERR_PEER_REFUSED', `Cannot connect to ${ma.toString()}: the secure handshake failed (${reason})${handshakeHint(privateNetwork)}`, { cause: err, details: { addr: ma.toString() } })
  }
  return new FerryError('ERR_NETWORK', `Cannot connect to ${ma.toString()}: ${reason}`, { cause: err, details: { addr: ma.toString() } })
}

/** A client of its own connection: `close` gives the connection back to the pool, `discard` closes it for good. */
export type PinnedClient = PeerClient & { discard: () => Promise<void> }

/**
 * A client whose streams all go over `connection` (never another connection to that peer): a pull's extra
 * connections, each carrying its own share of the requests. Closed after use, it hands the connection to
 * `pool` for the next such client; `discard` (after a failure on it) closes the connection.
 */
function pinnedClient (libp2p: Libp2p, connection: Connection, init: PeerClientInit, pool: LinkPool): PinnedClient {
  const components: ClientComponents = {
    logger: libp2p.logger,
    dialProtocol: async (_peer, protocols, options) => await connection.newStream(protocols, options)
  }
  const client = new PeerClient(components, init) as PinnedClient
  const closeClient = client.close.bind(client)
  let done = false
  const end = async (keep: boolean): Promise<void> => {
    await closeClient()
    if (done) return
    done = true
    await (keep ? pool.release(connection) : closeConnection(connection))
  }
  client.close = async () => { await end(true) }
  client.discard = async () => { await end(false) }
  return client
}

/** The PeerId string `ma` ends with (checked by peerMultiaddr). */
function peerOf (ma: Multiaddr): string {
  return ma.getComponents().findLast((c) => c.name === 'p2p')?.value ?? ''
}

/**
 * Step 4: the node's `dialPeer` and the verify pool it starts on first use (a pure server never needs it).
 * `close` stops that pool.
 */
function peerDialer (libp2p: Libp2p, verifyWorkers: number, privateNetwork: boolean, links: LinkPool): { dialPeer: FerryNode['dialPeer'], close: () => Promise<void> } {
  let verifyPool: VerifyPool | undefined
  return {
    async dialPeer (addr, options = {}) {
      const ma = peerMultiaddr(addr)
      const { signal, own, shareOf, ...clientInit } = options
      if (verifyWorkers > 0 && clientInit.verify === undefined) verifyPool ??= new VerifyPool({ workers: verifyWorkers })
      const streams = shareOf !== undefined && shareOf > 1 ? Math.ceil(DEFAULT_STREAMS_PER_PEER / shareOf) : undefined
      const init = { verify: verifyPool?.verify, ...(streams !== undefined ? { streams } : {}), ...clientInit, peer: ma }
      let connection = own === true ? links.take(peerOf(ma)) : undefined
      try {
        connection ??= await libp2p.dial(ma, { signal: signal ?? AbortSignal.timeout(clientInit.timeoutMs ?? 30_000), ...(own === true ? { force: true } : {}) })
      } catch (err) {
        throw dialFailure(err, ma, signal, privateNetwork)
      }
      return own === true ? pinnedClient(libp2p, connection, init, links) : new PeerClient(libp2p, init)
    },
    async close () {
      await links.close()
      await verifyPool?.close()
    }
  }
}

/**
 * Creates and starts a Ferry node for `init.home`, in steps: the listen addresses, the libp2p node, the
 * trust gate and the exchange server, the dialer.
 */
export async function createFerryNode (init: FerryNodeInit): Promise<FerryNode> {
  const { home } = init
  if (!usesNativeCipher()) throw new FerryError('ERR_INTERNAL', 'Noise would use the pure-JS cipher: Ferry must run on Node.js with chacha20-poly1305')
  const listen = listenAddrs(init)
  const swarmKey = await readSwarmKey(home.dir)
  const libp2p = await startLibp2p(init, listen, swarmKey)
  const log = libp2p.logger.forComponent('ferry:node')
  const trust = new TrustGate(home, { open: init.open === true, log, onRefused: init.onRefused })
  if (init.open === true) log.error('OPEN MODE: serving every peer that connects, trusted or not')
  const cores = availableParallelism()
  const { server, catalog, leafPool } = await startServing(libp2p, init, trust, cores)
  const verifyWorkers = Math.min(init.verifyWorkers ?? DEFAULT_VERIFY_WORKERS_PER_NODE, cores - 1)
  const dialer = peerDialer(libp2p, verifyWorkers, swarmKey !== undefined, new LinkPool({ ...(init.linkIdleMs !== undefined ? { idleMs: init.linkIdleMs } : {}) }))

  return {
    libp2p,
    peerId: libp2p.peerId,
    server,
    trust,
    privateNetwork: swarmKey !== undefined,
    addrs: () => libp2p.getMultiaddrs().map((a) => a.toString()),
    announceNow: () => { catalog.pollNow() },
    dialPeer: dialer.dialPeer,
    async stop () {
      await server.stop()
      catalog.close()
      await libp2p.stop() // closes every connection, the pooled idle ones too
      await leafPool?.close()
      await dialer.close()
    }
  }
}
