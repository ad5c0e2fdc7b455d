/**
 * The page's state and the actions that change it: one object per page load (no module-level state), a
 * render callback after every change. Peers are re-read once per burst of events (debounced), never polled.
 */
import { ApiError, type DaemonEvent } from './api.js'
import { guard, message } from './call.js'
import type { SpeedSample } from './figures.js'
import { subscriptionActions, type SubscriptionsPart } from './store-subscriptions.js'
import type { CatalogPage, NodeInfo, Peer, Space, TaskDetail, TaskEvent, TaskRecord } from './types.js'

/** Where the page is (from location.hash). */
export type Route =
  | { view: 'home' }
  | { view: 'browse', peer: string }
  | { view: 'tasks' }
  | { view: 'task', id: string }
  | { view: 'subscriptions' }

/** What the tasks view knows: not asked yet, no task service on this daemon, the list, or an error. */
export type TasksState = { status: 'loading' } | { status: 'unavailable' } | { status: 'ok', tasks: TaskRecord[] } | { status: 'error', message: string }

export interface BrowseState {
  peer: string
  collection: string
  prefix: string
  /** Cursors of the pages before this one (for "Previous"), and this page's. */
  back: Array<string | undefined>
  cursor: string | undefined
  page?: CatalogPage
  error?: string
  loading: boolean
  /** Root of the scan picked for the pull form. */
  picked?: string
  /** The pull form's destination, and the free space there (or why it could not be measured). */
  dest: string
  destSpace?: Space | { error: string }
  /** A POST /v1/tasks is under way; the API's refusal of the last one, in its words. */
  starting: boolean
  pullError?: string
}

/** What the pull form sends: POST /v1/tasks with the picked scan's root and the browsed peer's name. */
export interface PullRequest { root: string, destination: string, label: string, deadline: string }

export interface State extends SubscriptionsPart {
  route: Route
  live: boolean
  /** The API refused the session cookie: the page asks for a new `ferry web` link. */
  loggedOut: boolean
  node?: NodeInfo
  nodeError?: string
  peers?: Peer[]
  peersError?: string
  addError?: string
  busy: boolean
  browse?: BrowseState
  tasks: TasksState
  task?: { detail: TaskDetail, events: TaskEvent[] }
  /** A cancel or retry asked from the task page: under way, or the API's refusal in its words. */
  taskAction: { busy: boolean, error?: string }
  /** Bytes transferred over time per task, sampled from the task:updated events since the page loaded. */
  samples: Map<string, SpeedSample[]>
}

/** Samples kept per task for the speed chart (the oldest go first). */
export const MAX_SAMPLES = 600

/** Delay that gathers a burst of peer events into one GET /v1/peers. */
export const REFRESH_DEBOUNCE_MS = 250

export function parseRoute (hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent)
  if (parts[0] === 'peers' && parts[1] !== undefined && parts[1] !== '') return { view: 'browse', peer: parts[1] }
  if (parts[0] === 'tasks' && parts[1] !== undefined && parts[1] !== '') return { view: 'task', id: parts[1] }
  if (parts[0] === 'tasks') return { view: 'tasks' }
  if (parts[0] === 'subscriptions') return { view: 'subscriptions' }
  return { view: 'home' }
}

/** GET /v1/node, /v1/peers and /v1/tasks into the state. */
function loaders (state: State, render: () => void) {
  const call = guard(state, render)
  return {
    async loadNode (): Promise<void> {
      try {
        state.node = await call<NodeInfo>('GET', '/v1/node')
        state.nodeError = undefined
      } catch (err) { state.nodeError = message(err) }
      render()
    },
    async loadPeers (): Promise<void> {
      try {
        state.peers = (await call<{ peers: Peer[] }>('GET', '/v1/peers')).peers
        state.peersError = undefined
      } catch (err) { state.peersError = message(err) }
      render()
    },
    async loadTasks (): Promise<void> {
      try {
        state.tasks = { status: 'ok', tasks: (await call<{ tasks: TaskRecord[] }>('GET', '/v1/tasks')).tasks }
      } catch (err) {
        // no such route: a daemon without the task routes (GET /v1/tasks answers 404 ERR_NOT_FOUND)
        state.tasks = err instanceof ApiError && err.status === 404 ? { status: 'unavailable' } : { status: 'error', message: message(err) }
      }
      if (state.route.view === 'task' && state.tasks.status === 'ok') {
        const id = encodeURIComponent(state.route.id)
        try {
          const [detail, log] = await Promise.all([call<TaskDetail>('GET', `/v1/tasks/${id}`), call<{ events: TaskEvent[] }>('GET', `/v1/tasks/${id}/events`)])
          state.task = { detail, events: log.events }
          sample(state.samples, detail) // the record as read is a point of the speed chart too
        } catch {
          state.task = undefined // the view says there is no such task
        }
      }
      render()
    }
  }
}

/** Adding and removing peers (POST and DELETE /v1/peers), errors kept in words for the form. */
function peerActions (state: State, render: () => void, loadPeers: () => Promise<void>) {
  const call = guard(state, render)
  return {
    async addPeer (name: string, addr: string): Promise<boolean> {
      state.busy = true
      state.addError = undefined
      render()
      try {
        await call('POST', '/v1/peers', { name, addr })
        await loadPeers()
        return true
      } catch (err) {
        state.addError = message(err)
        return false
      } finally {
        state.busy = false
        render()
      }
    },
    async removePeer (name: string): Promise<void> {
      try {
        await call('DELETE', `/v1/peers/${encodeURIComponent(name)}`)
      } catch (err) { state.peersError = message(err) }
      await loadPeers()
    }
  }
}

/** The page's store: its state, and actions that update it and re-render. */
export function createStore (render: () => void) {
  const state: State = { route: { view: 'home' }, live: false, loggedOut: false, busy: false, tasks: { status: 'loading' }, taskAction: { busy: false }, samples: new Map(), subscriptions: { status: 'loading' }, subAction: { busy: false } }
  let peerTimer: ReturnType<typeof setTimeout> | undefined
  let taskTimer: ReturnType<typeof setTimeout> | undefined
  const load = loaders(state, render)
  const later = (timer: ReturnType<typeof setTimeout> | undefined, fn: () => Promise<void>): ReturnType<typeof setTimeout> => {
    if (timer !== undefined) clearTimeout(timer)
    return setTimeout(() => { void fn() }, REFRESH_DEBOUNCE_MS)
  }
  const browse = browseActions(state, render)
  const subs = subscriptionActions(state, render)
  let subsTimer: ReturnType<typeof setTimeout> | undefined
  return {
    ...subs,
    state,
    ...load,
    ...browse,
    ...pullActions(state, render),
    ...peerActions(state, render, load.loadPeers),
    ...taskActions(state, render, load.loadTasks),
    /** A daemon event: re-read what it is about, once per burst; a task's record is also a point of its speed chart. */
    onEvent (e: DaemonEvent): void {
      if (e.type === 'task:updated') sample(state.samples, e.task as TaskRecord)
      if (e.type.startsWith('peer:')) peerTimer = later(peerTimer, load.loadPeers)
      else if (e.type.startsWith('task:') && state.tasks.status === 'ok') taskTimer = later(taskTimer, load.loadTasks)
      // a rule's state follows its tasks: re-read the rules while they are shown
      if (e.type.startsWith('task:') && state.route.view === 'subscriptions') subsTimer = later(subsTimer, subs.loadSubscriptions)
    },
    onLive (live: boolean): void {
      const reconnected = live && !state.live
      state.live = live
      if (reconnected) void load.loadPeers() // events may have been missed while it was down
      if (!live) void load.loadNode() // a 401 here means the session ended, and the banner says so
      render()
    },
    async navigate (route: Route): Promise<void> {
      if (route.view !== 'task' || state.route.view !== 'task' || route.id !== state.route.id) state.taskAction = { busy: false }
      state.route = route
      render()
      if (route.view === 'home' && state.node !== undefined) await load.loadNode() // free space and destinations as they are now
      if (route.view === 'browse' && state.browse?.peer !== route.peer) await browse.openBrowse(route.peer)
      if (route.view === 'tasks' || route.view === 'task') await load.loadTasks()
      if (route.view === 'subscriptions') await subs.loadSubscriptions()
    }
  }
}

/** Adds a task:updated record to its task's samples (one per distinct time, at most MAX_SAMPLES). */
export function sample (samples: Map<string, SpeedSample[]>, task: TaskRecord): void {
  const t = Date.parse(task.updated)
  if (!Number.isFinite(t)) return
  const list = samples.get(task.taskId) ?? []
  const last = list[list.length - 1]
  if (last !== undefined && t <= last.t) return
  list.push({ t, bytes: task.bytesTransferred })
  if (list.length > MAX_SAMPLES) list.splice(0, list.length - MAX_SAMPLES)
  samples.set(task.taskId, list)
}

/** Cancel and Retry on the task page (POST /v1/tasks/:id/cancel and /retry), the refusal kept in words. */
function taskActions (state: State, render: () => void, loadTasks: () => Promise<void>) {
  const call = guard(state, render)
  const act = async (id: string, action: 'cancel' | 'retry'): Promise<void> => {
    if (state.taskAction.busy) return
    state.taskAction = { busy: true }
    render()
    try {
      const { task } = await call<{ task: TaskRecord }>('POST', `/v1/tasks/${encodeURIComponent(id)}/${action}`)
      if (state.task?.detail.taskId === task.taskId) Object.assign(state.task.detail, task)
      state.taskAction = { busy: false }
    } catch (err) {
      state.taskAction = { busy: false, error: `${action === 'cancel' ? 'The task was not cancelled' : 'The task was not retried'}: ${message(err)}` }
    }
    await loadTasks()
  }
  return {
    /** Stops a live task: the daemon makes it CANCELLED at once. */
    async cancelTask (id: string): Promise<void> { await act(id, 'cancel') },
    /** Queues a FAILED or CANCELLED task again: only what is not in place is fetched. */
    async retryTask (id: string): Promise<void> { await act(id, 'retry') }
  }
}

/** The pull form's action (POST /v1/tasks), its refusal kept in words for the form. */
function pullActions (state: State, render: () => void) {
  const call = guard(state, render)
  return {
    /** Starts a task for the picked scan; on success the page goes to the task's page, where it updates live. */
    async startPull (p: PullRequest): Promise<void> {
      const b = state.browse
      if (b === undefined || b.starting) return
      Object.assign(b, { starting: true, pullError: undefined })
      render()
      const body = { root: p.root, destination: p.destination, sources: [b.peer], ...(p.label === '' ? {} : { label: p.label }), ...deadline(p.deadline) }
      try {
        const { task } = await call<{ task: TaskRecord }>('POST', '/v1/tasks', body)
        location.hash = `#/tasks/${encodeURIComponent(task.taskId)}`
      } catch (err) {
        b.pullError = message(err)
      } finally {
        b.starting = false
        render()
      }
    }
  }
}

/** A datetime-local value (the browser's zone, no offset) as the ISO time the API takes; none: the API's default. */
function deadline (local: string): { deadline?: string } {
  if (local === '') return {}
  const t = new Date(local)
  return Number.isNaN(t.getTime()) ? { deadline: local } : { deadline: t.toISOString() }
}

function browseActions (state: State, render: () => void) {
  const call = guard(state, render)
  let spaceTimer: ReturnType<typeof setTimeout> | undefined
  const load = async (): Promise<void> => {
    const b = state.browse
    if (b === undefined) return
    b.loading = true
    b.error = undefined
    render()
    const q = new URLSearchParams()
    if (b.collection !== '') q.set('collection', b.collection)
    if (b.prefix !== '') q.set('prefix', b.prefix)
    if (b.cursor !== undefined) q.set('cursor', b.cursor)
    try {
      b.page = await call<CatalogPage>('GET', `/v1/peers/${encodeURIComponent(b.peer)}/catalog?${q.toString()}`)
    } catch (err) {
      b.page = undefined
      b.error = message(err)
    }
    b.loading = false
    render()
  }
  return {
    async openBrowse (peer: string): Promise<void> {
      state.browse = { peer, collection: '', prefix: '', back: [], cursor: undefined, loading: false, dest: '', starting: false }
      state.subscribe = undefined
      await load()
    },
    async filter (collection: string, prefix: string): Promise<void> {
      if (state.browse === undefined) return
      Object.assign(state.browse, { collection, prefix, back: [], cursor: undefined, picked: undefined })
      await load()
    },
    async nextPage (): Promise<void> {
      const b = state.browse
      if (b?.page?.next === null || b?.page === undefined) return
      b.back.push(b.cursor)
      b.cursor = b.page.next
      await load()
    },
    async previousPage (): Promise<void> {
      const b = state.browse
      if (b === undefined || b.back.length === 0) return
      b.cursor = b.back.pop()
      await load()
    },
    pick (root: string | undefined): void {
      if (state.browse !== undefined) Object.assign(state.browse, { picked: root, pullError: undefined })
      render()
    },
    /** The destination typed into the pull form: its free space, asked once typing pauses. */
    destination (path: string): void {
      const b = state.browse
      if (b === undefined) return
      b.dest = path
      b.destSpace = undefined
      render()
      if (spaceTimer !== undefined) clearTimeout(spaceTimer)
      if (!path.startsWith('/')) return
      spaceTimer = setTimeout(() => {
        call<Space>('GET', `/v1/space?path=${encodeURIComponent(path)}`)
          .then((space) => { if (b.dest === path) b.destSpace = space }, (err: unknown) => { if (b.dest === path) b.destSpace = { error: message(err) } })
          .finally(render)
      }, REFRESH_DEBOUNCE_MS)
    }
  }
}

export type Store = ReturnType<typeof createStore>
