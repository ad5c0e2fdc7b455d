import { FerryError } from '@ferry/errors'
import { fileLeaves, walkDag } from '@ferry/dag'
import type { PlanFileRow, PullPlan } from '@ferry/store'
import type { CID } from 'multiformats/cid'
import { PLAN_CONCURRENCY } from '../constants.js'
import type { PullContext } from '../context.js'
import { eachConcurrently, type PlannedDir, type PlannedLink } from '../fs-safe.js'
import { blockSource } from '../remote.js'
import type { RecordOutput } from './record.js'

/**
 * Output of the DAG phase: the scan's tree, bound to its signed entries, pre-order. The files (with their
 * leaves, signed modes and mtimes) are in the pull's plan on disk, read back by index in pages.
 */
export interface DagOutput {
  dirs: PlannedDir[]
  links: PlannedLink[]
  /** The files, by index in pre-order (`files.file(i)`, `files.fileCount`). */
  files: PullPlan
  /** Every inner node of the scan (recorded with the replica, for access checks). */
  innerNodes: Map<string, CID>
}

function mismatch (ctx: PullContext, rec: RecordOutput, path: string): FerryError {
  const root = ctx.root.toString()
  return new FerryError('ERR_BAD_SIGNATURE', `The signed entry list of ${root} does not match its DAG at "${path}": refusing the record`, { details: { root, path, origin: rec.record.origin } })
}

/**
 * Phase 2, DAG: walks the scan's DAG (local blocks first, else peers; every block verified and kept) and
 * resolves each file's leaves. The signed entry list must describe exactly this DAG: same paths, types,
 * CIDs and file sizes, and as many entries (ERR_BAD_SIGNATURE otherwise). Files go to the plan on disk a
 * window at a time (their leaves resolved PLAN_CONCURRENCY files at a time), so the walk holds one window.
 */
export async function dagPhase (ctx: PullContext, rec: RecordOutput): Promise<DagOutput> {
  const { signal, root } = ctx
  const table = rec.table
  const innerNodes = new Map<string, CID>()
  const getBlock = blockSource(ctx, innerNodes)
  const out: DagOutput = { dirs: [], links: [], files: table, innerNodes }
  let walked = 0
  let batch: PlanFileRow[] = []
  // each multi-chunk file has its own inner nodes: resolved for one window of files, then written in order
  const flush = async (): Promise<void> => {
    await eachConcurrently(batch, PLAN_CONCURRENCY, async (f) => {
      for await (const leaf of fileLeaves(f.cid, getBlock, { signal, size: f.size })) f.leaves.push(leaf)
    })
    for (const f of batch) table.addFile(f)
    batch = []
  }
  for await (const entry of walkDag(root, getBlock, { signal })) {
    walked++
    const m = table.entry(entry.path)
    if (m === undefined || m.type !== entry.type || !m.cid.equals(entry.cid) || (entry.type === 'file' && m.size !== entry.size)) throw mismatch(ctx, rec, entry.path)
    // the signed entry's path and CID are equal to the DAG's (checked above): keep those
    if (entry.type === 'directory') out.dirs.push({ path: m.path, cid: m.cid, mode: m.mode, mtimeMs: m.mtimeMs })
    else if (entry.type === 'symlink') out.links.push({ path: m.path, cid: m.cid, target: entry.target ?? '', mtimeMs: m.mtimeMs })
    else batch.push({ path: m.path, cid: m.cid, size: entry.size, mode: m.mode, mtimeMs: m.mtimeMs, leaves: [] })
    if (batch.length >= table.window) await flush()
  }
  await flush()
  table.flushFiles()
  if (out.dirs[0]?.path !== '') throw new FerryError('ERR_INVALID_ARGUMENT', `Root ${root.toString()} is not a directory: pull takes a scan root`)
  if (walked !== table.entryCount) {
    throw new FerryError('ERR_BAD_SIGNATURE', `The signed entry list of ${root.toString()} has ${table.entryCount} entries, its DAG ${walked}: refusing the record`, { details: { root: root.toString(), origin: rec.record.origin } })
  }
  return out
}
