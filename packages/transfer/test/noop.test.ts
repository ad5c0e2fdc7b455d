/**
 * The fast no-op (phases/noop.ts): a re-pull of a complete, untouched replica answers from the catalog and a
 * stat of each entry, asking no peer; anything missing, resized, retyped, rewritten or touched since it was
 * placed sends the pull through the full engine, which repairs what it may (fetches what is missing,
 * re-hashes and adopts a file whose bytes are still the scan's) and says loudly what it may not (a file with
 * other content is a conflict, never overwritten). Never "complete" for a replica that is not.
 */
import { join } from 'node:path'
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HashPool } from '@ferry/dag'
import { initHome, REPLICA_PAGE_ROWS, type Home, type InnerBlocks } from '@ferry/store'
import { pull, type PeerSpec, type PullResult } from '@ferry/transfer'
import type { CID } from 'multiformats/cid'
import { addScan } from './add-scan.js'
import { localPeer } from './local-peer.js'
import { cleanup, hashTree, tempDir, writeTree } from '../../../test/support/tree.js'

describe('the fast no-op', () => {
  let tmp: string
  let pool: HashPool
  let source: Home
  let home: Home
  let scanDir: string
  let root: CID
  let n = 0
  let asked = 0
  const peers = (): PeerSpec[] => [{ label: 'A', connect: async () => { asked++; return localPeer(source, { id: 'A' }) } }]
  /**
   * A pull into `dest`, and how many DAG blocks it read from this node's store or dials it made: 0 when the
   * no-op answered; the full engine walks the DAG (from the local store once a replica was pulled).
   */
  const pullInto = async (dest: string): Promise<{ r: PullResult, dialled: number }> => {
    const before = asked
    const blocks: InnerBlocks = { ...home.blocks, get: async (cid, o) => { asked++; return await home.blocks.get(cid, o) } }
    const r = await pull({ root, dest, peers: peers(), home: { catalog: home.catalog, blocks }, pool })
    return { r, dialled: asked - before }
  }
  /** A fresh, complete replica; a second pull of it is answered by the no-op (no dial, nothing fetched). */
  const replica = async (): Promise<string> => {
    const dest = join(tmp, `dest${n++}`)
    expect((await pullInto(dest)).r.complete).toBe(true)
    const again = await pullInto(dest)
    expect(again.dialled).toBe(0)
    expect(again.r).toMatchObject({ complete: true, bytesFetched: 0, bytesPresent: again.r.bytes, phase: 'finish' })
    return dest
  }

  beforeAll(async () => {
    tmp = tempDir()
    pool = new HashPool({ workers: 2 })
    source = await initHome(join(tmp, 'source'))
    home = await initHome(join(tmp, 'home'))
    scanDir = join(tmp, 'scan')
    const files: Record<string, number | null> = { 'empty/': null, 'zero.bin': 0, 'vol/recon.h5': 300_000 }
    for (let i = 0; i < 40; i++) files[`proj/sub${i % 4}/p${String(i).padStart(3, '0')}.tif`] = 1000 + i * 37
    writeTree(scanDir, files)
    symlinkSync('vol/recon.h5', join(scanDir, 'latest'))
    root = await addScan(source, scanDir, pool)
  })
  afterAll(async () => {
    await pool.close()
    await home.close()
    await source.close()
    cleanup(tmp)
  })

  it('a missing file: not a no-op; the full pull fetches exactly it, then the no-op answers again', async () => {
    const dest = await replica()
    const gone = join(dest, 'proj/sub2/p010.tif')
    const size = statSync(gone).size
    unlinkSync(gone)
    const { r, dialled } = await pullInto(dest)
    expect(dialled).toBeGreaterThan(0)
    expect(r).toMatchObject({ complete: true, problems: [] })
    expect(r.bytesFetched + r.bytesLocal).toBe(size) // fetched, or copied from another replica on this node
    expect(hashTree(dest)).toEqual(hashTree(scanDir))
    expect((await pullInto(dest)).dialled).toBe(0)
  })

  it('a missing directory or symlink: not a no-op; the full pull puts them back', async () => {
    const dest = await replica()
    rmSync(join(dest, 'empty'), { recursive: true })
    unlinkSync(join(dest, 'latest'))
    const { r, dialled } = await pullInto(dest)
    expect(dialled).toBeGreaterThan(0)
    expect(r).toMatchObject({ complete: true, bytesFetched: 0, problems: [] })
    expect(hashTree(dest)).toEqual(hashTree(scanDir))
    expect((await pullInto(dest)).dialled).toBe(0)
  })

  it('a touched file (mtime moved): not a no-op; hashed, adopted, its mtime restored', async () => {
    const dest = await replica()
    const touched = join(dest, 'proj/sub1/p005.tif')
    utimesSync(touched, new Date(), new Date())
    const { r, dialled } = await pullInto(dest)
    expect(dialled).toBeGreaterThan(0)
    expect(r).toMatchObject({ complete: true, bytesFetched: 0, problems: [] })
    expect(Math.abs(statSync(touched).mtimeMs - statSync(join(scanDir, 'proj/sub1/p005.tif')).mtimeMs)).toBeLessThan(1)
    expect(hashTree(dest)).toEqual(hashTree(scanDir))
    expect((await pullInto(dest)).dialled).toBe(0)
  })

  it('a file touched with its mtime put back exactly (only its ctime moved, by a chmod): not a no-op; hashed and adopted', async () => {
    const dest = await replica()
    const chmodded = join(dest, 'proj/sub3/p007.tif')
    const { mode, mtimeMs } = statSync(chmodded)
    chmodSync(chmodded, 0o600)
    chmodSync(chmodded, mode & 0o777) // back as it was: only the ctime says it was touched
    expect(statSync(chmodded)).toMatchObject({ mode, mtimeMs })
    const { r, dialled } = await pullInto(dest)
    expect(dialled).toBeGreaterThan(0)
    expect(r).toMatchObject({ complete: true, bytesFetched: 0, problems: [] })
    expect(hashTree(dest)).toEqual(hashTree(scanDir))
    expect((await pullInto(dest)).dialled).toBe(0)
  })

  it('a rewritten file of the same size with its mtime put back exactly: not a no-op, and a conflict, not overwritten', async () => {
    const dest = await replica()
    const f = join(dest, 'proj/sub0/p004.tif')
    const { size, mtimeMs } = statSync(f)
    writeFileSync(f, Buffer.alloc(size, 0x55))
    // the mtime as the pull set it (from the scan's entry: the source file's), to the nanosecond
    utimesSync(f, statSync(join(scanDir, 'proj/sub0/p004.tif')).mtimeMs / 1000, statSync(join(scanDir, 'proj/sub0/p004.tif')).mtimeMs / 1000)
    expect(statSync(f).mtimeMs).toBe(mtimeMs)
    const { r, dialled } = await pullInto(dest)
    expect(dialled).toBeGreaterThan(0)
    expect(r.complete).toBe(false)
    expect(r.problems).toEqual([expect.objectContaining({ path: 'proj/sub0/p004.tif', code: 'ERR_CONFLICT' })])
    expect(readFileSync(f)).toEqual(Buffer.alloc(size, 0x55))
    // and again: a replica with a conflict is never answered complete by the no-op
    const again = await pullInto(dest)
    expect(again.dialled).toBeGreaterThan(0)
    expect(again.r.complete).toBe(false)
  })

  it('a resized file: not a no-op, a conflict; once the user removes it, the full pull repairs the replica', async () => {
    const dest = await replica()
    const f = join(dest, 'vol/recon.h5')
    writeFileSync(f, 'other bytes', { flag: 'a' })
    const { r, dialled } = await pullInto(dest)
    expect(dialled).toBeGreaterThan(0)
    expect(r.complete).toBe(false)
    expect(r.problems).toEqual([expect.objectContaining({ path: 'vol/recon.h5', code: 'ERR_CONFLICT' })])
    unlinkSync(f)
    const repaired = await pullInto(dest)
    expect(repaired.r).toMatchObject({ complete: true, problems: [] })
    expect(repaired.r.bytesFetched + repaired.r.bytesLocal).toBe(300_000)
    expect(hashTree(dest)).toEqual(hashTree(scanDir))
    expect((await pullInto(dest)).dialled).toBe(0)
  })

  const retyped: Array<[string, string, (dest: string) => void]> = [
    ['a file now a directory', 'zero.bin', (dest) => { unlinkSync(join(dest, 'zero.bin')); mkdirSync(join(dest, 'zero.bin')) }],
    ['a symlink now a file', 'latest', (dest) => { unlinkSync(join(dest, 'latest')); writeFileSync(join(dest, 'latest'), '') }],
    ['a directory now a file', 'empty', (dest) => { rmSync(join(dest, 'empty'), { recursive: true }); writeFileSync(join(dest, 'empty'), '') }]
  ]
  for (const [what, path, change] of retyped) {
    it(`a retyped entry (${what}): not a no-op, a conflict`, async () => {
      const dest = await replica()
      change(dest)
      const { r, dialled } = await pullInto(dest)
      expect(dialled).toBeGreaterThan(0)
      expect(r.complete).toBe(false)
      expect(r.problems).toEqual([expect.objectContaining({ path, code: 'ERR_CONFLICT' })])
    })
  }

  it('a symlink pointing elsewhere: not a no-op, a conflict', async () => {
    const dest = await replica()
    unlinkSync(join(dest, 'latest'))
    symlinkSync('zero.bin', join(dest, 'latest'))
    const { r, dialled } = await pullInto(dest)
    expect(dialled).toBeGreaterThan(0)
    expect(r.complete).toBe(false)
    expect(r.problems).toEqual([expect.objectContaining({ path: 'latest', code: 'ERR_CONFLICT' })])
  })

  it('a file the placed-files table does not know (the replica moved in from elsewhere): not a no-op; hashed and adopted', async () => {
    const dest = await replica()
    const f = join(dest, 'proj/sub1/p009.tif')
    const bytes = readFileSync(f)
    const { atime, mtime } = statSync(f)
    unlinkSync(f)
    writeFileSync(f, bytes) // the same bytes under a new inode: Ferry did not place this file
    utimesSync(f, atime, mtime)
    const { r, dialled } = await pullInto(dest)
    expect(dialled).toBeGreaterThan(0)
    expect(r).toMatchObject({ complete: true, bytesFetched: 0, problems: [] })
    expect((await pullInto(dest)).dialled).toBe(0)
  })
})

describe('the fast no-op over several pages (stat thread)', () => {
  let tmp: string
  let pool: HashPool
  let source: Home
  let home: Home
  let root: CID
  let scanDir: string
  let asked = 0
  const FILES = REPLICA_PAGE_ROWS + 400 // more than one page of entries: stat'ed on the worker thread
  const pullInto = async (dest: string): Promise<{ r: PullResult, dialled: number }> => {
    const before = asked
    const blocks: InnerBlocks = { ...home.blocks, get: async (cid, o) => { asked++; return await home.blocks.get(cid, o) } }
    const peers: PeerSpec[] = [{ label: 'A', connect: async () => { asked++; return localPeer(source, { id: 'A' }) } }]
    const r = await pull({ root, dest, peers, home: { catalog: home.catalog, blocks }, pool })
    return { r, dialled: asked - before }
  }

  beforeAll(async () => {
    tmp = tempDir()
    pool = new HashPool({ workers: 2 })
    source = await initHome(join(tmp, 'source'))
    home = await initHome(join(tmp, 'home'))
    scanDir = join(tmp, 'scan')
    const files: Record<string, number | null> = {}
    for (let i = 0; i < FILES; i++) files[`d${i % 8}/f${String(i).padStart(5, '0')}`] = i % 97
    writeTree(scanDir, files)
    root = await addScan(source, scanDir, pool)
  })
  afterAll(async () => {
    await pool.close()
    await home.close()
    await source.close()
    cleanup(tmp)
  })

  it('answers a complete replica; a file touched in the last page or missing in the first is noticed', async () => {
    const dest = join(tmp, 'dest')
    expect((await pullInto(dest)).r.complete).toBe(true)
    const again = await pullInto(dest)
    expect(again.dialled).toBe(0)
    expect(again.r).toMatchObject({ complete: true, bytesFetched: 0, files: FILES })
    // the last file in path order (the catalog's last page) touched; the first one gone
    let i = FILES - 1
    while (i % 8 !== 7) i--
    const last = join(dest, `d7/f${String(i).padStart(5, '0')}`)
    expect(statSync(last).isFile()).toBe(true)
    utimesSync(last, new Date(), new Date())
    const touched = await pullInto(dest)
    expect(touched.dialled).toBeGreaterThan(0)
    expect(touched.r).toMatchObject({ complete: true, bytesFetched: 0, problems: [] })
    expect((await pullInto(dest)).dialled).toBe(0)
    unlinkSync(join(dest, 'd0/f00000'))
    const missing = await pullInto(dest)
    expect(missing.dialled).toBeGreaterThan(0)
    expect(missing.r).toMatchObject({ complete: true, problems: [] })
    expect(hashTree(dest)).toEqual(hashTree(scanDir))
    expect((await pullInto(dest)).dialled).toBe(0)
  })
})
