import { createHash } from 'node:crypto'
import { closeSync, fchmodSync, futimesSync, linkSync, lstatSync, openSync, promises as fsp, constants as fsc, renameSync, unlinkSync, writeSync, writevSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import { FerryError, fromSystemError } from '@ferry/errors'
import { FileBuilder, leafRef, pathUnder, type FileLeaf } from '@ferry/dag'
import type { CID } from 'multiformats/cid'
import type { PlacedStat, PullJournal } from '@ferry/store'
import { MAX_OPEN_FILES, STAGING_DIR } from './constants.js'

/** A file of the scan that must be assembled at the destination. */
export interface StagedFile {
  path: string
  cid: CID
  size: number
  mode: number
  mtimeMs: number
  leaves: FileLeaf[]
  /** Bit i set: leaf i is written here (verified before the write, or re-verified on resume). */
  done: Uint8Array
  remaining: number
  /** Writes issued but not yet completed. */
  writing: number
  dirty: boolean
}

export function bitmapFor (leaves: number): Uint8Array {
  return new Uint8Array(Math.ceil(leaves / 8))
}

export function hasBit (map: Uint8Array, i: number): boolean {
  return ((map[i >> 3] ?? 0) & (1 << (i & 7))) !== 0
}

function setBit (map: Uint8Array, i: number): void {
  map[i >> 3] = (map[i >> 3] ?? 0) | (1 << (i & 7))
}

/** Where a file is assembled: a name derived from its path, in the staging directory of the destination. */
export function stagingName (dest: string, path: string): string {
  return join(dest, STAGING_DIR, `${createHash('sha256').update(path).digest('hex').slice(0, 32)}.part`)
}

/**
 * Writes verified leaves in place into temporary files under `<dest>/.ferry-partial/`, journals progress,
 * and moves a file to its final name only when all its leaves are in and they rebuild its root CID. Never
 * overwrites an existing file at the destination.
 */
export class Staging {
  private readonly handles = new Map<string, fsp.FileHandle>()
  private readonly opening = new Map<string, Promise<fsp.FileHandle>>()
  private dirtyFiles = new Set<StagedFile>()
  private ready: StagedFile[] = []
  private placedSince: string[] = []
  private unsyncedBytes = 0
  private fetchedSinceCheckpoint = 0
  private claimed = false

  /**
   * With `fsync`, completed files are fsynced and placed in batches at each checkpoint, so a name is visible
   * only once its data is on disk even after a power cut. Without it (the default, as rsync), files are
   * placed as soon as they complete; a process crash loses nothing, and a resume re-verifies staged data.
   */
  constructor (private readonly dest: string, private readonly journal: PullJournal, private readonly pullId: number, private readonly fsync = false) {}

  get pendingBytes (): number {
    return this.unsyncedBytes
  }

  async prepare (): Promise<void> {
    const dir = join(this.dest, STAGING_DIR)
    try {
      await fsp.mkdir(dir, { mode: 0o700 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(err, dir)
    }
    // never stage through a symlink someone left in our place
    const st = await fsp.lstat(dir).catch((err: unknown) => { throw fromSystemError(err, dir) })
    if (!st.isDirectory()) {
      throw new FerryError('ERR_NOT_A_DIRECTORY', `${dir} exists and is not a directory (a symlink?): move it away; Ferry stages files there`)
    }
    await claimStaging(dir, this.dest)
    this.claimed = true
  }

  private async handle (file: StagedFile): Promise<fsp.FileHandle> {
    const open = this.handles.get(file.path)
    if (open != null) return open
    let pending = this.opening.get(file.path)
    if (pending == null) {
      pending = (async () => {
        if (this.handles.size >= MAX_OPEN_FILES) await this.closeSome()
        const fh = await fsp.open(stagingName(this.dest, file.path), fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600)
        this.handles.set(file.path, fh)
        return fh
      })()
      this.opening.set(file.path, pending)
      pending.finally(() => this.opening.delete(file.path)).catch(() => {})
    }
    return await pending
  }

  /** Closes clean handles (durable ones first) to stay under MAX_OPEN_FILES. */
  private async closeSome (): Promise<void> {
    for (const [path, fh] of this.handles) {
      if ([...this.dirtyFiles].some((f) => f.path === path)) continue
      this.handles.delete(path)
      await fh.close()
      if (this.handles.size < MAX_OPEN_FILES / 2) return
    }
  }

  /**
   * Writes one verified leaf at its offset. Returns 'finished' when it completed the file, 'written' when
   * it was new, 'duplicate' when the leaf was already written (by an end-game duplicate, or by a local copy
   * made through another work item): only a new leaf counts as done, so each leaf is counted once.
   */
  async write (file: StagedFile, index: number, data: Uint8Array | Uint8Array[], fetched: boolean): Promise<'finished' | 'written' | 'duplicate'> {
    const leaf = file.leaves[index]
    if (leaf == null || hasBit(file.done, index)) return 'duplicate'
    const chunks = Array.isArray(data) ? data : [data]
    const length = chunks.reduce((n, c) => n + c.byteLength, 0)
    if (length !== leaf.length) throw new FerryError('ERR_BAD_BLOCK', `Leaf ${index} of ${file.path} has ${length} bytes, ${leaf.length} expected`)
    file.writing++
    try {
      const fh = await this.handle(file)
      let { bytesWritten } = await fh.writev(chunks, leaf.offset)
      if (bytesWritten < length) {
        // a short write: finish it from one contiguous copy
        const all = Buffer.concat(chunks)
        while (bytesWritten < length) bytesWritten += (await fh.write(all, bytesWritten, length - bytesWritten, leaf.offset + bytesWritten)).bytesWritten
      }
    } catch (err) {
      throw fromSystemError(err, stagingName(this.dest, file.path))
    } finally {
      file.writing--
    }
    if (hasBit(file.done, index)) return 'duplicate' // another write of this leaf got here first
    setBit(file.done, index)
    file.remaining--
    file.dirty = true
    this.dirtyFiles.add(file)
    this.unsyncedBytes += length
    if (fetched) this.fetchedSinceCheckpoint += length
    return file.remaining === 0 ? 'finished' : 'written'
  }

  /**
   * A file has all its leaves: check that they rebuild its root, set size, mode and mtime, and link it to its
   * final name (with `fsync`: queue it for the next checkpoint, which makes it durable first).
   */
  async complete (file: StagedFile): Promise<'placed' | 'conflict' | 'queued'> {
    const builder = new FileBuilder()
    for (const leaf of file.leaves) builder.push(leafRef(leaf.cid.multihash.digest, leaf.length))
    const { root } = builder.finish()
    const expected = file.cid.toString()
    if (root.cid.toString() !== expected) {
      throw new FerryError('ERR_HASH_MISMATCH', `${file.path}: leaves do not rebuild the file root ${expected}`)
    }
    const fh = await this.handle(file)
    try {
      await fh.truncate(file.size) // sets the length of an empty file, or one whose tail was never written
      await fh.chmod(file.mode & 0o777) // never setuid or setgid from a peer
      const mtime = file.mtimeMs / 1000
      await fh.utimes(mtime, mtime)
    } catch (err) {
      throw fromSystemError(err, stagingName(this.dest, file.path))
    }
    if (this.fsync) {
      this.dirtyFiles.add(file)
      this.ready.push(file)
      return 'queued'
    }
    this.handles.delete(file.path)
    await fh.close()
    const outcome = await this.link(file)
    if (outcome === 'placed') {
      this.dirtyFiles.delete(file)
      this.placedSince.push(file.path)
    }
    return outcome
  }

  /**
   * Records progress: snapshot the bitmaps and write them, with the files placed since, to the journal in
   * one transaction. With `fsync`, first makes the data durable and places the completed files (linking
   * them to their final names, never over an existing file, then fsyncing those directories).
   */
  async checkpoint (): Promise<{ bytes: number, placed: StagedFile[], conflicts: StagedFile[] }> {
    const files = [...this.dirtyFiles]
    const ready = this.ready
    this.dirtyFiles = new Set()
    this.ready = []
    const snapshot: Array<[string, Uint8Array]> = files.map((f) => [f.path, f.done.slice()])
    for (const f of files) f.dirty = false
    const bytes = this.unsyncedBytes
    const fetched = this.fetchedSinceCheckpoint
    this.unsyncedBytes = 0
    this.fetchedSinceCheckpoint = 0
    if (this.fsync) {
      try {
        await Promise.all(files.map(async (f) => {
          const fh = this.handles.get(f.path)
          if (fh != null) await fh.datasync()
        }))
      } catch (err) {
        throw fromSystemError(err, join(this.dest, STAGING_DIR))
      }
    }
    const placed: StagedFile[] = []
    const conflicts: StagedFile[] = []
    const dirs = new Set<string>()
    for (const file of ready) {
      const fh = this.handles.get(file.path)
      this.handles.delete(file.path)
      await fh?.close()
      const outcome = await this.link(file)
      if (outcome === 'placed') {
        placed.push(file)
        dirs.add(dirname(pathUnder(this.dest, file.path)))
      } else {
        conflicts.push(file)
      }
    }
    if (this.fsync) await Promise.all([...dirs].map(syncDir))
    const placedPaths = new Set([...placed.map((f) => f.path), ...this.placedSince])
    this.placedSince = []
    this.journal.checkpoint(this.pullId, {
      files: snapshot.filter(([p]) => !placedPaths.has(p)),
      done: placedPaths,
      bytesFetched: fetched,
      durable: this.fsync // without fsync the staged data is in the page cache only: no point in an fsync of its journal
    })
    return { bytes, placed, conflicts }
  }

  /** Links a staged file to its final name, failing rather than replacing anything already there. */
  private async link (file: StagedFile): Promise<'placed' | 'conflict'> {
    const staged = stagingName(this.dest, file.path)
    const final = pathUnder(this.dest, file.path)
    try {
      await fsp.link(staged, final)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST') return 'conflict'
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw fromSystemError(err, final)
      // a filesystem without hard links: check, then rename (a narrow race, reported if lost)
      if (await exists(final)) return 'conflict'
      await fsp.rename(staged, final)
      return 'placed'
    }
    await fsp.unlink(staged)
    return 'placed'
  }

  /**
   * True if `file` can take the whole-file path (`placeWhole`): one raw leaf that is the file itself, nothing
   * of it staged yet, and no fsync asked for (with fsync, files are placed in batches at checkpoints).
   */
  wholeFile (file: StagedFile): boolean {
    const leaf = file.leaves[0]
    return !this.fsync && file.leaves.length === 1 && leaf != null && leaf.cid.equals(file.cid) && file.remaining === 1 && file.writing === 0 && !this.handles.has(file.path)
  }

  /**
   * Writes a file that is one verified leaf and places it, in one go: nothing to resume inside it, so no
   * handle is kept and no journal row written. Synchronous calls (open, writev, fchmod, futimes, close, link,
   * unlink, lstat: tens of microseconds on a local disk) instead of nine round trips through the thread pool,
   * which cost 0.3-0.6 ms of main-thread time per file (docs/benchmarks.md). It is staged under its staging
   * name and its final name appears only through link(2), so nothing is visible unverified or overwritten,
   * and a kill -9 leaves at most a staged file that the next run re-verifies. Returns the placed file's stat
   * (for the placed-files table), or 'conflict' if a file appeared at its name (the copy stays staged).
   */
  placeWhole (file: StagedFile, data: Uint8Array | Uint8Array[], fetched: boolean): PlacedStat | 'conflict' {
    const chunks = Array.isArray(data) ? data : [data]
    const length = chunks.reduce((n, c) => n + c.byteLength, 0)
    if (length !== file.size) throw new FerryError('ERR_BAD_BLOCK', `${file.path} has ${length} bytes, ${file.size} expected`)
    const staged = stagingName(this.dest, file.path)
    try {
      writeWhole(staged, chunks, length, file)
    } catch (err) {
      throw fromSystemError(err, staged)
    }
    setBit(file.done, 0)
    file.remaining = 0
    if (fetched) this.fetchedSinceCheckpoint += length
    const final = pathUnder(this.dest, file.path)
    if (!linkWhole(staged, final)) return 'conflict'
    const st = lstatSync(final)
    return { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino }
  }

  /**
   * Closes every handle; with `clean`, removes the staging directory and what is in it; without, removes it
   * only if it is empty (nothing to resume).
   */
  async close (clean: boolean): Promise<void> {
    for (const fh of this.handles.values()) await fh.close().catch(() => {})
    this.handles.clear()
    const dir = join(this.dest, STAGING_DIR)
    if (this.claimed) await fsp.rm(join(dir, OWNER_FILE), { force: true })
    this.claimed = false
    if (clean) await fsp.rm(dir, { recursive: true, force: true })
    else await fsp.rmdir(dir).catch(() => {})
  }
}

/** In the staging directory: which process stages there now ("HOST PID"). */
const OWNER_FILE = 'owner'

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Makes this process the one pull staging into `dir` (two pulls into one destination would place and remove
 * each other's staged files). ERR_IO naming the other pull if a live one holds it; a dead one's claim is taken over.
 */
async function claimStaging (dir: string, dest: string): Promise<void> {
  const file = join(dir, OWNER_FILE)
  const me = `${hostname()} ${process.pid}`
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fsp.writeFile(file, me, { flag: 'wx', mode: 0o600 })
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(err, file)
    }
    const [host, pidText] = (await fsp.readFile(file, 'utf8').catch(() => '')).split(' ')
    const pid = Number(pidText)
    if (host !== hostname() || (Number.isInteger(pid) && pid > 0 && alive(pid))) {
      throw new FerryError('ERR_IO', `Another pull (pid ${pidText ?? '?'} on ${host ?? '?'}) is writing into ${dest}: let it finish, then run this pull again (it finds what is in place); remove ${file} if that pull is gone`, { details: { dest, owner: `${host ?? ''} ${pidText ?? ''}` } })
    }
    await fsp.rm(file, { force: true }) // left by a pull that died: take over
  }
  throw new FerryError('ERR_IO', `Cannot claim ${dir}: another process keeps claiming it`)
}

/** Writes `chunks` as the whole of a new staged file (no symlink followed) with the file's mode and mtime. */
function writeWhole (staged: string, chunks: Uint8Array[], length: number, file: StagedFile): void {
  const fd = openSync(staged, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, 0o600)
  try {
    let written = length > 0 ? writevSync(fd, chunks, 0) : 0
    if (written < length) {
      const all = Buffer.concat(chunks)
      while (written < length) written += writeSync(fd, all, written, length - written, written)
    }
    fchmodSync(fd, file.mode & 0o777) // never setuid or setgid from a peer
    futimesSync(fd, file.mtimeMs / 1000, file.mtimeMs / 1000)
  } finally {
    closeSync(fd)
  }
}

/** `link` of a staged file to its final name, then unlink of the staged one; false if the name is taken. */
function linkWhole (staged: string, final: string): boolean {
  try {
    linkSync(staged, final)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw fromSystemError(err, final)
    // a filesystem without hard links: check, then rename (a narrow race, as Staging.link)
    if (lstatSync(final, { throwIfNoEntry: false }) !== undefined) return false
    renameSync(staged, final)
    return true
  }
  unlinkSync(staged)
  return true
}

async function exists (path: string): Promise<boolean> {
  try {
    await fsp.lstat(path)
    return true
  } catch {
    return false
  }
}

async function syncDir (dir: string): Promise<void> {
  let fh
  try {
    fh = await fsp.open(dir, 'r')
    await fh.sync()
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  } finally {
    await fh?.close()
  }
}
