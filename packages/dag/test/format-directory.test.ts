import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { isFerryError } from '@ferry/errors'
import { murmur3128 } from '@multiformats/murmur3'
import {
  buildDirectory, buildSymlink, buildFile, estimateDirectorySize, hamtSlot, EMPTY_DIRECTORY_CID, type DirEntry, type NodeRef
} from '@ferry/dag'
import { blockDifference, bytesOf, dir, ferryTree, Link, oracleTree, type Params, type Tree } from './format-oracle.js'

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

describe('directories match ipfs-unixfs-importer 17', () => {
  it('nested directories, empty directories, empty files and symlinks', async () => {
    await expectSameAsImporter(dir({
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
      'dangling': new Link('../../elsewhere/ünïcode')
    }), { chunkSize: 16 })
  })

  it('an empty root directory', async () => {
    const { root } = await expectSameAsImporter(dir())
    expect(root.cid.equals(EMPTY_DIRECTORY_CID)).toBe(true)
    expect(EMPTY_DIRECTORY_CID.toString()).toBe('bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354')
  })

  it('unicode names, and names whose UTF-8 order differs from their UTF-16 order', async () => {
    // U+FF5E sorts before U+1F600 as UTF-8 (EF.. < F0..) but after it as UTF-16 (FF5E > D83D)
    const names = ['～', '😀', 'é', 'e\u0301', 'Z', 'a', 'a.b', 'a-b', 'ab', 'Ω', '日本語', ' space', 'x'.repeat(255)]
    const tree = dir(names.map((n, i) => [n, text(`file ${i}`)] as [string, Uint8Array]))
    const { root, blocks } = await expectSameAsImporter(tree)
    const order = dagPb.decode(blocks.get(root.cid.toString()) as Uint8Array).Links.map(l => l.Name)
    expect(order.indexOf('～')).toBeLessThan(order.indexOf('😀'))
    expect(['～', '😀'].sort()).toEqual(['😀', '～']) // JS's own sort would put them the other way
  })

  it('shards with a lowered threshold: collisions in the first byte make sub-shards', async () => {
    const tree = manyFiles(600, i => `f${i}`) // 600 names in 256 slots must collide
    const p = { shardSplitThresholdBytes: 1000 }
    const { root, blocks } = await expectSameAsImporter(tree, p)
    expect(unixfsType(blocks, root.cid.toString())).toBe('hamt-sharded-directory')
    expect(shardDepth(blocks, root.cid.toString(), 2)).toBeGreaterThanOrEqual(1)
  })

  it('shards with small fanouts go many levels deep, nested sharded directories included', async () => {
    for (const fanoutBits of [1, 2, 3, 5]) {
      const tree = manyFiles(120, i => `name-${i}`)
      tree.set('sub', manyFiles(40, i => `inner ${i}`))
      const p = { shardSplitThresholdBytes: 100, fanoutBits }
      const { root, blocks } = await expectSameAsImporter(tree, p)
      const width = (2 ** fanoutBits - 1).toString(16).length
      expect(shardDepth(blocks, root.cid.toString(), width)).toBeGreaterThanOrEqual(fanoutBits <= 3 ? 4 : 1)
    }
  })

  it('shards at the real default threshold: estimate 262144 stays flat, 262145 shards', async () => {
    // 4096 names of 28 bytes + 36-byte CIDv1 = 4096 × 64 = 262144 exactly
    const name = (i: number): string => `entry-${String(i).padStart(22, '0')}`
    const atThreshold = manyFiles(4096, name)
    const flat = await expectSameAsImporter(atThreshold)
    expect(unixfsType(flat.blocks, flat.root.cid.toString())).toBe('directory')

    const over = manyFiles(4096, i => i === 0 ? `${name(i)}+` : name(i))
    const sharded = await expectSameAsImporter(over)
    expect(unixfsType(sharded.blocks, sharded.root.cid.toString())).toBe('hamt-sharded-directory')
  })

  it('like the importer, counts links to empty directories but not to non-empty ones', async () => {
    const p = { shardSplitThresholdBytes: 200 }
    // 2 files (2 × 37) and 5 non-empty subdirectories (5 × 41 if they counted): flat
    const withFullDirs = dir({ a: text('a'), b: text('b') })
    for (let i = 0; i < 5; i++) withFullDirs.set(`dir-${i}`, dir({ f: text(String(i)) }))
    const flat = await expectSameAsImporter(withFullDirs, p)
    expect(unixfsType(flat.blocks, flat.root.cid.toString())).toBe('directory')

    // the same with empty subdirectories: 74 + 5 × 41 = 279 > 200, sharded
    const withEmptyDirs = dir({ a: text('a'), b: text('b') })
    for (let i = 0; i < 5; i++) withEmptyDirs.set(`dir-${i}`, dir())
    const sharded = await expectSameAsImporter(withEmptyDirs, p)
    expect(unixfsType(sharded.blocks, sharded.root.cid.toString())).toBe('hamt-sharded-directory')
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
    await fc.assert(fc.asyncProperty(tree, fc.constantFrom(0, 40, 120, 100_000), fc.constantFrom(2, 8), async (t, threshold, fanoutBits) => {
      await expectSameAsImporter(t, { chunkSize: 16, maxChildren: 3, shardSplitThresholdBytes: threshold, fanoutBits })
    }), { numRuns: 80 })
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
    const entries: DirEntry[] = [
      { name: 'f', ref: file },
      { name: 'é', ref: file },
      { name: 'full', ref: sub },
      { name: 'empty', ref: buildDirectory([]).root },
      { name: 'l', ref: buildSymlink('x').root }
    ]
    expect(estimateDirectorySize(entries)).toBe((1 + 36) + (2 + 36) + 0 + (5 + 36) + (1 + 36))
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
