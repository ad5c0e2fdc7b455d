/**
 * The work queue reads the plan lazily and holds a bounded window of leaves (issue 12): however many leaves
 * a pull has, the leaves taken from the plan and not yet written never exceed the window. Counted, not timed.
 */
import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { DEFAULT_QUEUE_WINDOW, WorkQueue, type WorkItem } from '@ferry/transfer'

const cid = CID.create(1, raw.code, await sha256.digest(new Uint8Array([1, 2, 3])))

/** A plan of `n` one-leaf files, made one at a time; `made()` says how many the queue has read. */
function plan (n: number): { items: Iterable<WorkItem>, made: () => number } {
  let made = 0
  const items = (function * (): Generator<WorkItem> {
    for (let i = 0; i < n; i++) {
      made++
      const file = { path: `d/f${i}`, cid, size: 3, mode: 0o644, mtimeMs: 0, leaves: [{ cid, offset: 0, length: 3 }], done: new Uint8Array(1), remaining: 1, writing: 0, dirty: false }
      yield { file, index: 0, leaf: { cid, offset: 0, length: 3 }, inflight: 0, done: false, failed: false }
    }
  })()
  return { items, made: () => made }
}

/** Drains the queue as 64 lanes would (take up to 64, then complete them newest first), counting what it holds. */
function drain (n: number, window: number): { maxHeld: number, maxReadAhead: number, written: number } {
  const p = plan(n)
  const queue = new WorkQueue(p.items, n, window)
  let written = 0
  let maxReadAhead = 0
  for (;;) {
    const inflight: WorkItem[] = []
    for (let item = queue.take('peer'); item !== undefined; item = inflight.length < 64 ? queue.take('peer') : undefined) inflight.push(item)
    if (inflight.length === 0) break
    maxReadAhead = Math.max(maxReadAhead, p.made() - written)
    for (const item of inflight.reverse()) {
      item.file.done[0] = 1
      queue.complete(item)
      written++
    }
  }
  expect(queue.outstanding).toBe(0)
  return { maxHeld: queue.maxHeld, maxReadAhead, written }
}

describe('work queue window', () => {
  it('holds at most the window however many leaves the plan has', () => {
    for (const n of [1_000, 20_000, 200_000]) {
      const r = drain(n, 512)
      expect(r.written).toBe(n)
      expect(r.maxHeld).toBeLessThanOrEqual(512)
      // read from the plan and not yet written: the window, whatever n
      expect(r.maxReadAhead).toBeLessThanOrEqual(512)
    }
    expect(DEFAULT_QUEUE_WINDOW).toBeGreaterThanOrEqual(64)
  })

  it('skips leaves written before the queue reached them, and fails the rest at once when nobody is left', () => {
    const p = plan(10_000)
    const queue = new WorkQueue(p.items, 10_000, 100)
    const first = queue.take('peer') as WorkItem
    queue.complete(first)
    queue.failAll()
    expect(queue.outstanding).toBe(0)
    expect(queue.failedItems().length).toBe(9_999)
    expect(queue.maxHeld).toBeLessThanOrEqual(100)
  })
})
