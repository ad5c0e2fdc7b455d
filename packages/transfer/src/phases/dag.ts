import { FerryError } from '@ferry/errors'
import { fileLeaves, walkDag, type DagEntry, type FileLeaf } from '@ferry/dag'
import type { CID } from 'multiformats/cid'
import { PLAN_CONCURRENCY } from '../constants.js'
import type { PullContext } from '../context.js'
import { eachConcurrently, type PlannedDir, type PlannedLink } from '../fs-safe.js'
import { blockSource } from '../remote.js'
import type { RecordOutput } from './record.js'

/** A file of the scan and its leaves in file order. */
export interface PlannedFile { entry: DagEntry, leaves: FileLeaf[] }

/** Output of the DAG phase: the scan's tree, bound to its signed entries, pre-order. */
export interface DagOutput {
  dirs: PlannedDir[]
  links: PlannedLink[]
  files: PlannedFile[]
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
 * CIDs and file sizes, and as many entries (ERR_BAD_SIGNATURE otherwise).
 */
export async function dagPhase (ctx: PullContext, rec: RecordOutput): Promise<DagOutput> {
  const { signal, root } = ctx
  const innerNodes = new Map<string, CID>()
  const getBlock = blockSource(ctx, innerNodes)
  const out: DagOutput = { dirs: [], links: [], files: [], innerNodes }
  let walked = 0
  for await (const entry of walkDag(root, getBlock, { signal })) {
    walked++
    const m = rec.meta.get(entry.path)
    if (m === undefined || m.type !== entry.type || !m.cid.equals(entry.cid) || (entry.type === 'file' && m.size !== entry.size)) throw mismatch(ctx, rec, entry.path)
    // the signed entry's path and CID are equal to the DAG's (checked above): keep those, one copy of each
    if (entry.type === 'directory') out.dirs.push({ path: m.path, cid: m.cid, mode: m.mode, mtimeMs: m.mtimeMs })
    else if (entry.type === 'symlink') out.links.push({ path: m.path, cid: m.cid, target: entry.target ?? '', mtimeMs: m.mtimeMs })
    else out.files.push({ entry: { path: m.path, type: entry.type, cid: m.cid, size: entry.size }, leaves: [] })
  }
  // each multi-chunk file has its own inner nodes: resolve them PLAN_CONCURRENCY files at a time
  await eachConcurrently(out.files, PLAN_CONCURRENCY, async (f) => {
    for await (const leaf of fileLeaves(f.entry.cid, getBlock, { signal, size: f.entry.size })) f.leaves.push(leaf)
  })
  if (out.dirs[0]?.path !== '') throw new FerryError('ERR_INVALID_ARGUMENT', `Root ${root.toString()} is not a directory: pull takes a scan root`)
  if (walked !== rec.meta.size) {
    throw new FerryError('ERR_BAD_SIGNATURE', `The signed entry list of ${root.toString()} has ${rec.meta.size} entries, its DAG ${walked}: refusing the record`, { details: { root: root.toString(), origin: rec.record.origin } })
  }
  return out
}
