import type { PullContext } from '../context.js'
import type { WorkItem } from '../queue.js'
import { checkSpace } from '../space.js'
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

/**
 * Phase 4, space: checks that the leaves still missing (counted by the reconcile) fit on the destination
 * with the margin (ERR_NO_SPACE before anything is written); emits `pull:plan`.
 */
export async function spacePhase (ctx: PullContext, rec: RecordOutput, dag: DagOutput, rc: ReconcileOutput): Promise<SpaceOutput> {
  const { plan } = rc
  const { missingBytes, missingLeaves } = plan
  await checkSpace(ctx.dest, missingBytes, ctx.options.spaceMarginBytes)
  ctx.emit({ type: 'pull:plan', files: dag.files.fileCount, bytes: rec.record.bytes, missingBytes, presentBytes: ctx.counters.bytesPresent, missingFiles: plan.count })
  return { items: () => plan.items(), missingLeaves, missingBytes, planSeconds: (performance.now() - ctx.started) / 1000 }
}
