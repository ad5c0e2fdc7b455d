import { lstatSync, promises as fsp, type Stats } from 'node:fs'
import { join } from 'node:path'
import { FerryError, fromSystemError } from '@ferry/errors'
import type { CID } from 'multiformats/cid'
import { fileLeaves, listDirectory, walkDag, type DagEntry, type GetBlock } from '../format/index.js'
import { DEFAULT_CHUNKS_PER_TASK } from '../import/importer.js'
import { HashPool, SliceError, DEFAULT_QUEUE_PER_WORKER } from '../import/hash-pool.js'
import { Semaphore } from '../import/semaphore.js'

type EntryType = DagEntry['type']
const RAW_CODE = 0x55

/** One way in which a directory differs from a root. */
export type Difference =
  | { path: string, kind: 'missing', expected: EntryType }
  | { path: string, kind: 'extra', actual: string }
  | { path: string, kind: 'type', expected: EntryType, actual: string }
  | {
    path: string
    kind: 'changed'
    expectedSize: number
    actualSize: number
    /** Offset of the first byte that differs; with `exact: false`, the start of the first chunk that differs. */
    offset: number
    exact: boolean
  }
  | { path: string, kind: 'target', expected: string, actual: string }
  | { path: string, kind: 'unreadable', code: string, message: string }

export interface VerifyResult {
  ok: boolean
  root: CID
  files: number
  directories: number
  symlinks: number
  /** File bytes hashed and found equal. */
  bytes: number
  differences: Difference[]
}

export type VerifyProgressEvent =
  | { type: 'verify:file', path: string, size: number, ok: boolean }
  | { type: 'verify:difference', difference: Difference }

export interface VerifyOptions {
  pool?: HashPool
  signal?: AbortSignal
  concurrency?: number
  onProgress?: (event: VerifyProgressEvent) => void
  /**
   * The original bytes of a leaf when this node has them (the scan was imported or pulled here), so a
   * change can be located to the exact byte; otherwise only to its chunk.
   */
  readLeaf?: (cid: CID) => Promise<Uint8Array | undefined>
}

function equals (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}

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

/**
 * Proves that `dir` holds exactly the tree under `root`: same names, same shape, same bytes, same symlink
 * targets. Reads the directory only; never modifies it. Every difference is listed, not just the first.
 */
export async function verifyDirectory (dir: string, root: CID, get: GetBlock, options: VerifyOptions = {}): Promise<VerifyResult> {
  const { signal } = options
  const ownPool = options.pool == null
  const pool = options.pool ?? new HashPool()
  const sem = new Semaphore(options.concurrency ?? Math.max(8, pool.size * DEFAULT_QUEUE_PER_WORKER))
  const emit = options.onProgress ?? (() => {})
  const result: VerifyResult = { ok: false, root, files: 0, directories: 0, symlinks: 0, bytes: 0, differences: [] }
  const inflight = new Set<Promise<void>>()
  let failure: unknown

  const differ = (d: Difference): void => {
    result.differences.push(d)
    emit({ type: 'verify:difference', difference: d })
  }

  const firstDifferentByte = async (abs: string, leafCid: CID, offset: number, length: number): Promise<number | undefined> => {
    const original = await options.readLeaf?.(leafCid)
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

  const checkFile = async (abs: string, rel: string, entry: DagEntry, st: Stats): Promise<void> => {
    const leaves = []
    for await (const leaf of fileLeaves(entry.cid, get, { signal, size: entry.size })) leaves.push(leaf)
    const expectedSize = leaves.reduce((n, l) => n + l.length, 0)
    const actualSize = st.size
    // hash the local file in runs of equal-sized leaves, as the importer does
    const tasks: Array<{ first: number, count: number, promise: Promise<Uint8Array> }> = []
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
      const promise = pool.hash(abs, first.offset, end - first.offset, first.length, signal)
      promise.catch(() => {})
      tasks.push({ first: i, count, promise })
      i += count
    }
    let mismatch: number | undefined // index of the first leaf that differs
    let verified = 0
    try {
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
    } catch (err) {
      if (err instanceof SliceError) {
        differ({ path: rel, kind: 'unreadable', code: err.code, message: err.message })
        emit({ type: 'verify:file', path: rel, size: actualSize, ok: false })
        return
      }
      throw err
    }
    if (mismatch === undefined && leaves.length > 0 && tasks.length < leaves.length && leaves.length > 0) {
      // local file shorter than the first leaf it lacks
      mismatch = leaves.findIndex((l) => l.offset >= actualSize)
    }
    if (mismatch !== undefined && mismatch >= 0) {
      const leaf = leaves[mismatch]
      if (leaf == null) throw new FerryError('ERR_INTERNAL', 'leaf index out of range')
      let offset = leaf.offset
      let exact = false
      if (leaf.offset >= actualSize) {
        offset = actualSize
        exact = true
      } else {
        const precise = await firstDifferentByte(abs, leaf.cid, leaf.offset, leaf.length)
        if (precise !== undefined) {
          offset = precise
          exact = true
        }
      }
      differ({ path: rel, kind: 'changed', expectedSize, actualSize, offset, exact })
      emit({ type: 'verify:file', path: rel, size: actualSize, ok: false })
      return
    }
    if (actualSize !== expectedSize) {
      // every expected byte is there, followed by extra bytes
      differ({ path: rel, kind: 'changed', expectedSize, actualSize, offset: expectedSize, exact: true })
      emit({ type: 'verify:file', path: rel, size: actualSize, ok: false })
      return
    }
    result.files++
    result.bytes += verified
    emit({ type: 'verify:file', path: rel, size: actualSize, ok: true })
  }

  const checkDir = async (cid: CID, abs: string, rel: string): Promise<void> => {
    if (failure !== undefined) throw failure
    if (signal?.aborted === true) throw new FerryError('ERR_ABORTED', 'Verification aborted', { cause: signal.reason })
    const children = await listDirectory(cid, get, { signal })
    let localNames: string[]
    try {
      localNames = await fsp.readdir(abs)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      differ({ path: rel, kind: 'unreadable', code: e.code ?? 'EIO', message: e.message })
      return
    }
    result.directories++
    const expected = new Set(children.map((c) => c.name))
    for (const name of localNames.sort()) {
      if (expected.has(name)) continue
      const st = lstatSync(join(abs, name), { throwIfNoEntry: false })
      differ({ path: joinRel(rel, name), kind: 'extra', actual: st == null ? 'entry' : localType(st) })
    }
    const present = new Set(localNames)
    for (const child of children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const childRel = joinRel(rel, child.name)
      const childAbs = join(abs, child.name)
      const entry = await typeOf(child.cid, get, signal, child.tsize)
      if (!present.has(child.name)) {
        differ({ path: childRel, kind: 'missing', expected: entry.type })
        continue
      }
      let st: Stats | undefined
      try {
        st = lstatSync(childAbs, { throwIfNoEntry: false })
      } catch (err) {
        const e = err as NodeJS.ErrnoException
        differ({ path: childRel, kind: 'unreadable', code: e.code ?? 'EIO', message: e.message })
        continue
      }
      if (st == null) {
        differ({ path: childRel, kind: 'missing', expected: entry.type })
        continue
      }
      const actual = localType(st)
      if (actual !== entry.type) {
        differ({ path: childRel, kind: 'type', expected: entry.type, actual })
        continue
      }
      if (entry.type === 'directory') {
        await checkDir(child.cid, childAbs, childRel)
      } else if (entry.type === 'symlink') {
        const target = await fsp.readlink(childAbs)
        if (target !== entry.target) differ({ path: childRel, kind: 'target', expected: entry.target ?? '', actual: target })
        else result.symlinks++
      } else {
        await sem.acquire()
        const stat = st
        const p: Promise<void> = checkFile(childAbs, childRel, entry, stat)
          .catch((err) => { failure ??= err })
          .finally(() => { sem.release(); inflight.delete(p) })
        inflight.add(p)
      }
    }
  }

  try {
    let st: Stats
    try {
      st = await fsp.stat(dir)
    } catch (err) {
      throw fromSystemError(err, dir)
    }
    if (!st.isDirectory()) throw new FerryError('ERR_NOT_A_DIRECTORY', `Not a directory: ${dir}`)
    const top = await typeOf(root, get, signal)
    if (top.type !== 'directory') throw new FerryError('ERR_INVALID_ARGUMENT', `Root ${root.toString()} is a ${top.type}, not a directory`)
    await checkDir(root, dir, '')
    while (inflight.size > 0) await Promise.all(inflight)
    if (failure !== undefined) throw failure
    result.differences.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    result.ok = result.differences.length === 0
    return result
  } finally {
    await Promise.allSettled(inflight)
    if (ownPool) await pool.close()
  }
}
