import { join } from 'node:path'
import { symlinkSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HashPool, importDirectory, walkDag, fileLeaves, type Block, type ImportedEntry, type LeafLocation } from '@ferry/dag'
import { oracleRoot } from '../../../test/support/oracle.js'
import { INTERESTING_SIZES, bytes, cleanup, tempDir, writeTree } from '../../../test/support/tree.js'

/** A sink that keeps everything in memory, so the test can read the DAG back. */
function memorySink () {
  const blocks = new Map<string, Uint8Array>()
  const entries: ImportedEntry[] = []
  const sources: Array<{ path: string, size: number, leaves: LeafLocation[] }> = []
  return {
    blocks,
    entries,
    sources,
    sink: {
      putBlocks: (bs: Block[]) => { for (const b of bs) blocks.set(b.cid.toString(), b.bytes) },
      addEntry: (e: ImportedEntry) => { entries.push(e) },
      addSource: (path: string, size: number, _m: number, leaves: LeafLocation[]) => { sources.push({ path, size, leaves }) }
    },
    get: async (cid: { toString: () => string }) => {
      const b = blocks.get(cid.toString())
      if (b == null) throw new Error(`missing ${cid.toString()}`)
      return b
    }
  }
}

describe('importDirectory on real files', () => {
  let tmp: string
  let pool: HashPool
  beforeAll(() => {
    tmp = tempDir()
    pool = new HashPool({ workers: 2 })
  })
  afterAll(async () => {
    await pool.close()
    cleanup(tmp)
  })

  it('boundary sizes at the real 1 MiB chunk give the oracle root', async () => {
    const dir = join(tmp, 'sizes')
    const spec: Record<string, number> = {}
    INTERESTING_SIZES.forEach((s, i) => { spec[`f${i}.bin`] = s })
    writeTree(dir, spec)
    const r = await importDirectory(dir, { pool })
    expect(r.root.toString()).toBe(await oracleRoot(dir))
    expect(r.files).toBe(INTERESTING_SIZES.length)
    expect(r.bytes).toBe(INTERESTING_SIZES.reduce((a, b) => a + b, 0))
  })

  it('multi-level files (tiny chunks, few links per node) give the oracle root and read back', async () => {
    const dir = join(tmp, 'deep')
    writeTree(dir, { 'a.bin': 5000, 'b/c.bin': 64 * 7 + 3, 'b/d/e.bin': 1, 'empty.bin': 0, 'z/': null })
    const m = memorySink()
    const opts = { chunkSize: 64, maxChildren: 3 }
    const r = await importDirectory(dir, { pool, ...opts, sink: m.sink })
    expect(r.root.toString()).toBe(await oracleRoot(dir, opts))
    // the tree reads back with every size and leaf offset right
    const entries = []
    for await (const e of walkDag(r.root, m.get)) entries.push(e)
    expect(entries.map((e) => [e.path, e.type, e.size])).toEqual([
      ['', 'directory', 0], ['a.bin', 'file', 5000], ['b', 'directory', 0], ['b/c.bin', 'file', 451],
      ['b/d', 'directory', 0], ['b/d/e.bin', 'file', 1], ['empty.bin', 'file', 0], ['z', 'directory', 0]
    ])
    const a = entries[1]
    const leaves = []
    for await (const l of fileLeaves(a!.cid, m.get, { size: a!.size })) leaves.push(l)
    expect(leaves).toHaveLength(Math.ceil(5000 / 64))
    expect(leaves.map((l) => l.offset)).toEqual(leaves.map((_, i) => i * 64))
    // the leaf index the sink received points at the same places
    const src = m.sources.find((s) => s.path.endsWith('a.bin'))
    expect(src?.leaves.map((l) => [l.cid.toString(), l.offset, l.length])).toEqual(leaves.map((l) => [l.cid.toString(), l.offset, l.length]))
    // inner blocks only: no raw leaf ever reaches the block sink
    for (const key of m.blocks.keys()) expect(key.startsWith('bafk')).toBe(false)
    // every entry has its metadata
    expect(m.entries.map((e) => e.path).sort()).toEqual(entries.map((e) => e.path).sort())
    expect(m.entries.every((e) => e.mtimeMs > 0 && e.mode > 0)).toBe(true)
  })

  it('a directory past the shard threshold gives the oracle root', async () => {
    const dir = join(tmp, 'wide')
    const spec: Record<string, Buffer> = {}
    for (let i = 0; i < 300; i++) spec[`proj_${String(i).padStart(5, '0')}.tif`] = bytes(i % 7, `w${i}`)
    writeTree(dir, spec)
    const r = await importDirectory(dir, { pool, shardSplitThresholdBytes: 1000 })
    expect(r.root.toString()).toBe(await oracleRoot(dir, { shardSplitThresholdBytes: 1000 }))
  })

  it('the same content gives the same root wherever it lives; one changed byte changes it', async () => {
    const a = join(tmp, 'same-a')
    const b = join(tmp, 'same-b')
    writeTree(a, { 'x/y.bin': 3 * 1024 * 1024 + 5 })
    writeTree(b, { 'x/y.bin': 3 * 1024 * 1024 + 5 })
    const ra = await importDirectory(a, { pool })
    expect((await importDirectory(b, { pool })).root.toString()).toBe(ra.root.toString())
    const buf = bytes(3 * 1024 * 1024 + 5, 'x/y.bin')
    buf[2 * 1024 * 1024 + 1] = (buf[2 * 1024 * 1024 + 1] as number) ^ 1
    writeFileSync(join(b, 'x/y.bin'), buf)
    expect((await importDirectory(b, { pool })).root.toString()).not.toBe(ra.root.toString())
  })

  it('skips special files and reports them; records symlinks without following them', async () => {
    const dir = join(tmp, 'special')
    writeTree(dir, { 'f.bin': 10 })
    mkfifoSafe(join(dir, 'fifo'))
    symlinkSync('/nonexistent/target', join(dir, 'dangling'))
    const r = await importDirectory(dir, { pool })
    expect(r.files).toBe(1)
    expect(r.symlinks).toBe(1)
    expect(r.skipped).toEqual([{ path: 'fifo', code: 'ERR_SPECIAL_FILE', message: 'named pipe not imported' }])
  })

  it('aborts promptly with ERR_ABORTED', async () => {
    const dir = join(tmp, 'abort')
    const spec: Record<string, number> = {}
    for (let i = 0; i < 50; i++) spec[`f${i}.bin`] = 2 * 1024 * 1024
    writeTree(dir, spec)
    const controller = new AbortController()
    const p = importDirectory(dir, { pool, signal: controller.signal, onProgress: (e) => { if (e.type === 'import:file') controller.abort() } })
    await expect(p).rejects.toMatchObject({ code: 'ERR_ABORTED' })
  })

  it('a missing or non-directory root is a typed error', async () => {
    await expect(importDirectory(join(tmp, 'nope'), { pool })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    writeFileSync(join(tmp, 'file'), 'x')
    await expect(importDirectory(join(tmp, 'file'), { pool })).rejects.toMatchObject({ code: 'ERR_NOT_A_DIRECTORY' })
  })
})

function mkfifoSafe (path: string): void {
  execFileSync('mkfifo', [path]) // node has no mkfifo
}
