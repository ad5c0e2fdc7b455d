/**
 * `createSubscriptionService`: the daemon's standing rules. A rule replicates every complete scan of a
 * collection on some peers into `<destination>/<scan name>`: those there now and every one added later.
 * Per rule and source peer a watcher (subscription-watcher.ts) follows the source's announcements and
 * lists its catalog; each scan not taken on yet gets its directory name (subscription-naming.ts) and a
 * task (TaskService.create). Rules and what each has taken on live in the catalog
 * (`catalog.subscriptions`), so a restart resumes without queuing anything twice.
 */
import { randomBytes } from 'node:crypto'
import { isAbsolute, join, resolve } from 'node:path'
import { CID } from 'multiformats/cid'
import { FerryError, errorMessage } from '@ferry/errors'
import type { SubscribedScan, SubscriptionRecord, SubscriptionStore } from '@ferry/store'
import { STUCK_SHOWN, SUBSCRIPTION_POLL_MS, SUBSCRIPTION_RETRY_INITIAL_MS, SUBSCRIPTION_RETRY_MAX_MS } from './constants.js'
import { scanDirName } from './subscription-naming.js'
import { checkFrom, resolveSources, type UnresolvedSource } from './subscription-sources.js'
import { startWatcher, type Watcher } from './subscription-watcher.js'
import { openFollows, type OpenFollows } from './subscription-follow.js'
import type { CatalogRowLike, SourceView, SubscriptionService, SubscriptionServiceInit, SubscriptionView } from './subscription-types.js'

/** The running part of one rule: its watchers by PeerId, and the `from` values that name nobody now. */
interface RuleRun { watchers: Map<string, Watcher>, unresolved: UnresolvedSource[], follows?: OpenFollows }

/** What the service's parts share. */
interface State {
  init: SubscriptionServiceInit
  store: SubscriptionStore
  runs: Map<string, RuleRun>
  closed: boolean
}

/** Creates the task of a scan a rule has taken on, and records it. */
function queue (s: State, rule: SubscriptionRecord, scan: SubscribedScan, addr: string): void {
  try {
    const { task } = s.init.tasks.create({
      root: scan.root,
      destination: join(rule.destination, scan.dir),
      sources: [addr],
      collection: rule.collection,
      label: `${rule.collection}/${scan.name} (subscription ${rule.id})`,
      ...(rule.onDone !== null ? { onDone: rule.onDone } : {})
    })
    s.store.setTask(rule.id, scan.root, task.taskId)
  } catch (err) {
    s.init.log?.(`Subscription ${rule.id}: cannot queue ${scan.name} (${scan.root}): ${errorMessage(err)}`)
  }
}

/** A row seen on `peer` for `rule`: taken on (named, queued) unless it was already or is not for the rule. */
function offer (s: State, rule: SubscriptionRecord, peer: string, row: CatalogRowLike, addr: string): void {
  const run = s.runs.get(rule.id)
  if (s.closed || run === undefined || row.collection !== rule.collection) return
  if (row.state === 'open' && typeof row.origin === 'string' && typeof row.created === 'number') {
    run.follows?.open({ ...row, origin: row.origin, created: row.created }, addr, peer)
    return
  }
  if (row.state !== 'sealed' || run.follows?.following(row.name) === true) return // a followed scan's seal comes from its follower
  let root: string
  try {
    root = CID.parse(row.root).toString()
  } catch {
    return
  }
  try {
    if (s.store.has(rule.id, root)) return
    const { scan, existing } = s.store.reserve(rule.id, { root, name: row.name, peer }, (taken) => scanDirName(row.name, root, taken))
    if (!existing) queue(s, rule, scan, addr)
  } catch (err) {
    s.init.log?.(`Subscription ${rule.id}: ${errorMessage(err)}`)
  }
}

/** Whether the service is closing (a function: a check after an await is not narrowed away). */
const isClosed = (s: State): boolean => s.closed

/** Starts and stops watchers so each rule watches exactly its sources as the address book has them now. */
async function sync (s: State): Promise<void> {
  const book = await s.init.peers()
  if (s.closed) return
  const rules = s.store.list()
  const ids = new Set(rules.map((r) => r.id))
  for (const [id, run] of s.runs) if (!ids.has(id)) await stopRun(s, id, run)
  for (const rule of rules) {
    if (isClosed(s) || s.store.get(rule.id) === undefined) continue // removed (or closing) while this sync waited
    const run: RuleRun = s.runs.get(rule.id) ?? { watchers: new Map(), unresolved: [] }
    if (run.follows === undefined && s.init.follow !== undefined) {
      run.follows = openFollows(rule, s.store, s.init.follow, (row, addr, peer) => { offer(s, rule, peer, row, addr) }, s.init.log)
    }
    s.runs.set(rule.id, run)
    const { peers, unresolved } = resolveSources(book, rule.from)
    run.unresolved = unresolved
    const wanted = new Map(peers.map((p) => [p.id, p]))
    for (const [id, w] of run.watchers) {
      const p = wanted.get(id)
      if (p === undefined || p.addrs.join(' ') !== w.source.addrs.join(' ')) {
        run.watchers.delete(id)
        await w.stop()
      }
    }
    for (const p of peers) if (!run.watchers.has(p.id)) run.watchers.set(p.id, watch(s, rule, p))
  }
}

function watch (s: State, rule: SubscriptionRecord, peer: Parameters<typeof startWatcher>[1]): Watcher {
  const follows = s.runs.get(rule.id)?.follows
  return startWatcher({
    collection: rule.collection,
    dial: s.init.dial,
    offer: (row, addr) => { offer(s, rule, peer.id, row, addr) },
    ...(follows !== undefined
      ? {
          onFile: (file, addr) => { // an open scan first seen by one of its files: followed from its identity
            const key = file.key.toString()
            offer(s, rule, peer.id, { root: key, collection: file.collection, name: file.name, origin: file.origin, created: file.created, state: 'open' }, addr)
            follows.file(key, file)
          }
        }
      : {}),
    onSession: (addr) => { for (const scan of s.store.withoutTask(rule.id)) if (scan.peer === peer.id) queue(s, rule, scan, addr) },
    pollMs: s.init.pollMs ?? SUBSCRIPTION_POLL_MS,
    retryInitialMs: s.init.retryInitialMs ?? SUBSCRIPTION_RETRY_INITIAL_MS,
    retryMaxMs: s.init.retryMaxMs ?? SUBSCRIPTION_RETRY_MAX_MS,
    log: s.init.log
  }, peer)
}

async function stopRun (s: State, id: string, run: RuleRun): Promise<void> {
  s.runs.delete(id)
  await Promise.all([...run.watchers.values()].map(async (w) => { await w.stop() }))
  await run.follows?.stop()
}

/** The `--from` values that name nobody, as sources in state `unresolved`. */
function unresolvedViews (run: RuleRun | undefined): SourceView[] {
  const since = new Date().toISOString()
  return (run?.unresolved ?? []).map((u) => ({ peer: null, name: u.from, addr: null, state: 'unresolved', since, error: { code: 'ERR_USAGE', message: u.message }, retryAt: null, lastListed: null, listed: 0 }))
}

/** A rule with its state (see SubscriptionState). */
export function viewOf (s: Pick<State, 'store' | 'runs' | 'init'>, rule: SubscriptionRecord): SubscriptionView {
  const c = s.store.counts(rule.id)
  const run = s.runs.get(rule.id)
  const sources = [...[...(run?.watchers.values() ?? [])].map((w) => w.view()), ...unresolvedViews(run)]
  const counts = { scans: c.scans, queued: c.QUEUED + c.none, active: c.ACTIVE, succeeded: c.SUCCEEDED, failed: c.FAILED, cancelled: c.CANCELLED }
  const stuck = counts.failed + counts.cancelled > 0 ? s.store.stuck(rule.id, STUCK_SHOWN) : []
  const openScans = run?.follows?.status() ?? []
  const state = stateOf(rule, counts, stuck, sources, s.init.self)
  if (openScans.length > 0 && state.state !== 'STUCK') {
    state.state = 'REPLICATING'
    state.reason = `following ${openScans.length} open scan${openScans.length === 1 ? '' : 's'} as acquired (${openScans.map((o) => `${o.name}: ${o.arrived} of ${o.published} files`).join(', ')}); ${state.reason}`
  }
  return { ...rule, ...state, counts, stuck, sources, openScans }
}

function stateOf (rule: SubscriptionRecord, counts: SubscriptionView['counts'], stuck: SubscriptionView['stuck'], sources: SourceView[], self: string | undefined): Pick<SubscriptionView, 'state' | 'reason'> {
  const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`
  if (stuck.length > 0) {
    const first = stuck[0]
    const why = first?.reason !== null && first?.reason !== undefined ? `: ${first.reason.message}` : first?.condition === 'CANCELLED' ? ': cancelled' : ''
    return { state: 'STUCK', reason: `${plural(counts.failed, 'scan')} failed, ${counts.cancelled} cancelled (${first?.name ?? ''}${why}); \`ferry retry <task>\` queues one again` }
  }
  if (counts.queued + counts.active > 0) return { state: 'REPLICATING', reason: `${counts.active} active, ${counts.queued} queued, ${counts.succeeded} of ${plural(counts.scans, 'scan')} replicated` }
  const failing = sources.filter((v) => v.error !== null)
  if (counts.scans === 0 && sources.length > 0 && failing.length === sources.length) {
    return { state: 'STUCK', reason: `no source can be asked: ${failing.map((v) => `${v.name ?? v.peer ?? ''}: ${v.error?.message ?? ''}`).join('; ')}` }
  }
  if (sources.length === 0) return { state: counts.scans === 0 ? 'WAITING' : 'OK', reason: 'no source: name peers with `ferry peer add`, or give --from' }
  if (counts.scans === 0) {
    const listed = sources.some((v) => v.lastListed !== null)
    const grant = `\`ferry grant ${rule.collection} ${self ?? '<our PeerId>'}\` there`
    return { state: 'WAITING', reason: listed ? `no source offers a scan of ${rule.collection}: it has none yet, or does not grant it to this node (${grant})` : 'connecting to the sources' }
  }
  return { state: 'OK', reason: `all ${plural(counts.scans, 'scan')} replicated` }
}

/** Checks a request and stores the rule; the sources' `from` names must be in the address book now. */
async function createRule (s: State, request: Parameters<SubscriptionService['create']>[0]): Promise<{ rule: SubscriptionRecord, existing: boolean }> {
  if (typeof request.collection !== 'string' || request.collection === '') throw new FerryError('ERR_INVALID_ARGUMENT', 'A subscription needs a collection')
  if (typeof request.destination !== 'string' || !isAbsolute(request.destination)) throw new FerryError('ERR_INVALID_ARGUMENT', `A subscription's destination must be an absolute directory, not ${String(request.destination)}`)
  const from = [...new Set(request.from ?? [])]
  checkFrom(await s.init.peers(), from)
  const onDone = typeof request.onDone === 'string' && request.onDone.trim() !== '' ? request.onDone : null
  const { subscription, existing } = s.store.create({ id: randomBytes(4).toString('hex'), collection: request.collection, destination: resolve(request.destination), from, onDone })
  if (existing && (subscription.from.join(' ') !== from.join(' ') || subscription.onDone !== onDone)) {
    throw new FerryError('ERR_CONFLICT', `Subscription ${subscription.id} already replicates ${subscription.collection} into ${subscription.destination} with other settings: \`ferry unsubscribe ${subscription.id}\` first`)
  }
  return { rule: subscription, existing }
}

/** Starts the subscriptions stored in the catalog; see SubscriptionService. */
export function createSubscriptionService (init: SubscriptionServiceInit): SubscriptionService {
  const s: State = { init, store: init.catalog.subscriptions, runs: new Map(), closed: false }
  let syncing = Promise.resolve()
  const resync = async (): Promise<void> => {
    syncing = syncing.then(async () => { await sync(s) }).catch((err: unknown) => { init.log?.(`Subscriptions: ${errorMessage(err)}`) })
    await syncing
  }
  void resync()
  const timer = setInterval(() => { void resync() }, init.pollMs ?? SUBSCRIPTION_POLL_MS)
  timer.unref()
  const must = (id: string): SubscriptionRecord => {
    const rule = s.store.get(id)
    if (rule === undefined) throw new FerryError('ERR_NOT_FOUND', `No subscription ${id} on this node (\`ferry subscriptions\` lists them)`)
    return rule
  }
  const close = async (): Promise<void> => {
    if (s.closed) return
    s.closed = true
    clearInterval(timer)
    await syncing
    await Promise.all([...s.runs].map(async ([id, run]) => { await stopRun(s, id, run) }))
  }
  init.signal?.addEventListener('abort', () => { void close() }, { once: true })
  return {
    create: async (request) => {
      if (s.closed) throw new FerryError('ERR_ABORTED', 'The subscription service is stopping')
      const { rule, existing } = await createRule(s, request)
      if (!existing) await resync()
      return { subscription: viewOf(s, rule), existing }
    },
    list: () => s.store.list().map((r) => viewOf(s, r)),
    get: (id) => {
      const rule = s.store.get(id)
      return rule === undefined ? undefined : viewOf(s, rule)
    },
    remove: (id, options = {}) => {
      const rule = must(id)
      const view = viewOf(s, rule)
      const run = s.runs.get(id)
      if (run !== undefined) void stopRun(s, id, run)
      const live = options.cancelTasks === true ? s.store.liveTasks(id) : []
      for (const taskId of live) init.tasks.cancel(taskId)
      s.store.remove(id)
      return { subscription: view, cancelled: live }
    },
    close
  }
}
