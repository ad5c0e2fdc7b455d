/**
 * The plan's memory follows its window, not the scan (issue 12): a real pull from a real home, once into an
 * empty destination and once into one holding half the files, counts what the plan held at once (the
 * `pull:held` event: destination stats in one reconcile window, staged files open, leaves queued, and the
 * rows of the plan on disk in memory: signed entries, DAG file rows with their leaves, placed stats). Two
 * scan sizes, one window: the counts stay under the same bound while the scan grows tenfold. Counted, not
 * timed.
 */
import { join } from 'node:path'
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HashPool } from '@ferry/dag'
import { initHome, type Home } from '@ferry/store'
import { SMALL_LEAF_WINDOW, pull, type PeerSpec, type PullProgressEvent } from '@ferry/transfer'
import { addScan } from './add-scan.js'
import { localPeer } from './local-peer.js'
import { MiB, cleanup, hashTree, tempDir, writeTree } from '../../../test/support/tree.js'

type Held = Extract<PullProgressEvent, { type: 'pull:held' }>

const WINDOW = 32
/**
 * Staged files open at once: the queue's window (each open file has a leaf in it), plus the files whose
 * last leaf was written and which are being placed (at most one per request in flight).
 */
const STAGED_BOUND = WINDOW + SMALL_LEAF_WINDOW
/** File rows of the plan on disk in memory at once: its page cache, two pages of the window. */
const FILE_ROWS_BOUND = 2 * WINDOW

describe('plan window', () => {
  let tmp: string
  let pool: HashPool
  let source: Home
  beforeAll(() => {
    tmp = tempDir()
    pool = new HashPool({ workers: 2 })
  })
  afterAll(async () => {
    await pool.close()
    cleanup(tmp)
  })

  for (const files of [400, 4000]) {
    it(`holds at most the window of ${WINDOW} for a scan of ${files} files`, { timeout: 120_000 }, async () => {
      const scanDir = join(tmp, `scan-${files}`)
      const spec: Record<string, number> = {}
      for (let i = 0; i < files; i++) spec[`d${i % 8}/f${String(i).padStart(5, '0')}.dat`] = (i * 37) % 700
      for (let i = 0; i < 4; i++) spec[`big/v${i}.h5`] = MiB + 100 * i + 1 // two leaves each
      writeTree(scanDir, spec)
      source = await initHome(join(tmp, `source-${files}`))
      const root = await addScan(source, scanDir, pool)
      const peers: PeerSpec[] = [{ label: 'A', connect: async () => localPeer(source, { id: 'A' }) }]
      const home = await initHome(join(tmp, `home-${files}`))
      const dest = join(tmp, `dest-${files}`)
      try {
        const held: Held[] = []
        const onProgress = (e: PullProgressEvent): void => { if (e.type === 'pull:held') held.push(e) }
        const first = await pull({ root, dest, peers, home, pool, planWindow: WINDOW, onProgress })
        expect(first.complete).toBe(true)
        expect(first.bytesFetched).toBe(first.bytes)
        expect(hashTree(dest)).toEqual(hashTree(scanDir))
        // every other file removed: the next run finds half the scan in place, stages the other half
        for (let i = 0; i < files; i += 2) rmSync(join(dest, `d${i % 8}/f${String(i).padStart(5, '0')}.dat`))
        const second = await pull({ root, dest, peers, home, pool, planWindow: WINDOW, onProgress })
        expect(second.complete).toBe(true)
        expect(second.bytesPresent + second.bytesFetched).toBe(second.bytes)
        expect(hashTree(dest)).toEqual(hashTree(scanDir))
        expect(held).toHaveLength(2)
        const [a, b] = held as [Held, Held]
        expect(a.reconcileFiles).toBe(0) // nothing was in place
        expect(b.reconcileFiles).toBeGreaterThan(0) // files / 2 were in place, at most WINDOW stat'ed at once
        expect(b.reconcileFiles).toBeLessThanOrEqual(WINDOW)
        // one placed_files row per file placed, not one when placed and another at the finish: every file
        // (and the four of two leaves, placed without a stat, recorded by the finish), then the half refetched
        expect(a.placedRows).toBe(files + 4)
        expect(b.placedRows).toBe(files / 2)
        for (const h of held) {
          expect(h.queuedLeaves).toBeGreaterThan(0)
          expect(h.queuedLeaves).toBeLessThanOrEqual(WINDOW)
          expect(h.stagedFiles).toBeGreaterThan(0)
          expect(h.stagedFiles).toBeLessThanOrEqual(STAGED_BOUND)
          // the signed entries (files + 9 directories + 4 big files), written and read a window at a time
          expect(h.entries).toBe(WINDOW)
          expect(h.dagFiles).toBeGreaterThan(WINDOW) // two pages were held: the bound is reached, not loose
          expect(h.dagFiles).toBeLessThanOrEqual(FILE_ROWS_BOUND)
          expect(h.placedFiles).toBe(WINDOW) // placed marks written, then read for the finish, a window at a time
        }
      } finally {
        await home.close()
        await source.close()
      }
    })
  }
})
