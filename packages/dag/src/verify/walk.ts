import { lstatSync, promises as fsp, type Stats } from 'node:fs'
import { join } from 'node:path'
import { FerryError, fromSystemError } from '@ferry/errors'
import type { CID } from 'multiformats/cid'
import { listDirectory, walkDag, type DagEntry, type DirectoryLink, type GetBlock } from '../format/index.js'
import { compareSymlink, scheduleCompare } from './compare.js'
import { differ } from './report.js'
import type { VerifyRun } from './run.js'

const RAW_CODE = 0x55

function localType (st: Stats): string {
  if (st.isFile()) return 'file'
  if (st.isDirectory()) return 'directory'
  if (st.isSymbolicLink()) return 'symlink'
  return 'special file'
}

function joinRel (parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`
}

/** The entry a link points at; `size` is the link's Tsize, which for a raw leaf is the file's size. */
async function typeOf (cid: CID, get: GetBlock, signal?: AbortSignal, size?: number): Promise<DagEntry> {
  const it = walkDag(cid, get, { signal, size: cid.code === RAW_CODE ? size : undefined })
  try {
    const first = await it.next()
    if (first.done === true) throw new FerryError('ERR_BAD_BLOCK', `Empty DAG at ${cid.toString()}`)
    return first.value
  } finally {
    await it.return(undefined)
  }
}

/** Walk: checks that `dir` is a readable directory and `root` a directory node, before anything is compared. */
export async function openReference (run: VerifyRun, dir: string, root: CID): Promise<void> {
  let st: Stats
  try {
    st = await fsp.stat(dir)
  } catch (err) {
    throw fromSystemError(err, dir)
  }
  if (!st.isDirectory()) throw new FerryError('ERR_NOT_A_DIRECTORY', `Not a directory: ${dir}`)
  const top = await typeOf(root, run.get, run.signal)
  if (top.type !== 'directory') throw new FerryError('ERR_INVALID_ARGUMENT', `Root ${root.toString()} is a ${top.type}, not a directory`)
}

/** Walk: a local directory's names; undefined when it cannot be read (reported as unreadable). */
async function readLocal (run: VerifyRun, abs: string, rel: string): Promise<string[] | undefined> {
  try {
    return await fsp.readdir(abs)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    differ(run, { path: rel, kind: 'unreadable', code: e.code ?? 'EIO', message: e.message })
    return undefined
  }
}

/** Walk: reports, in name order, the local names the reference does not have. */
function reportExtras (run: VerifyRun, children: DirectoryLink[], localNames: string[], abs: string, rel: string): void {
  const expected = new Set(children.map((c) => c.name))
  for (const name of localNames.sort()) {
    if (expected.has(name)) continue
    const st = lstatSync(join(abs, name), { throwIfNoEntry: false })
    differ(run, { path: joinRel(rel, name), kind: 'extra', actual: st == null ? 'entry' : localType(st) })
  }
}

/** Walk: the local stat of an entry the reference has; undefined when it is unreadable or gone (reported). */
function statLocal (run: VerifyRun, abs: string, rel: string, entry: DagEntry): Stats | undefined {
  let st: Stats | undefined
  try {
    st = lstatSync(abs, { throwIfNoEntry: false })
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    differ(run, { path: rel, kind: 'unreadable', code: e.code ?? 'EIO', message: e.message })
    return undefined
  }
  if (st == null) differ(run, { path: rel, kind: 'missing', expected: entry.type })
  return st ?? undefined
}

/** Walk, one entry of the reference: reports it missing or of another type, or descends or compares. */
async function visitChild (run: VerifyRun, child: DirectoryLink, present: Set<string>, abs: string, rel: string): Promise<void> {
  const childRel = joinRel(rel, child.name)
  const childAbs = join(abs, child.name)
  const entry = await typeOf(child.cid, run.get, run.signal, child.tsize)
  if (!present.has(child.name)) {
    differ(run, { path: childRel, kind: 'missing', expected: entry.type })
    return
  }
  const st = statLocal(run, childAbs, childRel, entry)
  if (st === undefined) return
  const actual = localType(st)
  if (actual !== entry.type) {
    differ(run, { path: childRel, kind: 'type', expected: entry.type, actual })
    return
  }
  if (entry.type === 'directory') await walkDirectory(run, child.cid, childAbs, childRel)
  else if (entry.type === 'symlink') await compareSymlink(run, childAbs, childRel, entry)
  else await scheduleCompare(run, { abs: childAbs, rel: childRel, entry, stat: st })
}

/**
 * Walk: compares directory node `cid` with local directory `abs` by name, then visits its entries in name
 * order, depth first; files are compared in the background.
 */
export async function walkDirectory (run: VerifyRun, cid: CID, abs: string, rel: string): Promise<void> {
  if (run.failure !== undefined) throw run.failure
  if (run.signal?.aborted === true) throw new FerryError('ERR_ABORTED', 'Verification aborted', { cause: run.signal.reason })
  const children = await listDirectory(cid, run.get, { signal: run.signal })
  const localNames = await readLocal(run, abs, rel)
  if (localNames === undefined) return
  run.result.directories++
  reportExtras(run, children, localNames, abs, rel)
  const present = new Set(localNames)
  for (const child of children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    await visitChild(run, child, present, abs, rel)
  }
}
