import { lstatSync, promises as fsp, type Stats } from 'node:fs'
import { join } from 'node:path'
import { FerryError, fromSystemError } from '@ferry/errors'
import { pathProblem } from '../format/index.js'
import { buildLink, childDone } from './build.js'
import { checkAbort, skip, type Child, type DirState, type ImportRun } from './run.js'
import { scheduleFile } from './schedule.js'

/** Inner-block writes allowed in flight before the walk waits for the store. */
const MAX_PENDING_WRITES = 64

function joinRel (parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`
}

function specialKind (st: Stats): string {
  if (st.isFIFO()) return 'named pipe'
  if (st.isSocket()) return 'socket'
  if (st.isCharacterDevice()) return 'character device'
  if (st.isBlockDevice()) return 'block device'
  return 'special file'
}

function errCode (err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'EIO'
}

/** Walk: the state of the scan's root directory `dir`; throws when it cannot be read or is no directory. */
export async function openRoot (dir: string): Promise<DirState> {
  let stat: Stats
  try {
    stat = await fsp.stat(dir)
  } catch (err) {
    throw fromSystemError(err, dir)
  }
  if (!stat.isDirectory()) throw new FerryError('ERR_NOT_A_DIRECTORY', `Not a directory: ${dir}`)
  return { rel: '', name: '', stat, entries: [], pending: 1 }
}

/** `dir`'s names in order; undefined when it cannot be listed (then it is skipped whole, unless it is the root). */
async function listNames (run: ImportRun, abs: string, dir: DirState): Promise<string[] | undefined> {
  try {
    return (await fsp.readdir(abs)).sort()
  } catch (err) {
    if (dir.parent == null) throw fromSystemError(err, abs)
    // left out whole: half a listing would look complete at the receiver
    skip(run, dir.rel, errCode(err), err as Error)
    return undefined
  }
}

/** A child's stat; undefined when it is skipped (an unsafe name, gone, or not stat-able), which is said. */
function statChild (run: ImportRun, child: Child): Stats | undefined {
  const unsafe = pathProblem(child.rel)
  if (unsafe !== undefined) {
    // a receiver would refuse the whole scan for it: leave it out, and say so
    skip(run, child.rel, 'ERR_UNSAFE_NAME', new Error(`${unsafe}: peers refuse such names`))
    return undefined
  }
  let st: Stats | undefined
  try {
    st = lstatSync(child.abs, { throwIfNoEntry: false })
  } catch (err) {
    skip(run, child.rel, errCode(err), err as Error)
    return undefined
  }
  if (st == null) skip(run, child.rel, 'ENOENT')
  return st ?? undefined
}

/**
 * Walk, one entry: descends into a directory, builds a symlink, schedules a file or skips a special file.
 * False when the entry was skipped after all (a symlink that cannot be read).
 */
async function visitChild (run: ImportRun, dir: DirState, child: Child, st: Stats): Promise<boolean> {
  if (st.isDirectory()) {
    const sub: DirState = { rel: child.rel, name: child.name, stat: st, entries: [], pending: 1, parent: dir }
    dir.pending++
    if (await walkDirectory(run, child.abs, sub)) childDone(run, sub) // its listing is done
    else dir.pending--
  } else if (st.isSymbolicLink()) {
    let target: string
    try {
      target = await fsp.readlink(child.abs)
    } catch (err) {
      skip(run, child.rel, errCode(err), err as Error)
      return false
    }
    buildLink(run, dir, child, st, target)
  } else if (st.isFile()) {
    await scheduleFile(run, dir, { ...child, stat: st })
  } else {
    skip(run, child.rel, 'ERR_SPECIAL_FILE', new Error(`${specialKind(st)} not imported`))
  }
  return true
}

/**
 * Walk: lists directory `abs` and visits its entries in name order, depth first, holding back while more than
 * MAX_PENDING_WRITES block writes are in flight. False when it cannot be listed (then it is skipped whole).
 */
export async function walkDirectory (run: ImportRun, abs: string, dir: DirState): Promise<boolean> {
  const names = await listNames(run, abs, dir)
  if (names === undefined) return false
  for (const name of names) {
    checkAbort(run)
    const child: Child = { name, abs: join(abs, name), rel: joinRel(dir.rel, name) }
    const st = statChild(run, child)
    if (st === undefined || !(await visitChild(run, dir, child, st))) continue
    while (run.writes.size > MAX_PENDING_WRITES) await Promise.race(run.writes)
  }
  return true
}
