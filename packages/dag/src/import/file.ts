import { lstatSync } from 'node:fs'
import { FerryError } from '@ferry/errors'
import { buildFile, fileBuilder } from './build.js'
import { abortError, startRun, type ImportOptions } from './run.js'
import { submitHashes } from './schedule.js'
import type { ImportedEntry, SkippedEntry } from './types.js'

/** What `importFile` produced: the file's entry, or why it was left out. */
export type FileImport = { entry: ImportedEntry, skipped?: undefined } | { entry?: undefined, skipped: SkippedEntry }

/**
 * Imports one regular file as `rel` with the same builders, chunking and hash pool as `importDirectory`, so
 * its CID is the one a directory import of it gives. The sink gets its inner blocks, its entry and its leaf
 * locations. A file that changes while hashed (or vanishes) comes back as `skipped`, never half-built.
 */
export async function importFile (abs: string, rel: string, options: ImportOptions = {}): Promise<FileImport> {
  let entry: ImportedEntry | undefined
  const sink = options.sink
  const run = startRun({ ...options, sink: { putBlocks: (b) => sink?.putBlocks(b), addSource: (...a) => { sink?.addSource(...a) }, addEntry: (e) => { entry = e; sink?.addEntry(e) } } })
  try {
    if (run.signal?.aborted === true) throw abortError(run.signal)
    const stat = lstatSync(abs, { throwIfNoEntry: false })
    if (stat === undefined) return { skipped: { path: rel, code: 'ENOENT', message: 'vanished before it could be read' } }
    if (!stat.isFile()) throw new FerryError('ERR_INVALID_ARGUMENT', `${abs} is not a regular file`)
    const job = { name: rel, abs, rel, stat }
    const ref = await buildFile(run, job, fileBuilder(run), submitHashes(run, job))
    while (run.writes.size > 0) await Promise.all(run.writes)
    if (run.failure !== undefined) throw run.failure
    if (ref === undefined || entry === undefined) {
      return { skipped: run.result.skipped[0] ?? { path: rel, code: 'ERR_CHANGED', message: 'changed while being read' } }
    }
    return { entry }
  } finally {
    if (run.ownPool) await run.pool.close()
  }
}
