import { FerryError, isFerryError } from '@ferry/errors'
import { DEFAULT_CONNECTIONS, DEFAULT_WINDOW, ENDGAME_AFTER_MS, EXTRA_LANES_BYTES, MAX_CONNECTIONS_PER_PEER, SMALL_LEAF_WINDOW } from './constants.js'
import type { PullContext } from './context.js'
import type { LeafSink } from './phases/sink.js'
import { PeerLink, sleep, type PeerState } from './peers.js'
import type { WorkItem, WorkQueue } from './queue.js'
import { noPeers } from './remote.js'
import type { BlockPeer, BlockResult } from './types.js'

/**
 * Fetches the queue's leaves from every peer at once, over `connections` connections to each: per connection,
 * its share of the peer's window of lanes, each taking the next leaf. A connection that fails loses only its
 * requests in flight (requeued, so the other connections and peers take them) and is redialled with backoff;
 * a watchdog fails what nobody can give and aborts the pull when no leaf arrived for the deadline. Throws the
 * abort reason if the pull was aborted with a FerryError.
 */
export async function fetchFromPeers (ctx: PullContext, queue: WorkQueue, sink: LeafSink): Promise<void> {
  const window = ctx.options.window ?? DEFAULT_WINDOW
  // `window` lanes per peer, and up to SMALL_LEAF_WINDOW with the extra ones sharing EXTRA_LANES_BYTES:
  // small leaves get more requests in flight (they batch on the wire), 1 MiB ones hardly any more
  const lanes = Math.max(window, SMALL_LEAF_WINDOW)
  const n = Math.min(connectionsOf(ctx), window)
  const extra: PeerLink[] = []
  const runs = ctx.peers.flatMap((state) => {
    const budget: Budget = { bytes: EXTRA_LANES_BYTES, inflight: 0 }
    const links: Link[] = [state]
    for (let i = 1; i < n; i++) links.push(new PeerLink(state, i, ctx.emit))
    extra.push(...links.slice(1) as PeerLink[])
    return links.map(async (link, i) => { await supervise(ctx, queue, sink, state, link, { base: share(window, n, i), extra: share(lanes - window, n, i), budget }) })
  })
  try {
    await Promise.all([...runs, watchdog(ctx, queue)])
  } finally {
    await Promise.all(extra.map(async (l) => { await l.close() }))
  }
  if (ctx.signal.aborted && isFerryError(ctx.signal.reason)) throw ctx.signal.reason
}

/** PullOptions.connections, checked: an integer 1 .. MAX_CONNECTIONS_PER_PEER. */
function connectionsOf (ctx: PullContext): number {
  const n = ctx.options.connections ?? DEFAULT_CONNECTIONS
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONNECTIONS_PER_PEER) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `connections must be an integer from 1 to ${MAX_CONNECTIONS_PER_PEER}, not ${n}`)
  }
  return n
}

/** Connection `i`'s share of `total` lanes over `n` connections (the first ones get the remainder). */
function share (total: number, n: number, i: number): number {
  return Math.floor(total / n) + (i < total % n ? 1 : 0)
}

/** A connection to a peer: the peer's own (its PeerState) or one of its extra ones. */
type Link = PeerState | PeerLink

/** The lanes of one connection: `base` ones, and `extra` ones within the peer's `budget`. */
interface Lanes { base: number, extra: number, budget: Budget }

/** Keeps one connection's lanes running while work remains: connects, runs them, redials after a loss. */
async function supervise (ctx: PullContext, queue: WorkQueue, sink: LeafSink, state: PeerState, link: Link, lanes: Lanes): Promise<void> {
  const { signal } = ctx
  const index = link instanceof PeerLink ? link.index : 0
  while (queue.outstanding > 0 && state.usable && !signal.aborted) {
    const peer = await link.connect(signal)
    if (peer != null) {
      const on: OnLink = { state, link, peer, index }
      await Promise.all(Array.from({ length: lanes.base + lanes.extra }, async (_, i) => { await lane(ctx, queue, sink, on, i < lanes.base ? undefined : lanes.budget) }))
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the lanes change both while awaited
      if (queue.outstanding === 0 || !state.usable) break
      if (link.status === 'up') continue
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the lanes change both while awaited
    if (!state.usable || queue.outstanding === 0) break
    await link.waitBackoff(signal).catch(() => {})
  }
}

/** Every 250 ms: with no usable peer left, fails what is outstanding; past the deadline, aborts the pull. */
async function watchdog (ctx: PullContext, queue: WorkQueue): Promise<void> {
  const { signal, deadlineMs } = ctx
  while (queue.outstanding > 0 && !signal.aborted) {
    await sleep(250, signal).catch(() => {})
    if (ctx.peers.every((p) => !p.usable)) {
      // nobody left to ask: what is still outstanding cannot be had in this run
      queue.failAll()
    } else if (Date.now() - ctx.counters.lastProgress > deadlineMs) {
      ctx.controller.abort(noPeers(ctx, `data for ${Math.round(deadlineMs / 1000)} s`))
    }
  }
}

/** Bytes of leaves the extra lanes of one peer may have in flight (beyond the first `window` lanes). */
interface Budget { bytes: number, inflight: number }

/** Where a lane sends its requests: the peer, one connection to it (its index) and that connection's client. */
interface OnLink { state: PeerState, link: Link, peer: BlockPeer, index: number }

/** True while `on`'s connection is the one the lane started on and it is up. */
function linkUp (on: OnLink): boolean {
  return on.state.usable && on.link.status === 'up' && on.link.peer === on.peer
}

/**
 * One request at a time over one connection, while it stays up and work remains. A lane with a `budget` (one
 * beyond the first `window`) takes a leaf only while the leaves in flight on such lanes are under its bytes.
 * With a shared in-flight budget (PullOptions.inflight) a leaf taken waits for its bytes before it is asked
 * for, and gives them back once written (or its request failed).
 */
async function lane (ctx: PullContext, queue: WorkQueue, sink: LeafSink, on: OnLink, budget?: Budget): Promise<void> {
  const { signal } = ctx
  const { peer } = on
  while (queue.outstanding > 0 && !signal.aborted && linkUp(on)) {
    if (budget !== undefined && budget.inflight >= budget.bytes) {
      await queue.changed()
      continue
    }
    const item = queue.take(peer.id) ?? queue.duplicate(peer.id, ENDGAME_AFTER_MS)
    if (item == null) {
      await queue.changed()
      continue
    }
    const shared = ctx.options.inflight
    if (shared !== undefined && !await shared.acquire(item.leaf.length, signal)) {
      queue.requeue(item)
      return
    }
    if (budget !== undefined) budget.inflight += item.leaf.length
    try {
      await request(ctx, queue, sink, on, item)
    } finally {
      if (budget !== undefined) budget.inflight -= item.leaf.length
      shared?.release(item.leaf.length)
    }
    if (!linkUp(on)) return
  }
}

/** Asks `on.peer` for one leaf and handles the answer; a failure is its connection's (requeued for the others). */
async function request (ctx: PullContext, queue: WorkQueue, sink: LeafSink, on: OnLink, item: WorkItem): Promise<void> {
  const { signal } = ctx
  const { state, link, peer } = on
  if (item.inflight++ === 0) {
    item.askedOf = peer.id
    item.askedAt = Date.now()
  }
  let r: BlockResult
  try {
    r = await peer.get(item.leaf.cid, { signal })
  } catch (err) {
    item.inflight--
    queue.requeue(item)
    if (!signal.aborted && link.peer === peer) link.fail(err)
    return
  }
  item.inflight--
  if (item.done || item.failed) return
  if (r.status === 'ok') {
    const length = item.leaf.length
    const c = ctx.counters
    c.bytesFetched += length
    state.bytes += length
    c.fromPeers[peer.id] = (c.fromPeers[peer.id] ?? 0) + length
    const perLink = (c.fromConnections[peer.id] ??= [])
    for (let i = perLink.length; i <= on.index; i++) perLink.push(0)
    perLink[on.index] = (perLink[on.index] ?? 0) + length
    ctx.emit({ type: 'pull:bytes', peer: peer.id, bytes: length })
    await sink.written(item, r.chunks ?? r.bytes, true)
    return
  }
  refused(ctx, queue, state, peer, item, r)
}

/** A peer did not send the leaf: note why, penalise it if it lied or refused, and requeue or fail the leaf. */
function refused (ctx: PullContext, queue: WorkQueue, state: PeerState, peer: BlockPeer, item: WorkItem, r: Exclude<BlockResult, { status: 'ok' }>): void {
  ;(item.tried ??= new Set()).add(peer.id)
  if (r.status === 'changed') (item.changedAt ??= []).push(`${peer.id}: ${r.message}`)
  if (r.status === 'bad') state.ban(r.message ?? `sent bytes that do not match ${item.leaf.cid.toString()}`)
  if (r.status === 'denied') state.fail(new FerryError('ERR_PEER_REFUSED', r.message ?? `${peer.id} refused the request`))
  const others = ctx.peers.some((p) => p.usable && p.peer?.id !== peer.id && item.tried?.has(p.peer?.id ?? p.spec.label) !== true)
  if (others || (state.usable && r.status !== 'missing' && r.status !== 'changed')) queue.requeue(item)
  else queue.fail(item)
}
