import { constants, promises as fsp } from 'node:fs'
import { join, sep } from 'node:path'
import { throwIfAborted } from '@ferry/errors'
import { REPLICA_PAGE_ROWS, type ReplicaEntry, type ScanRecord } from '@ferry/store'
import { STAGING_DIR } from '../constants.js'
import type { PullContext } from '../context.js'
import { joinPath, safeMode, sameMtime } from '../fs-safe.js'
import type { PullResult } from '../types.js'
import { STAT_FIELDS, StatLaneError, statLane, syncLane } from './noop-stat.js'

const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK } = constants

/**
 * The fast no-op: when this node has registered a complete replica of the scan at `dest` (a pull finished
 * there before) and every entry is still in place — each file as Ferry placed it (size and mtime as signed,
 * and the placed-files table says nothing touched it since), each directory a directory, each symlink
 * pointing where it should — the pull is complete without reading the DAG or the record from a peer.
 * The catalog answers in pages of one range scan that joins each entry with its placed-files row
 * (`catalog.replicaEntries`), and each page is stat'ed as it comes, so memory does not grow with the scan. Directory modes and mtimes are restored as a full pull would. Undefined (the full engine runs)
 * if anything differs, if `checksum` is asked for, or if an earlier run left a staging directory.
 */
export async function quickNoop (ctx: PullContext): Promise<PullResult | undefined> {
  const { catalog, dest, options } = ctx
  if (options.checksum === true || options.stopAfter !== undefined) return undefined
  const replica = catalog.listScans().find((s) => s.root?.equals(ctx.root) === true && s.sourcePath === dest && s.state === 'complete')
  if (replica === undefined || replica.skipped.length > 0) return undefined
  if (await fsp.lstat(join(dest, STAGING_DIR)).then(() => true, () => false)) return undefined
  const fix = await entriesInPlace(ctx, replica)
  if (fix === undefined) return undefined
  // as a full pull would: a directory's mode and mtime as signed (they move when a name is added in it)
  for (let i = fix.length - 1; i >= 0; i--) {
    const d = fix[i] as ReplicaEntry
    const abs = joinPath(dest, d.path)
    await fsp.chmod(abs, safeMode(d.mode, true)).catch(() => {})
    await fsp.utimes(abs, d.mtimeMs / 1000, d.mtimeMs / 1000).catch(() => {})
  }
  const pullId = catalog.pulls.open(ctx.root, dest).id
  catalog.pulls.finish(pullId, 'complete')
  catalog.pulls.phaseDone(pullId, 'finish')
  ctx.emit({ type: 'pull:plan', files: replica.files, bytes: replica.bytes, missingBytes: 0, presentBytes: replica.bytes, missingFiles: 0 })
  return noopResult(ctx, replica)
}

/** A page of entries and the lstat of each, asked of the lane. */
interface StatedPage { page: ReplicaEntry[], stats: Promise<Float64Array> }

/**
 * If every entry of the replica is in place, the directories whose mode or mtime differ from the scan's;
 * undefined as soon as one entry is not (or the stat thread broke). Each page is stat'ed (on the lane)
 * while the next is read from the catalog.
 */
async function entriesInPlace (ctx: PullContext, replica: ScanRecord): Promise<ReplicaEntry[] | undefined> {
  const { dest } = ctx
  const prefix = dest.endsWith(sep) ? dest : dest + sep
  const lane = replica.files + replica.directories + replica.symlinks > REPLICA_PAGE_ROWS ? statLane() : syncLane()
  const fix: ReplicaEntry[] = []
  let pending: StatedPage | undefined
  try {
    for (const page of ctx.catalog.replicaEntries(replica.id, prefix)) {
      const next: StatedPage = { page, stats: lane.stat(page.map((e) => (e.path === '' ? dest : prefix + e.path))) }
      next.stats.catch(() => {}) // awaited in turn below (or dropped when an earlier page already answered)
      if (pending !== undefined && !await pageInPlace(ctx, pending, fix)) return undefined
      pending = next
      throwIfAborted(ctx.signal)
    }
    if (pending !== undefined && !await pageInPlace(ctx, pending, fix)) return undefined
    return fix
  } catch (err) {
    if (err instanceof StatLaneError) return undefined // the full pull decides instead
    throw err
  } finally {
    await lane.close()
  }
}

/** True if every entry of the page is in place; adds to `fix` its directories whose mode or mtime moved. */
async function pageInPlace (ctx: PullContext, { page, stats }: StatedPage, fix: ReplicaEntry[]): Promise<boolean> {
  const st = await stats
  for (let i = 0; i < page.length; i++) {
    const e = page[i] as ReplicaEntry
    const o = i * STAT_FIELDS
    const mode = st[o] as number
    if (e.path === STAGING_DIR || mode < 0) return false
    if (e.type === 'file') {
      if (!fileInPlace(e, st, o)) return false
    } else if (e.type === 'directory') {
      if ((mode & S_IFMT) !== S_IFDIR) return false
      if ((mode & 0o7777) !== safeMode(e.mode, true) || !sameMtime(st[o + 2] as number, e.mtimeMs)) fix.push(e)
    } else {
      if ((mode & S_IFMT) !== S_IFLNK) return false
      if (await fsp.readlink(joinPath(ctx.dest, e.path)).then((t) => t !== e.target, () => true)) return false
    }
  }
  return true
}

/**
 * A file is in place if Ferry recorded placing it at `prefix + path` (the join found its placed-files row)
 * and it is still exactly as recorded: a regular file of the entry's size and mtime, with the ctime and
 * inode it had when placed (they move with any write, rename or chmod, even one that puts the mtime back).
 * The path is not re-checked here: a placed-files row exists only for a path a pull resolved under the
 * destination, so a path that would not resolve there finds no row (and the full pull refuses it).
 */
function fileInPlace (e: ReplicaEntry, st: Float64Array, o: number): boolean {
  return e.placedSize !== null && e.placedSize === e.size && ((st[o] as number) & S_IFMT) === S_IFREG && st[o + 1] === e.size &&
    sameMtime(st[o + 2] as number, e.mtimeMs) && st[o + 2] === e.placedMtimeMs && st[o + 3] === e.placedCtimeMs && st[o + 4] === e.placedIno
}

function noopResult (ctx: PullContext, replica: ScanRecord): PullResult {
  ctx.counters.bytesPresent = replica.bytes
  const seconds = (performance.now() - ctx.started) / 1000
  return {
    root: ctx.root.toString(),
    dest: ctx.dest,
    complete: true,
    files: replica.files,
    directories: replica.directories,
    symlinks: replica.symlinks,
    bytes: replica.bytes,
    bytesFetched: 0,
    bytesLocal: 0,
    bytesPresent: replica.bytes,
    bytesResumed: 0,
    fromPeers: {},
    skipped: [],
    problems: [],
    planSeconds: seconds,
    seconds,
    phase: 'finish'
  }
}
