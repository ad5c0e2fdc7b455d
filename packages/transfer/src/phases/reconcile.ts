import { promises as fsp, type Stats } from 'node:fs'
import { basename, join } from 'node:path'
import type { FileLeaf } from '@ferry/dag'
import type { PlanFileRow } from '@ferry/store'
import { throwIfAborted } from '@ferry/errors'
import { DEFAULT_QUEUE_WINDOW, PLAN_CONCURRENCY, STAGED_NAMES_MAX, STAGING_DIR } from '../constants.js'
import type { PullContext } from '../context.js'
import { describeType, eachConcurrently, joinPath, mkdirSafe, safeMode, sameMtime } from '../fs-safe.js'
import { StagePlan } from '../plan.js'
import { bitmapFor, hasBit, stagingName } from '../staging.js'
import type { DagOutput } from './dag.js'

/** Paths under which nothing is created (a directory that could not be made, the reserved staging name). */
export interface Blocked {
  has: (path: string) => boolean
}

/** Output of the reconcile phase: what is still to be assembled, and what is already in place. */
export interface ReconcileOutput {
  pullId: number
  blocked: Blocked
  /** Files not at the destination, to stage (maybe partly staged by an earlier run), kept compact. */
  plan: StagePlan
  /** The most files whose destination stat the reconcile held at once (its window; tests count it). */
  maxHeld: number
  /** Staged names lstat'ed (those the staging directory holds; `pull:held`, tests count it). */
  stagedLookups: number
}

/**
 * Phase 3, reconcile: creates the destination's directories (never through a symlink), then sorts every
 * file into present (quick check for files Ferry placed, else hashed), conflict (never overwritten) or to
 * stage, keeping every leaf an interrupted run staged that still hashes right. Files are read from the plan
 * on disk in windows of `planWindow` (lstat'ed PLAN_CONCURRENCY at a time, then sorted), so what it holds
 * is one window's rows and stats, and of each file to stage one byte of state (a bitmap if an earlier run
 * staged part of it). A file it finds in place by hashing is marked placed in the plan (`markPlaced`).
 */
export async function reconcilePhase (ctx: PullContext, dag: DagOutput, pullId: number): Promise<ReconcileOutput> {
  const { dest } = ctx
  ctx.freshDest = await fsp.lstat(dest).then(() => false, () => true)
  await mkdirSafe(dest, '')
  const blocked = await makeDirs(ctx, dag)
  const files = dag.files
  const out: ReconcileOutput = { pullId, blocked, plan: new StagePlan(files), maxHeld: 0, stagedLookups: 0 }
  const saved = ctx.catalog.pulls.progress(pullId)
  const resumable = await fsp.lstat(join(dest, STAGING_DIR)).then((st) => st.isDirectory(), () => false)
  // the staging directory read once: a file's staged name is lstat'ed only if it is there
  const names = resumable ? await stagedNames(dest) : new Set<string>()
  const look = (f: PlanFileRow, stagedAt: string): boolean => names !== undefined ? names.has(basename(stagedAt)) : saved.has(f.path) || resumable
  const window = Math.max(1, ctx.options.planWindow ?? DEFAULT_QUEUE_WINDOW)
  for (let start = 0; start < files.fileCount; start += window) {
    throwIfAborted(ctx.signal)
    const indexes: number[] = []
    for (let i = start; i < Math.min(start + window, files.fileCount); i++) if (!blocked.has(files.file(i)?.path ?? '')) indexes.push(i)
    // what already sits at each file's place, lstat'ed PLAN_CONCURRENCY at a time (one after the other, a
    // no-op pull of 2,000 files spent most of its plan waiting on them)
    const present = new Map<number, Stats>()
    await eachConcurrently(indexes, PLAN_CONCURRENCY, async (i) => {
      const st = await fsp.lstat(joinPath(dest, files.file(i)?.path ?? '')).catch(() => undefined)
      if (st != null) present.set(i, st)
    })
    if (present.size > out.maxHeld) out.maxHeld = present.size
    for (const i of indexes) {
      const f = files.file(i) as PlanFileRow
      const st = present.get(i)
      if (st != null) await reconcilePresent(ctx, dag, i, f, st)
      else await reconcileStaged(ctx, i, f, look, out)
    }
  }
  return out
}

/**
 * The names in the staging directory (an earlier run's staged files), read once; undefined if it holds
 * more than STAGED_NAMES_MAX (then each file's staged name is lstat'ed).
 */
async function stagedNames (dest: string): Promise<Set<string> | undefined> {
  const names = new Set<string>()
  const dir = await fsp.opendir(join(dest, STAGING_DIR)).catch(() => undefined)
  if (dir === undefined) return undefined // unreadable: look at each name, as before
  for await (const e of dir) { // leaving the loop closes the directory
    if (names.size >= STAGED_NAMES_MAX) return undefined
    names.add(e.name)
  }
  return names
}

/** The reserved staging name, then every directory, pre-order: a directory that could not be made blocks all below it. */
async function makeDirs (ctx: PullContext, dag: DagOutput): Promise<Blocked> {
  const { dest, problems } = ctx
  const blockedDirs: string[] = []
  // the staging directory's name is Ferry's own: an entry of that name at the top is never placed
  // (paths are distinct: the signed entries' table has at most one of that name, whatever its type)
  if (dag.files.entry(STAGING_DIR) !== undefined) {
    problems.push({ path: STAGING_DIR, code: 'ERR_CONFLICT', message: `the name ${STAGING_DIR} is reserved for Ferry's staging directory; not placed` })
    blockedDirs.push(STAGING_DIR)
  }
  const blocked: Blocked = { has: (path) => blockedDirs.some((d) => path === d || path.startsWith(`${d}/`)) }
  for (const d of dag.dirs) {
    if (d.path === STAGING_DIR || blocked.has(d.path)) continue
    const problem = await mkdirSafe(dest, d.path)
    if (problem != null) {
      problems.push(problem)
      blockedDirs.push(problem.path)
    }
  }
  return blocked
}

/** A file already at its place: present (quick check or hashed), else a conflict. */
async function reconcilePresent (ctx: PullContext, dag: DagOutput, index: number, f: PlanFileRow, st: Stats): Promise<void> {
  const final = joinPath(ctx.dest, f.path)
  if (!st.isFile()) {
    ctx.problems.push({ path: f.path, code: 'ERR_CONFLICT', message: `exists at the destination as ${describeType(st)}; not replaced` })
  } else if (ctx.options.checksum !== true && st.size === f.size && sameMtime(st.mtimeMs, f.mtimeMs) && ctx.catalog.placed.trusted(final, st)) {
    ctx.counters.bytesPresent += f.size // the quick check, for a file Ferry placed and nothing touched since
  } else if (st.size === f.size && await matches(ctx, final, st.size, f.leaves)) {
    ctx.counters.bytesPresent += f.size
    await fsp.chmod(final, safeMode(f.mode, false))
    await fsp.utimes(final, f.mtimeMs / 1000, f.mtimeMs / 1000)
    dag.files.markPlaced(index) // hashed: from now on it is known as Ferry's
  } else {
    ctx.problems.push({ path: f.path, code: 'ERR_CONFLICT', message: 'exists at the destination with other content; not overwritten' })
  }
}

/**
 * A file to stage. An earlier run's staged file (its name is in the staging directory, `look`) keeps every
 * leaf that still hashes right, whatever the journal says (after kill -9 the journal lags the data; after
 * a power cut the data may lag the journal).
 */
async function reconcileStaged (ctx: PullContext, index: number, f: PlanFileRow, look: (f: PlanFileRow, stagedAt: string) => boolean, out: ReconcileOutput): Promise<void> {
  const { leaves } = f
  const stagedAt = stagingName(ctx.dest, f.path)
  const lookup = look(f, stagedAt)
  if (lookup) out.stagedLookups++
  const stagedStat = lookup ? await fsp.lstat(stagedAt).then((st) => (st.isFile() ? st : undefined), () => undefined) : undefined
  const done = stagedStat != null ? await verifiedLeaves(ctx, stagedAt, stagedStat.size, leaves) : undefined
  if (done !== undefined) for (let i = 0; i < leaves.length; i++) if (hasBit(done, i)) ctx.counters.bytesResumed += leaves[i]?.length ?? 0
  out.plan.add(index, done)
}

/** Bit i set: leaf i of the file at `path` (of `size` bytes) hashes to its CID (on the hash pool). */
export async function verifiedLeaves (ctx: PullContext, path: string, size: number, leaves: FileLeaf[]): Promise<Uint8Array> {
  const pool = ctx.pool()
  const map = bitmapFor(leaves.length)
  await Promise.all(leaves.map(async (leaf, i) => {
    if (leaf.offset + leaf.length > size || leaf.length === 0) return
    const digest = await pool.hash(path, leaf.offset, leaf.length, leaf.length, ctx.signal).catch(() => undefined)
    if (digest != null && Buffer.from(digest).equals(leaf.cid.multihash.digest)) map[i >> 3] = (map[i >> 3] ?? 0) | (1 << (i & 7))
  }))
  return map
}

/** A file at the destination holds exactly these leaves (hashed on the pool, as a resume checks). */
export async function matches (ctx: PullContext, abs: string, size: number, leaves: FileLeaf[]): Promise<boolean> {
  const map = await verifiedLeaves(ctx, abs, size, leaves)
  return leaves.every((_, i) => hasBit(map, i))
}
