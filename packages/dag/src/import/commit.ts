import { childDone } from './build.js'
import { checkAbort, type DirState, type ImportRun } from './run.js'
import type { ImportResult } from './types.js'

/**
 * Commit: once the walk is over, closes the root's listing, waits for its node and for every block write,
 * and returns the result, skipped entries in path order. Throws the import's failure instead, if any.
 */
export async function commitImport (run: ImportRun, root: DirState): Promise<ImportResult> {
  checkAbort(run)
  childDone(run, root) // the root's own listing is done
  const ref = await run.root
  while (run.writes.size > 0) await Promise.all(run.writes)
  if (run.failure !== undefined) throw run.failure
  run.result.skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return { root: ref.cid, ref, ...run.result }
}

/** Commit, after a failure: lets the files and block writes in flight settle before the error is thrown. */
export async function settleRun (run: ImportRun): Promise<void> {
  await run.sem.drained().catch(() => {})
  await Promise.allSettled(run.writes)
}
