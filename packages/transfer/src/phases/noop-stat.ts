/**
 * The fast no-op's stats: each page of paths lstat'ed in one go, answered as numbers (no `Stats` object
 * crosses over). `statLane()` stats in a worker thread, so a page is stat'ed while the main thread reads
 * the next one from the catalog (on two cores the no-op takes the longer of the two, not their sum);
 * `syncLane()` stats on the calling thread (a replica of a page or two, where a thread would cost more
 * than it saves).
 */
import { lstatSync } from 'node:fs'
import { Worker } from 'node:worker_threads'

/** Numbers per path in a page's answer: mode (-1: no entry, or lstat failed), size, mtimeMs, ctimeMs, ino. */
export const STAT_FIELDS = 5

/** Stats pages of absolute paths, in the order they are asked. */
export interface StatLane {
  /** lstat of each path: `STAT_FIELDS` numbers per path. Rejects with a `StatLaneError` if the lane broke. */
  stat: (paths: string[]) => Promise<Float64Array>
  /** Stops the lane; pages still pending reject. */
  close: () => Promise<void>
}

/** The worker lane broke (the thread could not start or died): the caller falls back to the full pull. */
export class StatLaneError extends Error {}

/** The stats of `paths` on this thread (the worker runs the same loop: WORKER_SOURCE). */
function statAll (paths: string[]): Float64Array {
  const out = new Float64Array(paths.length * STAT_FIELDS)
  for (let i = 0; i < paths.length; i++) {
    const o = i * STAT_FIELDS
    let st
    try {
      st = lstatSync(paths[i] as string, { throwIfNoEntry: false })
    } catch {} // EACCES, ENAMETOOLONG, ELOOP...: not in place
    if (st === undefined) {
      out[o] = -1
      continue
    }
    out[o] = st.mode
    out[o + 1] = st.size
    out[o + 2] = st.mtimeMs
    out[o + 3] = st.ctimeMs
    out[o + 4] = st.ino
  }
  return out
}

// statAll as plain JavaScript (a function's own source text would carry whatever a bundler or a coverage
// tool put in it); the worker answers each page with its numbers, transferred, not copied
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { lstatSync } = require('node:fs')
parentPort.on('message', (paths) => {
  const out = new Float64Array(paths.length * ${STAT_FIELDS})
  for (let i = 0; i < paths.length; i++) {
    const o = i * ${STAT_FIELDS}
    let st
    try { st = lstatSync(paths[i], { throwIfNoEntry: false }) } catch {}
    if (st === undefined) { out[o] = -1; continue }
    out[o] = st.mode; out[o + 1] = st.size; out[o + 2] = st.mtimeMs; out[o + 3] = st.ctimeMs; out[o + 4] = st.ino
  }
  parentPort.postMessage(out, [out.buffer])
})
`

/** Stats on the calling thread. */
export function syncLane (): StatLane {
  return {
    stat: async (paths) => statAll(paths),
    close: async () => {}
  }
}

/** Stats in a worker thread of its own, one page at a time, answers in order. */
export function statLane (): StatLane {
  const worker = new Worker(WORKER_SOURCE, { eval: true })
  const waiting: Array<{ resolve: (a: Float64Array) => void, reject: (e: Error) => void }> = []
  let broken: Error | undefined
  const fail = (err: Error): void => {
    broken ??= new StatLaneError(`the no-op's stat thread stopped: ${err.message}`)
    for (const w of waiting.splice(0)) w.reject(broken)
  }
  worker.on('message', (a: Float64Array) => waiting.shift()?.resolve(a))
  worker.on('error', fail)
  worker.on('exit', () => fail(new Error('exited')))
  return {
    stat: async (paths) => {
      if (broken !== undefined) throw broken
      const answer = new Promise<Float64Array>((resolve, reject) => waiting.push({ resolve, reject }))
      worker.postMessage(paths)
      return await answer
    },
    close: async () => {
      fail(new Error('closed'))
      await worker.terminate()
    }
  }
}
