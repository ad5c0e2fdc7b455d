/** Tasks run at once by default (each a pull with its own peers and hash pool). */
export const DEFAULT_TASK_CONCURRENCY = 2
/**
 * Bytes of leaves the daemon's running tasks may have in flight together (asked and not yet written): what
 * their pulls hold for leaves stays under it however many run (config `pull.daemonInflightMiB`).
 */
export const DEFAULT_TASK_INFLIGHT_BYTES = 16 * 1024 * 1024
/** A task's deadline when the request names none: give up a day after it was requested. */
export const DEFAULT_TASK_DEADLINE_MS = 24 * 60 * 60 * 1000
/** Counters of a running task are written to the catalog at most this often (not on every event). */
export const TASK_PERSIST_MS = 1000
/** First wait before a task is run again after a transient failure; doubles up to TASK_RETRY_MAX_MS. */
export const TASK_RETRY_INITIAL_MS = 1000
export const TASK_RETRY_MAX_MS = 60_000
/** A hook still running after this long is killed (its whole process group) and logged as such. */
export const DEFAULT_HOOK_TIMEOUT_MS = 60_000
/** Bytes of a hook's output (stdout and stderr together, the end) kept in the task's event log. */
export const HOOK_OUTPUT_TAIL_BYTES = 4096
/** Entries that did not succeed named in a task's record (`get`); the store keeps them all. */
export const FILE_ERRORS_SHOWN = 1000
/** The catalog is looked at this often for tasks queued or cancelled by another process. */
export const TASK_POLL_MS = 2000
/** A subscription lists each source's catalog again this often (the fallback to announcements). */
export const SUBSCRIPTION_POLL_MS = 60_000
/** First wait before a subscription reconnects to a source that went away; doubles up to the max. */
export const SUBSCRIPTION_RETRY_INITIAL_MS = 1000
export const SUBSCRIPTION_RETRY_MAX_MS = 60_000
/** Rows asked for per page of a source's catalog. */
export const SUBSCRIPTION_PAGE_ROWS = 1000
/** Stuck scans named per rule in its view. */
export const STUCK_SHOWN = 20
