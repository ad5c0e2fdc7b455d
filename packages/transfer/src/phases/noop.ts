import { lstatSync, promises as fsp, type Stats } from 'node:fs'
import { join } from 'node:path'
import { throwIfAborted } from '@ferry/errors'
import type { EntryRecord, ScanRecord } from '@ferry/store'
import { NOOP_WINDOW, STAGING_DIR } from '../constants.js'
import type { PullContext } from '../context.js'
import { joinPath, safeMode, sameMtime } from '../fs-safe.js'
import type { PullResult } from '../types.js'

/**
 * The fast no-op: when this node has registered a complete replica of the scan at `dest` (a pull finished
 * there before) and every entry is still in place — each file as Ferry placed it (size and mtime as signed,
 * and the placed-files table says nothing touched it since), each directory a directory, each symlink
 * pointing where it should — the pull is complete without reading the DAG or the record from a peer.
 * Entries are paged from the catalog and stat'ed NOOP_WINDOW at a time, so memory does not grow with the
 * scan. Directory modes and mtimes are restored as a full pull would. Undefined (the full engine runs)
 * if anything differs, if `checksum` is asked for, or if an earlier run left a staging directory.
 */
export async function quickNoop (ctx: PullContext): Promise<PullResult | undefined> {
  const { catalog, dest, options } = ctx
  if (options.checksum === true || options.stopAfter !== undefined) return undefined
  const replica = catalog.listScans().find((s) => s.root?.equals(ctx.root) === true && s.sourcePath === dest && s.state === 'complete')
  if (replica === undefined || replica.skipped.length > 0) return undefined
  if (await fsp.lstat(join(dest, STAGING_DIR)).then(() => true, () => false)) return undefined
  const dirs: EntryRecord[] = []
  let window: EntryRecord[] = []
  for (const e of catalog.entries(replica.id)) {
    if (e.path === STAGING_DIR) return undefined
    if (e.type === 'directory') dirs.push(e) // one per directory of the scan (a few hundred for 10^5 files)
    window.push(e)
    if (window.length >= NOOP_WINDOW) {
      if (!await inPlace(ctx, window)) return undefined
      window = []
    }
    throwIfAborted(ctx.signal)
  }
  if (!await inPlace(ctx, window)) return undefined
  for (let i = dirs.length - 1; i >= 0; i--) {
    const d = dirs[i] as EntryRecord
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

/** True if every entry of `window` is in place as this node placed it (stat'ed all at once). */
async function inPlace (ctx: PullContext, window: EntryRecord[]): Promise<boolean> {
  for (const e of window) {
    // a synchronous lstat (a few microseconds from the dentry cache) instead of a thread-pool round trip:
    // nothing else runs in a no-op, and this is its whole cost per file
    const st = lstatSync(joinPath(ctx.dest, e.path), { throwIfNoEntry: false })
    if (st == null || !await entryInPlace(ctx, e, st)) return false
  }
  return true
}

async function entryInPlace (ctx: PullContext, e: EntryRecord, st: Stats): Promise<boolean> {
  if (e.type === 'directory') return st.isDirectory()
  const abs = joinPath(ctx.dest, e.path)
  if (e.type === 'symlink') return st.isSymbolicLink() && await fsp.readlink(abs).then((t) => t === e.target, () => false)
  return st.isFile() && st.size === e.size && sameMtime(st.mtimeMs, e.mtimeMs) && ctx.catalog.placed.trusted(abs, st)
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
