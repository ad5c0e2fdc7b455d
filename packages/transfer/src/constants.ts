/** Leaf requests each peer keeps in flight (a bandwidth-delay product of 32 MiB at 1 MiB leaves). */
export const DEFAULT_WINDOW = 32
/**
 * The journal is updated at least this often. It is bookkeeping, not the proof: a resume re-hashes what is
 * staged and keeps every leaf that verifies, so little is fetched twice even after kill -9.
 */
export const DEFAULT_CHECKPOINT_MS = 2000
/** ...and whenever this many bytes were written since the last checkpoint. */
export const DEFAULT_CHECKPOINT_BYTES = 256 * 1024 * 1024
/**
 * Files placed with a known stat are recorded as Ferry's (placed_files, what makes a later quick check
 * trust them) this many at a time during the fetch, not only at the end: a pull resumed after kill -9 then
 * trusts what the killed run placed instead of hashing every such file again.
 */
export const PLACED_ROWS_FLUSH = 1024
/**
 * A resumed pull reads its staging directory's names once instead of an lstat of each remaining file's
 * staged name (10,000 of them cost a resumed 20,000-file pull seconds of its plan); beyond this many names
 * it lstats each file's staged name instead, so what it holds stays bounded.
 */
export const STAGED_NAMES_MAX = 65_536
/** Leaves copied at once from files this node already holds. */
export const LOCAL_COPY_CONCURRENCY = 8
/** Give up when no peer has answered for this long. */
export const DEFAULT_DEADLINE_MS = 5 * 60 * 1000
/** First reconnect delay; doubles up to MAX_BACKOFF_MS. */
export const INITIAL_BACKOFF_MS = 500
export const MAX_BACKOFF_MS = 15_000
/** Staging directory inside the destination, removed when the pull completes. */
export const STAGING_DIR = '.ferry-partial'
/** Open staged files kept at once. */
export const MAX_OPEN_FILES = 128
/** Free space kept in reserve on the destination by default: this share of the filesystem's size... */
export const SPACE_MARGIN_FRACTION = 0.01
/** ...but never more than this (--space-margin sets any other value). */
export const SPACE_MARGIN_MAX_BYTES = 64 * 1024 * 1024
/** At the end of a pull, a leaf in flight at one peer for this long is also asked of another. */
export const ENDGAME_AFTER_MS = 2000
/** Files whose inner nodes are resolved at once while planning (each may need a round trip). */
export const PLAN_CONCURRENCY = 16
/**
 * Leaf requests in flight per peer when leaves are small (64 on each of DEFAULT_CONNECTIONS connections, one
 * exchange stream each): with 0-4 KiB files a window of 32 kept 64 KiB in flight and each request went out
 * in a frame of its own; 64 still cost a round trip per 16 leaves on each connection. 256 x 4 KiB is 1 MiB
 * (the extra lanes' EXTRA_LANES_BYTES bounds what larger leaves may hold).
 */
export const SMALL_LEAF_WINDOW = 256
/** Bytes of leaves the lanes beyond `window` may have in flight together (so 1 MiB leaves add at most 2). */
export const EXTRA_LANES_BYTES = 2 * 1024 * 1024
/** Leaves the work queue holds at once, not yet written (it reads the plan lazily beyond that). */
export const DEFAULT_QUEUE_WINDOW = 4096
/**
 * Connections a pull opens to each source peer for its leaf requests, spread evenly over them: one TCP stream
 * is bounded by its window over the RTT and collapses under loss, several share the link (docs/benchmarks.md,
 * WAN). `ferry pull --connections`, config `pull.connections`.
 */
export const DEFAULT_CONNECTIONS = 4
/** Most connections per source peer a pull may open (the server allows 16 blocks streams per peer in all). */
export const MAX_CONNECTIONS_PER_PEER = 8
