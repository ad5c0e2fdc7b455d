/**
 * Watches and open scans in the catalog (open-scans.ts, schema step 8): entries signed and numbered in
 * publication order, a rewritten file as a new version, leaves indexed under the open scan's collection,
 * the open scan kept when stale imports are removed, a change feed, and sealing.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { openCatalog, verifyOpenEntry, verifyOpenSeal } from '@ferry/store'
import { cidOf, tempDir } from './helpers.js'

const key = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(3))
const origin = peerIdFromPrivateKey(key).toString()

describe('open scans', () => {
  it('publishes signed, numbered entries; a rewrite is a new version; the open scan survives stale-import removal; seal', async () => {
    const dir = await tempDir()
    const catalog = openCatalog(join(dir, 'catalog.db'))
    try {
      const w = catalog.open.addWatch({ dir: '/beamline/s1', collection: 'c', name: 's1', settleMs: 2000 })
      expect(() => catalog.open.addWatch({ dir: '/elsewhere', collection: 'c', name: 's1', settleMs: 2000 })).toThrow(/already publishes/)
      const open = catalog.open.ensureOpen({ collection: 'c', name: 's1', origin, sourcePath: w.dir })
      expect(catalog.open.ensureOpen({ collection: 'c', name: 's1', origin, sourcePath: w.dir }).id).toBe(open.id)
      const feed = catalog.open.feed()
      const leaf1 = await cidOf(new TextEncoder().encode('one'), 0x55)
      const leaf2 = await cidOf(new TextEncoder().encode('two!'), 0x55)
      const file = (cid: typeof leaf1, size: number, mtimeMs: number) => ({ path: 'a.tif', absPath: '/beamline/s1/a.tif', cid, size, mode: 0o100644, mtimeMs, leaves: [{ cid, offset: 0, length: size }], nodes: [] })
      const e0 = await catalog.open.publish(open.id, file(leaf1, 3, 1), key)
      const e1 = await catalog.open.publish(open.id, { ...file(leaf2, 4, 2), path: 'b.tif', absPath: '/beamline/s1/b.tif' }, key)
      const e2 = await catalog.open.publish(open.id, file(leaf2, 4, 3), key)
      expect([e0, e1, e2].map((e) => [e.seq, e.path, e.version])).toEqual([[0, 'a.tif', 0], [1, 'b.tif', 0], [2, 'a.tif', 1]])
      for (const e of [e0, e1, e2]) expect(await verifyOpenEntry(open, e, e.signature, e.seq)).toEqual({ ok: true })
      expect(feed.poll().map((e) => e.seq)).toEqual([0, 1, 2])
      expect(feed.poll()).toEqual([])
      expect(catalog.open.latest(open.id, 'a.tif')?.seq).toBe(2)
      expect(catalog.blockCollections(leaf2)).toEqual(['c'])
      expect(catalog.findLeaf(leaf1)).toEqual([]) // a.tif's first version is no longer indexed: never served

      expect(catalog.removeStaleImports()).toBe(0)
      const listed = catalog.pageScans({ limit: 10, includeOpen: true }).scans
      expect(listed).toMatchObject([{ open: true, name: 's1', collection: 'c', files: 2, bytes: 8 }])
      expect(listed[0]!.root.toString()).toBe(open.key.toString())
      expect(catalog.pageScans({ limit: 10 }).scans).toEqual([])

      const root = await cidOf(new TextEncoder().encode('root'))
      const sealed = await catalog.open.seal(open.id, root, key)
      expect(sealed).toMatchObject({ state: 'sealed', scanId: null, published: 3, seal: { entries: 3 } })
      expect(await verifyOpenSeal(open, { entries: 3, root, sealedAt: sealed.seal!.sealedAt }, sealed.seal!.signature)).toEqual({ ok: true })
      expect((await verifyOpenSeal(open, { entries: 2, root, sealedAt: sealed.seal!.sealedAt }, sealed.seal!.signature)).ok).toBe(false)
      expect(sealed.sealedRoot?.toString()).toBe(root.toString())
      await expect(catalog.open.publish(open.id, file(leaf1, 3, 9), key)).rejects.toThrow(/sealed/)
      expect(catalog.pageScans({ limit: 10, includeOpen: true }).scans).toEqual([])
      expect(catalog.open.removeWatch(w.id)?.id).toBe(w.id)
      expect(catalog.open.listWatches()).toEqual([])
    } finally {
      catalog.close()
    }
  })

  it('publishMany: consecutive signed entries in one commit; the kept files/bytes equal the entries\' (publish, batch, mirror, a repeated record)', async () => {
    const dir = await tempDir()
    const catalog = openCatalog(join(dir, 'catalog.db'))
    try {
      const open = catalog.open.ensureOpen({ collection: 'c', name: 's2', origin, sourcePath: '/beamline/s2' })
      const f = async (path: string, size: number, mtimeMs: number) => {
        const cid = await cidOf(new TextEncoder().encode(`${path}:${size}:${mtimeMs}`), 0x55)
        return { path, absPath: `/beamline/s2/${path}`, cid, size, mode: 0o100644, mtimeMs, leaves: [{ cid, offset: 0, length: size }], nodes: [] }
      }
      await catalog.open.publish(open.id, await f('a', 10, 1), key)
      const many = await catalog.open.publishMany(open.id, [await f('b', 20, 1), await f('a', 30, 2), await f('c', 5, 1), await f('b', 7, 2)], key)
      expect(many.map((e) => [e.seq, e.path, e.version])).toEqual([[1, 'b', 0], [2, 'a', 1], [3, 'c', 0], [4, 'b', 1]])
      for (const e of many) expect(await verifyOpenEntry(open, e, e.signature, e.seq)).toEqual({ ok: true })
      expect(await catalog.open.publishMany(open.id, [], key)).toEqual([])
      // latest versions: a 30, b 7, c 5
      expect(catalog.open.find('c', 's2')).toMatchObject({ published: 5, bytes: 42 })
      expect(catalog.pageScans({ limit: 10, includeOpen: true }).scans).toMatchObject([{ name: 's2', files: 3, bytes: 42 }])

      // a follower's mirror of it: the same counts, a record repeated changes nothing
      const other = openCatalog(join(dir, 'other.db'))
      try {
        const m = other.open.mirror({ origin, collection: 'c', name: 's2', created: open.created }, '/dest/s2')
        for (const e of [...catalog.open.entries(open.id, -1, 100), ...catalog.open.entries(open.id, 2, 100)]) {
          const { id: _id, openId: _o, ...fields } = e
          other.open.record(m.id, fields)
        }
        expect(other.open.byKey(open.key)).toMatchObject({ published: 5, bytes: 42 })
        expect(other.pageScans({ limit: 10, includeOpen: true }).scans).toMatchObject([{ name: 's2', files: 3, bytes: 42 }])
      } finally {
        other.close()
      }
      const root = await cidOf(new TextEncoder().encode('root'))
      expect(await catalog.open.seal(open.id, root, key)).toMatchObject({ state: 'sealed', published: 5, bytes: 42 })
    } finally {
      catalog.close()
    }
  })
})
