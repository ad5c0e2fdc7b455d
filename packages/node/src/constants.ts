/**
 * Defaults of the Ferry node and daemon, documented once (docs/protocol.md, "Connection") and used as
 * `init.x ?? DEFAULT_X`.
 */

/**
 * Initial yamux receive window per stream: the yamux specification's 256 KiB. Measured on loopback
 * (bench/tools/bench-throughput.js), 1 MiB and 4 MiB gave no gain with 2 or more streams, and yamux
 * assumes the peer starts with the same window as itself, so any other value would have to be the same on
 * every Ferry node (a peer with a smaller one resets the connection). Windows grow with the RTT up to the max.
 */
export const YAMUX_INITIAL_STREAM_WINDOW = 256 * 1024

/** Largest yamux receive window per stream (grown by yamux as the RTT allows). */
export const YAMUX_MAX_STREAM_WINDOW = 16 * 1024 * 1024

/** Inbound data held per yamux stream before it is reset when nobody reads it (must exceed the window). */
export const YAMUX_MAX_READ_BUFFER = YAMUX_MAX_STREAM_WINDOW + 1024 * 1024

/** Name of the daemon's state file in the home: `{ pid, peerId, addrs, started }`, removed on exit. */
export const DAEMON_FILE = 'daemon.json'

/**
 * Worker threads that read and re-hash leaves for the server (at most cores - 1); 0 reads them on the main
 * thread. Measured: takes ~0.4 s/GB off the server's main thread, for a little more CPU in total.
 */
export const DEFAULT_LEAF_READERS = 2

/**
 * Leaves at most this long that are asked for together (in the same turn of the event loop) go to a leaf
 * worker in one message, up to LEAF_BATCH_BYTES of them: a message each cost the server's main thread about
 * 0.2 ms per leaf on a tree of small files (`postMessage`, docs/benchmarks.md, "Many small files").
 */
export const LEAF_BATCH_MAX_LEAF_BYTES = 64 * 1024
/** Bytes of small leaves read in one leaf-worker message (about 256 leaves of 0-4 KiB). */
export const LEAF_BATCH_BYTES = 512 * 1024
/** Leaves in one leaf-worker message, at most. */
export const LEAF_BATCH_LEAVES = 256

/**
 * Worker threads verifying received blocks for a node's clients. 0: measured, the copy a worker needs costs
 * the main thread as much as hashing the received chunks in place (bench/tools/bench-throughput.js).
 */
export const DEFAULT_VERIFY_WORKERS_PER_NODE = 0

/** How long the daemon waits for open streams to finish when it stops. */
export const DEFAULT_STOP_GRACE_MS = 5_000

/**
 * Connections the node keeps open in total before libp2p prunes the least useful: Ferry talks to a handful
 * of sites, so this is far above normal use and bounds what a crowd of peers costs.
 */
export const MAX_CONNECTIONS = 256

/** Inbound connections still in their handshake at once (libp2p refuses more). */
export const MAX_INCOMING_PENDING_CONNECTIONS = 16

/**
 * Inbound connections per second accepted from one host (libp2p's inboundConnectionThreshold). 5 reset
 * honest clients: a site behind one NAT address, or several `ferry` commands run at once, opens more than 5
 * connections in a second (seen as ECONNRESET in handshakes in the end-to-end suites). A flood from one host
 * is still bounded by this, by MAX_INCOMING_PENDING_CONNECTIONS and by MAX_CONNECTIONS.
 */
export const INBOUND_CONNECTIONS_PER_SECOND_PER_HOST = 20

/**
 * Inbound yamux streams per connection, counting streams still negotiating their protocol (the exchange
 * accepts 16 blocks + 4 scan per connection; the rest is headroom for the negotiation itself).
 */
export const YAMUX_MAX_INBOUND_STREAMS = 64

/** How often the daemon re-checks the named peers it is not connected to (docs/api.md, peer states). */
export const PEER_CHECK_INTERVAL_MS = 30_000

/** Longest a peer check waits for a connection, and then for the peer's answer. */
export const PEER_CHECK_TIMEOUT_MS = 10_000

/**
 * Bytes of just-published leaves a daemon keeps in memory to serve without reading the file again
 * (LeafCache): about a second of acquisition at 110 MB/s, filled only while a watch publishes.
 */
export const DEFAULT_LEAF_CACHE_BYTES = 128 * 1024 * 1024

/** A kept leaf older than this is dropped (a follower that is keeping up asks for it well before). */
export const DEFAULT_LEAF_CACHE_TTL_MS = 30_000
