import { constants as fsc, promises as fsp, type Stats } from 'node:fs'
import { dirname } from 'node:path'
import { FerryError, fromSystemError } from '@ferry/errors'
import { pathUnder, symlinkTargetProblem } from '@ferry/dag'
import type { CID } from 'multiformats/cid'
import type { PullProblem } from './types.js'

/** A directory of the scan, with the metadata its signed entry gives. */
export interface PlannedDir { path: string, cid: CID, mode: number, mtimeMs: number }
/** A symlink of the scan. */
export interface PlannedLink { path: string, cid: CID, target: string, mtimeMs: number }

/** `rel` (a path from the scan: a peer's data) under dest; throws unless it is a safe relative path. */
export function joinPath (dest: string, rel: string): string {
  return pathUnder(dest, rel)
}

/** Permission bits kept from a peer's mode: never setuid or setgid (a peer must not hand us a setuid file). */
export function safeMode (mode: number, directory: boolean): number {
  return mode & (directory ? 0o1777 : 0o777)
}

export function sameMtime (a: number, b: number): boolean {
  return Math.abs(a - b) < 1
}

export function describeType (st: Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isSymbolicLink()) return 'a symlink'
  if (st.isFile()) return 'a file'
  return 'a special file'
}

/** Runs `fn` on every item, `limit` at a time. */
export async function eachConcurrently<T> (items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++] as T)
  }))
}

/** Creates `rel` under dest without ever following a symlink or replacing a file; a problem if it cannot. */
export async function mkdirSafe (dest: string, rel: string): Promise<PullProblem | undefined> {
  const abs = joinPath(dest, rel)
  const st = await fsp.lstat(abs).catch(() => undefined)
  if (st == null) {
    try {
      await fsp.mkdir(abs, { recursive: rel === '', mode: 0o700 })
    } catch (err) {
      throw await mkdirError(abs, err)
    }
    return undefined
  }
  if (st.isDirectory()) {
    await fsp.chmod(abs, (st.mode & 0o7777) | 0o700).catch(() => {}) // we must be able to write into it
    return undefined
  }
  if (rel === '') throw new FerryError('ERR_NOT_A_DIRECTORY', `Destination ${dest} exists and is not a directory`)
  return { path: rel, code: 'ERR_CONFLICT', message: `exists at the destination as ${describeType(st)}, where the scan has a directory; nothing written below it` }
}

/**
 * Why `abs` could not be made. A recursive mkdir says ENOENT where the real cause is the nearest existing
 * ancestor (read-only, not writable): that one is asked.
 */
async function mkdirError (abs: string, err: unknown): Promise<FerryError> {
  let cause = err
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    let dir = dirname(abs)
    while (dir !== dirname(dir) && !(await fsp.lstat(dir).then(() => true, () => false))) dir = dirname(dir)
    await fsp.access(dir, fsc.W_OK).catch((e: unknown) => { cause = e })
  }
  const system = fromSystemError(cause, abs)
  return new FerryError(system.code === 'ERR_NOT_FOUND' ? 'ERR_IO' : system.code, `Cannot create ${abs}: ${system.message}`, { cause })
}

/**
 * Creates a symlink as recorded (it is data: Ferry never follows it). One whose target is absolute or climbs
 * out of dest is not created unless `allowEscaping`, and is reported instead.
 */
export async function placeSymlink (dest: string, l: PlannedLink, allowEscaping: boolean): Promise<PullProblem | undefined> {
  const abs = joinPath(dest, l.path)
  const unsafe = symlinkTargetProblem(l.path, l.target)
  if (unsafe !== undefined && (!allowEscaping || l.target.includes('\0'))) {
    return { path: l.path, code: 'ERR_UNSAFE_SYMLINK', message: `symlink not created: ${unsafe} (pass --allow-escaping-symlinks to create it anyway)` }
  }
  const existing = await fsp.lstat(abs).catch(() => undefined)
  if (existing != null) {
    if (existing.isSymbolicLink() && await fsp.readlink(abs) === l.target) return undefined
    return { path: l.path, code: 'ERR_CONFLICT', message: `exists at the destination as ${describeType(existing)}; not replaced by the symlink` }
  }
  await fsp.symlink(l.target, abs)
  await fsp.lutimes(abs, l.mtimeMs / 1000, l.mtimeMs / 1000).catch(() => {})
  return undefined
}
