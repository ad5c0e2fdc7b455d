/**
 * Publishing complete files into an open scan: each hashed and built by the importer's own code
 * (`importFile`, so its CID is the one `ferry add` gives it), its inner nodes stored, then its entry signed
 * and recorded with its leaves (`catalog.open.publishMany`). From then on its CID is servable over
 * /ferry/blocks and the entry is announced.
 *
 * A watch's publisher pipelines this: up to PUBLISH_AHEAD files are hashed at once as they are handed in,
 * and the files hashed by the time a commit can start are committed together, in the order they were
 * handed in, in one transaction (one fsync for the group; the commit blocks the event loop, so one per file
 * at 50 files a second kept the daemon stalled a third of the time). A crash before the commit publishes
 * none of the group: nothing was announced, and the restart's rescan finds the files again.
 */
import { importFile, type HashPool, type LeafKeeper } from '@ferry/dag'
import type { Home, OpenScanRecord, PublishedEntry, PublishFile } from '@ferry/store'
import type { CID } from 'multiformats/cid'
import { MAX_PUBLISH_GROUP, PUBLISH_AHEAD } from './constants.js'

/** What publishing a file gave: the new entry, or why the file must wait. */
export type PublishOutcome =
  | { published: PublishedEntry, previous?: PublishedEntry }
  | { published?: undefined, retry: string }

/** A file to publish: where it is, its path in the scan, and the stat it was seen complete at. */
export interface ToPublish { abs: string, rel: string, size: number, mtimeMs: number }

/** A watch's publisher (see the module comment). */
export interface Publisher {
  /** Hashes and publishes `f` (in the order of the calls); resolves once it is committed, or says why not. */
  publish: (f: ToPublish) => Promise<PublishOutcome>
}

type Prepared = { file: PublishFile } | { retry: string }

interface Item extends ToPublish {
  outcome: Promise<PublishOutcome>
  resolve: (o: PublishOutcome) => void
  reject: (err: unknown) => void
  done: boolean
  prepared?: Prepared
  error?: unknown
}

/** Hashes `abs` and stores its inner nodes: the file's entry, or why it cannot be published yet. */
async function prepare (home: Home, pool: HashPool, abs: string, rel: string, signal: AbortSignal, keep?: LeafKeeper): Promise<Prepared> {
  const nodes: CID[] = []
  let leaves: Array<{ cid: CID, offset: number, length: number }> = []
  const result = await importFile(abs, rel, {
    pool,
    signal,
    ...(keep !== undefined ? { keepLeaves: keep } : {}),
    sink: {
      putBlocks: async (blocks) => {
        for (const b of blocks) nodes.push(b.cid)
        await home.blocks.putMany(blocks)
      },
      addEntry: () => {},
      addSource: (_path, _size, _mtime, l) => { leaves = l }
    }
  })
  if (result.entry === undefined) return { retry: result.skipped.message }
  const { entry } = result
  return { file: { path: rel, absPath: abs, cid: entry.cid, size: entry.size, mode: entry.mode, mtimeMs: entry.mtimeMs, leaves, nodes } }
}

/** The publisher of one open scan (see the module comment); `keep` keeps the leaves it hashes (the daemon's LeafCache). */
export function createPublisher (home: Home, pool: HashPool, open: OpenScanRecord, signal: AbortSignal, keep?: LeafKeeper): Publisher {
  const queue: Item[] = []
  const hashing = limiter(PUBLISH_AHEAD)
  let committing = false
  const pump = async (): Promise<void> => {
    if (committing) return
    committing = true
    try {
      while (queue[0]?.done === true) await commitGroup(home, open, takeGroup(queue))
    } finally {
      committing = false
    }
  }
  return {
    publish: async (f) => {
      const same = queue.find((i) => i.rel === f.rel && i.size === f.size && i.mtimeMs === f.mtimeMs)
      if (same !== undefined) return await same.outcome // handed in twice (close event and settle): published once
      let settle!: Pick<Item, 'resolve' | 'reject'>
      const outcome = new Promise<PublishOutcome>((resolve, reject) => { settle = { resolve, reject } })
      const item: Item = { ...f, outcome, ...settle, done: false }
      queue.push(item)
      void hashing(async () => { item.prepared = await prepare(home, pool, f.abs, f.rel, signal, keep) })
        .catch((err: unknown) => { item.error = err })
        .finally(() => { item.done = true; void pump().catch(() => {}) })
      return await outcome
    }
  }
}

/** Runs the functions given, at most `n` at a time. */
function limiter (n: number): (fn: () => Promise<void>) => Promise<void> {
  let running = 0
  const waiting: Array<() => void> = []
  return async (fn) => {
    if (running >= n) await new Promise<void>((resolve) => { waiting.push(resolve) })
    else running++
    try {
      await fn()
    } finally {
      const next = waiting.shift()
      if (next !== undefined) next()
      else running--
    }
  }
}

/** The longest prefix of `queue` that is hashed, at most MAX_PUBLISH_GROUP, each path once (removed from it). */
function takeGroup (queue: Item[]): Item[] {
  const paths = new Set<string>()
  let n = 0
  while (n < queue.length && n < MAX_PUBLISH_GROUP && queue[n]!.done && !paths.has(queue[n]!.rel)) paths.add(queue[n++]!.rel)
  return queue.splice(0, n)
}

/** Commits the group's files that changed since their latest version, in one transaction; settles each item. */
async function commitGroup (home: Home, open: OpenScanRecord, group: Item[]): Promise<void> {
  const files: Array<{ item: Item, file: PublishFile, previous?: PublishedEntry }> = []
  for (const item of group) {
    if (item.error !== undefined) { item.reject(item.error); continue }
    const p = item.prepared!
    if ('retry' in p) { item.resolve({ retry: p.retry }); continue }
    const previous = home.catalog.open.latest(open.id, item.rel)
    if (previous !== undefined && previous.cid.equals(p.file.cid) && previous.mode === p.file.mode && previous.mtimeMs === p.file.mtimeMs) {
      item.resolve({ published: previous }) // touched, not changed: nothing new to publish
      continue
    }
    files.push({ item, file: p.file, previous })
  }
  if (files.length === 0) return
  try {
    const entries = await home.catalog.open.publishMany(open.id, files.map((f) => f.file), home.privateKey)
    files.forEach((f, i) => { f.item.resolve({ published: entries[i]!, previous: f.previous }) })
  } catch (err) {
    for (const f of files) f.item.reject(err)
  }
}

/** Imports `abs` as `rel` and publishes it into `open` alone (a new version if the path was published before). */
export async function publishFile (home: Home, pool: HashPool, open: OpenScanRecord, abs: string, rel: string, signal: AbortSignal): Promise<PublishOutcome> {
  return await createPublisher(home, pool, open, signal).publish({ abs, rel, size: -1, mtimeMs: -1 })
}
