import { FerryError } from '@ferry/errors'
import { readLeaf } from '@ferry/store'
import type { FileLeaf } from '@ferry/dag'
import { DEFAULT_CHECKPOINT_MS, DEFAULT_QUEUE_WINDOW, LOCAL_COPY_CONCURRENCY } from '../constants.js'
import type { PullContext } from '../context.js'
import { fetchFromPeers } from '../fetch-peers.js'
import type { StagePlan } from '../plan.js'
import { WorkQueue, type WorkItem } from '../queue.js'
import { Staging } from '../staging.js'
import type { PullProblem } from '../types.js'
import { leafSink, type LeafSink } from './sink.js'
import type { DagOutput } from './dag.js'
import type { ReconcileOutput } from './reconcile.js'
import type { SpaceOutput } from './space.js'

/** Output of the fetch phase: the staging (closed by finish) and the leaves no peer could give. */
export interface FetchOutput {
  staging: Staging
  failed: WorkItem[]
  /** The most leaves the work queue held at once (its window; `pull:held`). */
  queuedMax: number
}

/**
 * Phase 5, fetch: leaves this node already holds in other files are copied (re-hashed), the rest come from
 * every peer at once; each verified leaf is written at its offset in its staged file, and each file is
 * placed under its final name as soon as it is complete and rebuilds its CID. Progress is journaled.
 */
export async function fetchPhase (ctx: PullContext, dag: DagOutput, rc: ReconcileOutput, sp: SpaceOutput): Promise<FetchOutput> {
  const { signal } = ctx
  const staging = ctx.staging = new Staging(ctx.dest, ctx.catalog.pulls, rc.pullId, ctx.options.fsync === true)
  const queue = new WorkQueue(sp.items(), sp.missingLeaves, ctx.options.planWindow ?? DEFAULT_QUEUE_WINDOW)
  const sink = leafSink(ctx, staging, queue, rc, dag.files)
  if (rc.plan.count > 0) await staging.prepare()
  for (const file of rc.plan.completeAlready()) await sink.completed(file)
  const timer = setInterval(() => { void sink.checkpoint() }, ctx.options.checkpointMs ?? DEFAULT_CHECKPOINT_MS)
  try {
    await copyLocal(ctx, rc.plan, sink)
    if (queue.outstanding > 0) await fetchFromPeers(ctx, queue, sink)
  } finally {
    clearInterval(timer)
  }
  void sink.checkpoint()
  await sink.drain()
  if (signal.aborted) throw new FerryError('ERR_ABORTED', 'Pull interrupted: run the same command again to resume', { cause: signal.reason })
  const failed = queue.failedItems()
  // a refusal (untrusted, not permitted, revoked mid-transfer) is the reason worth showing with each file
  const refusals = ctx.peers.filter((p) => p.status === 'refused').map((p) => `${p.name} refused: ${p.lastError ?? 'no reason given'}`).join('; ')
  for (const item of failed) {
    if (ctx.problems.some((p) => p.path === item.file.path)) continue
    ctx.problems.push(unavailable(item, refusals))
  }
  return { staging, failed, queuedMax: queue.maxHeld }
}

/**
 * Leaves this node already holds in another file (an imported or pulled scan), re-hashed on read. The plan
 * is read leaf by leaf, and a file's staged file is opened only once a leaf for it was read here (a file
 * partly held here stays open until the peers' leaves complete it).
 */
async function copyLocal (ctx: PullContext, plan: StagePlan, sink: LeafSink): Promise<void> {
  const { catalog, signal } = ctx
  const local = function * (): Generator<{ index: number, i: number, leaf: FileLeaf }> {
    for (const index of plan.indexes()) {
      const leaves = plan.leavesOf(index)
      for (let i = 0; i < leaves.length; i++) {
        const leaf = leaves[i] as FileLeaf
        if (plan.missing(index, i) && catalog.findLeaf(leaf.cid).length > 0) yield { index, i, leaf }
      }
    }
  }
  const source = local()
  await Promise.all(Array.from({ length: LOCAL_COPY_CONCURRENCY }, async () => {
    while (!signal.aborted) {
      const r = source.next()
      if (r.done === true) return
      const { index, i, leaf } = r.value
      const read = await readLeaf(catalog, leaf.cid, { signal })
      if (read.status !== 'ok' || !plan.missing(index, i)) continue
      await sink.written({ file: plan.open(index), index: i, leaf, inflight: 0, done: false, failed: false }, read.bytes, false)
      ctx.counters.bytesLocal += leaf.length
      ctx.emit({ type: 'pull:local', bytes: leaf.length })
    }
  }))
}

/** Why a leaf could not be had: its source file changed at the peers that had it, or no peer could send it. */
function unavailable (item: WorkItem, refusals: string): PullProblem {
  if (item.changedAt !== undefined) {
    return { path: item.file.path, code: 'ERR_CHANGED_AT_SOURCE', message: `changed or removed at the source since it was imported; not served by ${item.changedAt.join('; ')}` }
  }
  return { path: item.file.path, code: 'ERR_UNAVAILABLE', message: `no peer could provide leaf ${item.index} (${item.leaf.cid.toString()})${refusals !== '' ? `: ${refusals}` : ''}` }
}
