import { isFerryError } from '@ferry/errors'
import { closeContext, createContext, type PullContext } from './context.js'
import type { PullOptions } from './options.js'
import { dagPhase, type DagOutput } from './phases/dag.js'
import { fetchPhase } from './phases/fetch.js'
import { quickNoop } from './phases/noop.js'
import { finishPhase, resultOf } from './phases/finish.js'
import { placePhase } from './phases/place.js'
import { reconcilePhase } from './phases/reconcile.js'
import { recordPhase, type RecordOutput } from './phases/record.js'
import { spacePhase, type SpaceOutput } from './phases/space.js'
import { pruneEmptyDirs } from './space.js'
import type { PhaseTime, PullPhase, PullResult } from './types.js'

export type { PullOptions } from './options.js'

/**
 * Replicates the scan `root` into `dest`, as a sequence of phases (docs/architecture.md, "Pull"):
 * record → DAG → reconcile → space → fetch → place → finish, after a fast no-op check (a complete replica
 * this node placed at `dest`, untouched, answers from the catalog and a stat of each file). Each takes the outputs of the ones before and
 * is journaled in the catalog when done (`PullRecord.phase`), so a pull interrupted after any phase (or
 * stopped with `stopAfter`) goes on from the journal and what is on disk: staged leaves re-verify, placed
 * files pass the quick check, DAG blocks are local. Never overwrites a different file. The foreground
 * `ferry pull` and the daemon's tasks run this same engine.
 */
export async function pull (options: PullOptions): Promise<PullResult> {
  const ctx = createContext(options)
  try {
    return await runPhases(ctx)
  } catch (err) {
    ctx.controller.abort(err) // a fatal error stops every lane, the watchdog and every backoff at once
    throw await abandon(ctx, err)
  } finally {
    await closeContext(ctx)
  }
}

/** True once `phase` is done and the caller asked to stop there. */
function stopsAfter (ctx: PullContext, phase: PullPhase): boolean {
  return ctx.options.stopAfter === phase
}

async function runPhases (ctx: PullContext): Promise<PullResult> {
  // the record's time includes the quick no-op check's (absent when that check answered)
  const clock = phaseClock()
  const noop = await quickNoop(ctx)
  if (noop !== undefined) return noop
  const rec = await recordPhase(ctx)
  // the journal row exists once the record verified: nothing before it is worth resuming
  const pullId = ctx.catalog.pulls.open(ctx.root, ctx.dest).id
  const done = (phase: PullPhase): boolean => {
    clock.lap(phase)
    ctx.catalog.pulls.phaseDone(pullId, phase)
    return stopsAfter(ctx, phase)
  }
  const times = clock.times
  if (done('record')) return stopped(ctx, 'record', times, rec)
  const dag = await dagPhase(ctx, rec)
  if (done('dag')) return stopped(ctx, 'dag', times, rec, dag)
  const rc = await reconcilePhase(ctx, dag, pullId)
  if (done('reconcile')) return stopped(ctx, 'reconcile', times, rec, dag)
  const sp = await spacePhase(ctx, rec, dag, rc)
  if (done('space')) return stopped(ctx, 'space', times, rec, dag, sp)
  const fe = await fetchPhase(ctx, dag, rc, sp)
  if (done('fetch')) return stopped(ctx, 'fetch', times, rec, dag, sp)
  await placePhase(ctx, dag, rc)
  if (done('place')) return stopped(ctx, 'place', times, rec, dag, sp)
  const result = await finishPhase(ctx, rec, dag, rc, sp, fe)
  done('finish')
  return { ...result, phase: 'finish', phaseTimes: times, ...(Object.keys(ctx.counters.fromConnections).length > 0 ? { fromConnections: ctx.counters.fromConnections } : {}) }
}

/** Times each phase as it ends: wall seconds and the process's CPU seconds since the previous one ended. */
function phaseClock (): { times: Partial<Record<PullPhase, PhaseTime>>, lap: (phase: PullPhase) => void } {
  const times: Partial<Record<PullPhase, PhaseTime>> = {}
  let wall = performance.now()
  let cpu = process.cpuUsage()
  return {
    times,
    lap (phase) {
      const now = performance.now()
      const used = process.cpuUsage(cpu)
      times[phase] = { seconds: (now - wall) / 1000, cpuSeconds: (used.user + used.system) / 1e6 }
      wall = now
      cpu = process.cpuUsage()
    }
  }
}

/** The result of a run stopped after `phase` (`stopAfter`): not complete; the next run goes on from there. */
function stopped (ctx: PullContext, phase: PullPhase, phaseTimes: Partial<Record<PullPhase, PhaseTime>>, rec: RecordOutput, dag?: DagOutput, sp?: SpaceOutput): PullResult {
  return { ...resultOf(ctx, rec, dag, sp, false), phase, phaseTimes }
}

/**
 * After a fatal error: closes the staging (no handle left to the garbage collector) and, if the pull was
 * refused for space before staging anything in a destination it created, removes that empty tree.
 */
async function abandon (ctx: PullContext, err: unknown): Promise<unknown> {
  const staging = ctx.staging
  await staging?.close(false)
  if (ctx.freshDest && staging === undefined && isFerryError(err, 'ERR_NO_SPACE')) await pruneEmptyDirs(ctx.dest)
  return err
}
