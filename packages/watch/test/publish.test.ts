/**
 * A watch's publisher on a real home and real files: files handed in together are hashed meanwhile and
 * committed in groups (one transaction), as entries 0, 1, ... in the order they were handed in, each once; a
 * file handed in twice is published once, a path rewritten within a group gets two versions in order; a
 * commit that fails (as a crash before it would) publishes none of its group, and the files are all
 * published afterwards, with the CIDs `ferry add` gives them.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { HashPool, importFile } from '@ferry/dag'
import { initHome, type Home } from '@ferry/store'
import { createPublisher, type ToPublish } from '@ferry/watch'
import { LeafCache } from '@ferry/node'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c() })

async function setup (): Promise<{ home: Home, pool: HashPool, dir: string }> {
  const base = mkdtempSync(join(tmpdir(), 'ferry-watch-publish-'))
  const home = await initHome(join(base, 'home'))
  const pool = new HashPool()
  cleanup.push(async () => { await pool.close(); await home.close(); rmSync(base, { recursive: true, force: true }) })
  return { home, pool, dir: base }
}

function write (dir: string, rel: string, size: number, seed: number): ToPublish {
  const abs = join(dir, rel)
  const b = Buffer.alloc(size)
  for (let i = 0; i < size; i += 4096) b.writeUInt32LE(seed * 7919 + i, i)
  writeFileSync(abs, b)
  const st = statSync(abs)
  return { abs, rel, size: st.size, mtimeMs: st.mtimeMs }
}

async function cidOf (pool: HashPool, f: ToPublish): Promise<string> {
  const r = await importFile(f.abs, f.rel, { pool })
  return r.entry!.cid.toString()
}

describe('publisher', () => {
  it('commits files handed in together in groups, in order, each once; a file handed in twice once; a rewrite as the next version', async () => {
    const { home, pool, dir } = await setup()
    const open = home.catalog.open.ensureOpen({ collection: 'c', name: 's', origin: home.peerId.toString(), sourcePath: dir })
    let commits = 0
    const publishMany = home.catalog.open.publishMany.bind(home.catalog.open)
    home.catalog.open.publishMany = async (...args) => { commits++; return await publishMany(...args) }
    const publisher = createPublisher(home, pool, open, new AbortController().signal)
    const files = Array.from({ length: 12 }, (_, i) => write(dir, `f${String(i).padStart(2, '0')}`, 300_000 + i * 1000, i))
    const outs = await Promise.all([...files.map(async (f) => await publisher.publish(f)), publisher.publish(files[3]!)])
    expect(outs.map((o) => o.published?.seq)).toEqual([...files.keys(), 3])
    expect(commits).toBeGreaterThan(0)
    expect(commits).toBeLessThan(files.length) // grouped: fewer commits than files
    const entries = home.catalog.open.entries(open.id, -1, 100)
    expect(entries.map((e) => e.path)).toEqual(files.map((f) => f.rel))
    for (const [i, f] of files.entries()) expect(entries[i]!.cid.toString()).toBe(await cidOf(pool, f))

    // a path handed in again with new bytes while its first version may still wait: the latest is the new
    // bytes, and no version repeats the one before it (the first may have been hashed after the rewrite)
    const a = write(dir, 'again', 100_000, 1)
    const first = publisher.publish(a)
    const b = write(dir, 'again', 120_000, 2)
    const both = await Promise.all([first, publisher.publish(b)])
    expect(both.every((o) => o.published !== undefined || 'retry' in o)).toBe(true)
    const versions = home.catalog.open.entries(open.id, files.length - 1, 100)
    expect(versions.map((e) => [e.path, e.version])).toEqual(versions.map((_, i) => ['again', i]))
    expect(versions.at(-1)!.cid.toString()).toBe(await cidOf(pool, b))
    for (let i = 1; i < versions.length; i++) expect(versions[i]!.cid.equals(versions[i - 1]!.cid)).toBe(false)
  })

  it('a failed commit publishes none of its group; the files are all published afterwards', async () => {
    const { home, pool, dir } = await setup()
    const open = home.catalog.open.ensureOpen({ collection: 'c', name: 's', origin: home.peerId.toString(), sourcePath: dir })
    const publishMany = home.catalog.open.publishMany.bind(home.catalog.open)
    home.catalog.open.publishMany = async () => { throw new Error('the disk went away') }
    const files = Array.from({ length: 6 }, (_, i) => write(dir, `g${i}`, 200_000, 100 + i))
    const broken = createPublisher(home, pool, open, new AbortController().signal)
    const outs = await Promise.allSettled(files.map(async (f) => await broken.publish(f)))
    expect(outs.map((o) => o.status)).toEqual(files.map(() => 'rejected'))
    expect(home.catalog.open.entries(open.id, -1, 100)).toEqual([])
    expect(home.catalog.open.find('c', 's')?.published).toBe(0)

    home.catalog.open.publishMany = publishMany // as after a restart: the rescan hands every file in again
    const publisher = createPublisher(home, pool, open, new AbortController().signal)
    const again = await Promise.all(files.map(async (f) => await publisher.publish(f)))
    expect(again.map((o) => o.published?.seq)).toEqual([0, 1, 2, 3, 4, 5])
    const entries = home.catalog.open.entries(open.id, -1, 100)
    for (const [i, f] of files.entries()) expect([entries[i]!.path, entries[i]!.cid.toString()]).toEqual([f.rel, await cidOf(pool, f)])
    expect(home.catalog.open.find('c', 's')).toMatchObject({ published: 6, bytes: 6 * 200_000 })
  })

  it('keeps the leaves it hashes in the keeper given (the daemon\'s LeafCache): each the file\'s bytes at its offset', async () => {
    const { home, pool, dir } = await setup()
    const open = home.catalog.open.ensureOpen({ collection: 'c', name: 's', origin: home.peerId.toString(), sourcePath: dir })
    const cache = new LeafCache()
    const publisher = createPublisher(home, pool, open, new AbortController().signal, cache)
    const f = write(dir, 'frame', 2 * 1024 * 1024 + 4096, 9)
    expect((await publisher.publish(f)).published?.seq).toBe(0)
    const bytes = readFileSync(f.abs)
    expect(cache.size).toBe(3)
    for (let i = 0; i < 3; i++) {
      const piece = bytes.subarray(i * 1024 * 1024, Math.min(bytes.length, (i + 1) * 1024 * 1024))
      const cid = CID.createV1(0x55, createDigest(0x12, createHash('sha256').update(piece).digest()))
      expect(Buffer.from(cache.get(cid) ?? []).equals(piece)).toBe(true)
    }
  })
})
