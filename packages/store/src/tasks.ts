/**
 * The durable task store (`tasks`, `task_files`, `task_events`, schema 6): what the daemon's task runner
 * (@ferry/tasks) persists so a task survives a restart or a `kill -9`. The record carries what the Globus
 * activity view shows, under the same names; times are ISO 8601 strings in the record, ms in the database.
 */
import { FerryError } from '@ferry/errors'
import { lazyStatements, type CatalogDb } from './catalog-db.js'

/** Where a task is in its life. QUEUED and ACTIVE are live; the other three are final until `retry`. */
export type TaskCondition = 'QUEUED' | 'ACTIVE' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED'

/** What ended a task (or its last attempt), in plain words with a stable code. */
export interface TaskReason { code: string, message: string }

/** The last error of one entry that did not succeed. */
export interface TaskFileFailure {
  path: string
  code: string
  message: string
  /** ISO 8601 time of the failure. */
  when: string
  /** Runs of the task in which this entry failed. */
  attempts: number
}

/** Byte counts of the last run of a task's pull (what that run fetched, found in place, resumed). */
export interface TaskRunStats {
  bytesFetched: number
  bytesLocal: number
  bytesPresent: number
  bytesResumed: number
  seconds: number
  /** Seconds in each pull phase the run completed (the `seconds` of PullResult.phaseTimes); absent for a no-op run. */
  phases?: Record<string, number>
}

/** The counters of a task, as the activity view shows them (entries, bytes). */
export interface TaskCounters {
  files: number
  directories: number
  bytesTotal: number
  /** Bytes received from peers or copied from this node's own files, over every run. */
  bytesTransferred: number
  pending: number
  succeeded: number
  failed: number
  retrying: number
  skipped: number
  cancelled: number
}

/** One task as stored and shown (JSON: the Globus names, plus root, eta and bytesTotal). */
export interface TaskRecord extends TaskCounters {
  taskId: string
  label: string | null
  root: string
  sources: string[]
  destination: string
  collection: string | null
  condition: TaskCondition
  requested: string
  started: string | null
  completed: string | null
  deadline: string
  settings: Record<string, unknown>
  /** Bytes per second over the time the task was ACTIVE. */
  effectiveSpeed: number
  /** Time spent ACTIVE (running a pull), over every run, in ms. */
  activeMs: number
  /** Expected completion (ISO 8601) at the effective speed, or null when unknown or finished. */
  eta: string | null
  attempts: number
  reason: TaskReason | null
  lastRun: TaskRunStats | null
  /** Bytes received from each source peer (by PeerId), over every run. */
  fromPeers: Record<string, number>
  updated: string
}

/** One event in a task's log. */
export interface TaskEvent {
  id: number
  taskId: string
  time: string
  kind: string
  message: string
  data: Record<string, unknown> | null
}

/** What a new task is made of. */
export interface TaskInit {
  taskId: string
  label?: string | null
  root: string
  destination: string
  sources: string[]
  collection?: string | null
  deadline: number
  settings?: Record<string, unknown>
}

/** Fields the runner changes as a task runs. */
export type TaskPatch = Partial<TaskCounters> & {
  condition?: TaskCondition
  started?: number | null
  completed?: number | null
  deadline?: number
  collection?: string | null
  attempts?: number
  activeMs?: number
  reason?: TaskReason | null
  lastRun?: TaskRunStats | null
  fromPeers?: Record<string, number>
}

/** The task tables of the catalog. Every write is one IMMEDIATE transaction. */
export interface TaskStore {
  /**
   * Creates a QUEUED task, unless a QUEUED or ACTIVE one for the same root and destination exists: then that
   * one is returned with `existing: true` (one replication, one task).
   */
  create: (init: TaskInit) => { task: TaskRecord, existing: boolean }
  get: (taskId: string) => TaskRecord | undefined
  /** Tasks newest first (optionally of some conditions only), at most `limit` (default 1000). */
  list: (options?: { conditions?: TaskCondition[], limit?: number }) => TaskRecord[]
  /** QUEUED and ACTIVE tasks, oldest request first: what a runner has to do. */
  live: () => TaskRecord[]
  update: (taskId: string, patch: TaskPatch) => void
  /**
   * `update` as a relaxed commit (no fsync; catalog-db.ts): for a running task's counters, which a power
   * cut may take back to an earlier snapshot. Conditions and ends go through `update`.
   */
  progress: (taskId: string, patch: TaskPatch) => void
  /** QUEUED -> ACTIVE if it is still QUEUED: true for the one runner that got it (a relaxed commit). */
  claim: (taskId: string) => boolean
  /**
   * Replaces the entries that did not succeed with `failures` (paths still failing keep counting attempts;
   * paths no longer listed are removed).
   */
  setFailures: (taskId: string, failures: Array<{ path: string, code: string, message: string }>) => void
  failures: (taskId: string, options?: { limit?: number, offset?: number }) => TaskFileFailure[]
  /**
   * Appends an event (a relaxed commit: a power cut may lose the last lines, never the task's condition);
   * the log keeps the last EVENTS_KEPT plus the first and last of each kind.
   */
  addEvent: (taskId: string, kind: string, message: string, data?: Record<string, unknown>) => TaskEvent
  /** Events oldest first, those with id > `after` (default all), at most `limit` (default 1000). */
  events: (taskId: string, options?: { after?: number, limit?: number }) => TaskEvent[]
}

/** Events kept per task (plus the first and last of each kind). */
export const TASK_EVENTS_KEPT = 1000
/** The log is pruned when it has this many more events than it keeps. */
const PRUNE_SLACK = 100

interface TaskRow {
  id: string,
  label: string | null,
  root: string,
  dest: string,
  sources: string,
  collection: string | null
  condition: TaskCondition,
  requested: number,
  started: number | null,
  completed: number | null,
  deadline: number
  settings: string,
  files: number,
  directories: number,
  bytes_total: number,
  bytes_transferred: number,
  active_ms: number
  pending: number,
  succeeded: number,
  failed: number,
  retrying: number,
  skipped: number,
  cancelled: number
  attempts: number,
  last_run: string | null,
  from_peers: string,
  reason: string | null,
  updated: number
}

const iso = (ms: number): string => new Date(ms).toISOString()
const isoOrNull = (ms: number | null): string | null => (ms == null ? null : iso(ms))

function toRecord (r: TaskRow): TaskRecord {
  const speed = r.active_ms > 0 ? Math.round(r.bytes_transferred * 1000 / r.active_ms) : 0
  const remaining = Math.max(0, r.bytes_total - r.bytes_transferred)
  const eta = r.condition === 'ACTIVE' && speed > 0 && r.bytes_total > 0 ? iso(Date.now() + remaining * 1000 / speed) : null
  return {
    taskId: r.id,
    label: r.label,
    root: r.root,
    sources: JSON.parse(r.sources) as string[],
    destination: r.dest,
    collection: r.collection,
    condition: r.condition,
    requested: iso(r.requested),
    started: isoOrNull(r.started),
    completed: isoOrNull(r.completed),
    deadline: iso(r.deadline),
    settings: JSON.parse(r.settings) as Record<string, unknown>,
    files: r.files,
    directories: r.directories,
    bytesTotal: r.bytes_total,
    bytesTransferred: r.bytes_transferred,
    effectiveSpeed: speed,
    activeMs: r.active_ms,
    eta,
    pending: r.pending,
    succeeded: r.succeeded,
    failed: r.failed,
    retrying: r.retrying,
    skipped: r.skipped,
    cancelled: r.cancelled,
    attempts: r.attempts,
    reason: r.reason == null ? null : JSON.parse(r.reason) as TaskReason,
    lastRun: r.last_run == null ? null : JSON.parse(r.last_run) as TaskRunStats,
    fromPeers: JSON.parse(r.from_peers) as Record<string, number>,
    updated: iso(r.updated)
  }
}

/** Column of each patchable field, and how its value is stored. */
const PATCH_COLUMNS: Record<keyof TaskPatch, [string, (v: unknown) => unknown]> = {
  files: ['files', Number],
  directories: ['directories', Number],
  bytesTotal: ['bytes_total', Number],
  bytesTransferred: ['bytes_transferred', Number],
  pending: ['pending', Number],
  succeeded: ['succeeded', Number],
  failed: ['failed', Number],
  retrying: ['retrying', Number],
  skipped: ['skipped', Number],
  cancelled: ['cancelled', Number],
  condition: ['condition', String],
  started: ['started', (v) => v],
  completed: ['completed', (v) => v],
  deadline: ['deadline', Number],
  collection: ['collection', (v) => v],
  attempts: ['attempts', Number],
  activeMs: ['active_ms', Number],
  reason: ['reason', (v) => (v == null ? null : JSON.stringify(v))],
  lastRun: ['last_run', (v) => (v == null ? null : JSON.stringify(v))],
  fromPeers: ['from_peers', (v) => JSON.stringify(v)]
}

const SQL = {
  insert: `INSERT INTO tasks (id, label, root, dest, sources, collection, requested, deadline, settings, updated)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  live: 'SELECT * FROM tasks WHERE condition IN (\'QUEUED\', \'ACTIVE\') ORDER BY requested, rowid',
  liveFor: 'SELECT * FROM tasks WHERE root = ? AND dest = ? AND condition IN (\'QUEUED\', \'ACTIVE\')',
  get: 'SELECT * FROM tasks WHERE id = ?',
  list: 'SELECT * FROM tasks ORDER BY requested DESC, rowid DESC LIMIT ?',
  failures: 'SELECT path, code, message, at, attempts FROM task_files WHERE task_id = ? ORDER BY path LIMIT ? OFFSET ?',
  failurePaths: 'SELECT path FROM task_files WHERE task_id = ?',
  putFailure: `INSERT INTO task_files (task_id, path, code, message, at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (task_id, path) DO UPDATE SET code = excluded.code, message = excluded.message, at = excluded.at, attempts = attempts + 1`,
  delFailure: 'DELETE FROM task_files WHERE task_id = ? AND path = ?',
  addEvent: 'INSERT INTO task_events (task_id, time, kind, message, data) VALUES (?, ?, ?, ?, ?)',
  countEvents: 'SELECT count(*) AS n FROM task_events WHERE task_id = ?',
  pruneEvents: `DELETE FROM task_events WHERE task_id = @task
                AND id <= (SELECT id FROM task_events WHERE task_id = @task ORDER BY id DESC LIMIT 1 OFFSET @keep)
                AND id NOT IN (SELECT min(id) FROM task_events WHERE task_id = @task GROUP BY kind
                               UNION SELECT max(id) FROM task_events WHERE task_id = @task GROUP BY kind)`,
  events: 'SELECT * FROM task_events WHERE task_id = ? AND id > ? ORDER BY id LIMIT ?',
  claim: 'UPDATE tasks SET condition = \'ACTIVE\', updated = ? WHERE id = ? AND condition = \'QUEUED\''
} as const

interface EventRow { id: number, task_id: string, time: number, kind: string, message: string, data: string | null }

function toEvent (r: EventRow): TaskEvent {
  return { id: r.id, taskId: r.task_id, time: iso(r.time), kind: r.kind, message: r.message, data: r.data == null ? null : JSON.parse(r.data) as Record<string, unknown> }
}

/** Writes `patch` to the task's row (and `updated`), inside the caller's transaction. */
function applyPatch (db: CatalogDb['db'], taskId: string, patch: TaskPatch): void {
  const sets: string[] = ['updated = ?']
  const values: unknown[] = [Date.now()]
  for (const [key, value] of Object.entries(patch)) {
    const column = PATCH_COLUMNS[key as keyof TaskPatch]
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a patch built by spreading may carry undefined values and other keys
    if (column == null || value === undefined) continue
    sets.push(`${column[0]} = ?`)
    values.push(column[1](value))
  }
  db.prepare(`UPDATE tasks SET ${sets.join(', ')} WHERE id = ?`).run(...values, taskId)
}

/** The task store over the catalog's handle. */
export function openTaskStore (h: CatalogDb): TaskStore {
  const { db, guard } = h
  const st = lazyStatements(db, SQL)
  const write = <T>(fn: () => T): T => guard(() => {
    h.requireWritable('change tasks')
    return db.transaction(fn).immediate()
  })
  const get = (taskId: string): TaskRecord | undefined => guard(() => {
    const row = st.get.get(taskId) as TaskRow | undefined
    return row == null ? undefined : toRecord(row)
  })
  const must = (taskId: string): TaskRecord => {
    const t = get(taskId)
    if (t == null) throw new FerryError('ERR_NOT_FOUND', `No task ${taskId} in this node's catalog`)
    return t
  }
  const eventCount = new Map<string, number>() // events added since the last prune, per task
  return {
    create: (init) => write(() => {
      const existing = st.liveFor.get(init.root, init.destination) as TaskRow | undefined
      if (existing != null) return { task: toRecord(existing), existing: true }
      const now = Date.now()
      st.insert.run(init.taskId, init.label ?? null, init.root, init.destination, JSON.stringify(init.sources), init.collection ?? null, now, init.deadline, JSON.stringify(init.settings ?? {}), now)
      return { task: must(init.taskId), existing: false }
    }),
    get,
    list: (options = {}) => guard(() => {
      const rows = (st.list.all(Math.max(1, options.limit ?? 1000)) as TaskRow[]).map(toRecord)
      const wanted = options.conditions
      return wanted == null ? rows : rows.filter((t) => wanted.includes(t.condition))
    }),
    live: () => guard(() => (st.live.all() as TaskRow[]).map(toRecord)),
    update: (taskId, patch) => { write(() => applyPatch(db, taskId, patch)) },
    progress: (taskId, patch) => { h.relaxed(() => { write(() => applyPatch(db, taskId, patch)) }) },
    // relaxed: a claim lost in a power cut leaves the task QUEUED, claimed again at the next start
    claim: (taskId) => h.relaxed(() => write(() => st.claim.run(Date.now(), taskId).changes === 1)),
    setFailures: (taskId, failures) => {
      write(() => {
        const now = Date.now()
        const keep = new Set(failures.map((f) => f.path))
        for (const { path } of st.failurePaths.all(taskId) as Array<{ path: string }>) if (!keep.has(path)) st.delFailure.run(taskId, path)
        for (const f of failures) st.putFailure.run(taskId, f.path, f.code, f.message, now)
      })
    },
    failures: (taskId, options = {}) => guard(() => (st.failures.all(taskId, options.limit ?? 1000, options.offset ?? 0) as Array<{ path: string, code: string, message: string, at: number, attempts: number }>)
      .map((r) => ({ path: r.path, code: r.code, message: r.message, when: iso(r.at), attempts: r.attempts }))),
    addEvent: (taskId, kind, message, data) => h.relaxed(() => write(() => {
      const now = Date.now()
      const id = Number(st.addEvent.run(taskId, now, kind, message, data == null ? null : JSON.stringify(data)).lastInsertRowid)
      const added = (eventCount.get(taskId) ?? PRUNE_SLACK) + 1 // unknown = check on the first event
      if (added > PRUNE_SLACK) {
        if ((st.countEvents.get(taskId) as { n: number }).n > TASK_EVENTS_KEPT + PRUNE_SLACK) st.pruneEvents.run({ task: taskId, keep: TASK_EVENTS_KEPT })
        eventCount.set(taskId, 0)
      } else eventCount.set(taskId, added)
      if (kind === 'ended') eventCount.delete(taskId) // a task that runs again checks its count on its next event
      return { id, taskId, time: iso(now), kind, message, data: data ?? null }
    })),
    events: (taskId, options = {}) => guard(() => (st.events.all(taskId, options.after ?? 0, options.limit ?? 1000) as EventRow[]).map(toEvent))
  }
}
