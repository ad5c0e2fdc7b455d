import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { initHome, openCatalog, openHome, type EntryRecord, type Home } from '@ferry/store'
import { block, leafCid, rejectsWith, tempDir } from './helpers.js'

async function newHome (): Promise<Home> {
  return await initHome(await tempDir())
}

async function entry (p: string, type: EntryRecord['type'] = 'file'): Promise<EntryRecord> {
  const e: EntryRecord = { path: p, type, size: type === 'file' ? 10 : 0, mode: type === 'directory' ? 0o40755 : 0o100644, mtimeMs: 1_700_000_000_123.5, cid: (await block(p)).cid }
  if (type === 'symlink') e.target = '../t'
  return e
}

describe('ScanWriter', () => {
  it('commits a scan and reads it back', async () => {
    const home = await newHome()
    const origin = home.peerId.toString()
    const w = home.catalog.createScanWriter({ collection: '20180301_ESRF_1799', name: 'scan1', sourcePath: '/data/scan1', origin })
    expect(home.catalog.getScan(w.id)?.state).toBe('importing')
    expect(home.catalog.listScans()).toEqual([])
    expect(home.catalog.listScans({ includeImporting: true })).toHaveLength(1)
    const written = [await entry(''), await entry('b'), await entry('a', 'directory'), await entry('a/x'), await entry('a.b', 'symlink')]
    for (const e of written) w.addEntry(e)
    const root = (await block('root')).cid
    const skipped = [{ path: 'secret', code: 'ERR_PERMISSION', message: 'Permission denied' }]
    const rec = w.commit({ root, files: 3, directories: 2, symlinks: 1, bytes: 30, skipped })
    expect(rec).toMatchObject({ id: w.id, collection: '20180301_ESRF_1799', name: 'scan1', sourcePath: '/data/scan1', origin, files: 3, directories: 2, symlinks: 1, bytes: 30, skipped, state: 'complete' })
    expect(rec.root?.equals(root)).toBe(true)

    expect(home.catalog.getScan(root.toString())?.id).toBe(w.id)
    expect(home.catalog.getScan(root)?.id).toBe(w.id)
    expect(home.catalog.getScan(String(w.id))?.id).toBe(w.id)
    expect(home.catalog.getScan(9999)).toBeUndefined()
    await rejectsWith(() => home.catalog.getScan('not-a-cid'), 'ERR_INVALID_CID')
    expect(home.catalog.listScans({ collection: '20180301_ESRF_1799' }).map(s => s.id)).toEqual([w.id])
    expect(home.catalog.listScans({ collection: 'other' })).toEqual([])

    const back = [...home.catalog.entries(w.id)]
    expect(back.map(e => e.path)).toEqual(['', 'a', 'a.b', 'a/x', 'b'])
    const byPath = new Map(back.map(e => [e.path, e]))
    for (const e of written) {
      const got = byPath.get(e.path)!
      expect(got.cid.equals(e.cid)).toBe(true)
      expect({ ...got, cid: null }).toEqual({ ...e, cid: null })
    }
    w.abort() // no-op after commit
    expect(home.catalog.getScan(w.id)?.state).toBe('complete')
    await home.close()
  })

  it('the newest complete scan wins a root lookup', async () => {
    const home = await newHome()
    const root = (await block('same')).cid
    const ids: number[] = []
    for (const created of [1000, 3000, 2000]) {
      const w = home.catalog.createScanWriter({ name: `s${created}`, sourcePath: '/d', origin: 'o', created })
      w.addEntry(await entry(''))
      ids.push(w.commit({ root, files: 0, directories: 1, symlinks: 0, bytes: 0, skipped: [] }).id)
    }
    expect(home.catalog.getScan(root.toString())?.id).toBe(ids[1])
    expect(home.catalog.listScans().map(s => s.created)).toEqual([1000, 2000, 3000])
    await home.close()
  })

  it('abort removes the partial scan and its entries', async () => {
    const home = await newHome()
    const w = home.catalog.createScanWriter({ name: 'x', sourcePath: '/d', origin: 'o' })
    for (let i = 0; i < 25; i++) w.addEntry(await entry(`f${i}`))
    w.flush()
    w.addSource('/d/f0', 100, 1, [{ cid: await leafCid('0'), offset: 0, length: 100 }])
    w.abort()
    w.abort()
    expect(home.catalog.getScan(w.id)).toBeUndefined()
    expect([...home.catalog.entries(w.id)]).toEqual([])
    const late = await entry('late')
    expect(() => { w.addEntry(late) }).toThrow(/aborted/)
    await home.close()
    const db = new Database(path.join(home.dir, 'catalog.db'))
    expect(db.prepare('SELECT count(*) AS n FROM entries').get()).toEqual({ n: 0 })
    db.close()
  })

  it('rejects unsafe entry paths', async () => {
    const home = await newHome()
    const w = home.catalog.createScanWriter({ name: 'x', sourcePath: '/d', origin: 'o' })
    for (const bad of ['/abs', 'a/../b', 'a//b', 'a/', '.', 'x/./y']) {
      await rejectsWith(async () => w.addEntry(await entry('ok').then(e => ({ ...e, path: bad }))), 'ERR_INVALID_ARGUMENT')
    }
    w.abort()
    await home.close()
  })
})

describe('leaf index', () => {
  it('finds every copy of a chunk, and a re-import replaces leaves instead of duplicating them', async () => {
    const home = await newHome()
    const [a, b, c] = [await leafCid('a'), await leafCid('b'), await leafCid('c')]
    const w1 = home.catalog.createScanWriter({ name: 's1', sourcePath: '/d', origin: 'o' })
    w1.addSource('/d/one', 300, 111, [{ cid: a, offset: 0, length: 100 }, { cid: b, offset: 100, length: 100 }, { cid: a, offset: 200, length: 100 }])
    w1.addSource('/d/two', 100, 222, [{ cid: a, offset: 0, length: 100 }])
    w1.commit({ root: (await block('r1')).cid, files: 2, directories: 0, symlinks: 0, bytes: 400, skipped: [] })

    const found = home.catalog.findLeaf(a)
    expect(found).toHaveLength(3)
    expect(found).toContainEqual({ path: '/d/one', offset: 200, length: 100, size: 300, mtimeMs: 111 })
    expect(found).toContainEqual({ path: '/d/two', offset: 0, length: 100, size: 100, mtimeMs: 222 })
    expect(found[0]?.path).toBe('/d/two') // the most recently indexed source first
    // The same bytes under another codec share the leaf: the index is keyed by multihash.
    expect(home.catalog.findLeaf(a.toV1())).toHaveLength(3)
    expect(home.catalog.findLeaf(c)).toEqual([])

    // Same files again (unchanged) and /d/one changed: no duplicates, old leaves of /d/one gone.
    const w2 = home.catalog.createScanWriter({ name: 's2', sourcePath: '/d', origin: 'o' })
    w2.addSource('/d/two', 100, 222, [{ cid: a, offset: 0, length: 100 }])
    w2.addSource('/d/one', 150, 333, [{ cid: c, offset: 0, length: 150 }])
    w2.commit({ root: (await block('r2')).cid, files: 2, directories: 0, symlinks: 0, bytes: 250, skipped: [] })
    expect(home.catalog.findLeaf(a)).toEqual([{ path: '/d/two', offset: 0, length: 100, size: 100, mtimeMs: 222 }])
    expect(home.catalog.findLeaf(b)).toEqual([])
    expect(home.catalog.findLeaf(c)).toEqual([{ path: '/d/one', offset: 0, length: 150, size: 150, mtimeMs: 333 }])
    const src = home.catalog.getSource('/d/two')
    expect(src).toMatchObject({ path: '/d/two', size: 100, mtimeMs: 222, scanId: w2.id })
    expect(src?.leaves.map(l => l.cid.toString())).toEqual([a.toString()])
    expect(home.catalog.getSource('/d/none')).toBeUndefined()

    await rejectsWith(async () => { w2.addSource('/d/x', 1, 1, []) }, 'ERR_INVALID_ARGUMENT')
    const w3 = home.catalog.createScanWriter({ name: 's3', sourcePath: '/d', origin: 'o' })
    await rejectsWith(async () => { w3.addSource('relative', 1, 1, []) }, 'ERR_INVALID_ARGUMENT')
    await rejectsWith(async () => { w3.addSource('/d/x', 10, 1, [{ cid: a, offset: 5, length: 10 }]) }, 'ERR_INVALID_ARGUMENT')
    w3.abort()
    await home.close()
  })
})

describe('scale', () => {
  it('writes and reads back a 50,000-entry scan with 100,000 leaves in bounded memory', async () => {
    const home = await newHome()
    const N = 50_000
    const sample = (await block('x')).cid
    const leaf = await leafCid('x')
    global.gc?.()
    const heapBefore = process.memoryUsage().heapUsed
    let peak = heapBefore
    const t0 = performance.now()
    const w = home.catalog.createScanWriter({ name: 'big', sourcePath: '/big', origin: 'o' })
    w.addEntry({ path: '', type: 'directory', size: 0, mode: 0o40755, mtimeMs: 1, cid: sample })
    for (let i = 0; i < N; i++) {
      const p = `d${i % 100}/f${i}`
      w.addEntry({ path: p, type: 'file', size: 2, mode: 0o100644, mtimeMs: i, cid: sample })
      w.addSource(`/big/${p}`, 2 << 20, i, [{ cid: leaf, offset: 0, length: 1 << 20 }, { cid: leaf, offset: 1 << 20, length: 1 << 20 }])
      if (i % 5000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed)
    }
    const scan = w.commit({ root: sample, files: N, directories: 101, symlinks: 0, bytes: 2 * N, skipped: [] })
    const writeMs = performance.now() - t0

    let count = 0
    let last = ''
    const t1 = performance.now()
    for (const e of home.catalog.entries(scan.id)) {
      if (count > 0) expect(e.path > last).toBe(true)
      last = e.path
      count++
      if (count % 5000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed)
    }
    const readMs = performance.now() - t1
    expect(count).toBe(N + 1)
    expect(home.catalog.findLeaf(leaf)).toHaveLength(2 * N)
    // Bounded: the writer buffers DEFAULT_FLUSH_ROWS rows at most, the reader one page.
    expect(peak - heapBefore).toBeLessThan(150 * 2 ** 20)
    console.log(`50,000 entries + 50,000 sources + 100,000 leaves written in ${writeMs.toFixed(0)} ms ` +
      `(${Math.round(N / writeMs * 1000)} files/s), entries read in ${readMs.toFixed(0)} ms (${Math.round(N / readMs * 1000)}/s), heap growth ${((peak - heapBefore) / 2 ** 20).toFixed(0)} MiB`)
    await home.close()
    const db = new Database(path.join(home.dir, 'catalog.db'), { readonly: true })
    expect(db.prepare('SELECT count(*) AS n FROM entries WHERE scan_id = ?').get(scan.id)).toEqual({ n: N + 1 })
    expect(db.prepare('SELECT count(*) AS n FROM sources').get()).toEqual({ n: N })
    expect(db.prepare('SELECT count(*) AS n FROM leaves').get()).toEqual({ n: 2 * N })
    db.close()

    // Re-importing the same files is cheap (nothing rewritten) and does not duplicate leaves.
    const again = await openHome(home.dir)
    const t2 = performance.now()
    const w2 = again.catalog.createScanWriter({ name: 'big2', sourcePath: '/big', origin: 'o' })
    for (let i = 0; i < N; i++) {
      const p = `d${i % 100}/f${i}`
      w2.addSource(`/big/${p}`, 2 << 20, i, [{ cid: leaf, offset: 0, length: 1 << 20 }, { cid: leaf, offset: 1 << 20, length: 1 << 20 }])
    }
    w2.commit({ root: sample, files: N, directories: 101, symlinks: 0, bytes: 2 * N, skipped: [] })
    console.log(`re-import of 50,000 unchanged sources: ${(performance.now() - t2).toFixed(0)} ms`)
    expect(again.catalog.findLeaf(leaf)).toHaveLength(2 * N)
    await again.close()
  })
})

describe('stale imports', () => {
  it('removes importing scans whose process is gone, not live ones', async () => {
    const home = await newHome()
    const live = home.catalog.createScanWriter({ name: 'live', sourcePath: '/d', origin: 'o' })
    const dead = home.catalog.createScanWriter({ name: 'dead', sourcePath: '/d', origin: 'o' })
    dead.addEntry(await entry(''))
    dead.flush()
    await home.close()
    // Pretend the second writer belonged to a process that has exited.
    const db = new Database(path.join(home.dir, 'catalog.db'))
    db.prepare('UPDATE scans SET writer_pid = ? WHERE id = ?').run(2 ** 22 + 12345, dead.id)
    db.close()
    const c = openCatalog(path.join(home.dir, 'catalog.db'))
    expect(c.removeStaleImports()).toBe(1)
    expect(c.getScan(dead.id)).toBeUndefined()
    expect(c.getScan(live.id)?.state).toBe('importing')
    c.close()
  })
})
