import fs from 'node:fs/promises'
import path from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { describe, expect, it } from 'vitest'
import { initHome, openHome, openInnerBlocks } from '@ferry/store'
import { block, cidOf, leafCid, rejectsWith, tempDir } from './helpers.js'

async function fileOf (dir: string, cid: { multihash: { bytes: Uint8Array } }): Promise<string> {
  const shards = await fs.readdir(dir)
  for (const s of shards) {
    for (const f of await fs.readdir(path.join(dir, s))) {
      if (f.endsWith('.data')) return path.join(dir, s, f)
    }
  }
  throw new Error(`no block file for ${String(cid)}`)
}

describe('InnerBlocks', () => {
  it('puts, gets and has blocks; skips blocks already present', async () => {
    const home = await initHome(await tempDir())
    const b = await block('one')
    expect(await home.blocks.has(b.cid)).toBe(false)
    expect(await home.blocks.put(b)).toBe(true)
    expect(await home.blocks.put(b)).toBe(false)
    expect(await home.blocks.has(b.cid)).toBe(true)
    expect(Buffer.from(await home.blocks.get(b.cid)).equals(Buffer.from(b.bytes))).toBe(true)

    const many = await Promise.all(Array.from({ length: 300 }, async (_, i) => await block(`n${i}`)))
    const r1 = await home.blocks.putMany([...many, ...many.slice(0, 50)])
    expect(r1).toEqual({ written: 300, skipped: 50 })
    const r2 = await home.blocks.putMany((async function * () { yield * many })())
    expect(r2).toEqual({ written: 0, skipped: 300 })
    for (const m of many.slice(0, 20)) expect(Buffer.from(await home.blocks.get(m.cid)).toString()).toBe(Buffer.from(m.bytes).toString())
    await home.close()

    // The directory stays a valid blockstore-fs v4 store.
    const fsStore = new FsBlockstore(path.join(home.dir, 'blocks'))
    await fsStore.open()
    const chunks: Uint8Array[] = []
    for await (const chunk of fsStore.get(b.cid)) chunks.push(chunk)
    expect(Buffer.concat(chunks).equals(Buffer.from(b.bytes))).toBe(true)
    const all: string[] = []
    for await (const pair of fsStore.getAll()) all.push(pair.cid.multihash.bytes.toString())
    expect(all).toHaveLength(301)
  })

  it('reports a missing block with ERR_BLOCK_NOT_FOUND naming the CID', async () => {
    const home = await initHome(await tempDir())
    const b = await block('missing')
    const err = await rejectsWith(home.blocks.get(b.cid), 'ERR_BLOCK_NOT_FOUND')
    expect(err.message).toContain(b.cid.toString())
    expect((err.cause as { code?: string }).code).toBe('ENOENT')
    await home.close()
  })

  it('keeps real I/O errors apart from not-found', async () => {
    const dir = path.join(await tempDir(), 'blocks')
    const blocks = await openInnerBlocks(dir)
    const b = await block('dir-in-the-way')
    await blocks.put(b)
    const file = await fileOf(dir, b.cid)
    await fs.rm(file)
    await fs.mkdir(file) // reading a directory fails with EISDIR, which is not "not found"
    const err = await rejectsWith(blocks.get(b.cid), 'ERR_IO')
    expect((err.cause as { code?: string }).code).toBe('EISDIR')
    expect(err.message).toContain(b.cid.toString())
  })

  it('refuses raw leaves and bytes that do not match the CID', async () => {
    const home = await initHome(await tempDir())
    const bytes = new TextEncoder().encode('content')
    await rejectsWith(home.blocks.put({ cid: await leafCid('x'), bytes }), 'ERR_INVALID_CID')
    await rejectsWith(home.blocks.put({ cid: await cidOf(new TextEncoder().encode('other')), bytes }), 'ERR_HASH_MISMATCH')
    await rejectsWith(home.blocks.putMany([{ cid: await leafCid('y'), bytes }]), 'ERR_INVALID_CID')
    await home.close()
  })

  it('detects and removes a corrupt block; a later put repairs it', async () => {
    const home = await initHome(await tempDir())
    const b = await block('fragile')
    await home.blocks.put(b)
    const file = await fileOf(home.blocks.dir, b.cid)
    await fs.writeFile(file, Buffer.alloc(b.bytes.length))
    await rejectsWith(home.blocks.get(b.cid), 'ERR_BAD_BLOCK')
    expect(await home.blocks.has(b.cid)).toBe(false)
    expect(await home.blocks.put(b)).toBe(true)
    // A truncated file (crash before the data reached the disk) is rewritten by the next put.
    await fs.writeFile(file, '')
    expect(await home.blocks.put(b)).toBe(true)
    expect(Buffer.from(await home.blocks.get(b.cid)).equals(Buffer.from(b.bytes))).toBe(true)
    await home.close()
  })

  it('honours an abort signal and refuses puts when read-only', async () => {
    const home = await initHome(await tempDir())
    const b = await block('ro')
    await home.blocks.put(b)
    await home.close()
    const ro = await openHome(home.dir, { readonly: true })
    expect(await ro.blocks.has(b.cid)).toBe(true)
    await rejectsWith(ro.blocks.put(await block('new')), 'ERR_PERMISSION')
    await rejectsWith(ro.blocks.get(b.cid, { signal: AbortSignal.abort() }), 'ERR_ABORTED')
    await ro.close()
  })

  it('puts many small blocks fast', async () => {
    const home = await initHome(await tempDir())
    const N = 20_000
    const blocks = await Promise.all(Array.from({ length: N }, async (_, i) => await block(`speed-${i}-${'x'.repeat(i % 400)}`)))
    let t = performance.now()
    const r = await home.blocks.putMany(blocks)
    const putMs = performance.now() - t
    expect(r.written).toBe(N)
    t = performance.now()
    const again = await home.blocks.putMany(blocks)
    const skipMs = performance.now() - t
    expect(again.skipped).toBe(N)
    t = performance.now()
    for (const b of blocks.slice(0, 5000)) await home.blocks.get(b.cid)
    const getMs = performance.now() - t
    console.log(`InnerBlocks: put ${Math.round(N / putMs * 1000)} blocks/s, skip-existing ${Math.round(N / skipMs * 1000)} blocks/s, sequential get ${Math.round(5000 / getMs * 1000)} blocks/s`)
    await home.close()
  })
})
