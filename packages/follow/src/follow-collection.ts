/**
 * Following every scan of a collection on a source into `<dest>/<scan name>/`: one subscription with
 * published files (ANNOUNCE_SUBSCRIBE_FILES), re-made after any failure, and after each acceptance a listing
 * of the catalog to catch up (docs/protocol.md, "Catch-up contract"). An open scan is followed file by
 * file (followScan); a scan already sealed when first seen is pulled as any scan. With `idleMs` the follow
 * ends once every scan it knows is sealed and verified and none has appeared for that long.
 */
import { join } from 'node:path'
import { FerryError } from '@ferry/errors'
import { pull } from '@ferry/transfer'
import type { Publication, RemoteCatalogRow } from '@ferry/exchange'
import type { Catalog, InnerBlocks } from '@ferry/store'
import { CID } from 'multiformats/cid'
import { followScan, type FollowScanInit, type FollowScanResult, type ScanFollower } from './follow-scan.js'
import { createSource, isConnectionFailure, type Source } from './source.js'
import type { FollowPeerSpec, FollowProgressEvent, OpenScanStatus } from './types.js'

/** What `followCollection` needs. */
export interface FollowCollectionInit {
  collection: string
  dest: string
  peers: FollowPeerSpec[]
  home: { catalog: Catalog, blocks: InnerBlocks }
  signal?: AbortSignal
  onProgress?: (e: FollowProgressEvent) => void
  /**
   * End once every scan known is sealed and verified and no new one appeared for this long (ms). Undefined:
   * follow until `signal` aborts. Before the first scan is seen the follow always waits.
   */
  idleMs?: number
  /** Give up once no source answered for this long. */
  deadlineMs?: number
  pollMs?: number
  pull?: FollowScanInit['pull']
}

/** A running follow of a collection. */
export interface CollectionFollower {
  /** Every open scan followed so far, as the API shows it. */
  status: () => OpenScanStatus[]
  /** The scans replicated (each sealed and verified), in the order they finished. */
  done: Promise<FollowScanResult[]>
}

interface Ctx {
  init: FollowCollectionInit
  signal: AbortSignal
  source: Source
  followers: Map<string, ScanFollower>
  /** Names followed as open scans, and roots pulled: a sealed row for either is not pulled again. */
  names: Set<string>
  roots: Set<string>
  tasks: Array<Promise<FollowScanResult>>
  results: FollowScanResult[]
  lastNews: number
  fail: (err: unknown) => void
}

/** Starts following `init.collection` (see the module comment). */
export function followCollection (init: FollowCollectionInit): CollectionFollower {
  const controller = new AbortController()
  const signal = init.signal === undefined ? controller.signal : AbortSignal.any([init.signal, controller.signal])
  let fail: (err: unknown) => void = () => {}
  const failed = new Promise<never>((_resolve, reject) => { fail = reject })
  failed.catch(() => {})
  const source = createSource({ peers: init.peers, signal, onProgress: init.onProgress, deadlineMs: init.deadlineMs })
  const ctx: Ctx = { init, signal, source, followers: new Map(), names: new Set(), roots: new Set(), tasks: [], results: [], lastNews: Date.now(), fail }
  const done = (async () => {
    const subscription = subscribeLoop(ctx)
    subscription.catch((err: unknown) => { fail(err) })
    try {
      return await Promise.race([untilIdle(ctx), failed])
    } finally {
      controller.abort(new FerryError('ERR_ABORTED', 'follow ended'))
      await Promise.allSettled([subscription, ...ctx.tasks])
      await source.close()
    }
  })()
  return { status: () => [...ctx.followers.values()].map((f) => f.status()), done }
}

/** Resolves once every scan is done and, since the last was done or seen, nothing new came for `idleMs` (never without it). */
async function untilIdle (ctx: Ctx): Promise<FollowScanResult[]> {
  const { idleMs } = ctx.init
  for (;;) {
    const pending = ctx.tasks.length
    await Promise.all(ctx.tasks)
    if (pending === ctx.tasks.length && pending > 0 && idleMs !== undefined && Date.now() - ctx.lastNews >= idleMs) return ctx.results
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(idleMs ?? 250, 10))))
    if (ctx.signal.aborted) throw new FerryError('ERR_ABORTED', 'Follow aborted', { cause: ctx.signal.reason })
  }
}

/** Keeps one subscription open (re-made after failures) and lists the catalog after each acceptance. */
async function subscribeLoop (ctx: Ctx): Promise<void> {
  const { collection } = ctx.init
  while (!ctx.signal.aborted) {
    try {
      await ctx.source.use(async (peer) => {
        let listing: Promise<void> | undefined
        const onSubscribed = (): void => { listing = listCatalog(ctx) }
        try {
          for await (const pub of peer.watchPublications({ collection, onSubscribed, signal: ctx.signal })) {
            await listing
            dispatch(ctx, pub)
          }
        } finally {
          await listing?.catch(() => {})
        }
        throw new FerryError('ERR_NETWORK', `${peer.id} ended the subscription`)
      })
    } catch (err) {
      if (!isConnectionFailure(err, ctx.signal)) throw err
    }
  }
}

async function listCatalog (ctx: Ctx): Promise<void> {
  try {
    await ctx.source.catalog(async (peer) => {
      for await (const page of peer.listCatalog({ collection: ctx.init.collection, signal: ctx.signal })) for (const row of page.rows) learn(ctx, row)
    })
  } catch (err) {
    if (!isConnectionFailure(err, ctx.signal)) ctx.fail(err)
  }
}

function dispatch (ctx: Ctx, pub: Publication): void {
  if (pub.type === 'scan') {
    learn(ctx, pub.row)
    return
  }
  const f = pub.file
  const key = f.key.toString()
  learn(ctx, { root: key, collection: f.collection, name: f.name, origin: f.origin, created: f.created, state: 'open' })
  ctx.followers.get(key)?.push(f)
}

/** A scan seen in a listing or an announcement: followed (open), pulled (sealed, new) or already known. */
function learn (ctx: Ctx, row: Pick<RemoteCatalogRow, 'root' | 'collection' | 'name' | 'origin' | 'created' | 'state'>): void {
  if (row.collection !== ctx.init.collection) return
  if (row.state === 'open') {
    if (ctx.followers.has(row.root)) return
    const f = followScan({ ...ctx.init, row, source: ctx.source, signal: ctx.signal })
    ctx.followers.set(row.root, f)
    ctx.names.add(row.name)
    track(ctx, f.done)
    ctx.init.onProgress?.({ type: 'follow:scan', name: row.name, key: row.root, state: 'open' })
  } else {
    if (ctx.roots.has(row.root) || ctx.names.has(row.name)) return
    ctx.roots.add(row.root)
    ctx.names.add(row.name)
    track(ctx, pullScan(ctx, row.name, row.root))
    ctx.init.onProgress?.({ type: 'follow:scan', name: row.name, key: row.root, state: 'sealed' })
  }
}

function track (ctx: Ctx, p: Promise<FollowScanResult>): void {
  ctx.lastNews = Date.now()
  const t = p.then((r) => {
    // the idle time runs from the last scan done, not from the last one seen: a visit's next scan often
    // starts a while after the previous one was first seen
    ctx.lastNews = Date.now()
    ctx.roots.add(r.root)
    ctx.results.push(r)
    return r
  })
  t.catch((err: unknown) => { ctx.fail(err) })
  ctx.tasks.push(t)
}

/** A scan sealed before it was seen: an ordinary pull into `<dest>/<name>/`. */
async function pullScan (ctx: Ctx, name: string, root: string): Promise<FollowScanResult> {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\')) {
    throw new FerryError('ERR_PROTOCOL', `Refusing the scan name "${name}": it is not a plain directory name`)
  }
  const { init } = ctx
  const result = await pull({
    ...init.pull,
    root: CID.parse(root),
    dest: join(init.dest, name),
    peers: init.peers,
    home: init.home,
    signal: ctx.signal,
    onProgress: (event) => { init.onProgress?.({ type: 'follow:pull', name, event }) }
  })
  init.onProgress?.({ type: 'follow:sealed', name, root, result })
  return { name, key: root, root, result, followed: { files: 0, fetched: 0, reused: 0 } }
}
