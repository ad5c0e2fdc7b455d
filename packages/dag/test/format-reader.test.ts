import { describe, expect, it } from 'vitest'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha512 } from 'multiformats/hashes/sha2'
import * as Digest from 'multiformats/hashes/digest'
import { isFerryError, type ErrorCode } from '@ferry/errors'
import {
  buildDirectory, buildFile, buildSymlink, fileLeaves, hamtSlot, listDirectory, sha256, walkDag,
  EMPTY_FILE_CID, type DagEntry, type GetBlock, type NodeRef
} from '@ferry/dag'
import { bytesOf, dir, ferryTree, Link, mapGetter, oracleTree, type Tree } from './format-oracle.js'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const compareUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))

async function all<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

async function rejection (p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

async function expectCode (p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  const err = await rejection(p)
  expect(isFerryError(err, code), String(err)).toBe(true)
  if (message !== undefined) expect((err as Error).message).toMatch(message)
}

/** What walkDag should yield for a test tree: pre-order, names in UTF-8 byte order. */
function expectedEntries (tree: Tree, path = ''): Array<Omit<DagEntry, 'cid'>> {
  const out: Array<Omit<DagEntry, 'cid'>> = []
  if (path === '') out.push({ path: '', type: 'directory', size: 0 })
  for (const name of [...tree.keys()].sort(compareUtf8)) {
    const node = tree.get(name) as Uint8Array | Link | Tree
    const p = path === '' ? name : `${path}/${name}`
    if (node instanceof Uint8Array) out.push({ path: p, type: 'file', size: node.byteLength })
    else if (node instanceof Link) out.push({ path: p, type: 'symlink', size: 0, target: node.target })
    else {
      out.push({ path: p, type: 'directory', size: 0 })
      out.push(...expectedEntries(node, p))
    }
  }
  return out
}

const sample = (): Tree => dir({
  'a.txt': text('alpha'),
  empty: new Uint8Array(0),
  big: bytesOf(16 * 20 + 3, 2),
  '～': text('wave'),
  '😀': text('smile'),
  sub: dir({ nested: dir({ deep: bytesOf(50, 3) }), hollow: dir(), link: new Link('../a.txt') }),
  many: new Map(Array.from({ length: 300 }, (_, i) => [`n${i}`, Uint8Array.of(i & 0xff)] as [string, Uint8Array]))
})

/** Encodes a dag-pb node with arbitrary UnixFS data, as an attacker or a buggy peer might. */
function craft (data: Uint8Array | undefined, links: dagPb.PBLink[] = []): { cid: CID, bytes: Uint8Array } {
  const bytes = dagPb.encode({ Data: data, Links: links })
  return { cid: CID.createV1(dagPb.code, Digest.create(0x12, sha256(bytes))), bytes }
}

function getterWith (...blocks: Array<{ cid: CID, bytes: Uint8Array }>): GetBlock {
  const map = new Map(blocks.map(b => [b.cid.toString(), b.bytes]))
  return mapGetter(map)
}

describe('walkDag, listDirectory and fileLeaves read back what was built', () => {
  const p = { chunkSize: 16, maxChildren: 3, shardSplitThresholdBytes: 2000 }

  it('walks every entry in pre-order with sizes, types and targets, never fetching a raw leaf', async () => {
    const tree = sample()
    const built = ferryTree(tree, p)
    const get = mapGetter(built.blocks)
    const entries = await all(walkDag(built.root.cid, get))
    expect(entries.map(({ cid, ...rest }) => rest)).toEqual(expectedEntries(tree))
    expect(entries[0]?.cid.equals(built.root.cid)).toBe(true)
    expect(get.calls.filter(c => c.startsWith('bafk'))).toEqual([])
    // 'many' is sharded at this threshold: the walk resolved it transparently
    const many = entries.find(e => e.path === 'many') as DagEntry
    const shardRoot = dagPb.decode(built.blocks.get(many.cid.toString()) as Uint8Array)
    expect(UnixFS.unmarshal(shardRoot.Data as Uint8Array).type).toBe('hamt-sharded-directory')
  })

  it('walks a tree the importer wrote, read from its MemoryBlockstore', async () => {
    const tree = sample()
    const theirs = await oracleTree(tree, p)
    const get: GetBlock = async (cid, options) => {
      const chunks: Uint8Array[] = []
      for await (const c of theirs.store.get(cid, options)) chunks.push(c)
      return Buffer.concat(chunks)
    }
    const entries = await all(walkDag(theirs.cid, get))
    expect(entries.map(({ cid, ...rest }) => rest)).toEqual(expectedEntries(tree))
  })

  it('lists one level of a sharded directory, names sorted, with Tsizes', async () => {
    const entries = Array.from({ length: 700 }, (_, i) => ({ name: `file-${i}`, ref: buildFile(bytesOf(i % 40, i), { chunkSize: 16 }).root }))
    const { root, blocks } = buildDirectory(entries, { shardSplitThresholdBytes: 500 })
    const map = new Map(blocks.map(b => [b.cid.toString(), b.bytes]))
    const listed = await listDirectory(root.cid, mapGetter(map))
    expect(listed.map(e => e.name)).toEqual(entries.map(e => e.name).sort(compareUtf8))
    for (const e of listed) {
      const ref = (entries.find(x => x.name === e.name) as { ref: NodeRef }).ref
      expect(e.cid.equals(ref.cid)).toBe(true)
      expect(e.tsize).toBe(ref.tsize)
    }
  })

  it('gives the leaves of files in order with offsets that rebuild the bytes', async () => {
    for (const size of [1, 16, 17, 16 * 9, 16 * 9 + 1, 16 * 27 + 5, 1000]) {
      const content = bytesOf(size, size)
      const { root, blocks, leaves } = buildFile(content, { chunkSize: 16, maxChildren: 3 })
      const map = new Map([...blocks, ...leaves].map(b => [b.cid.toString(), b.bytes]))
      const got = await all(fileLeaves(root.cid, mapGetter(map), { size: root.size }))
      let offset = 0
      const rebuilt = new Uint8Array(size)
      for (const leaf of got) {
        expect(leaf.offset).toBe(offset)
        const bytes = map.get(leaf.cid.toString()) as Uint8Array
        expect(bytes.byteLength).toBe(leaf.length)
        rebuilt.set(bytes, leaf.offset)
        offset += leaf.length
      }
      expect(offset).toBe(size)
      expect(Buffer.compare(Buffer.from(rebuilt), Buffer.from(content))).toBe(0)
      expect(got.length).toBe(Math.ceil(size / 16))
    }
  })

  it('handles single-leaf and empty files, and a raw or file root given to walkDag', async () => {
    const none = mapGetter(new Map())
    expect(await all(fileLeaves(EMPTY_FILE_CID, none))).toEqual([])
    const one = buildFile(text('tiny'), { chunkSize: 16 }).root
    expect(await all(fileLeaves(one.cid, none, { size: 4 }))).toEqual([{ cid: one.cid, offset: 0, length: 4 }])
    await expectCode(all(fileLeaves(one.cid, none)), 'ERR_INVALID_ARGUMENT', /pass its size/)
    expect(await all(walkDag(one.cid, none, { size: 4 }))).toEqual([{ path: '', type: 'file', cid: one.cid, size: 4 }])
    const multi = buildFile(bytesOf(40), { chunkSize: 16 })
    const get = mapGetter(new Map(multi.blocks.map(b => [b.cid.toString(), b.bytes])))
    expect(await all(walkDag(multi.root.cid, get))).toEqual([{ path: '', type: 'file', cid: multi.root.cid, size: 40 }])
    await expectCode(all(fileLeaves(multi.root.cid, get, { size: 41 })), 'ERR_BAD_BLOCK')
    await expectCode(listDirectory(multi.root.cid, get), 'ERR_NOT_A_DIRECTORY')
  })

  it('stops when aborted', async () => {
    const built = ferryTree(sample(), p)
    const controller = new AbortController()
    const seen: string[] = []
    const err = await rejection((async () => {
      for await (const e of walkDag(built.root.cid, mapGetter(built.blocks), { signal: controller.signal })) {
        seen.push(e.path)
        if (seen.length === 3) controller.abort()
      }
    })())
    expect(isFerryError(err, 'ERR_ABORTED')).toBe(true)
    expect(seen.length).toBe(3)
  })
})

describe('the reader refuses bad blocks with ERR_BAD_BLOCK', () => {
  const fileRef = buildFile(text('content')).root
  const dirData = new UnixFS({ type: 'directory' }).marshal()

  it('bytes that do not match their CID', async () => {
    const { root, blocks } = buildDirectory([{ name: 'a', ref: fileRef }])
    const tampered = new Uint8Array((blocks[0] as { bytes: Uint8Array }).bytes)
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1
    const get: GetBlock = async () => tampered
    await expectCode(all(walkDag(root.cid, get)), 'ERR_BAD_BLOCK', /do not match/)
    await expectCode(listDirectory(root.cid, get), 'ERR_BAD_BLOCK', /do not match/)
  })

  it('a directory with a ".." entry, and other impossible names', async () => {
    for (const name of ['..', '.', '', 'a/b', 'nul\0']) {
      const d = craft(dirData, [{ Name: name, Hash: fileRef.cid, Tsize: fileRef.tsize }])
      await expectCode(all(walkDag(d.cid, getterWith(d))), 'ERR_BAD_BLOCK', /invalid entry name/)
      await expectCode(listDirectory(d.cid, getterWith(d)), 'ERR_BAD_BLOCK', /invalid entry name/)
    }
  })

  it('duplicate names', async () => {
    const d = craft(dirData, [
      { Name: 'same', Hash: fileRef.cid, Tsize: fileRef.tsize },
      { Name: 'same', Hash: fileRef.cid, Tsize: fileRef.tsize }
    ])
    await expectCode(listDirectory(d.cid, getterWith(d)), 'ERR_BAD_BLOCK', /twice/)
  })

  it('identity and non-sha2-256 CIDs, for blocks and for links', async () => {
    const bytes = dagPb.encode({ Data: dirData, Links: [] })
    const idCid = CID.createV1(dagPb.code, identity.digest(bytes))
    await expectCode(all(walkDag(idCid, async () => bytes)), 'ERR_BAD_BLOCK', /sha2-256/)
    const sha512Cid = CID.createV1(dagPb.code, await sha512.digest(bytes))
    await expectCode(listDirectory(sha512Cid, async () => bytes), 'ERR_BAD_BLOCK', /sha2-256/)
    const viaLink = craft(dirData, [{ Name: 'inline', Hash: CID.createV1(0x55, identity.digest(text('hi'))), Tsize: 2 }])
    await expectCode(listDirectory(viaLink.cid, getterWith(viaLink)), 'ERR_BAD_BLOCK', /sha2-256/)
  })

  it('unknown or unsupported UnixFS types, and missing UnixFS data', async () => {
    const unknownType = craft(Uint8Array.of(0x08, 0x09)) // Type = 9
    await expectCode(all(walkDag(unknownType.cid, getterWith(unknownType))), 'ERR_BAD_BLOCK', /unknown UnixFS type 9/)
    const metadata = craft(new UnixFS({ type: 'metadata' }).marshal())
    await expectCode(all(walkDag(metadata.cid, getterWith(metadata))), 'ERR_BAD_BLOCK', /Unsupported/)
    const bare = craft(undefined)
    await expectCode(all(walkDag(bare.cid, getterWith(bare))), 'ERR_BAD_BLOCK', /no UnixFS data/)
    const notPb = { cid: CID.createV1(dagPb.code, Digest.create(0x12, sha256(Uint8Array.of(0xff)))), bytes: Uint8Array.of(0xff) }
    await expectCode(all(walkDag(notPb.cid, getterWith(notPb))), 'ERR_BAD_BLOCK', /not valid dag-pb/)
  })

  it('blocksizes that do not add up', async () => {
    const leaf = buildFile(bytesOf(16, 1), { chunkSize: 16 }).root
    const leaf2 = buildFile(bytesOf(16, 2), { chunkSize: 16 }).root
    const links = [{ Name: '', Hash: leaf.cid, Tsize: 16 }, { Name: '', Hash: leaf2.cid, Tsize: 16 }]
    const wrongTotal = craft(new UnixFS({ type: 'file', blockSizes: [16n, 16n] }).marshal(), links)
    // ipfs-unixfs derives filesize from blocksizes, so write a lying filesize by hand: Type=2, filesize=33, blocksizes 16, 16
    const lying = craft(Uint8Array.of(0x08, 0x02, 0x18, 33, 0x20, 16, 0x20, 16), links)
    expect(await all(fileLeaves(wrongTotal.cid, getterWith(wrongTotal)))).toHaveLength(2)
    await expectCode(all(fileLeaves(lying.cid, getterWith(lying))), 'ERR_BAD_BLOCK', /add up/)
    const missing = craft(new UnixFS({ type: 'file', blockSizes: [16n] }).marshal(), links)
    await expectCode(all(fileLeaves(missing.cid, getterWith(missing))), 'ERR_BAD_BLOCK', /blocksizes/)
    const tsizeLie = craft(new UnixFS({ type: 'file', blockSizes: [16n, 15n] }).marshal(), links)
    await expectCode(all(fileLeaves(tsizeLie.cid, getterWith(tsizeLie))), 'ERR_BAD_BLOCK', /Tsize 16 but 15/)
    // an inner node that holds fewer bytes than its parent declares for it
    const inner = wrongTotal
    const parent = craft(new UnixFS({ type: 'file', blockSizes: [33n] }).marshal(), [{ Name: '', Hash: inner.cid, Tsize: 100 }])
    await expectCode(all(fileLeaves(parent.cid, getterWith(parent, inner))), 'ERR_BAD_BLOCK', /holds 32 bytes, its parent declares 33/)
  })

  it('a raw file whose Tsize cannot be its size', async () => {
    const d = craft(dirData, [{ Name: 'f', Hash: fileRef.cid, Tsize: 0 }])
    await expectCode(all(walkDag(d.cid, getterWith(d))), 'ERR_BAD_BLOCK', /cannot be a 0-byte file/)
  })

  it('a HAMT entry in a slot its hash does not give, or a bitfield that does not match', async () => {
    const slot = hamtSlot('a', 0, 8)
    const label = ((slot + 1) % 256).toString(16).toUpperCase().padStart(2, '0')
    const bitfield = (s: number): Uint8Array => {
      const little = new Uint8Array(32)
      little[s >> 3] = 1 << (s & 7)
      let n = 32
      while (n > 1 && little[n - 1] === 0) n--
      return little.subarray(0, n).reverse()
    }
    const shard = (usedSlot: number, hashType = 0x22n): Uint8Array =>
      new UnixFS({ type: 'hamt-sharded-directory', data: bitfield(usedSlot), fanout: 256n, hashType }).marshal()
    const right = slot.toString(16).toUpperCase().padStart(2, '0')
    const good = craft(shard(slot), [{ Name: `${right}a`, Hash: fileRef.cid, Tsize: fileRef.tsize }])
    expect((await listDirectory(good.cid, getterWith(good))).map(e => e.name)).toEqual(['a'])
    const misplaced = craft(shard((slot + 1) % 256), [{ Name: `${label}a`, Hash: fileRef.cid, Tsize: fileRef.tsize }])
    await expectCode(listDirectory(misplaced.cid, getterWith(misplaced)), 'ERR_BAD_BLOCK', /not in the slot/)
    const badBits = craft(shard((slot + 2) % 256), [{ Name: `${right}a`, Hash: fileRef.cid, Tsize: fileRef.tsize }])
    await expectCode(listDirectory(badBits.cid, getterWith(badBits)), 'ERR_BAD_BLOCK', /bitfield/)
    const badHash = craft(shard(slot, 0x12n), [{ Name: `${right}a`, Hash: fileRef.cid, Tsize: fileRef.tsize }])
    await expectCode(listDirectory(badHash.cid, getterWith(badHash)), 'ERR_BAD_BLOCK', /murmur3/)
  })

  it('a symlink whose target is not UTF-8', async () => {
    const s = craft(new UnixFS({ type: 'symlink', data: Uint8Array.of(0xff, 0xfe) }).marshal())
    await expectCode(all(walkDag(s.cid, getterWith(s))), 'ERR_BAD_BLOCK', /UTF-8/)
    const ok = buildSymlink('fine')
    expect((await all(walkDag(ok.root.cid, getterWith(...ok.blocks))))[0]).toMatchObject({ type: 'symlink', target: 'fine' })
  })
})
