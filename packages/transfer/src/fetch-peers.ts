import { FerryError, isFerryError } from '@ferry/errors'
import { DEFAULT_WINDOW, ENDGAME_AFTER_MS, EXTRA_LANES_BYTES, SMALL_LEAF_WINDOW } from './constants.js'
import type { PullContext } from './context.js'
import type { LeafSink } from './phases/sink.js'
import { sleep, type PeerState } from './peers.js'
import type { WorkItem, WorkQueue } from './queue.js'
import { noPeers } from './remote.js'
import type { BlockPeer, BlockResult } from './types.js'

/**
 * Fetches the queue's leaves from every peer at once: per peer, a window of lanes each taking the next leaf;
 * a peer that fails is retried with backoff; a watchdog fails what nobody can give and aborts the pull when
 * no leaf arrived for the deadline. Throws the abort reason if the pull was aborted with a FerryError.
 */
export async function fetchFromPeers (ctx: PullContext, queue: WorkQueue, sink: LeafSink): Promise<void> {
  const window = ctx.options.window ?? DEFAULT_WINDOW
  // `window` lanes per peer, and up to SMALL_LEAF_WINDOW with the extra ones sharing EXTRA_LANES_BYTES:
  // small leaves get more requests in flight (they batch on the wire), 1 MiB ones hardly any more
  const lanes = Math.max(window, SMALL_LEAF_WINDOW)
  const { signal } = ctx
  const supervise = async (state: PeerState): Promise<void> => {
    while (queue.outstanding > 0 && state.usable && !signal.aborted) {
      const peer = await state.connect(signal)
      if (peer != null) {
        const budget: Budget = { bytes: EXTRA_LANES_BYTES, inflight: 0 }
        await Promise.all(Array.from({ length: lanes }, async (_, i) => { await lane(ctx, queue, sink, state, peer, i < window ? undefined : budget) }))
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the lanes change both while awaited
        if (queue.outstanding === 0 || !state.usable) break
        if (state.status === 'up') continue
      }
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the lanes change both while awaited
      if (!state.usable || queue.outstanding === 0) break
      await state.waitBackoff(signal).catch(() => {})
    }
  }
  await Promise.all([...ctx.peers.map(supervise), watchdog(ctx, queue)])
  if (signal.aborted && isFerryError(signal.reason)) throw signal.reason
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

/**
 * One request at a time to `peer`, while it stays up and work remains. A lane with a `budget` (one beyond
 * the first `window`) takes a leaf only while the leaves in flight on such lanes are under its bytes.
 */
async function lane (ctx: PullContext, queue: WorkQueue, sink: LeafSink, state: PeerState, peer: BlockPeer, budget?: Budget): Promise<void> {
  const { signal } = ctx
  while (queue.outstanding > 0 && !signal.aborted && state.status === 'up' && state.peer === peer) {
    if (budget !== undefined && budget.inflight >= budget.bytes) {
      await queue.changed()
      continue
    }
    const item = queue.take(peer.id) ?? queue.duplicate(peer.id, ENDGAME_AFTER_MS)
    if (item == null) {
      await queue.changed()
      continue
    }
    if (budget !== undefined) budget.inflight += item.leaf.length
    try {
      await request(ctx, queue, sink, state, peer, item)
    } finally {
      if (budget !== undefined) budget.inflight -= item.leaf.length
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the request may fail the peer while awaited
    if (state.status !== 'up' || state.peer !== peer) return
  }
}

/** Asks `peer` for one leaf and handles the answer. */
async function request (ctx: PullContext, queue: WorkQueue, sink: LeafSink, state: PeerState, peer: BlockPeer, item: WorkItem): Promise<void> {
  const { signal } = ctx
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
    if (!signal.aborted && state.peer === peer) state.fail(err)
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
