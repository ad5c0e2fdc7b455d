import { promises as fsp } from 'node:fs'
import { join } from 'node:path'
import { FerryError } from '@ferry/errors'
import { freeSpace } from '@ferry/store'
import { SPACE_MARGIN_FRACTION, SPACE_MARGIN_MAX_BYTES } from './constants.js'

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']

/** Bytes in decimal units, as the CLI prints them ("52.4 MB"). */
export function humanBytes (n: number): string {
  let i = 0
  let v = n
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000
    i++
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${UNITS[i]}`
}

/** The default reserve: a small share of the filesystem (1%), never more than 64 MiB. */
export function defaultSpaceMargin (filesystemBytes: number): number {
  return Math.min(SPACE_MARGIN_MAX_BYTES, Math.floor(filesystemBytes * SPACE_MARGIN_FRACTION))
}

/**
 * Throws ERR_NO_SPACE unless `missingBytes` plus the margin (`marginBytes`, else the default for the
 * filesystem) fit in the space available at `dest`. The message gives the figures in human units; its
 * details the raw bytes.
 */
export async function checkSpace (dest: string, missingBytes: number, marginBytes?: number): Promise<void> {
  if (missingBytes <= 0) return
  const space = await freeSpace(dest)
  const margin = marginBytes ?? defaultSpaceMargin(space.total)
  if (missingBytes + margin <= space.available) return
  throw new FerryError('ERR_NO_SPACE', `Not enough space on ${dest}: ${humanBytes(missingBytes)} still needed plus a ${humanBytes(margin)} margin, ${humanBytes(space.available)} available (free some space, or set the margin with --space-margin)`, {
    details: { dest, needed: missingBytes, available: space.available, margin }
  })
}

/** Removes `dir` and the directories below it that are empty (bottom up); leaves anything holding a file. */
export async function pruneEmptyDirs (dir: string): Promise<void> {
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => [])
  for (const e of entries) if (e.isDirectory()) await pruneEmptyDirs(join(dir, e.name))
  await fsp.rmdir(dir).catch(() => {})
}
