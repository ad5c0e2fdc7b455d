import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import {
  FileBuilder, EMPTY_FILE_CID, DEFAULT_CHUNK_SIZE, DEFAULT_MAX_CHILDREN, leafRef, rawLeafCid, sha256, buildFile, type Block
} from '@ferry/dag'
import { blockDifference, bytesOf, ferryFile, LINKS_BYTES, oracleFile, type Params } from './format-oracle.js'

async function expectSameAsImporter (content: Uint8Array, p: Params): Promise<void> {
  const ours = ferryFile(content, p)
  const theirs = await oracleFile(content, p)
  expect(ours.root.cid.toString()).toBe(theirs.cid.toString())
  expect(ours.root.tsize).toBe(theirs.size)
  expect(ours.root.size).toBe(content.byteLength)
  expect(blockDifference(ours.blocks, theirs.blocks)).toBeUndefined()
}

/** Depth of a file DAG (0 for a lone leaf), read from its blocks. */
function depthOf (cid: string, blocks: Map<string, Uint8Array>): number {
  const bytes = blocks.get(cid)
  if (bytes === undefined) throw new Error('missing block')
  if (!cid.startsWith('bafy')) return 0
  const node = dagPb.decode(bytes)
  const first = node.Links[0]
  return first === undefined ? 1 : 1 + depthOf(first.Hash.toString(), blocks)
}

function maxLinks (blocks: Map<string, Uint8Array>): number {
  let max = 0
  for (const [cid, bytes] of blocks) if (cid.startsWith('bafy')) max = Math.max(max, dagPb.decode(bytes).Links.length)
  return max
}

/** Link counts of a file node, from its blocks. */
function linksOf (cid: string, blocks: Map<string, Uint8Array>): dagPb.PBLink[] {
  return dagPb.decode(blocks.get(cid) as Uint8Array).Links
}

describe('file layout matches ipfs-unixfs-importer 17 (profile unixfs-v1-2025)', () => {
  it('uses the profile\'s parameters: 1 MiB chunks, 1024 links per node', () => {
    expect(DEFAULT_CHUNK_SIZE).toBe(1_048_576)
    expect(DEFAULT_MAX_CHILDREN).toBe(1024)
    expect(new FileBuilder().maxChildren).toBe(1024)
  })

  // the profile's width (no layout override), 16-byte chunks
  const chunk = 16
  const tiny: Params = { chunkSize: chunk }
  for (const size of [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 1024 * chunk - 1, 1024 * chunk, 1024 * chunk + 1, 2048 * chunk + 5]) {
    it(`${size} bytes, ${chunk}-byte chunks, 1024 links per node`, async () => {
      await expectSameAsImporter(bytesOf(size, size + 7), tiny)
    })
  }

  it('1024 leaves make one node of 1024 links; 1025 leaves of 1 KiB make two levels (1024 + 1)', async () => {
    const p = { chunkSize: 1024 }
    const full = bytesOf(1024 * 1024, 21)
    await expectSameAsImporter(full, p)
    const one = await oracleFile(full, p)
    expect(linksOf(one.cid.toString(), one.blocks)).toHaveLength(1024)

    const over = bytesOf(1025 * 1024, 22)
    await expectSameAsImporter(over, p)
    const two = await oracleFile(over, p)
    const top = linksOf(two.cid.toString(), two.blocks)
    expect(top).toHaveLength(2)
    expect(linksOf(top[0]?.Hash.toString() as string, two.blocks)).toHaveLength(1024)
    expect(linksOf(top[1]?.Hash.toString() as string, two.blocks)).toHaveLength(1)
    expect(depthOf(two.cid.toString(), two.blocks)).toBe(2)
  })

  for (const size of [0, 1, DEFAULT_CHUNK_SIZE - 1, DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE + 1, 2 * DEFAULT_CHUNK_SIZE, 3 * DEFAULT_CHUNK_SIZE + 7]) {
    it(`${size} bytes with the profile's defaults (1 MiB chunks)`, async () => {
      await expectSameAsImporter(bytesOf(size, 3), {})
    })
  }

  // 174 links per node, as the importer without a profile and unixfs-v0-2015 lay files out
  const legacy: Params = { chunkSize: chunk, maxChildren: LINKS_BYTES.maxChildren }
  for (const size of [174 * chunk, 174 * chunk + 1, 174 * 174 * chunk + 3 * chunk + 5]) {
    it(`${size} bytes, ${chunk}-byte chunks, 174 links per node`, async () => {
      await expectSameAsImporter(bytesOf(size, size + 7), legacy)
    })
  }

  it('honours maxChildren on both sides: 3-link nodes, 5 levels', async () => {
    const p = { chunkSize: 4, maxChildren: 3 }
    const content = bytesOf(4 * 3 ** 4 + 2 * 4 + 1, 9) // 3^4 + 3 leaves: one more level than 3^4
    const theirs = await oracleFile(content, p)
    expect(maxLinks(theirs.blocks)).toBe(3) // the importer does apply balanced({ maxChildrenPerNode })
    expect(depthOf(theirs.cid.toString(), theirs.blocks)).toBe(5)
    await expectSameAsImporter(content, p)
  })

  it('a one-chunk file is its raw leaf; an empty file is the raw leaf of zero bytes', async () => {
    const one = ferryFile(bytesOf(10), { chunkSize: 16 })
    expect(one.root.cid.code).toBe(0x55)
    expect(one.root.tsize).toBe(10)
    const empty = new FileBuilder().finish()
    expect(empty.root.cid.toString()).toBe('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
    expect(empty.root.cid.equals(EMPTY_FILE_CID)).toBe(true)
    expect(empty.blocks).toEqual([])
    expect((await oracleFile(new Uint8Array(0))).cid.equals(EMPTY_FILE_CID)).toBe(true)
    // pushing the empty leaf explicitly gives the same root
    const b = new FileBuilder()
    b.push(leafRef(sha256(new Uint8Array(0)), 0))
    expect(b.finish().root.cid.equals(EMPTY_FILE_CID)).toBe(true)
  })

  it('random contents, chunk sizes and fanouts', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 2, max: 12 }), fc.integer(),
      async (size, chunkSize, maxChildren, seed) => {
        await expectSameAsImporter(bytesOf(size, seed), { chunkSize, maxChildren })
      }), { numRuns: 60 })
  })

  for (const maxChildren of [undefined, 174]) {
    const width = maxChildren ?? DEFAULT_MAX_CHILDREN
    it(`20,480 leaves stream with at most maxChildren × depth refs held, same root as the importer (${width} links)`, async () => {
      const chunkSize = 16
      const leaves = 20_480
      const content = bytesOf(leaves * chunkSize, 5)
      const builder = new FileBuilder({ chunkSize, maxChildren })
      const blocks: Block[] = []
      let maxHeld = 0
      let emittedEarly = 0
      for (let i = 0; i < leaves; i++) {
        const bytes = content.subarray(i * chunkSize, (i + 1) * chunkSize)
        const out = builder.push(leafRef(sha256(bytes), bytes.byteLength))
        blocks.push(...out)
        emittedEarly += out.length
        maxHeld = Math.max(maxHeld, builder.buffered)
      }
      const { root, blocks: last } = builder.finish()
      blocks.push(...last)
      const level1 = Math.ceil(leaves / width) // 20 for 1024 links, 118 for 174; both fit one root node
      expect(emittedEarly).toBe(Math.floor(leaves / width)) // the full level-1 nodes were handed out while streaming
      expect(maxHeld).toBeLessThanOrEqual(width * 2)
      expect(blocks.length).toBe(level1 + 1)
      const theirs = await oracleFile(content, { chunkSize, maxChildren })
      expect(root.cid.toString()).toBe(theirs.cid.toString())
      expect(root.size).toBe(content.byteLength)
    })
  }

  it('file nodes carry exactly type, filesize and blocksizes (no mode, no mtime)', () => {
    const { blocks } = buildFile(bytesOf(40), { chunkSize: 16 })
    expect(blocks).toHaveLength(1)
    const node = dagPb.decode((blocks[0] as Block).bytes)
    const unixfs = UnixFS.unmarshal(node.Data as Uint8Array)
    expect(unixfs.type).toBe('file')
    expect(unixfs.blockSizes).toEqual([16n, 16n, 8n])
    expect(unixfs.mtime).toBeUndefined()
    expect(node.Links.map(l => [l.Name, l.Tsize])).toEqual([['', 16], ['', 16], ['', 8]])
  })
})

describe('FileBuilder input checks', () => {
  const leaf = (n: number, seed = 1): ReturnType<typeof leafRef> => leafRef(sha256(bytesOf(n, seed)), n)

  it('refuses dag-pb leaves, size/tsize mismatches and bad digests', () => {
    const b = new FileBuilder()
    expect(() => b.push({ ...leaf(4), cid: buildFile(bytesOf(40), { chunkSize: 16 }).root.cid })).toThrow(/raw leaves/)
    expect(() => b.push({ ...leaf(4), tsize: 5 })).toThrow(/size === tsize/)
    expect(() => rawLeafCid(new Uint8Array(31))).toThrow(/32 bytes/)
    expect(() => new FileBuilder({ maxChildren: 1 })).toThrow(/maxChildren/)
  })

  it('checks fixed-size cuts when given the chunk size', () => {
    const b = new FileBuilder({ chunkSize: 8 })
    b.push(leaf(8))
    b.push(leaf(3))
    expect(() => b.push(leaf(8, 2))).toThrow(/Only the last leaf/)
    expect(() => new FileBuilder({ chunkSize: 8 }).push(leaf(9))).toThrow(/longer than the chunk size/)
  })

  it('an empty leaf only stands for an empty file', () => {
    const b = new FileBuilder()
    b.push(leaf(4))
    expect(() => b.push(leafRef(sha256(new Uint8Array(0)), 0))).toThrow(/empty leaf/)
    expect(() => new FileBuilder().push(leafRef(sha256(bytesOf(3)), 0))).toThrow(/cannot be 0 bytes/)
  })

  it('cannot be used after finish()', () => {
    const b = new FileBuilder()
    b.finish()
    expect(() => b.push(leaf(1))).toThrow()
    expect(() => b.finish()).toThrow()
  })
})
