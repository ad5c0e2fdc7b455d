/**
 * One watcher per (rule, source peer): subscribe to the source's announcements, once accepted list its
 * catalog (the catch-up contract of docs/protocol.md, "Announcements"), then list it again every pollMs
 * while announcements arrive (a source without the announce protocol, an older Ferry, is only listed every
 * pollMs); each row is offered to the rule, which dedupes by root. A failed session
 * is retried with a capped, doubling backoff, rotating over the peer's addresses; the backoff starts over
 * after a session that got subscribed.
 */
import { FerryError, errorMessage, isUnsupportedProtocol } from '@ferry/errors'
import type { TaskReason } from '@ferry/store'
import { SUBSCRIPTION_PAGE_ROWS } from './constants.js'
import type { SourcePeer } from './subscription-sources.js'
import type { CatalogPeer, CatalogRowLike, PublicationLike, SourceState, SourceView } from './subscription-types.js'

/** What a watcher needs from its service. */
export interface WatcherContext {
  collection: string
  dial: (addr: string, signal: AbortSignal) => Promise<CatalogPeer>
  /** Called for every row seen (listed or announced), with the address it came through. */
  offer: (row: CatalogRowLike, addr: string) => void
  /** Called for every file published into an open scan; given, the watcher asks for them (watchPublications). */
  onFile?: (file: Extract<PublicationLike, { type: 'file' }>['file'], addr: string) => void
  /** Called once a session is subscribed, before the listing (queues what a crash left without a task). */
  onSession?: (addr: string) => void
  pollMs: number
  retryInitialMs: number
  retryMaxMs: number
  log?: (line: string) => void
}

/** A running watcher. */
export interface Watcher {
  readonly source: SourcePeer
  view: () => SourceView
  /** Lists the catalog again now (a rule was just created, or a test). */
  kick: () => void
  stop: () => Promise<void>
}

function reasonOf (err: unknown): TaskReason {
  return { code: err instanceof FerryError ? err.code : 'ERR_INTERNAL', message: errorMessage(err) }
}

/** Resolves after `ms`, or at once when `wake` is called; rejects when `signal` aborts. */
function pause (ms: number, signal: AbortSignal, wakeUp: { wake?: () => void }): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', onAbort); wakeUp.wake = undefined; resolve() }
    const onAbort = (): void => { clearTimeout(timer); wakeUp.wake = undefined; reject(new FerryError('ERR_ABORTED', 'watcher stopped')) }
    const timer = setTimeout(done, ms)
    wakeUp.wake = done
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** A watcher's state and its controls, shared by its loop and its sessions. */
interface Run {
  ctx: WatcherContext
  source: SourcePeer
  label: string
  state: SourceView
  set: (s: SourceState, patch?: Partial<SourceView>) => void
  wakeUp: { wake?: () => void }
  /** Whether the current session got subscribed (then the backoff starts over). */
  subscribed: () => boolean
  setSubscribed: (v: boolean) => void
  /** The source refused ANNOUNCE_SUBSCRIBE_FILES (an older Ferry): plain announcements from then on. */
  noFiles: boolean
  /** Whether the source refused the announce protocol (then it is polled only). */
  pollOnly: boolean
}

/**
 * Waits for the source to accept the subscription: true once it did; false when it does not serve the
 * announce protocol (an older Ferry), whose catalog is then only listed every pollMs (logged once per watcher).
 */
async function subscribe (r: Run, subscribed: Promise<void>, announcements: Promise<never>): Promise<boolean> {
  try {
    await Promise.race([subscribed, announcements])
    return true
  } catch (err) {
    if (!isUnsupportedProtocol(err)) throw err
    if (!r.pollOnly) r.ctx.log?.(`Subscription ${r.ctx.collection}: ${r.label} does not serve announcements (an older Ferry): listing its catalog every ${r.ctx.pollMs / 1000} s instead`)
    r.pollOnly = true
    return false
  }
}

/** One session: dial, subscribe, catch up, then list every pollMs until the announcements (or a listing) fail. */
async function session (r: Run, addr: string, signal: AbortSignal): Promise<void> {
  const { ctx } = r
  r.set('connecting', { addr })
  const inner = new AbortController()
  const sig = AbortSignal.any([signal, inner.signal])
  const peer = await ctx.dial(addr, sig)
  let accepted: () => void = () => {}
  const subscribed = new Promise<void>((resolve) => { accepted = resolve })
  const announcements = (async () => {
    const options = { collection: ctx.collection, signal: sig, onSubscribed: () => { accepted() } }
    if (ctx.onFile !== undefined && peer.watchPublications !== undefined && !r.noFiles) {
      try {
        for await (const pub of peer.watchPublications(options)) {
          if (pub.type === 'scan') ctx.offer(pub.row, addr)
          else ctx.onFile(pub.file, addr)
        }
      } catch (err) {
        if (!r.subscribed() && err instanceof FerryError && err.code === 'ERR_PROTOCOL') r.noFiles = true // retried without files
        throw err
      }
    } else {
      for await (const row of peer.watchAnnouncements(options)) ctx.offer(row, addr)
    }
    throw new FerryError('ERR_NETWORK', `Peer ${r.label} ended its announcements`)
  })()
  announcements.catch(() => {}) // raced below; a rejection after the session ended is not unhandled
  try {
    const announced = await subscribe(r, subscribed, announcements)
    r.setSubscribed(true)
    ctx.onSession?.(addr)
    for (;;) {
      r.set('listing', { error: null, retryAt: null })
      let listed = 0
      for await (const page of peer.listCatalog({ collection: ctx.collection, pageSize: SUBSCRIPTION_PAGE_ROWS, signal: sig })) {
        for (const row of page.rows) {
          ctx.offer(row, addr)
          if (row.collection === ctx.collection) listed++
        }
      }
      r.set('watching', { lastListed: new Date().toISOString(), listed })
      await (announced ? Promise.race([announcements, pause(ctx.pollMs, sig, r.wakeUp)]) : pause(ctx.pollMs, sig, r.wakeUp))
    }
  } finally {
    inner.abort()
    await peer.close().catch(() => {})
  }
}

/** Sessions one after the other until `signal`, with the capped backoff between failed ones. */
async function loop (r: Run, signal: AbortSignal): Promise<void> {
  const { ctx, source } = r
  let delay = ctx.retryInitialMs
  const stopped = (): boolean => signal.aborted // a function: a check after an await is not narrowed away
  for (let attempt = 0; !stopped(); attempt++) {
    const addr = source.addrs[attempt % source.addrs.length] ?? ''
    r.setSubscribed(false)
    try {
      await session(r, addr, signal)
    } catch (err) {
      if (stopped()) return
      if (r.subscribed()) delay = ctx.retryInitialMs
      const reason = reasonOf(err)
      if (r.state.error?.message !== reason.message) ctx.log?.(`Subscription ${ctx.collection}: ${r.label}: ${reason.message} (retrying)`)
      r.set('retrying', { error: reason, retryAt: new Date(Date.now() + delay).toISOString() })
      try {
        await pause(delay, signal, {})
      } catch {
        return
      }
      delay = Math.min(delay * 2, ctx.retryMaxMs)
    }
  }
}

/** Starts watching `source` for the rule described by `ctx`. */
export function startWatcher (ctx: WatcherContext, source: SourcePeer): Watcher {
  const controller = new AbortController()
  const now = (): string => new Date().toISOString()
  const state: SourceView = { peer: source.id, name: source.name, addr: null, state: 'connecting', since: now(), error: null, retryAt: null, lastListed: null, listed: 0 }
  let subscribed = false
  const run: Run = {
    ctx,
    source,
    label: source.name ?? source.id,
    state,
    set: (s, patch = {}) => {
      if (s !== state.state) state.since = now()
      Object.assign(state, { state: s, ...patch })
    },
    wakeUp: {},
    subscribed: () => subscribed,
    setSubscribed: (v) => { subscribed = v },
    noFiles: false,
    pollOnly: false
  }
  const done = loop(run, controller.signal)
  return {
    source,
    view: () => ({ ...state }),
    kick: () => { run.wakeUp.wake?.() },
    stop: async () => {
      controller.abort()
      await done
    }
  }
}
