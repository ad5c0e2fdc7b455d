/** Defaults of the follow engine (docs/cli.md, `pull --follow`; docs/protocol.md, "Following an open scan"). */

/** Entries asked for per OPEN_ENTRIES_REQUEST. */
export const DEFAULT_ENTRIES_PAGE = 500

/** How often an open scan's entries are paged when no announcement arrives (a lost one is caught this late). */
export const DEFAULT_FOLLOW_POLL_MS = 2000

/** Files of one open scan fetched at once (each with DEFAULT_FILE_WINDOW leaves in flight). */
export const DEFAULT_FILES_IN_FLIGHT = 4

/** Leaves of one file in flight at once. */
export const DEFAULT_FILE_WINDOW = 16

/** Longest wait between two reconnects to a source that is down. */
export const MAX_RECONNECT_BACKOFF_MS = 5000

/** Give up on a source that has been unreachable for this long (ERR_NETWORK). */
export const DEFAULT_FOLLOW_DEADLINE_MS = 300_000

/** Prefix of the temporary name a followed file is written under, beside its final name. */
export const TEMP_PREFIX = '.ferry-follow-'

/** Pause before asking again a source that refused a request with ERROR LIMIT (too many of our streams at once). */
export const BUSY_PAUSE_MS = 500

/**
 * Tests only: set to 1, a follower kills itself (SIGKILL) when its first group of placed files is about to
 * be committed, after their renames (test/e2e/follow.test.ts, the crash window).
 */
export const KILL_BEFORE_COMMIT_ENV = 'FERRY_TEST_FOLLOW_KILL_BEFORE_COMMIT'
