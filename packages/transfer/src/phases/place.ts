import { promises as fsp } from 'node:fs'
import type { PullContext } from '../context.js'
import { joinPath, placeSymlink, safeMode } from '../fs-safe.js'
import type { DagOutput } from './dag.js'
import type { ReconcileOutput } from './reconcile.js'

/** Output of the place phase: how many symlinks and directories it set. */
export interface PlaceOutput {
  symlinks: number
  directories: number
}

/**
 * Phase 6, place: the files are in place (the fetch phase placed each as it completed); this creates the
 * symlinks, then restores directory modes and mtimes, deepest first (placing files changed them).
 */
export async function placePhase (ctx: PullContext, dag: DagOutput, rc: ReconcileOutput): Promise<PlaceOutput> {
  const out: PlaceOutput = { symlinks: 0, directories: 0 }
  for (const l of dag.links) {
    if (rc.blocked.has(l.path)) continue
    const problem = await placeSymlink(ctx.dest, l, ctx.options.allowEscapingSymlinks === true)
    if (problem != null) ctx.problems.push(problem)
    else out.symlinks++
  }
  for (let i = dag.dirs.length - 1; i >= 0; i--) {
    const d = dag.dirs[i]
    if (d == null || rc.blocked.has(d.path)) continue
    const abs = joinPath(ctx.dest, d.path)
    await fsp.chmod(abs, safeMode(d.mode, true)).catch(() => {})
    await fsp.utimes(abs, d.mtimeMs / 1000, d.mtimeMs / 1000).catch(() => {})
    out.directories++
  }
  return out
}
