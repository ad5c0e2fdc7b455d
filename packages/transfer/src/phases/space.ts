import type { PullContext } from '../context.js'
import type { WorkItem } from '../queue.js'
import { checkSpace } from '../space.js'
import { hasBit } from '../staging.js'
import type { DagOutput } from './dag.js'
import type { ReconcileOutput } from './reconcile.js'
import type { RecordOutput } from './record.js'

/** Output of the space phase: the leaves still to write, in file order, and their bytes. */
export interface SpaceOutput {
  items: WorkItem[]
  missingBytes: number
  /** Seconds from the start of the pull to the end of planning. */
  planSeconds: number
}

/**
 * Phase 4, space: lists the leaves still missing and checks they fit on the destination with the margin
 * (ERR_NO_SPACE before anything is written); emits `pull:plan`.
 */
export async function spacePhase (ctx: PullContext, rec: RecordOutput, dag: DagOutput, rc: ReconcileOutput): Promise<SpaceOutput> {
  const items: WorkItem[] = []
  let missingBytes = 0
  for (const file of rc.staged) {
    file.leaves.forEach((leaf, index) => {
      if (hasBit(file.done, index)) return
      items.push({ file, index, leaf, inflight: 0, done: false, failed: false })
      missingBytes += leaf.length
    })
  }
  await checkSpace(ctx.dest, missingBytes, ctx.options.spaceMarginBytes)
  ctx.emit({ type: 'pull:plan', files: dag.files.length, bytes: rec.record.bytes, missingBytes, presentBytes: ctx.counters.bytesPresent, missingFiles: rc.staged.length })
  return { items, missingBytes, planSeconds: (performance.now() - ctx.started) / 1000 }
}
