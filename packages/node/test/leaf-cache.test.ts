/**
 * LeafCache: leaves kept by the SHA-256 they hashed to, the oldest dropped first past the byte budget or
 * their age; and on real nodes, the leaves a real import's hash workers kept are served from memory (the
 * client verifies each against its CID) without the file being read again, where a node without the cache
 * reads the file, finds it rewritten since, and answers `changed`.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { HashPool, importFile } from '@ferry/dag'
import { createFerryNode, LeafCache, trustPeer } from '@ferry/node'
import { pattern } from '../../../test/support/unit.js'
import { addScan, cleanup, makeHome, onCleanup, tempDir } from './helpers.js'

afterEach(cleanup)

function leaf (text: string): { digest: Uint8Array, bytes: Uint8Array, cid: CID } {
  const bytes = Buffer.from(text)
  const digest = createHash('sha256').update(bytes).digest()
  return { digest, bytes, cid: CID.createV1(0x55, createDigest(0x12, digest)) }
}

describe('LeafCache', () => {
  it('drops the oldest leaves past its byte budget, and any past its age', () => {
    let now = 1000
    const cache = new LeafCache({ maxBytes: 10, ttlMs: 500, now: () => now })
    const [a, b, c] = [leaf('aaaa'), leaf('bbbb'), leaf('cccc')]
    cache.put(a.digest, a.bytes)
    cache.put(b.digest, b.bytes)
    expect(cache.size).toBe(8)
    cache.put(c.digest, c.bytes) // 12 bytes > 10: a goes
    expect([cache.get(a.cid), cache.get(b.cid), cache.get(c.cid)].map((x) => x === undefined ? null : Buffer.from(x).toString())).toEqual([null, 'bbbb', 'cccc'])
    now += 501
    expect(cache.get(c.cid)).toBeUndefined()
    expect(cache.size).toBe(0)
    cache.put(leaf('too long for it').digest, leaf('too long for it').bytes)
    expect(cache.size).toBe(0)
    expect(cache.stats).toEqual({ hits: 2, misses: 2, kept: 3, dropped: 3 })
    cache.put(a.digest, a.bytes)
    expect(cache.get(CID.createV1(0x70, a.cid.multihash))).toBeUndefined() // a dag-pb node of the same digest is not a leaf
  })

  it('serves the leaves an import\'s workers kept, from memory: the file rewritten since is not read', async () => {
    const home = await makeHome()
    const dir = path.join(await tempDir(), 'scan')
    await fs.mkdir(dir, { recursive: true })
    const file = path.join(dir, 'frame.raw')
    const original = pattern(3 * 1024 * 1024 + 17, 5)
    await fs.writeFile(file, original)
    const scan = await addScan(home, dir)
    const cache = new LeafCache()
    const pool = new HashPool({ workers: 2 })
    onCleanup(async () => { await pool.close() })
    const imported = await importFile(file, 'frame.raw', { pool, onLeafBytes: (d, b) => { cache.put(d, b) } })
    expect(imported.entry?.cid.equals(scan.root)).toBe(false) // a file, not the scan's directory
    expect(cache.stats.kept).toBe(4)
    await fs.writeFile(file, pattern(original.length, 6)) // rewritten at the source after it was hashed

    const withCache = await createFerryNode({ home, listen: ['/ip4/127.0.0.1/tcp/0'], leafCache: cache })
    onCleanup(async () => { await withCache.stop() })
    const plain = await createFerryNode({ home, listen: ['/ip4/127.0.0.1/tcp/0'] })
    onCleanup(async () => { await plain.stop() })
    const clientHome = await makeHome()
    await trustPeer(home, clientHome.peerId.toString())
    const client = async (): Promise<Awaited<ReturnType<typeof createFerryNode>>> => { // one each: both servers are the same peer
      const c = await createFerryNode({ home: clientHome, listen: [] })
      onCleanup(async () => { await c.stop() })
      return c
    }

    const leaves = scan.files.get('frame.raw')!
    const toCache = await (await client()).dialPeer(withCache.addrs()[0]!)
    const fromCache = await Promise.all(leaves.map(async (cid) => await toCache.get(cid)))
    expect(fromCache.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']) // the client hashed each against its CID
    expect(Buffer.concat(fromCache.map((r) => r.status === 'ok' ? r.bytes : new Uint8Array())).equals(original)).toBe(true)
    expect(cache.stats.hits).toBe(4)
    const toPlain = await (await client()).dialPeer(plain.addrs()[0]!)
    const fromFile = await Promise.all(leaves.map(async (cid) => await toPlain.get(cid)))
    expect(fromFile.map((r) => r.status)).toEqual(['changed', 'changed', 'changed', 'changed'])
  })
})
