/**
 * The pull engine as a sequence of phases (issue 11.1): a run stopped after any phase is journaled there,
 * and the next run of the same pull goes on to a complete, byte-for-byte replica.
 */
import { join } from 'node:path'
import { existsSync, symlinkSync, utimesSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HashPool } from '@ferry/dag'
import { initHome, type Home, type InnerBlocks } from '@ferry/store'
import { PULL_PHASES, pull, type PeerSpec } from '@ferry/transfer'
import type { CID } from 'multiformats/cid'
import { addScan } from './add-scan.js'
import { localPeer } from './local-peer.js'
import { MiB, cleanup, hashTree, tempDir, writeTree } from '../../../test/support/tree.js'

describe('pull phases', () => {
  let tmp: string
  let pool: HashPool
  let source: Home
  let scanDir: string
  let root: CID
  let n = 0
  const peers = (): PeerSpec[] => [{ label: 'A', connect: async () => localPeer(source, { id: 'A' }) }]

  beforeAll(async () => {
    tmp = tempDir()
    pool = new HashPool({ workers: 2 })
    source = await initHome(join(tmp, 'source'))
    scanDir = join(tmp, 'scan')
    const files: Record<string, number | null> = { 'empty/': null, 'vol/recon.h5': 3 * MiB + 333, 'zero.bin': 0 }
    for (let i = 0; i < 30; i++) files[`proj/p${String(i).padStart(3, '0')}.tif`] = 4096 + i * 100
    writeTree(scanDir, files)
    symlinkSync('vol/recon.h5', join(scanDir, 'latest'))
    root = await addScan(source, scanDir, pool)
  })
  afterAll(async () => {
    await pool.close()
    await source.close()
    cleanup(tmp)
  })

  it('lists the phases in order', () => {
    expect(PULL_PHASES).toEqual(['record', 'dag', 'reconcile', 'space', 'fetch', 'place', 'finish'])
  })

  for (const phase of PULL_PHASES.slice(0, -1)) {
    it(`stops after ${phase}, journaled there; the next run completes the replica`, async () => {
      const home = await initHome(join(tmp, `home${n++}`))
      const dest = join(tmp, `dest-${phase}`)
      try {
        const first = await pull({ root, dest, peers: peers(), home, pool, stopAfter: phase })
        expect(first.complete).toBe(false)
        expect(first.phase).toBe(phase)
        expect(home.catalog.pulls.get(root, dest)?.phase).toBe(phase)
        // nothing is visible before the fetch phase places it
        if (PULL_PHASES.indexOf(phase) < PULL_PHASES.indexOf('fetch')) expect(existsSync(join(dest, 'proj', 'p000.tif'))).toBe(false)
        const second = await pull({ root, dest, peers: peers(), home, pool })
        expect(second.complete).toBe(true)
        expect(second.phase).toBe('finish')
        expect(second.problems).toEqual([])
        expect(home.catalog.pulls.get(root, dest)?.phase).toBe('finish')
        expect(hashTree(dest)).toEqual(hashTree(scanDir))
        // what the first run fetched is not fetched again
        expect(first.bytesFetched + second.bytesFetched).toBe(second.bytes)
      } finally {
        await home.close()
      }
    })
  }

  it('a re-pull of a complete, untouched replica answers from the catalog: no DAG block read, no peer asked', async () => {
    const home = await initHome(join(tmp, `home${n++}`))
    const dest = join(tmp, 'dest-noop')
    try {
      expect((await pull({ root, dest, peers: peers(), home, pool })).complete).toBe(true)
      let reads = 0
      let dials = 0
      const blocks: InnerBlocks = { ...home.blocks, get: async (cid, o) => { reads++; return await home.blocks.get(cid, o) } }
      const counted: PeerSpec[] = [{ label: 'A', connect: async () => { dials++; return localPeer(source, { id: 'A' }) } }]
      const again = await pull({ root, dest, peers: counted, home: { catalog: home.catalog, blocks }, pool })
      expect(again.complete).toBe(true)
      expect(again.bytesPresent).toBe(again.bytes)
      expect(again.phase).toBe('finish')
      expect([reads, dials]).toEqual([0, 0])
      // a file touched since (its ctime moves even if its mtime is put back) sends the pull through the phases
      const p = join(dest, 'proj', 'p003.tif')
      utimesSync(p, new Date(), new Date())
      const touched = await pull({ root, dest, peers: counted, home: { catalog: home.catalog, blocks }, pool })
      expect(reads).toBeGreaterThan(0)
      expect(touched.complete).toBe(true)
      expect(touched.bytesFetched).toBe(0) // hashed, found to hold the scan's bytes, its mtime restored
      expect(hashTree(dest)).toEqual(hashTree(scanDir))
    } finally {
      await home.close()
    }
  })
})
