import { promises as fsp } from 'node:fs'
import type { PlacedStat, PullPlan } from '@ferry/store'
import { DEFAULT_CHECKPOINT_BYTES, PLACED_ROWS_FLUSH } from '../constants.js'
import type { PullContext } from '../context.js'
import { joinPath } from '../fs-safe.js'
import type { WorkItem, WorkQueue } from '../queue.js'
import type { Staging, StagedFile } from '../staging.js'
import type { PullProblem } from '../types.js'
import { matches, type ReconcileOutput } from './reconcile.js'

/** Where verified leaves go during the fetch phase: written, files placed as they complete, checkpointed. */
export interface LeafSink {
  /** Writes one verified leaf; places its file if that completed it; checkpoints past the byte threshold. */
  written: (item: WorkItem, bytes: Uint8Array | Uint8Array[], fetched: boolean) => Promise<void>
  /** Places a file whose leaves are all staged. */
  completed: (file: StagedFile) => Promise<void>
  /** Journals progress (one at a time, queued); a failure aborts the pull and is rethrown by `drain`. */
  checkpoint: () => Promise<void>
  /**
   * Waits for the checkpoints queued so far and records the placed rows not yet recorded (also when a
   * checkpoint failed: those files are placed); throws the first checkpoint's error.
   */
  drain: () => Promise<void>
}

function conflictAppeared (path: string): PullProblem {
  return { path, code: 'ERR_CONFLICT', message: 'appeared at the destination during the pull; not overwritten (the pulled copy stays staged)' }
}

/** The sink over `staging`; every file it places is marked placed in the plan on disk (with its stat when known). */
export function leafSink (ctx: PullContext, staging: Staging, queue: WorkQueue, rc: ReconcileOutput, table: PullPlan): LeafSink {
  const checkpointBytes = ctx.options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES
  let checkpointing: Promise<void> = Promise.resolve()
  let checkpointError: unknown
  // the rows of the files placed with their stat, recorded PLACED_ROWS_FLUSH at a time and the last at
  // drain (finish records only those placed without one: the plan's mark says which)
  const rows: Array<{ path: string } & PlacedStat> = []
  const flushRows = (): void => {
    if (rows.length === 0) return
    ctx.catalog.placed.record(rows)
    ctx.counters.placedRows += rows.length
    rows.length = 0
  }
  const placedFile = (f: StagedFile, stat?: PlacedStat): void => {
    const index = rc.plan.indexOf(f)
    rc.plan.release(f)
    if (index !== undefined) table.markPlaced(index, stat)
    if (stat !== undefined) rows.push({ path: joinPath(ctx.dest, f.path), ...stat })
    if (rows.length >= PLACED_ROWS_FLUSH) flushRows()
    ctx.emit({ type: 'pull:file', path: f.path, size: f.size })
  }
  // a file that appeared at its place during the pull is fine if it holds exactly our bytes, else a conflict
  const appeared = async (f: StagedFile): Promise<void> => {
    const abs = joinPath(ctx.dest, f.path)
    const st = await fsp.lstat(abs).catch(() => undefined)
    if (st?.isFile() === true && st.size === f.size && await matches(ctx, abs, f.size, f.leaves)) placedFile(f)
    else ctx.problems.push(conflictAppeared(f.path))
    rc.plan.release(f)
  }
  const checkpoint = (): Promise<void> => {
    checkpointing = checkpointing.then(async () => {
      const { bytes, placed, conflicts } = await staging.checkpoint()
      for (const f of placed) placedFile(f)
      for (const f of conflicts) await appeared(f)
      if (bytes > 0) ctx.emit({ type: 'pull:checkpoint', bytes })
    }).catch((err) => { checkpointError ??= err; ctx.controller.abort(err) })
    return checkpointing
  }
  const completed = async (file: StagedFile): Promise<void> => {
    const outcome = await staging.complete(file)
    if (outcome === 'placed') placedFile(file)
    else if (outcome === 'conflict') await appeared(file)
  }
  const written = async (item: WorkItem, bytes: Uint8Array | Uint8Array[], fetched: boolean): Promise<void> => {
    if (staging.wholeFile(item.file)) {
      // a file of one leaf: written and placed at once, synchronously (no await until it is done)
      const placed = staging.placeWhole(item.file, bytes, fetched)
      queue.complete(item)
      ctx.counters.lastProgress = Date.now()
      if (placed === 'conflict') return await appeared(item.file)
      placedFile(item.file, placed)
      return
    }
    const outcome = await staging.write(item.file, item.index, bytes, fetched)
    // a leaf already written (through another item: a local copy of a leaf the queue also held) is done
    // for this item, but counted once: a second count would end the fetch with leaves never written
    if (outcome === 'duplicate') return queue.drop(item)
    queue.complete(item)
    ctx.counters.lastProgress = Date.now()
    if (outcome === 'finished') await completed(item.file)
    if (staging.pendingBytes >= checkpointBytes) void checkpoint()
  }
  const drain = async (): Promise<void> => {
    await checkpointing
    flushRows()
    if (checkpointError !== undefined) throw checkpointError
  }
  return { written, completed, checkpoint, drain }
}
