import { lstatSync, type Stats } from 'node:fs'
import { FileBuilder, buildDirectory, buildSymlink, leafRef, type NodeRef } from '../format/index.js'
import { SliceError } from './hash-pool.js'
import { fail, put, skip, type Child, type DirState, type FileJob, type ImportRun } from './run.js'
import type { LeafLocation } from './types.js'

/** True when a file's identity, size or mtime moved between two stats. */
function changed (a: Stats, b: Stats): boolean {
  return a.size !== b.size || a.mtimeMs !== b.mtimeMs || a.ino !== b.ino || a.ctimeMs !== b.ctimeMs
}

/** A builder for one file's nodes with the import's layout; throws for a bad maxChildren or chunkSize. */
export function fileBuilder (run: ImportRun): FileBuilder {
  return new FileBuilder({ maxChildren: run.options.maxChildren, chunkSize: run.chunkSize })
}

/**
 * Build, files: turns a file's chunk digests (`tasks`, in file order) into its leaves and, with `builder`,
 * its file nodes; checks the file did not change while hashed, and records it. Undefined when the file was
 * skipped instead.
 */
export async function buildFile (run: ImportRun, file: FileJob, builder: FileBuilder, tasks: Array<Promise<Uint8Array>>): Promise<NodeRef | undefined> {
  const { abs, rel, stat: st } = file
  const { chunkSize } = run
  const leaves: LeafLocation[] = []
  try {
    let offset = 0
    for (const task of tasks) {
      const digests = await task
      for (let i = 0; i < digests.byteLength; i += 32) {
        const length = Math.min(chunkSize, st.size - offset)
        const ref = leafRef(digests.subarray(i, i + 32), length)
        leaves.push({ cid: ref.cid, offset, length })
        put(run, builder.push(ref))
        offset += length
      }
    }
    const after = lstatSync(abs, { throwIfNoEntry: false })
    if (after == null) throw new SliceError('ENOENT', 'removed while being read')
    if (changed(st, after)) throw new SliceError('ERR_CHANGED', 'size or modification time changed')
  } catch (err) {
    if (err instanceof SliceError) {
      skip(run, rel, err.code, err)
      return undefined
    }
    throw err
  }
  const { root, blocks } = builder.finish()
  put(run, blocks)
  run.sink.addSource(abs, st.size, st.mtimeMs, leaves)
  run.sink.addEntry({ path: rel, type: 'file', size: st.size, mode: st.mode, mtimeMs: st.mtimeMs, cid: root.cid })
  run.result.files++
  run.result.bytes += st.size
  run.emit({ type: 'import:file', path: rel, size: st.size })
  return root
}

/** Build, symlinks: the node for a link to `target`, recorded and added to its directory. */
export function buildLink (run: ImportRun, dir: DirState, link: Child, st: Stats, target: string): void {
  const { root, blocks } = buildSymlink(target)
  put(run, blocks)
  run.sink.addEntry({ path: link.rel, type: 'symlink', size: 0, mode: st.mode, mtimeMs: st.mtimeMs, cid: root.cid, target })
  run.result.symlinks++
  dir.entries.push({ name: link.name, ref: root })
}

/**
 * Build, directories: one of `dir`'s children (or its own listing) is done. When it was the last, builds the
 * directory's node, records it and tells the parent, up to the root, which settles `run.root`.
 */
export function dirDone (run: ImportRun, dir: DirState): void {
  dir.pending--
  if (dir.pending > 0 || run.failure !== undefined) return
  const { shardSplitThresholdBytes, shardSplitStrategy } = run.options
  const { root, blocks } = buildDirectory(dir.entries, { shardSplitThresholdBytes, shardSplitStrategy })
  put(run, blocks)
  run.sink.addEntry({ path: dir.rel, type: 'directory', size: 0, mode: dir.stat.mode, mtimeMs: dir.stat.mtimeMs, cid: root.cid })
  run.result.directories++
  run.emit({ type: 'import:directory', path: dir.rel })
  dir.entries = []
  if (dir.parent == null) {
    run.resolveRoot(root)
  } else {
    dir.parent.entries.push({ name: dir.name, ref: root })
    dirDone(run, dir.parent)
  }
}

/** dirDone, with an error (a sink that throws, a directory too large) ending the import instead of escaping. */
export function childDone (run: ImportRun, dir: DirState): void {
  try {
    dirDone(run, dir)
  } catch (err) {
    fail(run, err)
  }
}
