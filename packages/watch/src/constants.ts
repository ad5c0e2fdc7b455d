/** Defaults of @ferry/watch, documented once. */

/** A file unchanged (size and mtime) this long counts as complete (`--settle`, seconds on the CLI). */
export const DEFAULT_SETTLE_MS = 2000

/** How often files waiting to settle are stat'ed. */
export const SETTLE_CHECK_MS = 100

/**
 * The safety net: the whole tree is walked this often and every file compared with the catalog's latest
 * published version by (path, size, mtime), so nothing is missed when events overflow or are lost.
 */
export const DEFAULT_RESCAN_MS = 30_000

/**
 * Most files waiting to settle per watch. Beyond it events are dropped and a rescan is asked for: the
 * queue's memory is bounded whatever the writer does (10^5 files arriving at once are found by rescans).
 */
export const MAX_PENDING_FILES = 10_000

/** Changes reported per watch kept for GET /v1/watches (the newest). */
export const MAX_REPORTS = 100

/** Names never published: hidden files and the usual temporary names of writers that rename when done. */
export const IGNORED_NAME = /^\.|\.(tmp|part|partial|swp)$|~$/

/**
 * The close-event source (Linux): Debian's inotifywait (package inotify-tools), found on PATH. Without it
 * (or on another system) a watch relies on the settle time alone.
 */
export const INOTIFYWAIT = 'inotifywait'

/** How long a new watch waits for inotifywait to watch its whole tree before going on (it then still may). */
export const CLOSE_EVENTS_READY_MS = 10_000

/** The tail of inotifywait's stderr kept for the warning when it fails. */
export const CLOSE_EVENTS_STDERR_BYTES = 4096

/** Longest inotifywait record (events, NUL, path, NUL) held while parsing: beyond it the output is not ours. */
export const MAX_CLOSE_EVENT_BYTES = 64 * 1024

/**
 * Files of one watch hashed at once (each through the shared hash pool) while earlier ones commit: a file
 * closed while the last commit ran is hashed meanwhile, not after it.
 */
export const PUBLISH_AHEAD = 4

/** Most files of one watch committed in one transaction (one fsync for all of them). */
export const MAX_PUBLISH_GROUP = 64
