import type { NodeRef } from '../format/index.js'
import { buildFile, childDone, fileBuilder } from './build.js'
import { fail, type DirState, type FileJob, type ImportRun } from './run.js'

/**
 * Schedule: asks the pool for a file's chunk digests, `run.taskBytes` per request, all at once and in order
 * (read into the rooms of `keepLeaves` when the import has one).
 */
export function submitHashes (run: ImportRun, file: FileJob): Array<Promise<Uint8Array>> {
  const { chunkSize, taskBytes } = run
  const { size } = file.stat
  const tasks: Array<Promise<Uint8Array>> = []
  const keeper = run.options.keepLeaves
  for (let offset = 0; offset < size; offset += taskBytes) {
    const length = Math.min(taskBytes, size - offset)
    const room = keeper?.reserve(length)
    const p = room === undefined
      ? run.pool.hash(file.abs, offset, length, chunkSize, run.signal)
      : run.pool.hashInto(file.abs, offset, length, chunkSize, room, run.signal).then(
        (digests) => { keeper!.settle(room, chunkSize, digests); return digests },
        (err: unknown) => { keeper!.settle(room, chunkSize); throw err })
    p.catch(() => {}) // observed by buildFile, in order
    tasks.push(p)
  }
  return tasks
}

async function importFile (run: ImportRun, file: FileJob): Promise<NodeRef | undefined> {
  const builder = fileBuilder(run)
  return await buildFile(run, file, builder, submitHashes(run, file))
}

/**
 * Schedule: waits for one of the `run.sem` slots, then hashes and builds `file` in the background. `dir`
 * counts it pending until it is done; an error other than a skip ends the import.
 */
export async function scheduleFile (run: ImportRun, dir: DirState, file: FileJob): Promise<void> {
  dir.pending++
  await run.sem.acquire()
  importFile(run, file)
    .then((ref) => { if (ref != null) dir.entries.push({ name: file.name, ref }) }, (err) => { fail(run, err) })
    .finally(() => { run.sem.release(); childDone(run, dir) })
}
