/**
 * The follow journal (followed-files.ts, schema step 10): a file recorded per absolute path, replaced by its
 * next version, summarized per open scan and destination (arrived, the latest arrival), and found again by
 * a catalog opened later (a follower restarted mid-scan).
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openCatalog } from '@ferry/store'
import { leafCid, tempDir } from './helpers.js'

describe('followed files', () => {
  it('records, replaces and summarizes what a follower placed, across a reopen', async () => {
    const dir = await tempDir()
    const file = join(dir, 'catalog.db')
    const a = await leafCid('a')
    const a2 = await leafCid('a, rewritten')
    const b = await leafCid('b')
    const c1 = openCatalog(file)
    try {
      expect(c1.followed.get('/dest/s1/a.tif')).toBeUndefined()
      expect(c1.followed.summary('K')).toEqual({ arrived: 0, latest: null })
      c1.followed.record({ file: '/dest/s1/a.tif', key: 'K', path: 'a.tif', seq: 0, cid: a, size: 1, published: 1000, arrived: 1400 })
      c1.followed.record({ file: '/dest/s1/sub/b.tif', key: 'K', path: 'sub/b.tif', seq: 1, cid: b, size: 2, published: 2000, arrived: 2100 })
      c1.followed.record({ file: '/other/s1/a.tif', key: 'K', path: 'a.tif', seq: 0, cid: a, size: 1, published: 1000, arrived: 9000 })
      c1.followed.record({ file: '/dest/s1/a.tif', key: 'K', path: 'a.tif', seq: 2, cid: a2, size: 3, published: 3000, arrived: 3500 })
    } finally {
      c1.close()
    }
    const c2 = openCatalog(file)
    try {
      expect(c2.followed.get('/dest/s1/a.tif')).toMatchObject({ key: 'K', path: 'a.tif', seq: 2, size: 3, published: 3000, arrived: 3500 })
      expect(c2.followed.get('/dest/s1/a.tif')!.cid.equals(a2)).toBe(true)
      expect(c2.followed.summary('K', '/dest/')).toEqual({ arrived: 2, latest: { seq: 2, published: 3000, arrived: 3500 } })
      expect(c2.followed.summary('K')).toEqual({ arrived: 3, latest: { seq: 2, published: 3000, arrived: 3500 } })
      expect(c2.followed.under('/dest/s1')).toEqual([{ key: 'K', arrived: 2, entries: 3, latest: { seq: 2, published: 3000, arrived: 3500 } }])
      expect(c2.followed.under('/dest/s')).toEqual([]) // a directory, not a prefix of a name
      expect(c2.followed.under('/other/s1')[0]).toMatchObject({ arrived: 1, entries: 1 })
    } finally {
      c2.close()
    }
  })

  it('catalog.batch: a placed file\'s rows commit together, and none if the batch throws', async () => {
    const dir = await tempDir()
    const file = join(dir, 'catalog.db')
    const a = await leafCid('a')
    const c1 = openCatalog(file)
    const st = { size: 1, mtimeMs: 1000, ctimeMs: 1000, ino: 7 }
    try {
      expect(c1.batch(() => {
        c1.placed.record([{ path: '/dest/s1/a.tif', ...st }])
        c1.followed.record({ file: '/dest/s1/a.tif', key: 'K', path: 'a.tif', seq: 0, cid: a, size: 1, published: 1000, arrived: 1400 })
        return 'done'
      })).toBe('done')
      expect(() => c1.batch(() => {
        c1.placed.record([{ path: '/dest/s1/b.tif', ...st }])
        c1.followed.record({ file: '/dest/s1/b.tif', key: 'K', path: 'b.tif', seq: 1, cid: a, size: 1, published: 1000, arrived: 1400 })
        throw new Error('cut short')
      })).toThrow(/cut short/)
    } finally {
      c1.close()
    }
    const c2 = openCatalog(file)
    try {
      expect(c2.placed.trusted('/dest/s1/a.tif', st)).toBe(true)
      expect(c2.followed.get('/dest/s1/a.tif')).toMatchObject({ seq: 0 })
      expect(c2.placed.trusted('/dest/s1/b.tif', st)).toBe(false)
      expect(c2.followed.get('/dest/s1/b.tif')).toBeUndefined()
    } finally {
      c2.close()
    }
  })
})
