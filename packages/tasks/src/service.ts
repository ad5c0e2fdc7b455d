/**
 * `createTaskService`: the daemon's durable tasks. Tasks live in the catalog (`catalog.tasks`); this
 * service runs the QUEUED and ACTIVE ones, a few at a time and one writer per destination, resumes the
 * ACTIVE ones it finds at start (after a restart or a kill -9: the pull journal makes the re-run fetch only
 * what is missing), and runs each task's hook when it ends.
 */
import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { basename, resolve } from 'node:path'
import { CID } from 'multiformats/cid'
import { FerryError, errorMessage } from '@ferry/errors'
import type { OpenScanStatus } from '@ferry/follow'
import type { Catalog, TaskRecord, TaskStore } from '@ferry/store'
import { InflightBudget } from '@ferry/transfer'
import {
  DEFAULT_TASK_CONCURRENCY, DEFAULT_TASK_DEADLINE_MS, DEFAULT_TASK_INFLIGHT_BYTES, FILE_ERRORS_SHOWN, TASK_PERSIST_MS, TASK_POLL_MS, TASK_RETRY_INITIAL_MS, TASK_RETRY_MAX_MS
} from './constants.js'
import { createHookRunner, type HookRunner } from './hook-runner.js'
import { runTask, type RunContext, type StopReason } from './run.js'
import type { TaskRequest, TaskService, TaskServiceInit, TaskUpdate } from './types.js'

const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'] as const

/** Two destinations overlap when one is the other or lies inside it: one writer for both. */
export function overlaps (a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`)
}

/** The absolute deadline (ms) of a request. */
function deadlineOf (request: TaskRequest): number {
  if (request.deadline !== undefined) {
    const at = typeof request.deadline === 'number' ? request.deadline : Date.parse(request.deadline)
    if (!Number.isFinite(at)) throw new FerryError('ERR_INVALID_ARGUMENT', `deadline ${String(request.deadline)} is not a time (ISO 8601 or ms since the epoch)`)
    return at
  }
  return Date.now() + (request.deadlineMs ?? DEFAULT_TASK_DEADLINE_MS)
}

/** Checks a request; returns the parts stored. */
function checkRequest (request: TaskRequest): { root: string, destination: string } {
  let root: string
  try {
    root = CID.parse(request.root).toString()
  } catch (err) {
    throw new FerryError('ERR_INVALID_CID', `${String(request.root)} is not a CID: a task takes the root of a scan`, { cause: err })
  }
  if (typeof request.destination !== 'string' || request.destination === '') throw new FerryError('ERR_INVALID_ARGUMENT', 'A task needs a destination directory')
  if (!Array.isArray(request.sources) || !request.sources.every((s) => typeof s === 'string' && s.includes('/p2p/'))) {
    throw new FerryError('ERR_INVALID_ARGUMENT', 'A task\'s sources are multiaddrs ending in /p2p/<PeerId>')
  }
  if (request.deadlineMs !== undefined && !(request.deadlineMs > 0)) throw new FerryError('ERR_INVALID_ARGUMENT', 'deadlineMs must be a positive number of milliseconds')
  return { root, destination: resolve(request.destination) }
}

/**
 * Checks `request` and stores it as a QUEUED task (or returns the live one for the same root and
 * destination), without running anything: a running service picks it up within its poll interval. For
 * tools and tests that queue into a home whose daemon runs elsewhere; the service's own `create` uses it.
 */
export function queueTask (store: TaskStore, request: TaskRequest): { task: TaskRecord, existing: boolean } {
  const { root, destination } = checkRequest(request)
  const settings: Record<string, unknown> = { deadlineMs: request.deadlineMs ?? DEFAULT_TASK_DEADLINE_MS }
  for (const key of ['checksum', 'fsync', 'allowEscapingSymlinks'] as const) if (request[key] === true) settings[key] = true
  if (typeof request.onDone === 'string' && request.onDone.trim() !== '') settings.onDone = request.onDone
  const out = store.create({ taskId: randomUUID(), label: request.label ?? null, root, destination, sources: [...request.sources], collection: request.collection ?? null, deadline: deadlineOf(request), settings })
  if (!out.existing) store.addEvent(out.task.taskId, 'created', `pull ${root} into ${destination} from ${request.sources.join(', ')}`, { root, destination, sources: request.sources })
  return out
}

/** What each run needs: the store, the dialler, the callbacks and the timing settings. */
function runContext (init: TaskServiceInit, store: RunContext['store'], notify: RunContext['notify'], log: RunContext['log']): RunContext {
  return {
    store,
    home: init.home,
    dialPeer: init.dialPeer,
    ...(init.connections !== undefined ? { connections: init.connections } : {}),
    inflight: new InflightBudget(init.inflightBytes ?? DEFAULT_TASK_INFLIGHT_BYTES),
    notify,
    log,
    persistMs: init.persistMs ?? TASK_PERSIST_MS,
    retryInitialMs: init.retryInitialMs ?? TASK_RETRY_INITIAL_MS,
    retryMaxMs: init.retryMaxMs ?? TASK_RETRY_MAX_MS
  }
}

/** Starts the task service over the daemon's home; see TaskService. */
export function createTaskService (init: TaskServiceInit): TaskService {
  const store = init.home.catalog.tasks
  const concurrency = Math.max(1, Math.floor(init.concurrency ?? DEFAULT_TASK_CONCURRENCY))
  const emitter = new EventEmitter()
  emitter.setMaxListeners(0)
  const running = new Map<string, { controller: AbortController, destination: string, done: Promise<void> }>()
  const waiting = new Set<string>() // tasks told once that they wait for their destination
  let closed = false
  const emit = (update: TaskUpdate): void => { emitter.emit('update', update) }
  const log: RunContext['log'] = (taskId, kind, message, data) => {
    emit({ type: 'event', event: store.addEvent(taskId, kind, message, data) })
  }
  const notify = (task: TaskRecord): void => { emit({ type: 'task', task }) }
  const ctx = runContext(init, store, notify, log)
  const hookRunner = createHookRunner(init, log)
  const ended = (taskId: string): void => {
    const task = store.get(taskId)
    if (task == null) return
    notify(task)
    init.log?.(`Task ${taskId} ${task.condition}${task.reason != null ? `: ${task.reason.message}` : ''}`)
    hookRunner.fire(task)
  }

  /** Starts what may start: live tasks in request order, up to `concurrency`, one per destination. */
  const pump = (): void => {
    if (closed) return
    const live = store.live()
    // every ACTIVE task writes into its destination, whoever runs it
    const writing = live.filter((t) => t.condition === 'ACTIVE').map((t) => ({ taskId: t.taskId, destination: t.destination }))
    for (const task of live) {
      if (running.size >= concurrency) break
      if (running.has(task.taskId) || (task.condition === 'ACTIVE' && !orphans.has(task.taskId))) continue
      const busy = writing.find((w) => w.taskId !== task.taskId && overlaps(w.destination, task.destination))
      if (busy !== undefined) {
        if (!waiting.has(task.taskId)) log(task.taskId, 'waiting', `waits for task ${busy.taskId}, which writes into ${busy.destination}`)
        waiting.add(task.taskId)
        continue
      }
      if (start(task) && task.condition === 'QUEUED') writing.push({ taskId: task.taskId, destination: task.destination })
    }
  }
  // ACTIVE tasks found at start were left by a stopped or killed runner: this one resumes them. An ACTIVE
  // task seen later belongs to another runner on this home.
  const orphans = new Set(store.live().filter((t) => t.condition === 'ACTIVE').map((t) => t.taskId))
  /** Runs `task` in the background; false if another runner has it. */
  const start = (task: TaskRecord): boolean => {
    waiting.delete(task.taskId)
    if (task.condition === 'ACTIVE') {
      if (!orphans.delete(task.taskId)) return false
      log(task.taskId, 'resumed', 'resuming: what earlier runs placed or staged is kept')
    } else if (!store.claim(task.taskId)) return false
    const controller = new AbortController()
    notify(store.get(task.taskId) ?? task)
    const done = runTask(ctx, task.taskId, controller.signal).then((end) => {
      if (end === 'ended') ended(task.taskId)
    }, (err: unknown) => {
      // a bug or the catalog failing: the task stays ACTIVE, to be resumed by the next start
      init.log?.(`Task ${task.taskId} stopped on an internal error: ${errorMessage(err)}`)
    }).finally(() => {
      running.delete(task.taskId)
      pump()
    })
    running.set(task.taskId, { controller, destination: task.destination, done })
    return true
  }
  const poll = startPolling(init, store, running, pump)
  const setClosed = (): void => {
    closed = true
    clearInterval(poll)
  }
  return buildService({ init, store, emitter, running, hookRunner, log, notify, ended, pump, isClosed: () => closed, setClosed })
}

/**
 * Other processes may queue or cancel tasks in the catalog (a CLI, a tool): every pollMs, running tasks
 * cancelled there are stopped and new ones started. Returns the interval (unref'ed).
 */
function startPolling (init: TaskServiceInit, store: ServiceState['store'], running: ServiceState['running'], pump: () => void): NodeJS.Timeout {
  const sync = (): void => {
    for (const [taskId, run] of running) {
      if (store.get(taskId)?.condition === 'CANCELLED' && !run.controller.signal.aborted) run.controller.abort({ kind: 'cancel' } satisfies StopReason)
    }
    pump()
  }
  const poll = setInterval(() => {
    try {
      sync()
    } catch (err) {
      init.log?.(`Tasks: ${(err as Error).message}`)
    }
  }, init.pollMs ?? TASK_POLL_MS)
  poll.unref()
  return poll
}

/** What the public methods share with the scheduler. */
interface ServiceState {
  init: TaskServiceInit
  store: TaskServiceInit['home']['catalog']['tasks']
  emitter: EventEmitter
  running: Map<string, { controller: AbortController, destination: string, done: Promise<void> }>
  hookRunner: HookRunner
  log: RunContext['log']
  notify: (task: TaskRecord) => void
  ended: (taskId: string) => void
  pump: () => void
  isClosed: () => boolean
  setClosed: () => void
}

function buildService (s: ServiceState): TaskService {
  const { store } = s
  const must = (taskId: string): TaskRecord => {
    const t = store.get(taskId)
    if (t == null) throw new FerryError('ERR_NOT_FOUND', `No task ${taskId} on this node`)
    return t
  }
  const close = async (): Promise<void> => {
    if (s.isClosed()) return
    s.setClosed()
    const stop: StopReason = { kind: 'shutdown' }
    for (const r of s.running.values()) r.controller.abort(stop)
    await Promise.all([...s.running.values()].map(async (r) => { await r.done }))
    await s.hookRunner.stop()
  }
  s.init.signal?.addEventListener('abort', () => { void close() }, { once: true })
  const service: TaskService = {
    create: (request) => {
      const out = queueTask(store, request)
      if (!out.existing) {
        for (const event of store.events(out.task.taskId)) s.emitter.emit('update', { type: 'event', event } satisfies TaskUpdate)
        s.notify(out.task)
        s.pump()
      }
      return out
    },
    list: (options) => store.list(options),
    get: (taskId) => {
      const t = store.get(taskId)
      return t == null ? undefined : { ...t, fileErrors: store.failures(taskId, { limit: FILE_ERRORS_SHOWN }), openScans: followedInto(s.init.home.catalog, t) }
    },
    events: (taskId, options) => {
      must(taskId)
      return store.events(taskId, options)
    },
    cancel: (taskId) => cancel(s, must(taskId)),
    retry: (taskId, options) => retry(s, must(taskId), options?.deadlineMs),
    subscribe: (listener) => {
      // a listener that throws must not break the run that reported the update
      const safe = (update: TaskUpdate): void => {
        try {
          listener(update)
        } catch (err) {
          s.init.log?.(`Tasks: an update listener failed: ${errorMessage(err)}`)
        }
      }
      s.emitter.on('update', safe)
      return () => { s.emitter.off('update', safe) }
    },
    waitFor: async (taskId, options = {}) => await waitFor(s, must(taskId), options.conditions ?? [...FINAL], options.signal),
    close
  }
  s.pump()
  return service
}

function cancel (s: ServiceState, task: TaskRecord): TaskRecord {
  if ((FINAL as readonly string[]).includes(task.condition)) return task
  s.store.update(task.taskId, { condition: 'CANCELLED', completed: Date.now(), retrying: 0 })
  const run = s.running.get(task.taskId)
  if (run !== undefined) {
    s.log(task.taskId, 'cancel', 'cancelled: stopping the pull')
    const stop: StopReason = { kind: 'cancel' }
    run.controller.abort(stop)
  } else {
    s.store.update(task.taskId, { cancelled: task.pending })
    s.log(task.taskId, 'ended', 'CANCELLED before it started', { condition: 'CANCELLED' })
    s.ended(task.taskId)
  }
  const now = s.store.get(task.taskId) ?? task
  s.notify(now)
  return now
}

function retry (s: ServiceState, task: TaskRecord, deadlineMs: number | undefined): TaskRecord {
  if (task.condition !== 'FAILED' && task.condition !== 'CANCELLED') {
    throw new FerryError('ERR_INVALID_ARGUMENT', `Task ${task.taskId} is ${task.condition}: only a FAILED or CANCELLED task can be retried`)
  }
  const other = s.store.live().find((t) => t.root === task.root && t.destination === task.destination)
  if (other !== undefined) throw new FerryError('ERR_INVALID_ARGUMENT', `Task ${other.taskId} already replicates ${task.root} into ${task.destination}`)
  const relative = deadlineMs ?? (typeof task.settings.deadlineMs === 'number' ? task.settings.deadlineMs : DEFAULT_TASK_DEADLINE_MS)
  const deadline = Date.parse(task.deadline) > Date.now() && deadlineMs === undefined ? undefined : Date.now() + relative
  s.store.update(task.taskId, { condition: 'QUEUED', completed: null, reason: null, retrying: 0, cancelled: 0, ...(deadline !== undefined ? { deadline } : {}) })
  s.log(task.taskId, 'retry', `queued again: ${task.failed + task.pending + task.cancelled} entries to fetch`, { failed: task.failed })
  const now = s.store.get(task.taskId) ?? task
  s.notify(now)
  s.pump()
  return now
}

async function waitFor (s: ServiceState, task: TaskRecord, conditions: string[], signal?: AbortSignal): Promise<TaskRecord> {
  if (conditions.includes(task.condition) && !s.running.has(task.taskId)) return task
  return await new Promise<TaskRecord>((resolve, reject) => {
    const check = (): void => {
      const now = s.store.get(task.taskId)
      // a final condition counts once the run is over (a cancelled pull is still stopping)
      if (now != null && conditions.includes(now.condition) && (!s.running.has(task.taskId) || !(FINAL as readonly string[]).includes(now.condition))) {
        cleanup()
        resolve(now)
      }
    }
    const onAbort = (): void => { cleanup(); reject(new FerryError('ERR_ABORTED', `Stopped waiting for task ${task.taskId}`, { cause: signal?.reason })) }
    const timer = setInterval(check, 100)
    const cleanup = (): void => { clearInterval(timer); s.emitter.off('update', check); signal?.removeEventListener('abort', onAbort) }
    s.emitter.on('update', check)
    signal?.addEventListener('abort', onAbort, { once: true })
    check()
  })
}

/** The open scans followed into a task's destination, from the follow journal (see TaskDetail.openScans). */
function followedInto (catalog: Pick<Catalog, 'followed'>, t: TaskRecord): OpenScanStatus[] {
  return catalog.followed.under(t.destination).map((f) => ({
    collection: t.collection ?? '',
    name: basename(t.destination),
    published: f.entries,
    arrived: f.arrived,
    lagMs: f.latest === null ? null : f.latest.arrived - f.latest.published,
    backlogBytes: 0
  }))
}
