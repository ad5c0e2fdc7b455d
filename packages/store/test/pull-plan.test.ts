/**
 * The pull's plan (PullPlan), in memory and moved to its file past its memoryRows: what goes in comes back in
 * order and intact (entries, files with their leaves, placed stats), a repeated entry path is reported, no
 * file is left in the directory (unlinked at open), the rows held in memory stay within the window while the
 * plan grows, and a small plan needs no file at all.
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PLAN_MEMORY_ROWS, PullPlan, decodeLeaves, encodeLeaves, type EntryRecord, type PlanFileRow } from '@ferry/store'
import { cidOf, leafCid, tempDir } from './helpers.js'

async function fileRow (i: number): Promise<PlanFileRow> {
  if (i % 3 === 0) {
    const cid = await leafCid(`f${i}`) // a file that is its own leaf
    return { path: `d/f${String(i).padStart(5, '0')}`, cid, size: 100 + i, mode: 0o644, mtimeMs: 1000.5 + i, leaves: [{ cid, offset: 0, length: 100 + i }] }
  }
  const leaves = [{ cid: await leafCid(`a${i}`), offset: 0, length: 1 << 20 }, { cid: await leafCid(`b${i}`), offset: 1 << 20, length: i }]
  return { path: `d/f${String(i).padStart(5, '0')}`, cid: await cidOf(new TextEncoder().encode(`n${i}`)), size: (1 << 20) + i, mode: 0o600, mtimeMs: 2000 + i, leaves }
}

describe('PullPlan', () => {
  it('encodes leaves losslessly, a file that is its own leaf as NULL', async () => {
    const own = await fileRow(3)
    expect(encodeLeaves(own.cid, own.size, own.leaves)).toBeNull()
    expect(decodeLeaves(own.cid, own.size, null)).toEqual(own.leaves)
    const two = await fileRow(4)
    const blob = encodeLeaves(two.cid, two.size, two.leaves)
    expect(blob).not.toBeNull()
    expect(decodeLeaves(two.cid, two.size, blob).map((l) => [l.cid.toString(), l.offset, l.length])).toEqual(two.leaves.map((l) => [l.cid.toString(), l.offset, l.length]))
    expect(decodeLeaves(two.cid, 0, new Uint8Array(0))).toEqual([])
  })

  for (const [n, memoryRows] of [[100, undefined], [1000, undefined], [100, 50], [1000, 50]] as const) {
    const where = memoryRows === undefined ? 'in memory' : `moved to its file past ${memoryRows} rows`
    it(`gives back ${n} entries and files in order, holding at most its window of 16 (${where})`, async () => {
      const dir = await tempDir()
      const plan = new PullPlan(dir, 16, memoryRows)
      try {
        expect(readdirSync(dir)).toEqual([]) // unlinked as soon as it is open
        const rows: PlanFileRow[] = []
        for (let i = 0; i < n; i++) rows.push(await fileRow(i))
        for (const r of rows) expect(plan.addEntry({ path: r.path, type: 'file', size: r.size, mode: r.mode, mtimeMs: r.mtimeMs, cid: r.cid })).toBeUndefined()
        expect(plan.flushEntries()).toBeUndefined()
        for (const r of rows) plan.addFile(r)
        expect(plan.fileCount).toBe(n)
        expect(plan.entryCount).toBe(n)
        const back: EntryRecord[] = [...plan.entries()]
        expect(back.map((e) => e.path)).toEqual(rows.map((r) => r.path))
        expect(plan.entry(rows[7]?.path ?? '')?.cid.equals(rows[7]?.cid)).toBe(true)
        for (let i = 0; i < n; i++) {
          const f = plan.file(i)
          expect(f?.path).toBe(rows[i]?.path)
          expect(f?.mtimeMs).toBe(rows[i]?.mtimeMs)
          expect(f?.leaves.map((l) => l.cid.toString())).toEqual(rows[i]?.leaves.map((l) => l.cid.toString()))
        }
        for (let i = 0; i < n; i += 2) plan.markPlaced(i, i % 4 === 0 ? { size: i, mtimeMs: i + 0.25, ctimeMs: i + 0.5, ino: 1e9 + i } : undefined)
        const placed = [...plan.placedFiles(true)]
        expect(placed.map((p) => p.index)).toEqual(rows.map((_, i) => i).filter((i) => i % 2 === 0))
        for (const p of placed) expect(p.stat).toEqual(p.index % 4 === 0 ? { size: p.index, mtimeMs: p.index + 0.25, ctimeMs: p.index + 0.5, ino: 1e9 + p.index } : undefined)
        expect([...plan.placedFiles(false)].filter((p) => p.placed)).toHaveLength(placed.length)
        expect(plan.held).toEqual({ entries: 16, files: 32, placed: 16 })
        expect(plan.onDisk).toBe(memoryRows !== undefined)
        expect(readdirSync(dir)).toEqual([])
      } finally {
        plan.close()
      }
    })
  }

  it('reports a path given twice and keeps one', async () => {
    const plan = new PullPlan(await tempDir(), 4)
    try {
      const r = await fileRow(1)
      const e: EntryRecord = { path: 'x', type: 'file', size: r.size, mode: 0o644, mtimeMs: 1, cid: r.cid }
      plan.addEntry(e)
      plan.addEntry({ ...e, path: 'y' })
      expect(plan.addEntry(e) ?? plan.flushEntries()).toBe('x')
      expect([...plan.entries()].map((x) => x.path)).toEqual(['x', 'y'])
    } finally {
      plan.close()
    }
  })

  it('keeps a plan of at most PLAN_MEMORY_ROWS rows in memory: no file, so no directory needed; past that, its file', async () => {
    const missing = join(await tempDir(), 'absent')
    const rows: PlanFileRow[] = []
    for (let i = 0; i < 40; i++) rows.push(await fileRow(i))
    const small = new PullPlan(missing, 16, 40)
    try {
      for (const r of rows.slice(0, 20)) small.addEntry({ path: r.path, type: 'file', size: r.size, mode: r.mode, mtimeMs: r.mtimeMs, cid: r.cid })
      small.flushEntries()
      for (const r of rows.slice(0, 20)) small.addFile(r)
      expect(small.file(19)?.path).toBe(rows[19]?.path)
      expect(small.onDisk).toBe(false)
      expect(existsSync(missing)).toBe(false)
    } finally {
      small.close()
    }
    const large = new PullPlan(missing, 16, 30)
    try {
      // the first page of 16 entries fits in memory, the second (32 rows, past 30) needs the file, in a directory that is not there
      expect(() => { for (const r of rows) large.addEntry({ path: r.path, type: 'file', size: r.size, mode: r.mode, mtimeMs: r.mtimeMs, cid: r.cid }) }).toThrow(/plan database/)
      expect(large.onDisk).toBe(false)
    } finally {
      large.close()
    }
    expect(PLAN_MEMORY_ROWS).toBeGreaterThanOrEqual(4096)
  })
})
