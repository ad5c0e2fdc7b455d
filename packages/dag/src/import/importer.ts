import { commitImport, settleRun } from './commit.js'
import { abortError, fail, startRun, type ImportOptions } from './run.js'
import type { ImportResult } from './types.js'
import { openRoot, walkDirectory } from './walk.js'

export { DEFAULT_CHUNKS_PER_TASK, type ImportOptions } from './run.js'

/**
 * Imports a directory tree as one scan: walks it depth first, hashes file content in fixed-size chunks on the
 * hash pool (several files in flight), builds the UnixFS DAG and hands inner blocks, entries and leaf
 * locations to the sink. Unreadable entries, special files and files that change while read are skipped and
 * listed in the result, never silently left out. Throws only for the root itself, the sink or an abort.
 *
 * The steps, one module each: walk (walk.ts) lists and stats entries in name order; schedule (schedule.ts)
 * sends each file's slices to the hash pool, a bounded number of files at a time; build (build.ts) turns
 * digests into file nodes and finished directories into directory nodes; commit (commit.ts) waits for the
 * root and the block writes and returns the result. run.ts holds what they share.
 */
export async function importDirectory (dir: string, options: ImportOptions = {}): Promise<ImportResult> {
  const run = startRun(options)
  const { signal } = run
  const onAbort = (): void => { fail(run, abortError(signal)) }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const root = await openRoot(dir)
    await walkDirectory(run, dir, root)
    return await commitImport(run, root)
  } catch (err) {
    await settleRun(run)
    throw err
  } finally {
    signal?.removeEventListener('abort', onAbort)
    if (run.ownPool) await run.pool.close()
  }
}
