/**
 * `catalog.replicaEntries` (replica-entries.ts): the fast no-op's one range scan, each entry of a replica
 * joined with the placed-files row of its absolute path, in path order, in pages of bounded size.
 */
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { initHome, REPLICA_PAGE_ROWS, type ReplicaEntry } from '@ferry/store'
import { block, tempDir } from './helpers.js'

describe('replicaEntries', () => {
  it('joins every entry with the placed row of prefix + path, in path order, in pages of at most pageRows', async () => {
    const home = await initHome(await tempDir())
    const cid = (await block('x')).cid
    const w = home.catalog.createScanWriter({ name: 'r', sourcePath: '/dest', origin: 'o' })
    w.addEntry({ path: '', type: 'directory', size: 0, mode: 0o40755, mtimeMs: 5, cid })
    const files: string[] = []
    for (let d = 0; d < 3; d++) {
      w.addEntry({ path: `d${d}`, type: 'directory', size: 0, mode: 0o40700, mtimeMs: 6, cid })
      for (let i = 0; i < 7; i++) {
        const p = `d${d}/f${i}`
        files.push(p)
        w.addEntry({ path: p, type: 'file', size: 100 + i, mode: 0o100644, mtimeMs: 1000 + i, cid })
      }
    }
    w.addEntry({ path: 'latest', type: 'symlink', size: 0, mode: 0o120777, mtimeMs: 7, cid, target: 'd0/f0' })
    const scan = w.commit({ root: cid, files: files.length, directories: 4, symlinks: 1, bytes: 0, skipped: [] })
    // placed rows for every file but d1/f3 (one with another size), and rows of another destination and of a
    // destination whose name only starts like this one's
    home.catalog.placed.record(files.filter((f) => f !== 'd1/f3').map((f, i) => ({ path: `/dest/${f}`, size: f === 'd2/f6' ? 1 : 100 + Number(f.at(-1)), mtimeMs: 1000 + i, ctimeMs: 2000 + i, ino: 3000 + i })))
    home.catalog.placed.record([{ path: '/dest2/d1/f3', size: 103, mtimeMs: 1, ctimeMs: 1, ino: 1 }, { path: '/other/d1/f3', size: 103, mtimeMs: 1, ctimeMs: 1, ino: 1 }])

    const pages = [...home.catalog.replicaEntries(scan.id, '/dest/', 5)]
    const all = pages.flat()
    expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 5, 1])
    expect(all.map((e) => e.path)).toEqual(['', 'd0', ...files.slice(0, 7), 'd1', ...files.slice(7, 14), 'd2', ...files.slice(14), 'latest'])
    const byPath = new Map(all.map((e) => [e.path, e]))
    expect(byPath.get('d0/f2')).toEqual<ReplicaEntry>({ path: 'd0/f2', type: 'file', size: 102, mode: 0o100644, mtimeMs: 1002, target: null, placedSize: 102, placedMtimeMs: 1002, placedCtimeMs: 2002, placedIno: 3002 })
    expect(byPath.get('d2/f6')).toMatchObject({ size: 106, placedSize: 1 })
    expect(byPath.get('d1/f3')).toMatchObject({ size: 103, placedSize: null, placedMtimeMs: null, placedCtimeMs: null, placedIno: null })
    expect(byPath.get('latest')).toMatchObject({ type: 'symlink', target: 'd0/f0', placedSize: null })
    expect(byPath.get('d1')).toMatchObject({ type: 'directory', mode: 0o40700, mtimeMs: 6, placedSize: null })
    // the default page, and a page boundary exactly at the end
    expect([...home.catalog.replicaEntries(scan.id, '/dest/')].map((p) => p.length)).toEqual([all.length])
    expect([...home.catalog.replicaEntries(scan.id, '/dest/', all.length)].map((p) => p.length)).toEqual([all.length])
    expect(REPLICA_PAGE_ROWS).toBeGreaterThan(1000)
    await home.close()

    // one range scan of the entries' primary key, and one primary-key lookup of placed_files per row
    const db = new Database(path.join(home.dir, 'catalog.db'), { readonly: true })
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT e.path, p.size, p.mtime_ms, p.ctime_ms, p.ino FROM entries e LEFT JOIN placed_files p ON p.path = (? || e.path) WHERE e.scan_id = ? AND e.path > ? ORDER BY e.path LIMIT ?')
      .all('/dest/', scan.id, '', 10) as Array<{ detail: string }>
    expect(plan.map((r) => r.detail)).toEqual([expect.stringMatching(/^SEARCH e USING PRIMARY KEY \(scan_id=\? AND path>\?\)/), expect.stringMatching(/^SEARCH p USING PRIMARY KEY \(path=\?\)/)])
    db.close()
  })
})
