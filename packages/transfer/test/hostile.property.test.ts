/**
 * Hostile scans through the real pull engine (fast-check). A lying peer serves hand-made DAGs whose names
 * are drawn from hostile pieces ('..', '/', '\', NUL, over-long, '.ferry-partial', a name that is already
 * a symlink to outside in the destination) with symlinks pointing anywhere, entry lists that contradict the
 * DAG, and setuid modes. Whatever happens (a typed error, or a pull with problems), nothing is created
 * outside the destination, no symlink that leads out of it is created, nothing is written through the
 * planted symlink, and no setuid or setgid file appears.
 *
 * The liar is a hostile origin: it signs what it sends with its own key, so its records get past the
 * signature check and the names meet the path checks and the filesystem.
 */
import { lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { encode, prepare, type PBLink } from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { FerryError } from '@ferry/errors'
import { HashPool, importDirectory, pathProblem, symlinkTargetProblem } from '@ferry/dag'
import { encodeSignedEntry, initHome, signScanRecord, type Home } from '@ferry/store'
import { createHash } from 'node:crypto'
import { pull, type BlockPeer, type ScanEntryInfo } from '@ferry/transfer'
import { cleanup, tempDir } from '../../../test/support/tree.js'

interface Made { cid: CID, tsize: number }

/** A content-addressed store of hand-made blocks: what the lying peer serves. */
class Blocks {
  readonly map = new Map<string, Uint8Array>()

  async put (bytes: Uint8Array, codec: number): Promise<CID> {
    const cid = CID.createV1(codec, await sha256.digest(bytes))
    this.map.set(cid.toString(), bytes)
    return cid
  }

  async file (content: string): Promise<Made> {
    const bytes = new TextEncoder().encode(content)
    return { cid: await this.put(bytes, 0x55), tsize: bytes.byteLength }
  }

  async symlink (target: string): Promise<Made> {
    const bytes = encode(prepare({ Data: new UnixFS({ type: 'symlink', data: new TextEncoder().encode(target) }).marshal(), Links: [] }))
    return { cid: await this.put(bytes, 0x70), tsize: bytes.byteLength }
  }

  async dir (children: Array<[string, Made]>): Promise<Made> {
    const links: PBLink[] = children.map(([name, m]) => ({ Name: name, Hash: m.cid, Tsize: m.tsize }))
    links.sort((a, b) => Buffer.compare(Buffer.from(a.Name ?? ''), Buffer.from(b.Name ?? ''))) // dag-pb's order; duplicates stay
    const bytes = encode({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: links })
    return { cid: await this.put(bytes, 0x70), tsize: bytes.byteLength + children.reduce((n, [, m]) => n + m.tsize, 0) }
  }
}

// mostly names a DAG may hold (so many pulls get as far as the filesystem), some that must be refused
const hostileName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('evil', '.ferry-partial', 'ok', 'data.bin', 'sub', 'é', '💾') },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z]{1,4}$/) },
  { weight: 1, arbitrary: fc.constantFrom('..', '.', '', 'a/b', '/etc', '..\\..\\x', 'nul\0byte', 'x'.repeat(256), 'é'.repeat(128)) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 6 }) }
)
const hostileTarget = fc.constantFrom('/etc/passwd', '../../outside', '..', 'evil/x', 'ok', 'sub/../..', '../outside', 'sub', '.', 'a\\b')

type Node = { kind: 'file', content: string } | { kind: 'symlink', target: string } | { kind: 'dir', children: Array<[string, Node]> }
const node: fc.Memo<Node> = fc.memo((depth) => depth <= 1
  ? fc.oneof(
    fc.record({ kind: fc.constant('file' as const), content: fc.string({ maxLength: 20 }) }),
    fc.record({ kind: fc.constant('symlink' as const), target: hostileTarget })
  )
  : fc.oneof(
    { weight: 2, arbitrary: node(1) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('dir' as const), children: fc.array(fc.tuple(hostileName, node(depth - 1)), { maxLength: 4 }) }) }
  ))
const tree = fc.array(fc.tuple(hostileName, node(3)), { minLength: 1, maxLength: 6 })

/** Builds the DAG; `cids` gets every path's CID (first one wins for duplicate names). */
async function build (blocks: Blocks, children: Array<[string, Node]>, cids = new Map<string, CID>(), prefix = ''): Promise<Made> {
  const made: Array<[string, Made]> = []
  for (const [name, n] of children) {
    const path = prefix === '' ? name : `${prefix}/${name}`
    let m: Made
    if (n.kind === 'file') m = await blocks.file(n.content)
    else if (n.kind === 'symlink') m = await blocks.symlink(n.target)
    else m = await build(blocks, n.children, cids, path)
    if (!cids.has(path)) cids.set(path, m.cid)
    made.push([name, m])
  }
  const dir = await blocks.dir(made)
  if (prefix === '') cids.set('', dir.cid)
  return dir
}

/** Entry list the peer claims: the DAG's paths, some with the wrong type, plus junk paths; all setuid. */
function claimedEntries (children: Array<[string, Node]>, junk: string[], flip: boolean, cids: Map<string, CID>): ScanEntryInfo[] {
  const any = cids.get('') as CID
  const cid = (path: string): CID => cids.get(path) ?? any
  const out: ScanEntryInfo[] = [{ path: '', type: 'directory', size: 0, mode: 0o7777, mtimeMs: 0, cid: any }]
  const walk = (prefix: string, list: Array<[string, Node]>): void => {
    for (const [name, n] of list) {
      const path = prefix === '' ? name : `${prefix}/${name}`
      const type = n.kind === 'dir' ? 'directory' : n.kind
      out.push({ path, type: flip && type === 'file' ? 'directory' : type, size: n.kind === 'file' ? Buffer.byteLength(n.content) : 0, mode: 0o6777, mtimeMs: 1_700_000_000_000, cid: cid(path), ...(n.kind === 'symlink' ? { target: n.target } : {}) })
      if (n.kind === 'dir') walk(path, n.children)
    }
  }
  walk('', children)
  for (const p of junk) out.push({ path: p, type: 'file', size: 1, mode: 0o4755, mtimeMs: 0, cid: any })
  // sent in path order (UTF-8 bytes), as an honest origin would; duplicates stay side by side
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
}

/** A peer serving `blocks`, and a record for `entries` signed by `origin` (whatever the entries hold). */
async function liar (blocks: Blocks, root: CID, entries: ScanEntryInfo[], origin: Home): Promise<BlockPeer> {
  // the digest as EntriesDigest computes it, without its order check: the puller must do the refusing
  const hash = createHash('sha256')
  for (const e of entries) hash.update(encodeSignedEntry(e))
  const count = (type: string): number => entries.filter((e) => e.type === type).length
  const fields = {
    root,
    collection: null,
    name: 'hostile',
    origin: origin.peerId.toString(),
    files: count('file'),
    directories: count('directory'),
    symlinks: count('symlink'),
    bytes: entries.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0),
    skipped: [],
    created: 0
  }
  const signature = await signScanRecord(origin.privateKey, { ...fields, signedAt: 1 }, { count: entries.length, digest: new Uint8Array(hash.digest()) })
  return {
    id: 'liar',
    async get (cid) {
      const bytes = blocks.map.get(cid.toString())
      return bytes == null ? { status: 'missing' } : { status: 'ok', bytes }
    },
    async getScan () {
      return {
        record: { ...fields, root: root.toString(), signature },
        entries: (async function * () { yield * entries })()
      }
    },
    async close () {}
  }
}

/** Everything under `dir` (lstat, never following), as relative paths. */
function listAll (dir: string, rel = ''): string[] {
  const out: string[] = []
  for (const name of readdirSync(join(dir, rel))) {
    const r = rel === '' ? name : `${rel}/${name}`
    out.push(r)
    if (lstatSync(join(dir, r)).isDirectory()) out.push(...listAll(dir, r))
  }
  return out
}

describe('pull against a peer serving hostile scans (fast-check)', () => {
  let tmp: string
  let home: Home
  let origin: Home
  let run = 0

  beforeAll(async () => {
    tmp = tempDir('ferry-hostile-')
    home = await initHome(join(tmp, 'home'))
    origin = await initHome(join(tmp, 'origin'))
  })
  afterAll(async () => {
    await home.close()
    await origin.close()
    cleanup(tmp)
  })

  it('never writes outside the destination, never through a planted symlink, never creates an escaping link', async () => {
    const seen = { refused: 0, pulled: 0, placedFiles: 0, unsafeLinks: 0, conflicts: 0 }
    const junkPaths = fc.oneof({ weight: 4, arbitrary: fc.constant<string[]>([]) }, { weight: 1, arbitrary: fc.array(fc.constantFrom('../x', '/abs', 'a\\b', 'dup', 'dup', ''), { minLength: 1, maxLength: 3 }) })
    const flipType = fc.integer({ min: 0, max: 5 }).map((n) => n === 0)
    await fc.assert(fc.asyncProperty(tree, junkPaths, flipType, async (children, junk, flip) => {
      const box = join(tmp, `run${run++}`)
      const dest = join(box, 'dest')
      const outside = join(box, 'outside')
      mkdirSync(outside, { recursive: true })
      mkdirSync(dest)
      writeFileSync(join(outside, 'keep'), 'untouched')
      symlinkSync(outside, join(dest, 'evil')) // a symlink already sitting in the destination
      const blocks = new Blocks()
      const cids = new Map<string, CID>()
      const root = await build(blocks, children, cids)
      const peer = await liar(blocks, root.cid, claimedEntries(children, junk, flip, cids), origin)
      try {
        const r = await pull({ root: root.cid, dest, peers: [{ label: 'liar', connect: async () => peer }], home, deadlineMs: 5000 })
        seen.pulled++
        seen.placedFiles += r.files
        seen.unsafeLinks += r.problems.filter((p) => p.code === 'ERR_UNSAFE_SYMLINK').length
        seen.conflicts += r.problems.filter((p) => p.code === 'ERR_CONFLICT').length
        for (const p of r.problems) expect(['ERR_CONFLICT', 'ERR_UNSAFE_SYMLINK', 'ERR_UNAVAILABLE', 'ERR_MISSING_AT_SOURCE']).toContain(p.code)
      } catch (err) {
        if (!(err instanceof FerryError)) throw err
        seen.refused++
        expect(['ERR_BAD_BLOCK', 'ERR_PROTOCOL', 'ERR_BAD_SIGNATURE', 'ERR_INVALID_ARGUMENT', 'ERR_NETWORK']).toContain(err.code)
      }
      // nothing new beside the destination, nothing written through the planted link
      expect(readdirSync(box).sort()).toEqual(['dest', 'outside'])
      expect(readdirSync(outside)).toEqual(['keep'])
      expect(readlinkSync(join(dest, 'evil'))).toBe(outside)
      for (const rel of listAll(dest)) {
        const st = lstatSync(join(dest, rel))
        expect(st.mode & 0o6000).toBe(0) // never setuid or setgid from a peer
        if (st.isSymbolicLink() && rel !== 'evil') expect(symlinkTargetProblem(rel, readlinkSync(join(dest, rel)))).toBeUndefined()
      }
    }), { numRuns: 100 })
    // the property must have been exercised both ways: scans refused whole, and scans that reached the disk
    expect(seen.refused).toBeGreaterThan(10)
    expect(seen.pulled).toBeGreaterThan(10)
    expect(seen.placedFiles).toBeGreaterThan(10)
    expect(seen.unsafeLinks).toBeGreaterThan(0)
    expect(seen.conflicts).toBeGreaterThan(0)
    console.log('hostile scans:', seen)
  }, 120_000)

  it('pulls a well-formed tree with a confined link and reports an escaping one', async () => {
    const blocks = new Blocks()
    const data = await blocks.file('payload')
    const tree: Array<[string, Node]> = [['d', { kind: 'dir', children: [['f', { kind: 'file', content: 'payload' }], ['up', { kind: 'symlink', target: '../d/f' }]] }], ['out', { kind: 'symlink', target: '/etc/passwd' }]]
    const cids = new Map<string, CID>()
    const root = await build(blocks, tree, cids)
    const entries = claimedEntries(tree, [], false, cids)
    const dest = join(tmp, 'wellformed')
    const r = await pull({ root: root.cid, dest, peers: [{ label: 'liar', connect: async () => await liar(blocks, root.cid, entries, origin) }], home })
    expect(data.tsize).toBe(7)
    expect(r.complete).toBe(false)
    expect(r.problems).toEqual([{ path: 'out', code: 'ERR_UNSAFE_SYMLINK', message: expect.stringMatching(/absolute.*--allow-escaping-symlinks/) }])
    expect(readlinkSync(join(dest, 'd/up'))).toBe('../d/f')
    expect(lstatSync(join(dest, 'd/f')).mode & 0o7777).toBe(0o777) // 0o6777 from the peer, setuid and setgid dropped
    expect(() => lstatSync(join(dest, 'out'))).toThrow()
    const again = await pull({ root: root.cid, dest: join(tmp, 'wellformed2'), peers: [{ label: 'liar', connect: async () => await liar(blocks, root.cid, entries, origin) }], home, allowEscapingSymlinks: true })
    expect(again.problems).toEqual([])
    expect(readlinkSync(join(tmp, 'wellformed2', 'out'))).toBe('/etc/passwd')
  })

  it.each([
    ['a backslash', [['..\\..\\x', { kind: 'file', content: 'x' }]], 'ERR_BAD_BLOCK', /backslash/],
    ['an over-long name', [['x'.repeat(256), { kind: 'file', content: 'x' }]], 'ERR_BAD_BLOCK', /256 bytes long, the limit is 255/],
    ['a dot-dot name', [['..', { kind: 'dir', children: [] }]], 'ERR_BAD_BLOCK', /reserved name '\.\.'/],
    ['a slash in a name', [['a/b', { kind: 'file', content: 'x' }]], 'ERR_BAD_BLOCK', /contains \//],
    ['a NUL', [['a\0b', { kind: 'file', content: 'x' }]], 'ERR_BAD_BLOCK', /NUL/],
    ['a duplicate name, as a file and a directory', [['same', { kind: 'file', content: 'x' }], ['same', { kind: 'dir', children: [] }]], 'ERR_BAD_BLOCK', /twice/]
  ] as Array<[string, Array<[string, Node]>, string, RegExp]>)('refuses a scan whose DAG holds %s, writing nothing', async (_, children, code, message) => {
    const blocks = new Blocks()
    const cids = new Map<string, CID>()
    const root = await build(blocks, children, cids)
    const dest = join(tmp, `refused-${run++}`)
    // the entry list holds only what a careful origin could list: the bad name is in the DAG alone
    const entries = claimedEntries(children, [], false, cids).filter((e, i, all) => pathProblem(e.path) === undefined && all.findIndex((x) => x.path === e.path) === i)
    const err = await pull({ root: root.cid, dest, peers: [{ label: 'liar', connect: async () => await liar(blocks, root.cid, entries, origin) }], home }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FerryError)
    expect(err).toMatchObject({ code, message: expect.stringMatching(message) })
    expect(() => readdirSync(dest)).toThrow() // not even the destination was made
  })

  it('refuses a peer whose entry list contradicts the verified DAG or holds unsafe paths', async () => {
    const blocks = new Blocks()
    const children: Array<[string, Node]> = [['f', { kind: 'file', content: 'x' }]]
    const cids = new Map<string, CID>()
    const root = await build(blocks, children, cids)
    const cases: Array<[ScanEntryInfo[], string, RegExp]> = [
      [claimedEntries(children, [], true, cids), 'ERR_BAD_SIGNATURE', /does not match its DAG at "f"/],
      [claimedEntries(children, ['../escape'], false, cids), 'ERR_PROTOCOL', /"\.\.\/escape": reserved name/],
      [claimedEntries(children, ['dup', 'dup'], false, cids), 'ERR_PROTOCOL', /"dup" twice/]
    ]
    for (const [entries, code, message] of cases) {
      const dest = join(tmp, `contradicted-${run++}`)
      const err = await pull({ root: root.cid, dest, peers: [{ label: 'liar', connect: async () => await liar(blocks, root.cid, entries, origin) }], home }).catch((e: unknown) => e)
      expect(err).toMatchObject({ code, message: expect.stringMatching(message) })
      expect(() => readdirSync(dest)).toThrow() // refused before anything was written
    }
  })

  it('the importer leaves out names peers would refuse, and says so', async () => {
    const dir = join(tmp, 'src-unsafe')
    mkdirSync(dir)
    writeFileSync(join(dir, 'back\\slash.txt'), 'x')
    writeFileSync(join(dir, 'fine.txt'), 'y')
    const pool = new HashPool({ workers: 1 })
    try {
      const r = await importDirectory(dir, { pool })
      expect(r.files).toBe(1)
      expect(r.skipped).toEqual([{ path: 'back\\slash.txt', code: 'ERR_UNSAFE_NAME', message: 'name contains a backslash: peers refuse such names' }])
    } finally {
      await pool.close()
    }
  })
})
