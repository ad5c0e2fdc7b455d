import { promises as fsp, type Stats } from 'node:fs'
import { FerryError } from '@ferry/errors'
import type { CID } from 'multiformats/cid'
import { fileLeaves, type DagEntry, type FileLeaf } from '../format/index.js'
import { SliceError } from '../import/hash-pool.js'
import { DEFAULT_CHUNKS_PER_TASK } from '../import/run.js'
import { differ, fileChecked } from './report.js'
import type { VerifyRun } from './run.js'

/** A local regular file and the DAG file entry it should equal. */
export interface FileCheck {
  abs: string
  rel: string
  entry: DagEntry
  stat: Stats
}

/** One hash request: digests of leaves `first` to `first + count - 1`. */
interface HashTask {
  first: number
  count: number
  promise: Promise<Uint8Array>
}

/** How far a file's leaves matched: the first that differs, if any, and the bytes found equal before it. */
interface LeafMatch {
  mismatch?: number
  verified: number
}

function equals (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}

/** Compare: hashes the local file in runs of equal-sized leaves, as the importer does, up to its actual size. */
function planHashes (run: VerifyRun, abs: string, leaves: FileLeaf[], actualSize: number): HashTask[] {
  const tasks: HashTask[] = []
  for (let i = 0; i < leaves.length;) {
    const first = leaves[i]
    if (first == null || first.offset >= actualSize) break
    let count = 1
    while (count < DEFAULT_CHUNKS_PER_TASK && i + count < leaves.length) {
      const prev = leaves[i + count - 1]
      const next = leaves[i + count]
      if (prev == null || next == null || prev.length !== first.length || next.length > first.length) break
      count++
    }
    const last = leaves[i + count - 1]
    const end = Math.min(actualSize, (last?.offset ?? 0) + (last?.length ?? 0))
    const promise = run.pool.hash(abs, first.offset, end - first.offset, first.length, run.signal)
    promise.catch(() => {})
    tasks.push({ first: i, count, promise })
    i += count
  }
  return tasks
}

/** Compare: the local digests against the leaves' CIDs, in order, up to the first that differs. */
async function matchLeaves (tasks: HashTask[], leaves: FileLeaf[], actualSize: number): Promise<LeafMatch> {
  let mismatch: number | undefined
  let verified = 0
  for (const task of tasks) {
    const digests = await task.promise
    for (let j = 0; j < task.count && mismatch === undefined; j++) {
      const leaf = leaves[task.first + j]
      if (leaf == null) break
      const digest = digests.subarray(j * 32, j * 32 + 32)
      if (leaf.offset + leaf.length > actualSize || digest.byteLength < 32 || !equals(digest, leaf.cid.multihash.digest)) mismatch = task.first + j
      else verified += leaf.length
    }
    if (mismatch !== undefined) break
  }
  return { mismatch, verified }
}

/** The offset of the first byte of a chunk that differs from the original, when this node has the original. */
async function firstDifferentByte (run: VerifyRun, abs: string, leafCid: CID, offset: number, length: number): Promise<number | undefined> {
  const original = await run.readLeaf?.(leafCid)
  if (original == null) return undefined
  const fh = await fsp.open(abs, 'r')
  try {
    const local = Buffer.alloc(length)
    const { bytesRead } = await fh.read(local, 0, length, offset)
    for (let i = 0; i < Math.min(bytesRead, original.byteLength); i++) {
      if (local[i] !== original[i]) return offset + i
    }
    return offset + Math.min(bytesRead, original.byteLength)
  } finally {
    await fh.close()
  }
}

/** Compare: where the file first differs, given the first leaf that does: its exact byte when it can be told. */
async function locateChange (run: VerifyRun, abs: string, leaf: FileLeaf, actualSize: number): Promise<{ offset: number, exact: boolean }> {
  if (leaf.offset >= actualSize) return { offset: actualSize, exact: true }
  const precise = await firstDifferentByte(run, abs, leaf.cid, leaf.offset, leaf.length)
  if (precise !== undefined) return { offset: precise, exact: true }
  return { offset: leaf.offset, exact: false }
}

/** Compare, files: hashes the local file on the pool against the entry's leaves and reports the outcome. */
async function compareFile (run: VerifyRun, file: FileCheck): Promise<void> {
  const { abs, rel, entry } = file
  const leaves: FileLeaf[] = []
  for await (const leaf of fileLeaves(entry.cid, run.get, { signal: run.signal, size: entry.size })) leaves.push(leaf)
  const expectedSize = leaves.reduce((n, l) => n + l.length, 0)
  const actualSize = file.stat.size
  const tasks = planHashes(run, abs, leaves, actualSize)
  let match: LeafMatch
  try {
    match = await matchLeaves(tasks, leaves, actualSize)
  } catch (err) {
    if (err instanceof SliceError) {
      differ(run, { path: rel, kind: 'unreadable', code: err.code, message: err.message })
      fileChecked(run, rel, actualSize, false)
      return
    }
    throw err
  }
  let { mismatch } = match
  if (mismatch === undefined && leaves.length > 0 && tasks.length < leaves.length) {
    // local file shorter than the first leaf it lacks
    mismatch = leaves.findIndex((l) => l.offset >= actualSize)
  }
  if (mismatch !== undefined && mismatch >= 0) {
    const leaf = leaves[mismatch]
    if (leaf == null) throw new FerryError('ERR_INTERNAL', 'leaf index out of range')
    const { offset, exact } = await locateChange(run, abs, leaf, actualSize)
    differ(run, { path: rel, kind: 'changed', expectedSize, actualSize, offset, exact })
    fileChecked(run, rel, actualSize, false)
    return
  }
  if (actualSize !== expectedSize) {
    // every expected byte is there, followed by extra bytes
    differ(run, { path: rel, kind: 'changed', expectedSize, actualSize, offset: expectedSize, exact: true })
    fileChecked(run, rel, actualSize, false)
    return
  }
  run.result.files++
  run.result.bytes += match.verified
  fileChecked(run, rel, actualSize, true)
}

/** Compare: waits for one of the `run.sem` slots, then compares `file` in the background. */
export async function scheduleCompare (run: VerifyRun, file: FileCheck): Promise<void> {
  await run.sem.acquire()
  const p: Promise<void> = compareFile(run, file)
    .catch((err) => { run.failure ??= err })
    .finally(() => { run.sem.release(); run.inflight.delete(p) })
  run.inflight.add(p)
}

/** Compare: waits for every file comparison; throws the first error one of them met. */
export async function drainCompares (run: VerifyRun): Promise<void> {
  while (run.inflight.size > 0) await Promise.all(run.inflight)
  if (run.failure !== undefined) throw run.failure
}

/** Compare, symlinks: the local link's target against the entry's. */
export async function compareSymlink (run: VerifyRun, abs: string, rel: string, entry: DagEntry): Promise<void> {
  const target = await fsp.readlink(abs)
  if (target !== entry.target) differ(run, { path: rel, kind: 'target', expected: entry.target ?? '', actual: target })
  else run.result.symlinks++
}
