import { promises as fsp } from 'node:fs'
import { FerryError } from '@ferry/errors'
import type { Catalog, PlacedStat, PullPlan } from '@ferry/store'
import type { CID } from 'multiformats/cid'
import type { PullContext } from '../context.js'
import { PLAN_CONCURRENCY } from '../constants.js'
import { eachConcurrently, joinPath } from '../fs-safe.js'
import type { PullResult, ScanInfo } from '../types.js'
import type { DagOutput } from './dag.js'
import type { FetchOutput } from './fetch.js'
import type { ReconcileOutput } from './reconcile.js'
import type { RecordOutput } from './record.js'
import type { SpaceOutput } from './space.js'

/**
 * Phase 7, finish: records the files placed (for the next run's quick check) and the pull's outcome; a
 * complete replica joins the catalog (entries as signed, the origin's signature, provenance, each file as a
 * leaf source) and is served like any other scan. Returns the result.
 */
export async function finishPhase (ctx: PullContext, rec: RecordOutput, dag: DagOutput, rc: ReconcileOutput, sp: SpaceOutput, fe: FetchOutput): Promise<PullResult> {
  const { catalog, dest, problems, counters } = ctx
  const { record, recordFrom } = rec
  counters.placedRows += await recordPlaced(catalog, dest, dag.files)
  const placedAll = problems.length === 0
  for (const s of record.skipped) problems.push({ path: s.path, code: 'ERR_MISSING_AT_SOURCE', message: `not in the scan: the origin could not read it (${s.message})` })
  if (placedAll) {
    unplacedCheck(rc)
    await fe.staging.close(true)
    catalog.pulls.finish(rc.pullId, 'complete')
    const fetched = Date.now()
    const provenance = Object.entries(counters.fromPeers).map(([peer, bytes]) => ({ peer, bytes, fetched }))
    if (recordFrom !== undefined && counters.fromPeers[recordFrom] === undefined) provenance.push({ peer: recordFrom, bytes: 0, fetched })
    await registerScan(catalog, dest, { record, root: ctx.root, table: dag.files, innerNodes: dag.innerNodes.values(), provenance })
  } else {
    await fe.staging.close(false)
    catalog.pulls.finish(rc.pullId, 'failed')
  }
  const { held } = dag.files
  ctx.emit({ type: 'pull:held', reconcileFiles: rc.maxHeld, stagedFiles: rc.plan.maxLive, queuedLeaves: fe.queuedMax, entries: held.entries, dagFiles: held.files, placedFiles: held.placed, placedRows: counters.placedRows, stagedLookups: rc.stagedLookups })
  return resultOf(ctx, rec, dag, sp, placedAll && record.skipped.length === 0)
}

/**
 * A pull with no problem has placed every file it planned to stage: one still pending means the fetch
 * ended with leaves never written (a counting defect, as the double-counted local copies were; see
 * CHANGELOG). Said loudly, before anything is marked complete or the staged data is removed: never a replica
 * recorded as complete with a file missing.
 */
function unplacedCheck (rc: ReconcileOutput): void {
  const pending = [...rc.plan.indexes()]
  if (pending.length === 0) return
  const first = rc.plan.pathOf(pending[0] as number)
  throw new FerryError('ERR_INTERNAL', `The pull ended with ${pending.length} file${pending.length === 1 ? '' : 's'} not placed (first: ${first}); nothing was recorded as complete and what is staged is kept: run the pull again, and report this`)
}

/** The PullResult of this run so far. */
export function resultOf (ctx: PullContext, rec: RecordOutput, dag: DagOutput | undefined, sp: SpaceOutput | undefined, complete: boolean): PullResult {
  const { counters } = ctx
  return {
    root: ctx.root.toString(),
    dest: ctx.dest,
    complete,
    files: dag?.files.fileCount ?? rec.record.files,
    directories: dag?.dirs.length ?? rec.record.directories,
    symlinks: dag?.links.length ?? rec.record.symlinks,
    bytes: rec.record.bytes,
    bytesFetched: counters.bytesFetched,
    bytesLocal: counters.bytesLocal,
    bytesPresent: counters.bytesPresent,
    bytesResumed: counters.bytesResumed,
    fromPeers: counters.fromPeers,
    skipped: rec.record.skipped,
    problems: ctx.problems,
    planSeconds: sp?.planSeconds ?? (performance.now() - ctx.started) / 1000,
    seconds: (performance.now() - ctx.started) / 1000
  }
}

/** The stat of a placed file now (undefined if not a file). */
async function statOf (abs: string): Promise<PlacedStat | undefined> {
  const st = await fsp.lstat(abs).catch(() => undefined)
  return st?.isFile() === true ? { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino } : undefined
}

/**
 * Records the files a pull placed (or hashed) without a stat taken then, as they are now on disk, for the
 * quick check of later pulls: those placed with one were recorded by the fetch's sink (the stat in the
 * plan means its row is written, the sink's drain flushed the last). Read from the plan on disk a page at
 * a time, recorded a page per transaction. Returns the rows written.
 */
async function recordPlaced (catalog: Catalog, dest: string, table: PullPlan): Promise<number> {
  let page: string[] = []
  let written = 0
  const write = async (): Promise<void> => {
    const rows: Array<{ path: string } & PlacedStat> = []
    await eachConcurrently(page, PLAN_CONCURRENCY, async (abs) => {
      const st = await statOf(abs)
      if (st !== undefined) rows.push({ path: abs, ...st })
    })
    if (rows.length > 0) catalog.placed.record(rows)
    written += rows.length
    page = []
  }
  for (const r of table.placedFiles(true)) {
    if (r.stat !== undefined) continue // recorded when placed
    page.push(joinPath(dest, r.file.path))
    if (page.length >= table.window) await write()
  }
  await write()
  return written
}

/** What registerScan writes: the record, entries as signed and the DAG's files (in the plan on disk), inner nodes, provenance. */
interface Replica {
  record: ScanInfo
  root: CID
  /** The signed entries, the files with their leaves and the stats taken when they were placed. */
  table: PullPlan
  innerNodes: Iterable<CID>
  provenance: Array<{ peer: string, bytes: number, fetched: number }>
}

async function registerScan (catalog: Catalog, dest: string, r: Replica): Promise<void> {
  const { record, root } = r
  if (catalog.listScans().some((s) => s.root?.equals(root) === true && s.sourcePath === dest && s.state === 'complete')) return
  const writer = catalog.createScanWriter({ collection: record.collection, name: record.name, sourcePath: dest, origin: record.origin, created: record.created })
  try {
    // the entries exactly as signed (checked against the DAG above), so the origin's signature still verifies here
    for (const m of r.table.entries()) writer.addEntry(m)
    writer.addNodes(r.innerNodes)
    for (const { file, stat } of r.table.placedFiles(false)) {
      const abs = joinPath(dest, file.path)
      const st = stat ?? await fsp.lstat(abs)
      writer.addSource(abs, st.size, st.mtimeMs, file.leaves)
    }
    writer.commit({ root, files: record.files, directories: record.directories, symlinks: record.symlinks, bytes: record.bytes, skipped: record.skipped, signature: record.signature, provenance: r.provenance })
  } catch (err) {
    writer.abort()
    throw err
  }
}
