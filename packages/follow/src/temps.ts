/**
 * The temporary names a follower writes files under, and the sweep of those a dead follower left. A file is
 * written as `.ferry-follow-<name>.<pid>.<8 hex>` beside its final name; SIGINT or an error removes it, but
 * a follower killed outright (SIGKILL, a power cut) leaves it. At the start of a scan's follow, every such
 * name under the scan's directory whose process is not running on this host is removed (a live follower's
 * own temporary files, another process's included, are left alone).
 */
import { randomBytes } from 'node:crypto'
import { promises as fsp } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { TEMP_PREFIX } from './constants.js'

const TEMP_SUFFIX = /\.(\d{1,10})\.[0-9a-f]{8}$/

/** A fresh temporary name beside `final`, marked with this process's pid. */
export function tempNameFor (final: string): string {
  return join(dirname(final), `${TEMP_PREFIX}${basename(final)}.${process.pid}.${randomBytes(4).toString('hex')}`)
}

/** The pid a temporary name was written by, or undefined for a name that is not a follower's. */
export function tempOwner (name: string): number | undefined {
  if (!name.startsWith(TEMP_PREFIX)) return undefined
  const m = TEMP_SUFFIX.exec(name)
  return m === null ? undefined : Number(m[1])
}

function running (pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // alive, another user's
  }
}

/**
 * Removes the temporary files under `dir` (recursively; symbolic links not followed) that a follower no
 * longer running left; the paths removed, relative to `dir`. A missing `dir` has none.
 */
export async function sweepTemps (dir: string, signal?: AbortSignal): Promise<string[]> {
  const removed: string[] = []
  const walk = async (rel: string): Promise<void> => {
    signal?.throwIfAborted()
    const entries = await fsp.readdir(join(dir, rel), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return []
      throw err
    })
    for (const e of entries) {
      const path = rel === '' ? e.name : `${rel}/${e.name}`
      if (e.isDirectory()) await walk(path)
      const owner = e.isFile() ? tempOwner(e.name) : undefined
      if (owner === undefined || running(owner)) continue
      await fsp.rm(join(dir, path), { force: true })
      removed.push(path)
    }
  }
  await walk('')
  return removed
}
