/**
 * Free-space checks, for ERR_NO_SPACE before a transfer writes anything.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { fromSystemError } from '@ferry/errors'

/** Space on the filesystem holding a path, in bytes. */
export interface FreeSpace {
  /** Bytes an unprivileged process may still write (statfs bavail × bsize). */
  available: number
  /** Size of the filesystem. */
  total: number
}

/**
 * Free and total space of the filesystem that holds `target`. If `target` does not exist yet (a destination
 * about to be created), its nearest existing ancestor is measured instead.
 */
export async function freeSpace (target: string): Promise<FreeSpace> {
  let current = path.resolve(target)
  while (true) {
    try {
      const s = await fs.statfs(current)
      return { available: s.bavail * s.bsize, total: s.blocks * s.bsize }
    } catch (err) {
      const parent = path.dirname(current)
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw fromSystemError(err, target)
      current = parent
    }
  }
}
