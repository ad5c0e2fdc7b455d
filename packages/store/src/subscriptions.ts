/**
 * The subscription store (`subscriptions`, `subscription_scans`, schema 7): the daemon's standing rules
 * ("replicate every complete scan of collection C on these peers into D") and what each rule has already
 * taken on, so a restart resumes without queuing anything twice. @ferry/tasks (subscriptions.ts) runs them.
 */
import { lazyStatements, type CatalogDb } from './catalog-db.js'
import type { TaskCondition, TaskReason } from './tasks.js'

/** A rule as stored. */
export interface SubscriptionRecord {
  id: string
  collection: string
  /** Absolute directory; each scan goes into `<destination>/<dir>`. */
  destination: string
  /** The `--from` values as given (names of the address book or multiaddrs); [] = every named peer. */
  from: string[]
  /** Hook passed to every task the rule creates. */
  onDone: string | null
  /** ISO 8601. */
  created: string
}

/** What a new rule is made of. */
export interface SubscriptionInit {
  id: string
  collection: string
  destination: string
  from: string[]
  onDone?: string | null
}

/** A scan a rule has taken on. */
export interface SubscribedScan {
  root: string
  name: string
  /** Its directory name under the rule's destination. */
  dir: string
  /** PeerId it was seen on first. */
  peer: string
  taskId: string | null
  /** ISO 8601. */
  queued: string
}

/** A scan of a rule whose task did not succeed: FAILED or CANCELLED, with what ended it. */
export interface StuckScan extends SubscribedScan {
  condition: TaskCondition
  reason: TaskReason | null
}

/** Scans of a rule per condition of their task (`none`: no task yet, or its record is gone). */
export type SubscriptionCounts = Record<TaskCondition | 'none', number> & { scans: number }

/** The subscription tables of the catalog. */
export interface SubscriptionStore {
  /** Creates a rule, unless one for the same collection and destination exists: that one, `existing: true`. */
  create: (init: SubscriptionInit) => { subscription: SubscriptionRecord, existing: boolean }
  get: (id: string) => SubscriptionRecord | undefined
  /** Every rule, oldest first. */
  list: () => SubscriptionRecord[]
  /** Deletes a rule and its list of scans (their tasks stay). False if there was none. */
  remove: (id: string) => boolean
  /** Whether the rule has taken on the scan `root` already. */
  has: (id: string, root: string) => boolean
  /** Whether a scan of the rule already has the directory name `dir`. */
  hasDir: (id: string, dir: string) => boolean
  /**
   * Takes a scan on for a rule (in one transaction): its directory name is `pick(taken)`, where `taken`
   * tells whether a name is in use by another scan of the rule. Returns the scan, or the one already stored.
   */
  reserve: (id: string, scan: { root: string, name: string, peer: string }, pick: (taken: (dir: string) => boolean) => string) => { scan: SubscribedScan, existing: boolean }
  /** Records the task created for a scan. */
  setTask: (id: string, root: string, taskId: string) => void
  /** Scans reserved whose task was never created (a crash between the two), oldest first. */
  withoutTask: (id: string) => SubscribedScan[]
  /** How many of the rule's scans are in each condition. */
  counts: (id: string) => SubscriptionCounts
  /** The rule's FAILED and CANCELLED scans with their tasks' reasons, at most `limit` (default 100). */
  stuck: (id: string, limit?: number) => StuckScan[]
  /** Task ids of the rule's QUEUED and ACTIVE tasks. */
  liveTasks: (id: string) => string[]
}

interface SubRow { id: string, collection: string, dest: string, sources: string, on_done: string | null, created: number }
interface ScanRow { root: string, name: string, dir: string, peer: string, task_id: string | null, queued: number }

const SQL = {
  insert: 'INSERT INTO subscriptions (id, collection, dest, sources, on_done, created) VALUES (?, ?, ?, ?, ?, ?)',
  byDest: 'SELECT * FROM subscriptions WHERE collection = ? AND dest = ?',
  get: 'SELECT * FROM subscriptions WHERE id = ?',
  list: 'SELECT * FROM subscriptions ORDER BY created, id',
  remove: 'DELETE FROM subscriptions WHERE id = ?',
  has: 'SELECT 1 FROM subscription_scans WHERE sub_id = ? AND root = ?',
  hasDir: 'SELECT 1 FROM subscription_scans WHERE sub_id = ? AND dir = ?',
  scan: 'SELECT root, name, dir, peer, task_id, queued FROM subscription_scans WHERE sub_id = ? AND root = ?',
  dirTaken: 'SELECT 1 FROM subscription_scans WHERE sub_id = ? AND dir = ?',
  reserve: 'INSERT INTO subscription_scans (sub_id, root, name, dir, peer, queued) VALUES (?, ?, ?, ?, ?, ?)',
  setTask: 'UPDATE subscription_scans SET task_id = ? WHERE sub_id = ? AND root = ?',
  withoutTask: 'SELECT root, name, dir, peer, task_id, queued FROM subscription_scans WHERE sub_id = ? AND task_id IS NULL ORDER BY queued',
  counts: `SELECT t.condition AS condition, count(*) AS n FROM subscription_scans s LEFT JOIN tasks t ON t.id = s.task_id
           WHERE s.sub_id = ? GROUP BY t.condition`,
  stuck: `SELECT s.root, s.name, s.dir, s.peer, s.task_id, s.queued, t.condition, t.reason FROM subscription_scans s JOIN tasks t ON t.id = s.task_id
          WHERE s.sub_id = ? AND t.condition IN ('FAILED', 'CANCELLED') ORDER BY s.queued LIMIT ?`,
  live: `SELECT t.id FROM subscription_scans s JOIN tasks t ON t.id = s.task_id
         WHERE s.sub_id = ? AND t.condition IN ('QUEUED', 'ACTIVE')`
} as const

const iso = (ms: number): string => new Date(ms).toISOString()

function toRecord (r: SubRow): SubscriptionRecord {
  return { id: r.id, collection: r.collection, destination: r.dest, from: JSON.parse(r.sources) as string[], onDone: r.on_done, created: iso(r.created) }
}

function toScan (r: ScanRow): SubscribedScan {
  return { root: r.root, name: r.name, dir: r.dir, peer: r.peer, taskId: r.task_id, queued: iso(r.queued) }
}

/** The subscription store over the catalog's handle. */
export function openSubscriptionStore (h: CatalogDb): SubscriptionStore {
  const { db, guard } = h
  const st = lazyStatements(db, SQL)
  const write = <T>(fn: () => T): T => guard(() => {
    h.requireWritable('change subscriptions')
    return db.transaction(fn).immediate()
  })
  const get = (id: string): SubscriptionRecord | undefined => guard(() => {
    const row = st.get.get(id) as SubRow | undefined
    return row == null ? undefined : toRecord(row)
  })
  return {
    create: (init) => write(() => {
      const existing = st.byDest.get(init.collection, init.destination) as SubRow | undefined
      if (existing != null) return { subscription: toRecord(existing), existing: true }
      st.insert.run(init.id, init.collection, init.destination, JSON.stringify(init.from), init.onDone ?? null, Date.now())
      return { subscription: toRecord(st.get.get(init.id) as SubRow), existing: false }
    }),
    get,
    list: () => guard(() => (st.list.all() as SubRow[]).map(toRecord)),
    remove: (id) => write(() => st.remove.run(id).changes === 1),
    has: (id, root) => guard(() => st.has.get(id, root) !== undefined),
    hasDir: (id, dir) => guard(() => st.hasDir.get(id, dir) !== undefined),
    reserve: (id, scan, pick) => write(() => {
      const before = st.scan.get(id, scan.root) as ScanRow | undefined
      if (before != null) return { scan: toScan(before), existing: true }
      const dir = pick((d) => st.dirTaken.get(id, d) !== undefined)
      st.reserve.run(id, scan.root, scan.name, dir, scan.peer, Date.now())
      return { scan: toScan(st.scan.get(id, scan.root) as ScanRow), existing: false }
    }),
    // relaxed: a link lost in a power cut leaves the scan `withoutTask`, which the service queues again (a
    // live task is found, not doubled; an ended one gets a new task, whose pull finds the scan in place)
    setTask: (id, root, taskId) => { h.relaxed(() => { write(() => st.setTask.run(taskId, id, root)) }) },
    withoutTask: (id) => guard(() => (st.withoutTask.all(id) as ScanRow[]).map(toScan)),
    counts: (id) => guard(() => {
      const out: SubscriptionCounts = { scans: 0, none: 0, QUEUED: 0, ACTIVE: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 }
      for (const r of st.counts.all(id) as Array<{ condition: TaskCondition | null, n: number }>) {
        out[r.condition ?? 'none'] += r.n
        out.scans += r.n
      }
      return out
    }),
    stuck: (id, limit = 100) => guard(() => (st.stuck.all(id, limit) as Array<ScanRow & { condition: TaskCondition, reason: string | null }>)
      .map((r) => ({ ...toScan(r), condition: r.condition, reason: r.reason == null ? null : JSON.parse(r.reason) as TaskReason }))),
    liveTasks: (id) => guard(() => (st.live.all(id) as Array<{ id: string }>).map((r) => r.id))
  }
}
