/**
 * A pull's plan (PullPlan) stays in an in-memory SQLite database while it holds at most this many rows
 * (entries plus files), and moves to its scratch file beside the catalog past that: a small scan (a daemon
 * task of a visit, tens of files) does not pay for creating, writing and unlinking a file, ~11-15 ms a pull
 * on this machine, while a large one still keeps its memory to the window. 4,096 rows are ~1-2 MB.
 */
export const PLAN_MEMORY_ROWS = 4096
