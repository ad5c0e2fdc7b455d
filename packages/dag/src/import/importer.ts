import { lstatSync, promises as fsp, type Stats } from 'node:fs'
import { join } from 'node:path'
import { FerryError, fromSystemError } from '@ferry/errors'
import {
  DEFAULT_CHUNK_SIZE,
  FileBuilder,
  buildDirectory,
  buildSymlink,
  leafRef,
  pathProblem,
  type Block,
  type DirEntry,
  type NodeRef,
  type ShardSplitStrategy
} from '../format/index.js'
import { HashPool, SliceError, DEFAULT_QUEUE_PER_WORKER } from './hash-pool.js'
import { Semaphore } from './semaphore.js'
import type { ImportProgressEvent, ImportResult, ImportSink, LeafLocation, SkippedEntry } from './types.js'

/** Chunks hashed per worker request: large enough to amortise messaging, small enough to spread a big file. */
export const DEFAULT_CHUNKS_PER_TASK = 16
/** Inner-block writes allowed in flight before the walk waits for the store. */
const MAX_PENDING_WRITES = 64

export interface ImportOptions {
  /** Leaf size in bytes; default 1 MiB. */
  chunkSize?: number
  /** Max links per file node; default 1024 (unixfs-v1-2025). */
  maxChildren?: number
  /** HAMT threshold; default 256 KiB (unixfs-v1-2025). */
  shardSplitThresholdBytes?: number
  /** How a directory's size is estimated against the threshold; default 'block-bytes' (unixfs-v1-2025). */
  shardSplitStrategy?: ShardSplitStrategy
  /** A pool to share; otherwise one is created (and closed) for this import. */
  pool?: HashPool
  /** Files hashed concurrently; default 4 per hashing worker, at least 8. */
  concurrency?: number
  sink?: ImportSink
  signal?: AbortSignal
  onProgress?: (event: ImportProgressEvent) => void
}

interface DirState {
  rel: string
  name: string
  stat: Stats
  entries: DirEntry[]
  /** Children not yet done, plus one while the listing runs. */
  pending: number
  parent?: DirState
}

const NULL_SINK: ImportSink = { putBlocks: () => {}, addEntry: () => {}, addSource: () => {} }

function joinRel (parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`
}

function skipReason (code: string, err?: Error): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM': return 'permission denied'
    case 'EIO': return 'I/O error while reading'
    case 'ENOENT': return 'vanished before it could be read'
    case 'ERR_CHANGED': return `changed while being read${err != null ? ` (${err.message})` : ''}`
    default: return err?.message ?? code
  }
}

function specialKind (st: Stats): string {
  if (st.isFIFO()) return 'named pipe'
  if (st.isSocket()) return 'socket'
  if (st.isCharacterDevice()) return 'character device'
  if (st.isBlockDevice()) return 'block device'
  return 'special file'
}

/** True when a file's identity, size or mtime moved between two stats. */
function changed (a: Stats, b: Stats): boolean {
  return a.size !== b.size || a.mtimeMs !== b.mtimeMs || a.ino !== b.ino || a.ctimeMs !== b.ctimeMs
}

/**
 * Imports a directory tree as one scan: walks it depth first, hashes file content in fixed-size chunks on the
 * hash pool (several files in flight), builds the UnixFS DAG and hands inner blocks, entries and leaf
 * locations to the sink. Unreadable entries, special files and files that change while read are skipped and
 * listed in the result, never silently left out. Throws only for the root itself, the sink or an abort.
 */
export async function importDirectory (dir: string, options: ImportOptions = {}): Promise<ImportResult> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  const sink = options.sink ?? NULL_SINK
  const signal = options.signal
  const ownPool = options.pool == null
  const pool = options.pool ?? new HashPool()
  const sem = new Semaphore(options.concurrency ?? Math.max(8, pool.size * DEFAULT_QUEUE_PER_WORKER))
  const taskBytes = chunkSize * DEFAULT_CHUNKS_PER_TASK
  const emit = options.onProgress ?? (() => {})

  const result: Omit<ImportResult, 'root' | 'ref'> = { files: 0, directories: 0, symlinks: 0, bytes: 0, skipped: [] }
  let failure: unknown
  const writes = new Set<Promise<void>>()
  let resolveRoot!: (ref: NodeRef) => void
  let rejectRoot!: (err: unknown) => void
  const rootDone = new Promise<NodeRef>((resolve, reject) => { resolveRoot = resolve; rejectRoot = reject })
  rootDone.catch(() => {})

  const fail = (err: unknown): void => {
    if (failure !== undefined) return
    failure = err
    rejectRoot(err)
  }
  const checkAbort = (): void => {
    if (signal?.aborted === true) fail(new FerryError('ERR_ABORTED', 'Import aborted', { cause: signal.reason }))
    if (failure !== undefined) throw failure
  }

  const put = (blocks: Block[]): void => {
    if (blocks.length === 0) return
    const p = Promise.resolve(sink.putBlocks(blocks)).catch(fail).finally(() => writes.delete(p))
    writes.add(p)
  }

  const skip = (path: string, code: string, err?: Error): void => {
    const entry: SkippedEntry = { path, code, message: skipReason(code, err) }
    result.skipped.push(entry)
    emit({ type: 'import:skipped', entry })
  }

  const childDone = (dir: DirState): void => {
    try {
      dirDone(dir)
    } catch (err) {
      fail(err)
    }
  }

  const dirDone = (dir: DirState): void => {
    dir.pending--
    if (dir.pending > 0 || failure !== undefined) return
    const { root, blocks } = buildDirectory(dir.entries, { shardSplitThresholdBytes: options.shardSplitThresholdBytes, shardSplitStrategy: options.shardSplitStrategy })
    put(blocks)
    sink.addEntry({ path: dir.rel, type: 'directory', size: 0, mode: dir.stat.mode, mtimeMs: dir.stat.mtimeMs, cid: root.cid })
    result.directories++
    emit({ type: 'import:directory', path: dir.rel })
    dir.entries = []
    if (dir.parent == null) {
      resolveRoot(root)
    } else {
      dir.parent.entries.push({ name: dir.name, ref: root })
      dirDone(dir.parent)
    }
  }

  const importFile = async (abs: string, rel: string, st: Stats): Promise<NodeRef | undefined> => {
    const builder = new FileBuilder({ maxChildren: options.maxChildren, chunkSize })
    const leaves: LeafLocation[] = []
    const tasks: Array<Promise<Uint8Array>> = []
    for (let offset = 0; offset < st.size; offset += taskBytes) {
      const p = pool.hash(abs, offset, Math.min(taskBytes, st.size - offset), chunkSize, signal)
      p.catch(() => {}) // observed below, in order
      tasks.push(p)
    }
    try {
      let offset = 0
      for (const task of tasks) {
        const digests = await task
        for (let i = 0; i < digests.byteLength; i += 32) {
          const length = Math.min(chunkSize, st.size - offset)
          const ref = leafRef(digests.subarray(i, i + 32), length)
          leaves.push({ cid: ref.cid, offset, length })
          put(builder.push(ref))
          offset += length
        }
      }
      const after = lstatSync(abs, { throwIfNoEntry: false })
      if (after == null) throw new SliceError('ENOENT', 'removed while being read')
      if (changed(st, after)) throw new SliceError('ERR_CHANGED', 'size or modification time changed')
    } catch (err) {
      if (err instanceof SliceError) {
        skip(rel, err.code, err)
        return undefined
      }
      throw err
    }
    const { root, blocks } = builder.finish()
    put(blocks)
    sink.addSource(abs, st.size, st.mtimeMs, leaves)
    sink.addEntry({ path: rel, type: 'file', size: st.size, mode: st.mode, mtimeMs: st.mtimeMs, cid: root.cid })
    result.files++
    result.bytes += st.size
    emit({ type: 'import:file', path: rel, size: st.size })
    return root
  }

  /** Lists and walks one directory; false when it cannot be listed (then it is skipped whole). */
  const walk = async (abs: string, dir: DirState): Promise<boolean> => {
    let names: string[]
    try {
      names = (await fsp.readdir(abs)).sort()
    } catch (err) {
      if (dir.parent == null) throw fromSystemError(err, abs)
      // left out whole: half a listing would look complete at the receiver
      skip(dir.rel, (err as NodeJS.ErrnoException).code ?? 'EIO', err as Error)
      return false
    }
    for (const name of names) {
      checkAbort()
      const childAbs = join(abs, name)
      const rel = joinRel(dir.rel, name)
      const unsafe = pathProblem(rel)
      if (unsafe !== undefined) {
        // a receiver would refuse the whole scan for it: leave it out, and say so
        skip(rel, 'ERR_UNSAFE_NAME', new Error(`${unsafe}: peers refuse such names`))
        continue
      }
      let st: Stats | undefined
      try {
        st = lstatSync(childAbs, { throwIfNoEntry: false })
      } catch (err) {
        skip(rel, (err as NodeJS.ErrnoException).code ?? 'EIO', err as Error)
        continue
      }
      if (st == null) {
        skip(rel, 'ENOENT')
        continue
      }
      if (st.isDirectory()) {
        const child: DirState = { rel, name, stat: st, entries: [], pending: 1, parent: dir }
        dir.pending++
        if (await walk(childAbs, child)) childDone(child) // its listing is done
        else dir.pending--
      } else if (st.isSymbolicLink()) {
        let target: string
        try {
          target = await fsp.readlink(childAbs)
        } catch (err) {
          skip(rel, (err as NodeJS.ErrnoException).code ?? 'EIO', err as Error)
          continue
        }
        const { root, blocks } = buildSymlink(target)
        put(blocks)
        sink.addEntry({ path: rel, type: 'symlink', size: 0, mode: st.mode, mtimeMs: st.mtimeMs, cid: root.cid, target })
        result.symlinks++
        dir.entries.push({ name, ref: root })
      } else if (st.isFile()) {
        dir.pending++
        await sem.acquire()
        const stat = st
        importFile(childAbs, rel, stat)
          .then((ref) => { if (ref != null) dir.entries.push({ name, ref }) }, fail)
          .finally(() => { sem.release(); childDone(dir) })
      } else {
        skip(rel, 'ERR_SPECIAL_FILE', new Error(`${specialKind(st)} not imported`))
      }
      while (writes.size > MAX_PENDING_WRITES) await Promise.race(writes)
    }
    return true
  }

  const onAbort = (): void => { fail(new FerryError('ERR_ABORTED', 'Import aborted', { cause: signal?.reason })) }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    let rootStat: Stats
    try {
      rootStat = await fsp.stat(dir)
    } catch (err) {
      throw fromSystemError(err, dir)
    }
    if (!rootStat.isDirectory()) throw new FerryError('ERR_NOT_A_DIRECTORY', `Not a directory: ${dir}`)
    const root: DirState = { rel: '', name: '', stat: rootStat, entries: [], pending: 1 }
    await walk(dir, root)
    checkAbort()
    childDone(root) // the root's own listing is done
    const ref = await rootDone
    while (writes.size > 0) await Promise.all(writes)
    if (failure !== undefined) throw failure
    result.skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    return { root: ref.cid, ref, ...result }
  } catch (err) {
    await sem.drained().catch(() => {})
    await Promise.allSettled(writes)
    throw err
  } finally {
    signal?.removeEventListener('abort', onAbort)
    if (ownPool) await pool.close()
  }
}

