/**
 * Protocol identifiers, wire limits and defaults of the exchange, in one place. docs/protocol.md documents
 * every one of them; test/constants.test.ts checks that the documentation and these values agree.
 *
 * Limits marked "wire" are part of the protocol: both ends must agree on them, so changing one needs a new
 * protocol version. Defaults are local choices.
 */

/** Block exchange: pipelined requests for blocks by CID. */
export const BLOCKS_PROTOCOL = '/ferry/blocks/1.0.0'

/**
 * Scan catalog: a scan's record and entries by root CID. 2.0.0: SCAN_RECORD carries the origin's signature
 * (1.0.0 had none; a 1.0.0 peer fails protocol negotiation instead of sending an unsigned record).
 */
export const SCAN_PROTOCOL = '/ferry/scan/2.0.0'

/** Largest block either end sends or accepts (wire). Ferry's leaves are 1 MiB; inner nodes are smaller. */
export const MAX_BLOCK_BYTES = 2 * 1024 * 1024

/** Longest binary CID accepted (wire). A CIDv1 sha2-256 is 36 bytes. */
export const MAX_CID_BYTES = 128

/** Longest message text in a STATUS or ERROR frame, in UTF-8 bytes (wire). */
export const MAX_MESSAGE_BYTES = 1024

/** Largest frame payload of /ferry/blocks/1.0.0 (wire): a block plus its header. */
export const MAX_BLOCKS_FRAME_BYTES = MAX_BLOCK_BYTES + 256

/** Most CIDs in one REQUEST frame (wire). */
export const MAX_CIDS_PER_REQUEST = 256

/**
 * Most blocks a client may have requested and not yet received on one stream (wire). The server answers a
 * REQUEST that would exceed it with ERROR LIMIT. Bounds what the server queues and what the client buffers.
 */
export const MAX_PENDING_PER_STREAM = 64

/** Largest frame payload of /ferry/scan/1.0.0 (wire). */
export const MAX_SCAN_FRAME_BYTES = 256 * 1024

/** Longest scan record signature accepted (wire). An Ed25519 signature is 64 bytes. */
export const MAX_SIGNATURE_BYTES = 512

/** Longest path, symlink target, name, collection or origin string in a scan frame (wire). */
export const MAX_STRING_BYTES = 32 * 1024

/** Most SKIPPED/ENTRIES frames a client may allow ahead of its reading (wire). */
export const MAX_SCAN_CREDIT = 16

/**
 * Most entries, and most skipped entries, a client accepts for one scan (a local choice): bounds what a
 * lying server can make a puller hold in memory (~200 bytes an entry). Ten times the largest scans seen.
 */
export const MAX_SCAN_ENTRIES = 10_000_000

/** The server packs entries into frames of about this many bytes (a local choice, below the wire limit). */
export const SCAN_BATCH_BYTES = 64 * 1024

/**
 * Largest frame a blocks server accepts from a client (wire): a REQUEST of MAX_CIDS_PER_REQUEST CIDs of
 * MAX_CID_BYTES each, with its header, is the largest thing a client ever sends (an ERROR is ~1 KiB). So a
 * peer cannot make the server buffer megabytes per stream by announcing a block-sized frame.
 */
export const MAX_BLOCKS_CLIENT_FRAME_BYTES = 3 + MAX_CIDS_PER_REQUEST * (2 + MAX_CID_BYTES)

/** Largest frame a scan server accepts from a client (wire): SCAN_REQUEST, SCAN_MORE and ERROR are small. */
export const MAX_SCAN_CLIENT_FRAME_BYTES = 2048

/** Most concurrent inbound /ferry/blocks streams per connection the server accepts. */
export const MAX_INBOUND_BLOCK_STREAMS = 16

/** Most concurrent inbound /ferry/scan streams per connection the server accepts. */
export const MAX_INBOUND_SCAN_STREAMS = 4

/**
 * Most concurrent /ferry/blocks streams one peer may have open at the server, across all its connections
 * (libp2p's per-connection limit does not stop a peer from opening many connections). A pull opens
 * DEFAULT_STREAMS_PER_PEER (4), so this lets a site run 4 pulls from one server at once. Each stream holds
 * at most DEFAULT_SERVER_READ_AHEAD blocks (up to 4 x 2 MiB) and MAX_PENDING_PER_STREAM queued CIDs, so one
 * peer pins at most ~128 MiB of the server's memory, and usually a quarter of it (1 MiB leaves).
 */
export const MAX_BLOCK_STREAMS_PER_PEER = 16

/** Most concurrent /ferry/scan streams one peer may have open at the server (a pull uses one, briefly). */
export const MAX_SCAN_STREAMS_PER_PEER = 4

/**
 * Most /ferry/blocks streams the server serves at once, from all peers: bounds its memory (~1 GiB worst
 * case, see MAX_BLOCK_STREAMS_PER_PEER) whatever the number of peers. 8 peers at their own limit fill it.
 */
export const MAX_SERVED_BLOCK_STREAMS = 128

/** Most /ferry/scan streams the server serves at once, from all peers. */
export const MAX_SERVED_SCAN_STREAMS = 32

/**
 * CIDs per second one peer may request, sustained (a token bucket shared by all its streams). A pull at
 * 300 MB/s of 1 MiB leaves asks ~300/s, and a tree of small files a few thousand files/s: 10,000/s never
 * slows a real pull but caps what a flood of requests (answered cheaply NOT_FOUND, or not) costs the
 * server. A peer above the rate is slowed to it, not cut off.
 */
export const REQUEST_RATE_PER_PEER = 10_000

/** CIDs one peer may request at once after a quiet spell (the bucket's size): two seconds' worth. */
export const REQUEST_BURST_PER_PEER = 2 * REQUEST_RATE_PER_PEER

/**
 * A new stream must bring its first frame within this long, else it ends with ERROR TIMEOUT: a peer cannot
 * hold stream slots by opening streams and saying nothing (later silences get DEFAULT_SERVER_IDLE_TIMEOUT_MS).
 */
export const DEFAULT_SERVER_FIRST_FRAME_TIMEOUT_MS = 10_000

/** Streams a PeerClient opens to one peer for blocks. */
export const DEFAULT_STREAMS_PER_PEER = 4

/**
 * Blocks a PeerClient keeps requested ahead on each stream (at most MAX_PENDING_PER_STREAM): enough for a
 * pull's small-leaf window on one connection to ride one stream (transfer's SMALL_LEAF_WINDOW).
 */
export const DEFAULT_PENDING_PER_STREAM = 64

/**
 * A client stream with requests outstanding that receives nothing for this long fails them with ERR_TIMEOUT.
 * Also bounds dialing a stream.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/** A client closes a blocks stream that has had nothing outstanding for this long. */
export const DEFAULT_CLIENT_IDLE_CLOSE_MS = 20_000

/**
 * The server ends a stream (ERROR TIMEOUT) that has had no inbound frame and nothing to send for this long,
 * or a scan stream whose client has granted no credit for this long.
 */
export const DEFAULT_SERVER_IDLE_TIMEOUT_MS = 60_000

/** Blocks the server reads from its source ahead of sending, per stream (overlaps disk and hashing with the network). */
export const DEFAULT_SERVER_READ_AHEAD = 4

/** Entry frames a scan client grants at once. */
export const DEFAULT_SCAN_CREDIT = 4

/** Worker threads of a VerifyPool (at most cores - 1). */
export const DEFAULT_VERIFY_WORKERS = 2

/** Blocks smaller than this are hashed on the main thread (a round trip to a worker costs more). */
export const DEFAULT_VERIFY_MIN_BYTES = 64 * 1024

/**
 * Answers the server sends in one write at most this many bytes of blocks: the answers already known after
 * the one awaited go out together (one muxer frame, one encryption, one socket write for many small blocks).
 */
export const ANSWER_BATCH_BYTES = 256 * 1024
/** A block at most this long is small: after one, the server reads SMALL_READ_AHEAD blocks ahead instead of `readAhead`. */
export const SMALL_BLOCK_BYTES = 64 * 1024
/** Read-ahead after a small block (at most SMALL_READ_AHEAD x SMALL_BLOCK_BYTES = 2 MiB held per stream). */
export const SMALL_READ_AHEAD = 32
/** Remote catalogs: one page of the scans a peer offers (and the asker may read) per request, by cursor. */
export const CATALOG_PROTOCOL = '/ferry/catalog/1.0.0'

/** Announcements: a long-lived stream on which a source names every scan it completes (that the subscriber may read). */
export const ANNOUNCE_PROTOCOL = '/ferry/announce/1.0.0'

/** Most rows one CATALOG_REQUEST may ask for (wire); a larger page size ends the stream with ERROR LIMIT. */
export const MAX_CATALOG_PAGE_ROWS = 1000

/** Longest catalog cursor (wire). The cursor is opaque to clients: they send back what the server gave. */
export const MAX_CATALOG_CURSOR_BYTES = 64

/** Largest /ferry/catalog and /ferry/announce frame payload from a server (wire): a page, or one row. */
export const MAX_CATALOG_FRAME_BYTES = 256 * 1024

/**
 * Largest frame a catalog or announce server accepts from a client (wire): a CATALOG_REQUEST with a
 * collection and a prefix of MAX_STRING_BYTES each and the longest cursor.
 */
export const MAX_CATALOG_CLIENT_FRAME_BYTES = 2 * (MAX_STRING_BYTES + 3) + MAX_CATALOG_CURSOR_BYTES + 16

/** Longest keep-alive interval a server may announce in ANNOUNCE_ACCEPTED (wire). */
export const MAX_ANNOUNCE_KEEPALIVE_MS = 600_000

/** The server packs catalog rows into a page until it holds about this many bytes, whatever the page size (a local choice, below the wire limit). */
export const CATALOG_PAGE_BYTES = 128 * 1024

/** Rows a client asks for per catalog page. */
export const DEFAULT_CATALOG_PAGE_ROWS = 100

/** The server sends ANNOUNCE_KEEPALIVE after this long without an announcement; a client gives up after three silent intervals. */
export const DEFAULT_ANNOUNCE_KEEPALIVE_MS = 15_000

/** How often a node checks its catalog for scans completed by another process (one `PRAGMA data_version`, only while someone subscribes). */
export const DEFAULT_ANNOUNCE_POLL_MS = 250

/** Most concurrent inbound /ferry/catalog streams per connection the server accepts. */
export const MAX_INBOUND_CATALOG_STREAMS = 2

/** Most concurrent inbound /ferry/announce streams per connection the server accepts. */
export const MAX_INBOUND_ANNOUNCE_STREAMS = 4

/** Most concurrent /ferry/catalog streams one peer may have open at the server, across its connections. */
export const MAX_CATALOG_STREAMS_PER_PEER = 2

/** Most concurrent /ferry/announce streams (subscriptions) one peer may have open at the server, across its connections. */
export const MAX_ANNOUNCE_STREAMS_PER_PEER = 4

/** Most /ferry/catalog streams the server serves at once, from all peers. */
export const MAX_SERVED_CATALOG_STREAMS = 32

/** Most /ferry/announce streams the server holds at once, from all peers (each costs a listener and a timer). */
export const MAX_SERVED_ANNOUNCE_STREAMS = 256

/** Announcements queued for one subscriber that is not reading; beyond it the stream ends with ERROR LIMIT (it catches up with a catalog listing). */
export const MAX_ANNOUNCE_QUEUE = 1024
