import { join } from 'node:path'
import { cpSync, openSync, writeSync, closeSync, rmSync, symlinkSync, writeFileSync, truncateSync, mkdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ferry, json } from '../support/ferry.js'
import { oracleRoot } from '../support/oracle.js'
import { INTERESTING_SIZES, MiB, cleanup, diskUsage, hashTree, tempDir, writeTree } from '../support/tree.js'

describe('ferry add / scans / ls / verify', () => {
  let tmp: string
  let home: string
  let scan: string
  let root: string

  beforeAll(async () => {
    tmp = tempDir()
    home = join(tmp, 'home')
    scan = join(tmp, '20180301_ESRF_1799_3900_090_3_NS1_')
    const spec: Record<string, number | null> = { 'empty-dir/': null, 'flat/a/b/c/deep.bin': 3 * MiB + 7 }
    INTERESTING_SIZES.forEach((size, i) => { spec[`sizes/f${String(i).padStart(2, '0')}-${size}.bin`] = size })
    for (let i = 0; i < 40; i++) spec[`proj/1799_3900_090_3_NS1_${String(i).padStart(4, '0')}.edf`] = 256 * 1024 + i
    spec['unicode/éß-データ.h5'] = 5000
    writeTree(scan, spec)
    expect((await ferry(['init', '--home', home])).code).toBe(0)
  })
  afterAll(() => { cleanup(tmp) })

  it('imports a tree and prints the same root as ipfs-unixfs-importer', async () => {
    const r = await ferry(['add', scan, '--collection', '20180301_ESRF_1799', '--json', '--home', home])
    expect(r.code, r.stderr).toBe(0)
    const out = json(r)
    root = out.root
    expect(root).toBe(await oracleRoot(scan))
    expect(out.collection).toBe('20180301_ESRF_1799')
    expect(out.name).toBe('20180301_ESRF_1799_3900_090_3_NS1_')
    expect(out.files).toBe(INTERESTING_SIZES.length + 40 + 2)
    expect(out.directories).toBe(9) // root, empty-dir, flat, flat/a, flat/a/b, flat/a/b/c, sizes, proj, unicode
    expect(out.skipped).toEqual([])
    const expectedBytes = INTERESTING_SIZES.reduce((a, b) => a + b, 0) + (3 * MiB + 7) + 40 * 256 * 1024 + (39 * 40) / 2 + 5000
    expect(out.bytes).toBe(expectedBytes)
  })

  it('human output: root on stdout, summary on stderr', async () => {
    const again = await ferry(['add', scan, '--home', home, '--name', 'again'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout.trim()).toBe(root)
    expect(again.stderr).toContain("Imported 'again'")
  })

  it('scans lists the catalog, filtered by collection', async () => {
    const all = json(await ferry(['scans', '--json', '--home', home]))
    expect(all.map((s: any) => s.name).sort()).toEqual(['20180301_ESRF_1799_3900_090_3_NS1_', 'again'])
    const one = json(await ferry(['scans', '--json', '--collection', '20180301_ESRF_1799', '--home', home]))
    expect(one).toHaveLength(1)
    expect(one[0]).toMatchObject({ root, collection: '20180301_ESRF_1799', skipped: 0 })
    expect(typeof one[0].created).toBe('string')
    const table = await ferry(['scans', '--home', home])
    expect(table.stdout).toContain('COLLECTION')
    expect(table.stdout).toContain(root)
  })

  it('ls lists every entry with its size', async () => {
    const r = await ferry(['ls', root, '--json', '--home', home])
    expect(r.code, r.stderr).toBe(0)
    const { entries } = json(r)
    const byPath = new Map<string, any>(entries.map((e: any) => [e.path, e]))
    expect(byPath.get('')?.type).toBe('directory')
    expect(byPath.get('empty-dir')?.type).toBe('directory')
    expect(byPath.get('flat/a/b/c/deep.bin')).toMatchObject({ type: 'file', size: 3 * MiB + 7 })
    expect(byPath.get('unicode/éß-データ.h5')).toMatchObject({ type: 'file', size: 5000 })
    const tree = hashTree(scan)
    const files = Object.keys(tree).filter((p) => !p.endsWith('/'))
    expect(entries.filter((e: any) => e.type === 'file').map((e: any) => e.path).sort()).toEqual(files.sort())
    const human = await ferry(['ls', root, '--home', home])
    expect(human.stdout).toContain('flat/a/b/c/deep.bin')
  })

  it('verify proves an untouched copy elsewhere matches, and does not modify it', async () => {
    const copy = join(tmp, 'copy-off-a-disk')
    cpSync(scan, copy, { recursive: true })
    const before = hashTree(copy)
    const r = await ferry(['verify', copy, root, '--json', '--home', home])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const out = json(r)
    expect(out.ok).toBe(true)
    expect(out.differences).toEqual([])
    expect(out.files).toBe(INTERESTING_SIZES.length + 40 + 2)
    expect(hashTree(copy)).toEqual(before)
    const human = await ferry(['verify', copy, root, '--home', home])
    expect(human.stdout).toMatch(/^OK: /)
  })

  it('verify names every difference: missing, extra, changed (exact byte), truncated, type', async () => {
    const copy = join(tmp, 'damaged')
    cpSync(scan, copy, { recursive: true })
    // flip one byte deep inside the 3rd chunk of a multi-chunk file
    const deep = join(copy, 'flat/a/b/c/deep.bin')
    const fd = openSync(deep, 'r+')
    writeSync(fd, Buffer.from([0xff ^ 0x5a]), 0, 1, 2 * MiB + 4321)
    closeSync(fd)
    rmSync(join(copy, 'proj/1799_3900_090_3_NS1_0007.edf'))
    writeFileSync(join(copy, 'proj/stray.tmp'), 'left over')
    truncateSync(join(copy, 'sizes/f08-2097152.bin'), MiB + 10)
    rmSync(join(copy, 'empty-dir'), { recursive: true })
    writeFileSync(join(copy, 'empty-dir'), 'now a file')
    const before = hashTree(copy)
    const r = await ferry(['verify', copy, root, '--json', '--home', home])
    expect(r.code).toBe(4)
    const out = json(r)
    expect(out.ok).toBe(false)
    const diffs = new Map<string, any>(out.differences.map((d: any) => [d.path, d]))
    expect(diffs.get('proj/1799_3900_090_3_NS1_0007.edf')).toMatchObject({ kind: 'missing', expected: 'file' })
    expect(diffs.get('proj/stray.tmp')).toMatchObject({ kind: 'extra', actual: 'file' })
    expect(diffs.get('empty-dir')).toMatchObject({ kind: 'type', expected: 'directory', actual: 'file' })
    expect(diffs.get('sizes/f08-2097152.bin')).toMatchObject({ kind: 'changed', expectedSize: 2 * MiB, actualSize: MiB + 10 })
    // the node holds the original bytes (it imported them), so the change is located to the byte
    const changed = diffs.get('flat/a/b/c/deep.bin')
    expect(changed).toMatchObject({ kind: 'changed', offset: 2 * MiB + 4321, exact: true })
    expect(out.differences).toHaveLength(5)
    expect(hashTree(copy)).toEqual(before)
    const human = await ferry(['verify', copy, root, '--home', home])
    expect(human.code).toBe(4)
    expect(human.stdout).toContain('first bad byte at offset 2101473')
  })

  it('verify locates a change to its chunk when the original bytes are not here', async () => {
    const other = join(tmp, 'other-home')
    await ferry(['init', '--home', other])
    const copy = join(tmp, 'copy2')
    cpSync(scan, copy, { recursive: true })
    expect(json(await ferry(['add', copy, '--json', '--home', other])).root).toBe(root)
    // now damage the source of the only copy this node knows: it can no longer read the original bytes
    const fd = openSync(join(copy, 'flat/a/b/c/deep.bin'), 'r+')
    writeSync(fd, Buffer.from([1, 2, 3]), 0, 3, MiB + 100)
    closeSync(fd)
    const r = json(await ferry(['verify', copy, root, '--json', '--home', other]))
    expect(r.differences).toEqual([{ path: 'flat/a/b/c/deep.bin', kind: 'changed', expectedSize: 3 * MiB + 7, actualSize: 3 * MiB + 7, offset: MiB, exact: false }])
  })

  it('the home grows by well under 1% of the data imported', async () => {
    const big = join(tmp, 'big')
    const spec: Record<string, number> = {}
    for (let i = 0; i < 16; i++) spec[`v/vol${i}.raw`] = 8 * MiB + i
    for (let i = 0; i < 200; i++) spec[`p/proj${i}.tif`] = 300 * 1024
    writeTree(big, spec)
    const h = join(tmp, 'growth-home')
    await ferry(['init', '--home', h])
    const before = diskUsage(h)
    const r = json(await ferry(['add', big, '--json', '--home', h]))
    const grown = diskUsage(h) - before
    expect(r.bytes).toBeGreaterThan(180 * MiB)
    expect(grown / r.bytes).toBeLessThan(0.01)
  })

  it('symlinks are recorded as symlinks, not followed', async () => {
    const d = join(tmp, 'links')
    writeTree(d, { 'data/real.bin': 1000 })
    symlinkSync('data/real.bin', join(d, 'link-to-file'))
    symlinkSync('/etc', join(d, 'outside'))
    mkdirSync(join(d, 'loop'))
    symlinkSync('..', join(d, 'loop', 'up'))
    const r = await ferry(['add', d, '--json', '--home', home])
    expect(r.code, r.stderr).toBe(0)
    const out = json(r)
    expect(out.files).toBe(1)
    expect(out.symlinks).toBe(3)
    const { entries } = json(await ferry(['ls', out.root, '--json', '--home', home]))
    const links = entries.filter((e: any) => e.type === 'symlink').map((e: any) => [e.path, e.target])
    expect(links.sort()).toEqual([['link-to-file', 'data/real.bin'], ['loop/up', '..'], ['outside', '/etc']])
    const copy = join(tmp, 'links-copy')
    cpSync(d, copy, { recursive: true, verbatimSymlinks: true })
    expect((await ferry(['verify', copy, out.root, '--home', home])).code).toBe(0)
    rmSync(join(copy, 'outside'))
    symlinkSync('/usr', join(copy, 'outside'))
    const bad = json(await ferry(['verify', copy, out.root, '--json', '--home', home]))
    expect(bad.differences).toEqual([{ path: 'outside', kind: 'target', expected: '/etc', actual: '/usr' }])
  })
})
