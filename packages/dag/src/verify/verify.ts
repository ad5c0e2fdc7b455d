import type { CID } from 'multiformats/cid'
import type { GetBlock } from '../format/index.js'
import { drainCompares } from './compare.js'
import { reportResult } from './report.js'
import { startVerify } from './run.js'
import type { VerifyOptions, VerifyResult } from './types.js'
import { openReference, walkDirectory } from './walk.js'

export type { Difference, VerifyOptions, VerifyProgressEvent, VerifyResult } from './types.js'

/**
 * Proves that `dir` holds exactly the tree under `root`: same names, same shape, same bytes, same symlink
 * targets. Reads the directory only; never modifies it. Every difference is listed, not just the first.
 *
 * The steps, one module each: walk (walk.ts) goes through the reference DAG and the directory side by side,
 * in name order; compare (compare.ts) hashes local files on the pool against the leaves and checks symlink
 * targets; report (report.ts) records differences as they are found and returns them in path order. run.ts
 * holds what they share.
 */
export async function verifyDirectory (dir: string, root: CID, get: GetBlock, options: VerifyOptions = {}): Promise<VerifyResult> {
  const run = startVerify(root, get, options)
  try {
    await openReference(run, dir, root)
    await walkDirectory(run, root, dir, '')
    await drainCompares(run)
    return reportResult(run)
  } finally {
    await Promise.allSettled(run.inflight)
    if (run.ownPool) await run.pool.close()
  }
}
