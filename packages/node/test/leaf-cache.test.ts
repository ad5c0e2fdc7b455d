/**
 * LeafCache: rooms reserved around a ring of shared memory, the oldest dropped for a new one but never while
 * the workers read into it, leaves indexed by the SHA-256 they hashed to and served as copies until too old; and on real nodes, the leaves a real import's hash workers kept are served from memory (the
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
  it('reserves rooms around its ring, drops the oldest in the way, never a busy one, and not a leaf past its age', () => {
    let now = 1000
    const cache = new LeafCache({ maxBytes: 10, ttlMs: 500, now: () => now })
    const fill = (text: string): { room: NonNullable<ReturnType<LeafCache['reserve']>>, cid: CID } => {
      const room = cache.reserve(text.length)!
      Buffer.from(room.buffer, room.offset, room.length).write(text) // as a hash worker reads into it
      return { room, cid: leaf(text).cid }
    }
    const a = fill('aaaa')
    const b = fill('bbbb')
    expect([a.room.offset, b.room.offset]).toEqual([0, 4])
    expect(cache.get(a.cid)).toBeUndefined() // not settled yet
    cache.settle(a.room, 1024, leaf('aaaa').digest)
    const c = cache.reserve(4) // wraps to 0: a is dropped, b (still busy) is not in the way
    expect(c?.offset).toBe(0)
    expect(cache.get(a.cid)).toBeUndefined()
    expect(cache.reserve(6)).toBeUndefined() // would need b's room while the workers still read into it
    cache.settle(b.room, 1024, leaf('bbbb').digest)
    Buffer.from(c!.buffer, c!.offset, 4).write('cccc')
    cache.settle(c!, 1024, leaf('cccc').digest)
    expect(Buffer.from(cache.get(b.cid)!).toString()).toBe('bbbb')
    expect(Buffer.from(cache.get(leaf('cccc').cid)!).toString()).toBe('cccc')
    const served = cache.get(b.cid)!
    const d = cache.reserve(6)! // at 4: b goes; what was served is a copy, untouched by the next reads
    expect(d.offset).toBe(4)
    Buffer.from(d.buffer, d.offset, 6).write('dddddd')
    expect(Buffer.from(served).toString()).toBe('bbbb')
    expect(cache.get(b.cid)).toBeUndefined()
    cache.settle(d, 1024) // its slice could not be read: nothing indexed
    now += 501
    expect(cache.get(leaf('cccc').cid)).toBeUndefined() // too old
    expect(cache.reserve(11)).toBeUndefined() // larger than the ring
    expect(cache.get(CID.createV1(0x70, leaf('cccc').cid.multihash))).toBeUndefined() // a dag-pb node is not a leaf
    expect(cache.stats).toEqual({ hits: 3, misses: 2, kept: 3, refused: 1 }) // a miss counts only while it held leaves
  })

  it('on a wrap drops the rooms in the tail it skips, so the oldest room is always the next in the way', () => {
    const cache = new LeafCache({ maxBytes: 10 })
    const put = (text: string): NonNullable<ReturnType<LeafCache['reserve']>> => {
      const room = cache.reserve(text.length)!
      Buffer.from(room.buffer, room.offset, room.length).write(text)
      cache.settle(room, 1024, leaf(text).digest)
      return room
    }
    expect([put('11111111').offset, put('22').offset, put('33333').offset]).toEqual([0, 8, 0])
    expect(Buffer.from(cache.get(leaf('22').cid)!).toString()).toBe('22') // at 8, kept past the wrap
    expect(put('444444').offset).toBe(0) // from 5 it wraps again: '22' in the tail and '33333' in the way go
    expect([cache.get(leaf('22').cid), cache.get(leaf('33333').cid)]).toEqual([undefined, undefined])
    expect(Buffer.from(cache.get(leaf('444444').cid)!).toString()).toBe('444444')
    expect(cache.size).toBe(1)
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
    const imported = await importFile(file, 'frame.raw', { pool, keepLeaves: cache })
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
