import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { isFerryError } from '@ferry/errors'
import { murmur3128 } from '@multiformats/murmur3'
import {
  buildDirectory, buildSymlink, buildFile, estimateDirectorySize, hamtSlot, leafRef, sha256,
  DEFAULT_SHARD_SPLIT_STRATEGY, DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES, EMPTY_DIRECTORY_CID,
  type DirEntry, type NodeRef, type ShardSplitStrategy
} from '@ferry/dag'
import { blockDifference, bytesOf, dir, ferryTree, Link, oracleTree, type Params, type Tree } from './format-oracle.js'

const STRATEGIES: ShardSplitStrategy[] = ['block-bytes', 'links-bytes']

const enc = new TextEncoder()
const text = (s: string): Uint8Array => enc.encode(s)

async function expectSameAsImporter (tree: Tree, p: Params = {}): Promise<{ root: NodeRef, blocks: Map<string, Uint8Array> }> {
  const ours = ferryTree(tree, p)
  const theirs = await oracleTree(tree, p)
  expect(ours.root.cid.toString()).toBe(theirs.cid.toString())
  expect(ours.root.tsize).toBe(theirs.size)
  expect(blockDifference(ours.blocks, theirs.blocks)).toBeUndefined()
  return ours
}

function unixfsType (blocks: Map<string, Uint8Array>, cid: string): string {
  const bytes = blocks.get(cid)
  if (bytes === undefined) throw new Error(`missing ${cid}`)
  return UnixFS.unmarshal(dagPb.decode(bytes).Data as Uint8Array).type
}

/** Deepest sub-shard level under a shard root (0 when it has no sub-shards). */
function shardDepth (blocks: Map<string, Uint8Array>, cid: string, labelWidth: number): number {
  const node = dagPb.decode(blocks.get(cid) as Uint8Array)
  let max = 0
  for (const link of node.Links) {
    if ((link.Name ?? '').length === labelWidth) max = Math.max(max, 1 + shardDepth(blocks, link.Hash.toString(), labelWidth))
  }
  return max
}

/** `n` one-byte files named by `name(i)`. */
function manyFiles (n: number, name: (i: number) => string): Tree {
  const t: Tree = new Map()
  for (let i = 0; i < n; i++) t.set(name(i), Uint8Array.of(i & 0xff))
  return t
}

describe('directories match ipfs-unixfs-importer 17 (profile unixfs-v1-2025)', () => {
  it('shards by block bytes by default, like the profile', () => {
    expect(DEFAULT_SHARD_SPLIT_STRATEGY).toBe('block-bytes')
    expect(DEFAULT_SHARD_SPLIT_THRESHOLD_BYTES).toBe(262_144)
  })

  for (const shardSplitStrategy of STRATEGIES) {
    it(`nested directories, empty directories, empty files and symlinks (${shardSplitStrategy})`, async () => {
      const tree = (): Tree => dir({
        'readme.txt': text('hello\n'),
        empty: new Uint8Array(0),
        'also-empty': new Uint8Array(0),
        data: dir({
          'big.bin': bytesOf(100, 4),
          nothing: dir(),
          deeper: dir({ x: dir({ y: dir({ 'z.txt': text('z') }) }) })
        }),
        hollow: dir(),
        'link-to-readme': new Link('readme.txt'),
        dangling: new Link('../../elsewhere/ünïcode')
      })
      await expectSameAsImporter(tree(), { chunkSize: 16, shardSplitStrategy })
      // threshold 0: every non-empty directory shards, even one holding only subdirectories; empty ones never
      const { root, blocks } = await expectSameAsImporter(tree(), { chunkSize: 16, shardSplitStrategy, shardSplitThresholdBytes: 0 })
      expect(unixfsType(blocks, root.cid.toString())).toBe('hamt-sharded-directory')
      expect(blocks.has(EMPTY_DIRECTORY_CID.toString())).toBe(true)
    })

    it(`an empty root directory, even with threshold 0 (${shardSplitStrategy})`, async () => {
      for (const shardSplitThresholdBytes of [undefined, 0]) {
        const { root } = await expectSameAsImporter(dir(), { shardSplitStrategy, shardSplitThresholdBytes })
        expect(root.cid.equals(EMPTY_DIRECTORY_CID)).toBe(true)
      }
      expect(EMPTY_DIRECTORY_CID.toString()).toBe('bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354')
    })
  }

  it('unicode names, and names whose UTF-8 order differs from their UTF-16 order', async () => {
    // U+FF5E sorts before U+1F600 as UTF-8 (EF.. < F0..) but after it as UTF-16 (FF5E > D83D)
    const names = ['～', '😀', 'é', 'e\u0301', 'Z', 'a', 'a.b', 'a-b', 'ab', 'Ω', '日本語', ' space', 'x'.repeat(255)]
    const tree = dir(names.map((n, i) => [n, text(`file ${i}`)] as [string, Uint8Array]))
    const { root, blocks } = await expectSameAsImporter(tree)
    const order = dagPb.decode(blocks.get(root.cid.toString()) as Uint8Array).Links.map(l => l.Name)
    expect(order.indexOf('～')).toBeLessThan(order.indexOf('😀'))
    expect(['～', '😀'].sort()).toEqual(['😀', '～']) // JS's own sort would put them the other way
  })

  for (const shardSplitStrategy of STRATEGIES) {
    it(`shards with a lowered threshold: collisions in the first byte make sub-shards (${shardSplitStrategy})`, async () => {
      const tree = manyFiles(600, i => `f${i}`) // 600 names in 256 slots must collide
      const p = { shardSplitThresholdBytes: 1000, shardSplitStrategy }
      const { root, blocks } = await expectSameAsImporter(tree, p)
      expect(unixfsType(blocks, root.cid.toString())).toBe('hamt-sharded-directory')
      expect(shardDepth(blocks, root.cid.toString(), 2)).toBeGreaterThanOrEqual(1)
    })

    it(`shards with small fanouts go many levels deep, nested sharded directories included (${shardSplitStrategy})`, async () => {
      for (const fanoutBits of [1, 2, 3, 5]) {
        const tree = manyFiles(120, i => `name-${i}`)
        tree.set('sub', manyFiles(40, i => `inner ${i}`))
        const p = { shardSplitThresholdBytes: 100, fanoutBits, shardSplitStrategy }
        const { root, blocks } = await expectSameAsImporter(tree, p)
        const width = (2 ** fanoutBits - 1).toString(16).length
        expect(shardDepth(blocks, root.cid.toString(), width)).toBeGreaterThanOrEqual(fanoutBits <= 3 ? 4 : 1)
      }
    })

    it(`like the importer, counts links to empty directories but not to non-empty ones (${shardSplitStrategy})`, async () => {
      const p = { shardSplitThresholdBytes: 200, shardSplitStrategy }
      // 2 files (links-bytes 2 × 37, block-bytes 4 + 2 × 45) and 5 non-empty subdirectories, which count 0: flat
      const withFullDirs = dir({ a: text('a'), b: text('b') })
      for (let i = 0; i < 5; i++) withFullDirs.set(`dir-${i}`, dir({ f: text(String(i)) }))
      const flat = await expectSameAsImporter(withFullDirs, p)
      expect(unixfsType(flat.blocks, flat.root.cid.toString())).toBe('directory')

      // the same with empty subdirectories (5 × 41 links-bytes, 5 × 49 block-bytes): over 200, sharded
      const withEmptyDirs = dir({ a: text('a'), b: text('b') })
      for (let i = 0; i < 5; i++) withEmptyDirs.set(`dir-${i}`, dir())
      const sharded = await expectSameAsImporter(withEmptyDirs, p)
      expect(unixfsType(sharded.blocks, sharded.root.cid.toString())).toBe('hamt-sharded-directory')
    })
  }

  // 4369 one-byte files with 16-byte names: each link is 44 + 16 = 60 bytes of block, so the block is
  // 4 + 4369 × 60 = 262144 bytes, exactly the threshold; links-bytes counts only 4369 × 52 = 227188.
  const name16 = (i: number): string => `e${String(i).padStart(15, '0')}`
  const atBlockThreshold = (): Tree => manyFiles(4369, name16)

  it('block-bytes at the real threshold: a block of exactly 262144 bytes stays flat, one more byte of name shards', async () => {
    const flat = await expectSameAsImporter(atBlockThreshold())
    expect(unixfsType(flat.blocks, flat.root.cid.toString())).toBe('directory')
    expect(flat.blocks.get(flat.root.cid.toString())?.byteLength).toBe(262_144)

    const over = manyFiles(4369, i => i === 7 ? `${name16(i)}+` : name16(i))
    const sharded = await expectSameAsImporter(over)
    expect(unixfsType(sharded.blocks, sharded.root.cid.toString())).toBe('hamt-sharded-directory')

    // links-bytes estimates the same tree at 227189: flat
    const links = await expectSameAsImporter(over, { shardSplitStrategy: 'links-bytes' })
    expect(unixfsType(links.blocks, links.root.cid.toString())).toBe('directory')
  })

  it('block-bytes counts Tsize varints: a file of 127 bytes stays flat, 128 bytes (2-byte Tsize) shards', async () => {
    const with127 = atBlockThreshold()
    with127.set(name16(0), bytesOf(127, 1)) // Tsize 127: still 1 varint byte
    const flat = await expectSameAsImporter(with127)
    expect(unixfsType(flat.blocks, flat.root.cid.toString())).toBe('directory')

    const with128 = atBlockThreshold()
    with128.set(name16(0), bytesOf(128, 1)) // Tsize 128: 2 varint bytes, block 262145
    const sharded = await expectSameAsImporter(with128)
    expect(unixfsType(sharded.blocks, sharded.root.cid.toString())).toBe('hamt-sharded-directory')
  })

  it('block-bytes leaves out links to non-empty subdirectories: such a block can exceed the threshold and stay flat', async () => {
    const withFullDir = atBlockThreshold()
    withFullDir.set('sub', dir({ f: text('f') }))
    const flat = await expectSameAsImporter(withFullDir)
    expect(unixfsType(flat.blocks, flat.root.cid.toString())).toBe('directory')
    expect(flat.blocks.get(flat.root.cid.toString())?.byteLength).toBeGreaterThan(262_144)

    const withEmptyDir = atBlockThreshold()
    withEmptyDir.set('sub', dir())
    const sharded = await expectSameAsImporter(withEmptyDir)
    expect(unixfsType(sharded.blocks, sharded.root.cid.toString())).toBe('hamt-sharded-directory')
  })

  it('links-bytes at the real threshold: estimate 262144 stays flat, 262145 shards; block-bytes shards both', async () => {
    // 4096 names of 28 bytes + 36-byte CIDv1 = 4096 × 64 = 262144 exactly (block: 4 + 4096 × 72 = 294916)
    const name = (i: number): string => `entry-${String(i).padStart(22, '0')}`
    const p = { shardSplitStrategy: 'links-bytes' as const }
    const atThreshold = manyFiles(4096, name)
    const flat = await expectSameAsImporter(atThreshold, p)
    expect(unixfsType(flat.blocks, flat.root.cid.toString())).toBe('directory')

    const over = manyFiles(4096, i => i === 0 ? `${name(i)}+` : name(i))
    const sharded = await expectSameAsImporter(over, p)
    expect(unixfsType(sharded.blocks, sharded.root.cid.toString())).toBe('hamt-sharded-directory')

    const byBlock = await expectSameAsImporter(atThreshold)
    expect(unixfsType(byBlock.blocks, byBlock.root.cid.toString())).toBe('hamt-sharded-directory')
  })

  it('hamtSlot reads the name hash as hamt-sharding does, past the first 64 bits (rehash rounds)', async () => {
    // no directory can collide on 64 bits, so the importer comparisons never reach round 1: ask hamt-sharding itself
    const url = new URL('../../../node_modules/hamt-sharding/dist/src/consumable-hash.js', import.meta.url)
    const { wrapHash } = await import(url.href) as { wrapHash: (fn: (b: Uint8Array) => Promise<Uint8Array>) => (b: Uint8Array) => { take: (bits: number) => Promise<number> } }
    // the importer's hash function (dir-sharded.js): murmur3-x64-128, first 8 bytes, reversed
    const importerHash = async (buf: Uint8Array): Promise<Uint8Array> => (await murmur3128.encode(buf)).slice(0, 8).reverse()
    for (const bits of [3, 5, 8]) {
      for (const name of ['a', 'é😀', 'x'.repeat(40)]) {
        const hash = wrapHash(importerHash)(text(name))
        for (let depth = 0; depth < Math.ceil(200 / bits); depth++) {
          expect(hamtSlot(name, depth, bits), `${name} depth ${depth} bits ${bits}`).toBe(await hash.take(bits))
        }
      }
    }
  })

  it('random trees, any entry order', async () => {
    const nameChars = fc.constantFrom('a', 'b', 'B', '.', '-', ' ', 'é', '～', '😀', '日')
    const name = fc.string({ unit: nameChars, minLength: 1, maxLength: 4 }).filter(n => n !== '.' && n !== '..')
    const leaf = fc.oneof(
      fc.integer({ min: 0, max: 80 }).map(n => bytesOf(n, n + 1) as Uint8Array | Link),
      fc.constantFrom('t', '../up', 'ü/x').map(t => new Link(t) as Uint8Array | Link)
    )
    const { tree } = fc.letrec<{ tree: Tree, node: Uint8Array | Link | Tree }>(tie => ({
      tree: fc.uniqueArray(fc.tuple(name, tie('node')), { maxLength: 6, selector: ([n]) => n }).map(e => new Map(e)),
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('tree'))
    }))
    const thresholds = fc.constantFrom(0, 3, 4, 40, 120, 200, 400, 100_000)
    await fc.assert(fc.asyncProperty(tree, thresholds, fc.constantFrom(2, 8), fc.constantFrom(...STRATEGIES), async (t, threshold, fanoutBits, shardSplitStrategy) => {
      await expectSameAsImporter(t, { chunkSize: 16, maxChildren: 3, shardSplitThresholdBytes: threshold, fanoutBits, shardSplitStrategy })
    }), { numRuns: 120 })
  })
})

describe('directory and symlink builders', () => {
  const file = buildFile(text('x')).root

  it('refuses bad names and duplicates', () => {
    for (const bad of ['', '.', '..', 'a/b', 'nul\0', '\uD800']) {
      let err: unknown
      try {
        buildDirectory([{ name: bad, ref: file }])
      } catch (e) {
        err = e
      }
      expect(isFerryError(err, 'ERR_INVALID_ARGUMENT'), JSON.stringify(bad)).toBe(true)
    }
    expect(() => buildDirectory([{ name: 'a', ref: file }, { name: 'a', ref: file }])).toThrow(/Duplicate/)
  })

  it('needs to know whether an untyped dag-pb child of size 0 is a directory or a symlink', () => {
    const { cid, size, tsize } = buildSymlink('t').root
    expect(() => buildDirectory([{ name: 's', ref: { cid, size, tsize } }])).toThrow(/give its type/)
    expect(buildDirectory([{ name: 's', ref: { cid, size, tsize }, type: 'symlink' }]).root.cid.toString())
      .toBe(buildDirectory([{ name: 's', ref: buildSymlink('t').root }]).root.cid.toString())
  })

  it('estimates like the importer', () => {
    const sub = buildDirectory([{ name: 'f', ref: file }]).root
    const empty = buildDirectory([]).root
    const link = buildSymlink('x').root
    const entries: DirEntry[] = [
      { name: 'f', ref: file },
      { name: 'é', ref: file },
      { name: 'full', ref: sub },
      { name: 'empty', ref: empty },
      { name: 'l', ref: link }
    ]
    expect(estimateDirectorySize(entries, 'links-bytes')).toBe((1 + 36) + (2 + 36) + 0 + (5 + 36) + (1 + 36))
    // block-bytes: Data (4) + each link's 1 + 1 + (2 + 36 CID) + (2 + name) + (1 + Tsize varint)
    const blockBytes = 4 + (44 + 1) + (44 + 2) + 0 + (44 + 5) + (44 + 1)
    expect(estimateDirectorySize(entries, 'block-bytes')).toBe(blockBytes)
    expect(estimateDirectorySize(entries)).toBe(blockBytes)
    // which is the length of the block without the link to the non-empty directory
    const counted = entries.filter(e => e.name !== 'full')
    const block = buildDirectory(counted, { shardSplitThresholdBytes: 1e9 }).blocks[0]
    expect(block?.bytes.byteLength).toBe(blockBytes)
  })

  it('block-bytes is the exact block length for any names and Tsizes (varint boundaries included)', () => {
    const nameChars = fc.constantFrom('a', 'Z', '.', ' ', 'é', '～', '😀')
    const entry = fc.record({
      name: fc.string({ unit: nameChars, minLength: 1, maxLength: 120 }).filter(n => n !== '.' && n !== '..'),
      size: fc.oneof(fc.constantFrom(0, 1, 127, 128, 16_383, 16_384, 2 ** 21 - 1, 2 ** 21, 2 ** 35, 2 ** 53 - 1), fc.nat()),
      seed: fc.nat()
    })
    fc.assert(fc.property(fc.uniqueArray(entry, { minLength: 1, maxLength: 20, selector: e => e.name }), list => {
      const entries: DirEntry[] = list.map(({ name, size, seed }) => ({
        name, ref: size === 0 ? buildFile(new Uint8Array(0)).root : leafRef(sha256(bytesOf(8, seed)), size)
      }))
      const { blocks } = buildDirectory(entries, { shardSplitThresholdBytes: Number.MAX_SAFE_INTEGER })
      expect(estimateDirectorySize(entries, 'block-bytes')).toBe(blocks[0]?.bytes.byteLength)
    }), { numRuns: 200 })
  })

  it('refuses an unknown shard split strategy', () => {
    const bad = { shardSplitStrategy: 'names' as unknown as ShardSplitStrategy }
    expect(() => buildDirectory([{ name: 'f', ref: file }], bad)).toThrow(/shardSplitStrategy/)
    expect(() => estimateDirectorySize([], 'names' as unknown as ShardSplitStrategy)).toThrow(/shardSplitStrategy/)
  })

  it('writes a symlink as a UnixFS symlink node holding the UTF-8 target', () => {
    const { root, blocks } = buildSymlink('../tärget')
    const node = dagPb.decode((blocks[0] as { bytes: Uint8Array }).bytes)
    expect(node.Links).toEqual([])
    const unixfs = UnixFS.unmarshal(node.Data as Uint8Array)
    expect(unixfs.type).toBe('symlink')
    expect(new TextDecoder().decode(unixfs.data)).toBe('../tärget')
    expect(root).toMatchObject({ size: 0, tsize: (blocks[0] as { bytes: Uint8Array }).bytes.byteLength, type: 'symlink' })
    expect(() => buildSymlink('')).toThrow()
  })
})
