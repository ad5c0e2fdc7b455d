/**
 * The catalog's paged listing (keyset on the scans' row id) and its change feed (PRAGMA data_version): every
 * complete scan once and in order across pages, filters and hidden collections in the query, the primary key
 * walked rather than a collection sorted per page, and scans completed by another connection found by a poll,
 * including one whose import began before another's completed and a row id reused after a removal.
 */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openCatalog, type Catalog } from '@ferry/store'
import { cidOf, tempDir } from './helpers.js'

async function addScan (c: Catalog, name: string, collection: string | null, commit = true): Promise<{ id: number, commit: () => Promise<void> }> {
  const w = c.createScanWriter({ collection, name, sourcePath: `/data/${name}`, origin: 'P' })
  const done = async (): Promise<void> => {
    w.commit({ root: await cidOf(new TextEncoder().encode(name)), files: 1, directories: 1, symlinks: 0, bytes: 5, skipped: [{ path: 'x', code: 'EACCES', message: 'no' }] })
  }
  if (commit) await done()
  return { id: w.id, commit: done }
}

describe('pageScans', () => {
  it('lists every complete scan once, in row id order, by cursor, with filters and hidden collections', async () => {
    const c = openCatalog(path.join(await tempDir(), 'catalog.db'))
    try {
      for (let i = 0; i < 250; i++) await addScan(c, `scan-${String(i).padStart(3, '0')}`, i % 10 === 0 ? 'secret' : i % 2 === 0 ? 'even' : null)
      await addScan(c, 'still-importing', 'even', false)
      const names: string[] = []
      let after: number | undefined
      const sizes: number[] = []
      for (;;) {
        const page = c.pageScans({ limit: 100, hidden: ['secret'], ...(after !== undefined ? { after } : {}) })
        sizes.push(page.scans.length)
        names.push(...page.scans.map((s) => s.name))
        if (!page.more) break
        after = page.scans[page.scans.length - 1]!.id
      }
      expect(sizes).toEqual([100, 100, 25])
      expect(names).toEqual(Array.from({ length: 250 }, (_, i) => i).filter((i) => i % 10 !== 0).map((i) => `scan-${String(i).padStart(3, '0')}`))
      const first = c.pageScans({ limit: 1, collection: 'even' }).scans[0]!
      expect(first).toEqual({ id: 3, root: expect.anything(), collection: 'even', name: 'scan-002', origin: 'P', files: 1, directories: 1, symlinks: 0, bytes: 5, created: expect.any(Number), skipped: 1 })
      expect(c.pageScans({ limit: 1000, collection: 'even' }).scans).toHaveLength(100)
      expect(c.pageScans({ limit: 1000, collection: 'secret', hidden: ['secret'] }).scans).toEqual([])
      expect(c.pageScans({ limit: 1000, prefix: 'scan-24' }).scans.map((s) => s.name)).toEqual(Array.from({ length: 10 }, (_, i) => `scan-24${i}`))
      expect(c.pageScans({ limit: 5, after: 10_000 })).toEqual({ scans: [], more: false })
    } finally {
      c.close()
    }
  })

  it('walks the primary key from the cursor, never sorting a collection per page', async () => {
    const file = path.join(await tempDir(), 'catalog.db')
    const c = openCatalog(file)
    c.close()
    const Database = (await import('better-sqlite3')).default
    const db = new Database(file, { readonly: true })
    try {
      const plan = db.prepare('EXPLAIN QUERY PLAN SELECT id FROM scans WHERE state = \'complete\' AND id > ? AND +collection = ? AND (collection IS NULL OR collection NOT IN (SELECT value FROM json_each(?))) ORDER BY id LIMIT ?')
        .all(0, 'c', '[]', 10) as Array<{ detail: string }>
      const text = plan.map((p) => p.detail).join('; ')
      expect(text).toMatch(/SEARCH scans USING INTEGER PRIMARY KEY \(rowid>\?\)/)
      expect(text).not.toMatch(/TEMP B-TREE FOR ORDER BY/)
    } finally {
      db.close()
    }
  })
})

describe('scanFeed', () => {
  it('finds scans another connection completes, once each, in row order', async () => {
    const file = path.join(await tempDir(), 'catalog.db')
    const writer = openCatalog(file)
    const reader = openCatalog(file)
    try {
      await addScan(writer, 'before', 'c') // complete before the feed: not announced
      const running = await addScan(writer, 'running', 'c', false) // importing when the feed starts: announced when complete
      const feed = reader.scanFeed()
      expect(feed.poll()).toEqual([])
      await running.commit()
      expect(feed.poll().map((s) => s.name)).toEqual(['running'])
      const slow = await addScan(writer, 'slow', 'c', false) // begins first, completes last
      await addScan(writer, 'quick', 'c')
      expect(feed.poll().map((s) => s.name)).toEqual(['quick'])
      expect(feed.poll()).toEqual([]) // nothing committed since: one pragma
      await slow.commit()
      expect(feed.poll().map((s) => s.name)).toEqual(['slow'])
      // a crashed import removed and its row id reused by the next scan
      const gone = await addScan(writer, 'crashed', 'c', false)
      expect(feed.poll()).toEqual([])
      // its writer (this process) still runs, so removeStaleImports would keep it: remove the row by hand
      const Database = (await import('better-sqlite3')).default
      const db = new Database(file)
      db.prepare('DELETE FROM scans WHERE id = ?').run(gone.id)
      db.close()
      expect(feed.poll()).toEqual([])
      const reused = await addScan(writer, 'reused', 'c')
      expect(reused.id).toBe(gone.id)
      expect(feed.poll().map((s) => s.name)).toEqual(['reused'])
    } finally {
      reader.close()
      writer.close()
    }
  })
})
