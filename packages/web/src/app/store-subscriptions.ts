/**
 * The subscriptions part of the page's state: the rules (GET /v1/subscriptions), the subscribe form of the
 * browse view (POST /v1/subscriptions, its destination's free space from GET /v1/space) and unsubscribing
 * (DELETE /v1/subscriptions/:id). Re-read when a task changes (a rule's state follows its tasks), never polled.
 */
import { ApiError } from './api.js'
import { guard, message, type SessionState } from './call.js'
import type { Space, Subscription } from './types.js'

/** What the subscriptions view knows: not asked yet, no subscriptions on this daemon, the rules, or an error. */
export type SubscriptionsState =
  | { status: 'loading' }
  | { status: 'unavailable' }
  | { status: 'ok', subscriptions: Subscription[] }
  | { status: 'error', message: string }

/** The browse view's subscribe form: the collection, the destination and its free space, the hook. */
export interface SubscribeForm {
  collection: string
  dest: string
  destSpace?: Space | { error: string }
  starting: boolean
  error?: string
}

/** The part of the page's state these actions read and write. */
export interface SubscriptionsPart extends SessionState {
  subscriptions: SubscriptionsState
  /** An unsubscribe under way, or the API's refusal of the last one. */
  subAction: { busy: boolean, error?: string }
  /** The subscribe form, while open (the browse view). */
  subscribe?: SubscribeForm
}

/** What the subscribe form sends (the browsed peer is the rule's one source). */
export interface SubscribeRequest { collection: string, destination: string, peer: string, onDone: string }

/** Delay between the last key typed into a destination and the free-space question. */
export const SPACE_DEBOUNCE_MS = 250

/** The subscriptions' actions on `state`; `render` after each change. */
export function subscriptionActions (state: SubscriptionsPart, render: () => void) {
  const call = guard(state, render)
  let spaceTimer: ReturnType<typeof setTimeout> | undefined
  const load = async (): Promise<void> => {
    try {
      state.subscriptions = { status: 'ok', subscriptions: (await call<{ subscriptions: Subscription[] }>('GET', '/v1/subscriptions')).subscriptions }
    } catch (err) {
      state.subscriptions = err instanceof ApiError && err.status === 404 ? { status: 'unavailable' } : { status: 'error', message: message(err) }
    }
    render()
  }
  return {
    loadSubscriptions: load,
    /** Opens the subscribe form for `collection` (or closes it: undefined). */
    openSubscribe (collection: string | undefined): void {
      state.subscribe = collection === undefined ? undefined : { collection, dest: '', starting: false }
      render()
    },
    /** The destination typed into the subscribe form: its free space, asked once typing pauses. */
    subscribeDestination (path: string): void {
      const f = state.subscribe
      if (f === undefined) return
      Object.assign(f, { dest: path, destSpace: undefined })
      render()
      clearTimeout(spaceTimer)
      if (!path.startsWith('/')) return
      spaceTimer = setTimeout(() => {
        call<Space>('GET', `/v1/space?path=${encodeURIComponent(path)}`)
          .then((space) => { if (f.dest === path) f.destSpace = space }, (err: unknown) => { if (f.dest === path) f.destSpace = { error: message(err) } })
          .finally(render)
      }, SPACE_DEBOUNCE_MS)
    },
    /** Creates the rule; on success the page goes to the subscriptions view, where its state shows live. */
    async startSubscription (r: SubscribeRequest): Promise<void> {
      const f = state.subscribe
      if (f === undefined || f.starting) return
      Object.assign(f, { starting: true, error: undefined, collection: r.collection })
      render()
      try {
        await call('POST', '/v1/subscriptions', { collection: r.collection, destination: r.destination, from: [r.peer], ...(r.onDone === '' ? {} : { onDone: r.onDone }) })
        state.subscribe = undefined
        location.hash = '#/subscriptions'
      } catch (err) {
        f.error = message(err)
      } finally {
        f.starting = false
        render()
      }
    },
    /** Stops a rule (its tasks go on unless `cancelTasks`), then re-reads the rules. */
    async unsubscribe (id: string, cancelTasks: boolean): Promise<void> {
      if (state.subAction.busy) return
      state.subAction = { busy: true }
      render()
      try {
        await call('DELETE', `/v1/subscriptions/${encodeURIComponent(id)}${cancelTasks ? '?cancelTasks=true' : ''}`)
        state.subAction = { busy: false }
      } catch (err) {
        state.subAction = { busy: false, error: `Not unsubscribed: ${message(err)}` }
      }
      await load()
    }
  }
}
