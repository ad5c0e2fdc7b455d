/**
 * Finding complete files in a watched tree. A file is complete when its writer closes it (on Linux:
 * inotify's IN_CLOSE_WRITE, or IN_MOVED_TO for a file renamed into place, from `closeEvents`), or else when
 * its size and mtime have not moved for the settle time (writers that keep files open, mmap writers, no
 * inotifywait). One recursive native subscription (`@parcel/watcher`, inotify on Linux: one watch per
 * directory, none per file) feeds a bounded map of files waiting to settle. A periodic rescan walks the tree
 * (one directory at a time, never the whole listing in memory) and offers every file whose (size, mtime)
 * differs from what was last published, so events lost to an overflow, or written while the daemon was
 * down, are found too.
 */
import { opendir, stat } from 'node:fs/promises'
import path from 'node:path'
import watcher from '@parcel/watcher'
import { closeEvents, type CloseEvents } from './close-events.js'
import { DEFAULT_RESCAN_MS, IGNORED_NAME, INOTIFYWAIT, MAX_PENDING_FILES, SETTLE_CHECK_MS } from './constants.js'

/** A file seen complete: its path inside the tree and the stat that settled. */
export interface SettledFile {
  abs: string
  rel: string
  size: number
  mtimeMs: number
}

/** Options of `watchTree`. */
export interface WatchTreeOptions {
  dir: string
  settleMs: number
  rescanMs?: number
  maxPending?: number
  /** True if `rel` at (size, mtime) still needs publishing (differs from the latest published version). */
  isNew: (rel: string, size: number, mtimeMs: number) => boolean
  /**
   * Called once per settled file, in the order they settle, without waiting for the previous call to end (the
   * callee orders and groups its work: `createPublisher`); false: not published, watch it again.
   */
  onSettled: (file: SettledFile) => Promise<boolean>
  onError: (err: unknown) => void
  signal: AbortSignal
  /**
   * Publish a file as soon as its writer closes it: the inotifywait executable, or false for the settle
   * time alone. Default: INOTIFYWAIT on Linux, false elsewhere.
   */
  closeEvents?: string | false
}

/** A running watch of one tree. */
export interface TreeWatch {
  /** Walks the tree now; resolves when the walk is done (files found still settle). */
  rescan: () => Promise<void>
  /** Files waiting to settle. */
  readonly pending: number
  /** True while close events arrive (inotifywait running); false: the settle time alone. */
  readonly closeEvents: boolean
  /** Resolves once no file waits and none is being published. */
  idle: () => Promise<void>
  close: () => Promise<void>
}

interface Candidate { size: number, mtimeMs: number, since: number }

function ignored (rel: string): boolean {
  return rel.split('/').some((part) => IGNORED_NAME.test(part))
}

/** Every regular file under `dir`, one directory listing at a time. */
async function * walk (dir: string, rel = ''): AsyncGenerator<{ abs: string, rel: string }> {
  let handle
  try {
    handle = await opendir(path.join(dir, rel))
  } catch {
    return // vanished or unreadable: the next rescan tries again
  }
  for await (const d of handle) {
    const r = rel === '' ? d.name : `${rel}/${d.name}`
    if (ignored(r)) continue
    if (d.isDirectory()) yield * walk(dir, r)
    else if (d.isFile()) yield { abs: path.join(dir, r), rel: r }
  }
}

/** Starts watching `options.dir`: a subscription, the settle timer and the periodic rescan. */
export async function watchTree (options: WatchTreeOptions): Promise<TreeWatch> {
  const { dir, settleMs, signal } = options
  const maxPending = options.maxPending ?? MAX_PENDING_FILES
  const pending = new Map<string, Candidate>()
  let overflowed = false
  const busy = new Set<Promise<void>>()
  let publishing = 0

  const offer = (rel: string, size: number, mtimeMs: number): void => {
    const c = pending.get(rel)
    if (c !== undefined) {
      if (c.size !== size || c.mtimeMs !== mtimeMs) pending.set(rel, { size, mtimeMs, since: Date.now() })
      return
    }
    if (pending.size >= maxPending) { overflowed = true; return }
    pending.set(rel, { size, mtimeMs, since: Date.now() })
  }
  const touch = async (rel: string): Promise<void> => {
    const st = await stat(path.join(dir, rel)).catch(() => undefined)
    if (st === undefined || !st.isFile()) { pending.delete(rel); return }
    offer(rel, st.size, st.mtimeMs)
  }
  /** Hands `f` on for publishing now (in order); skipped if the same (size, mtime) was published meanwhile. */
  const run = (f: SettledFile): void => {
    if (!options.isNew(f.rel, f.size, f.mtimeMs)) return
    publishing++
    const p: Promise<void> = (async () => {
      if (!await options.onSettled(f)) await touch(f.rel)
    })().catch(options.onError).finally(() => { publishing--; busy.delete(p) })
    busy.add(p)
  }
  const check = settleCheck({
    dir,
    settleMs,
    pending,
    options,
    run
  })
  const rescan = resumableRescan(dir, signal, (rel, size, mtimeMs) => {
    if (options.isNew(rel, size, mtimeMs)) offer(rel, size, mtimeMs)
    return overflowed
  }, () => { overflowed = false })
  const sub = await watcher.subscribe(dir, (err, events) => {
    if (err !== null) { overflowed = true; options.onError(err); return }
    for (const e of events) {
      const rel = path.relative(dir, e.path).split(path.sep).join('/')
      if (rel === '' || rel.startsWith('..') || ignored(rel)) continue
      if (e.type === 'delete') pending.delete(rel)
      else void touch(rel).catch(options.onError)
    }
  })
  const closes = startCloseEvents(options, pending, run)
  await closes?.ready
  const settleTimer = setInterval(check, Math.min(SETTLE_CHECK_MS, settleMs))
  const rescanTimer = setInterval(() => { void rescan().catch(options.onError) }, options.rescanMs ?? DEFAULT_RESCAN_MS)
  const idle = async (): Promise<void> => {
    while (!signal.aborted && (pending.size > 0 || publishing > 0)) await new Promise((resolve) => setTimeout(resolve, SETTLE_CHECK_MS))
    await Promise.all(busy)
  }
  return {
    rescan,
    get pending () { return pending.size },
    get closeEvents () { return closes?.running ?? false },
    idle,
    close: async () => {
      clearInterval(settleTimer)
      clearInterval(rescanTimer)
      await closes?.close()
      await sub.unsubscribe()
      await Promise.all(busy)
    }
  }
}

/**
 * Close events for `options.dir` (unless turned off): a file closed after writing leaves the settle map and
 * is published at once, at the size and mtime a stat gives now (the importer's change-while-hashing guard
 * catches a writer that goes on). If inotifywait fails, a warning, and the settle time goes on alone.
 */
function startCloseEvents (options: WatchTreeOptions, pending: Map<string, Candidate>, run: (f: SettledFile) => void): CloseEvents | undefined {
  const command = options.closeEvents ?? (process.platform === 'linux' ? INOTIFYWAIT : false)
  if (command === false) return undefined
  const { dir } = options
  const closed = async (rel: string): Promise<void> => {
    if (ignored(rel)) return
    const abs = path.join(dir, rel)
    const st = await stat(abs).catch(() => undefined)
    if (st === undefined || !st.isFile()) return
    pending.delete(rel)
    run({ abs, rel, size: st.size, mtimeMs: st.mtimeMs }) // which skips it unless it is new
  }
  return closeEvents({
    dir,
    command,
    signal: options.signal,
    onClose: (rel) => { void closed(rel).catch(options.onError) },
    onFail: (err) => { options.onError(new Error(`no close events (${err.message}); files are published once unchanged for the settle time`)) }
  })
}

/**
 * The rescan: walks the tree, offering each file, and stops where the queue filled up (`offer` returns
 * true); the next call goes on from there, so a tree far larger than the queue is covered in one pass of
 * stats, not one per queue-full. Concurrent calls share the walk in progress.
 */
function resumableRescan (dir: string, signal: AbortSignal, offer: (rel: string, size: number, mtimeMs: number) => boolean, reset: () => void): () => Promise<void> {
  let walker: AsyncGenerator<{ abs: string, rel: string }> | undefined
  let running: Promise<void> | undefined
  const pass = async (): Promise<void> => {
    reset()
    walker ??= walk(dir)
    for (;;) {
      if (signal.aborted) return
      const next = await walker.next()
      if (next.done === true) { walker = undefined; return }
      const st = await stat(next.value.abs).catch(() => undefined)
      if (st !== undefined && offer(next.value.rel, st.size, st.mtimeMs)) return // full: go on next time
    }
  }
  return async () => {
    running ??= pass().finally(() => { running = undefined })
    await running
  }
}

/** The settle check: files unchanged for `settleMs` leave the map and are run, in path order. */
function settleCheck (s: { dir: string, settleMs: number, pending: Map<string, Candidate>, options: WatchTreeOptions, run: (f: SettledFile) => void }): () => void {
  let checking = false
  return () => {
    if (checking) return
    checking = true
    void (async () => {
      const now = Date.now()
      for (const [rel, c] of [...s.pending]) {
        if (now - c.since < s.settleMs) continue
        const st = await stat(path.join(s.dir, rel)).catch(() => undefined)
        if (st === undefined || !st.isFile()) { s.pending.delete(rel); continue }
        if (st.size !== c.size || st.mtimeMs !== c.mtimeMs) { s.pending.set(rel, { size: st.size, mtimeMs: st.mtimeMs, since: Date.now() }); continue }
        s.pending.delete(rel)
        s.run({ abs: path.join(s.dir, rel), rel, size: st.size, mtimeMs: st.mtimeMs }) // skipped unless new
      }
    })().catch(s.options.onError).finally(() => { checking = false })
  }
}
