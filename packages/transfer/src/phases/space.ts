import type { PullContext } from '../context.js'
import type { WorkItem } from '../queue.js'
import { checkSpace } from '../space.js'
import { hasBit } from '../staging.js'
import type { DagOutput } from './dag.js'
import type { ReconcileOutput } from './reconcile.js'
import type { RecordOutput } from './record.js'

/** Output of the space phase: the leaves still to write, in file order (read lazily), their count and bytes. */
export interface SpaceOutput {
  /** A fresh pass over the leaves still to write each time it is called (the work queue reads it lazily). */
  items: () => Iterable<WorkItem>
  missingLeaves: number
  missingBytes: number
  /** Seconds from the start of the pull to the end of planning. */
  planSeconds: number
}

/** The leaves of the staged files not written yet, in file order, as work items made one at a time. */
function * pending (rc: ReconcileOutput): Generator<WorkItem> {
  for (const file of rc.staged) {
    for (let index = 0; index < file.leaves.length; index++) {
      const leaf = file.leaves[index]
      if (leaf == null || hasBit(file.done, index)) continue
      yield { file, index, leaf, inflight: 0, done: false, failed: false }
    }
  }
}

/**
 * Phase 4, space: lists the leaves still missing and checks they fit on the destination with the margin
 * (ERR_NO_SPACE before anything is written); emits `pull:plan`.
 */
export async function spacePhase (ctx: PullContext, rec: RecordOutput, dag: DagOutput, rc: ReconcileOutput): Promise<SpaceOutput> {
  let missingBytes = 0
  let missingLeaves = 0
  for (const file of rc.staged) {
    file.leaves.forEach((leaf, index) => {
      if (hasBit(file.done, index)) return
      missingLeaves++
      missingBytes += leaf.length
    })
  }
  const items = (): Iterable<WorkItem> => pending(rc)
  await checkSpace(ctx.dest, missingBytes, ctx.options.spaceMarginBytes)
  ctx.emit({ type: 'pull:plan', files: dag.files.length, bytes: rec.record.bytes, missingBytes, presentBytes: ctx.counters.bytesPresent, missingFiles: rc.staged.length })
  return { items, missingLeaves, missingBytes, planSeconds: (performance.now() - ctx.started) / 1000 }
}
