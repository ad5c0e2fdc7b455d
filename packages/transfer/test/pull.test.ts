import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, symlinkSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importDirectory, HashPool } from '@ferry/dag'
import { initHome, type Home } from '@ferry/store'
import { pull, type BlockPeer, type PeerSpec, type PullProgressEvent, type ScanEntryInfo } from '@ferry/transfer'
import { PeerClient, startExchangeServer } from '@ferry/exchange'
import { homeSources, readLeafHere, type LeafReader } from '@ferry/node'
import type { CID } from 'multiformats/cid'
import { localPeer, type LocalPeerOptions } from './local-peer.js'
import { cleanup as stopNodes, makeNode } from '../../exchange/test/helpers.js'
import { MiB, cleanup, hashTree, tempDir, writeTree } from '../../../test/support/tree.js'

/** Inner nodes of every scan added by `addScan`, by root. */
const innerNodes = new Map<string, CID[]>()

async function addScan (home: Home, dir: string, pool: HashPool): Promise<CID> {
  const nodes: CID[] = []
  const writer = home.catalog.createScanWriter({ name: 'scan', sourcePath: dir, origin: home.peerId.toString(), collection: 'visit' })
  const r = await importDirectory(dir, {
    pool,
    sink: {
      putBlocks: async (b) => {
        writer.addNodes(b.map((x) => x.cid))
        nodes.push(...b.map((x) => x.cid))
        await home.blocks.putMany(b)
      },
      addEntry: (e) => { writer.addEntry(e) },
      addSource: (p, s, m, l) => { writer.addSource(p, s, m, l) }
    }
  })
  innerNodes.set(r.root.toString(), nodes)
  await writer.commitSigned({ root: r.root, files: r.files, directories: r.directories, symlinks: r.symlinks, bytes: r.bytes, skipped: r.skipped }, home.privateKey)
  return r.root
}

function spec (home: Home, opts: LocalPeerOptions): PeerSpec {
  return { label: opts.id, connect: async () => localPeer(home, opts) }
}

describe('pull (engine, in-process peers over real homes)', () => {
  let tmp: string
  let pool: HashPool
  let source: Home
  let second: Home
  let scanDir: string
  let root: CID
  let n = 0
  const newHome = async (): Promise<Home> => await initHome(join(tmp, `home${n++}`))

  beforeAll(async () => {
    tmp = tempDir()
    pool = new HashPool({ workers: 2 })
    source = await newHome()
    second = await newHome()
    scanDir = join(tmp, 'scan')
    const files: Record<string, number | null> = { 'empty/': null, 'vol/recon.h5': 9 * MiB + 333, 'zero.bin': 0 }
    for (let i = 0; i < 60; i++) files[`proj/p${String(i).padStart(3, '0')}.tif`] = MiB + i
    writeTree(scanDir, files)
    symlinkSync('vol/recon.h5', join(scanDir, 'latest'))
    chmodSync(join(scanDir, 'proj/p007.tif'), 0o600)
    root = await addScan(source, scanDir, pool)
    expect(await addScan(second, scanDir, pool)).toEqual(root)
  })
  afterAll(async () => {
    await pool.close()
    await source.close()
    await second.close()
    cleanup(tmp)
  })

  it('replicates a scan byte for byte, with modes, mtimes and symlinks, and registers it', async () => {
    const home = await newHome()
    const dest = join(tmp, 'dest-full')
    const r = await pull({ root, dest, peers: [spec(source, { id: 'A' })], home: { catalog: home.catalog, blocks: home.blocks } })
    expect(r.complete).toBe(true)
    expect(r.problems).toEqual([])
    expect(hashTree(dest)).toEqual(hashTree(scanDir))
    expect(r.bytesFetched).toBe(r.bytes)
    expect(r.fromPeers).toEqual({ A: r.bytes })
    expect(statSync(join(dest, 'proj/p007.tif')).mode & 0o777).toBe(0o600)
    expect(Math.round(statSync(join(dest, 'vol/recon.h5')).mtimeMs)).toBe(Math.round(statSync(join(scanDir, 'vol/recon.h5')).mtimeMs))
    expect(lstatSync(join(dest, 'latest')).isSymbolicLink()).toBe(true)
    expect(existsSync(join(dest, '.ferry-partial'))).toBe(false)
    // the replica is in the catalog, served from dest
    const scans = home.catalog.listScans()
    expect(scans.map((s) => [s.root?.toString(), s.sourcePath])).toEqual([[root.toString(), dest]])
    // with its collection known for every inner node and leaf, so this node's grants can apply to it
    const nodes = innerNodes.get(root.toString()) ?? []
    expect(nodes.length).toBeGreaterThan(2)
    for (const cid of nodes) expect(home.catalog.blockCollections(cid)).toEqual(['visit'])
    const leaf = home.catalog.getSource(join(dest, 'vol/recon.h5'))?.leaves[0]
    expect(leaf).toBeDefined()
    expect(home.catalog.blockCollections(leaf!.cid)).toEqual(['visit'])
    // a no-op pull fetches nothing
    const again = await pull({ root, dest, peers: [spec(source, { id: 'A' })], home: { catalog: home.catalog, blocks: home.blocks } })
    expect(again.bytesFetched).toBe(0)
    expect(again.bytesPresent).toBe(r.bytes)
    expect(again.complete).toBe(true)
    await home.close()
  })

  it('resumes after an interruption, fetching only what was missing (+ under 2% of the scan)', async () => {
    const home = await newHome()
    const dest = join(tmp, 'dest-resume')
    const controller = new AbortController()
    let fetched = 0
    const first = pull({
      root,
      dest,
      home: { catalog: home.catalog, blocks: home.blocks },
      signal: controller.signal,
      peers: [spec(source, { id: 'A', delayMs: 2 })],
      onProgress: (e) => { if (e.type === 'pull:bytes') { fetched += e.bytes; if (fetched > 30 * MiB) controller.abort() } }
    })
    await expect(first).rejects.toMatchObject({ code: 'ERR_ABORTED' })
    const onDisk = countPlaced(dest)
    const r = await pull({ root, dest, peers: [spec(source, { id: 'A' })], home: { catalog: home.catalog, blocks: home.blocks } })
    expect(r.complete).toBe(true)
    expect(hashTree(dest)).toEqual(hashTree(scanDir))
    const missingAtResume = r.bytes - r.bytesPresent
    expect(onDisk).toBeGreaterThan(0)
    expect(r.bytesFetched).toBeLessThanOrEqual(r.bytes - fetched + 0.02 * r.bytes + 32 * MiB)
    expect(r.bytesFetched).toBeLessThanOrEqual(missingAtResume)
    await home.close()
  })

  it('resumes from the staged files the staging directory holds, read once, not one lstat per file to stage', async () => {
    const home = await newHome()
    const dest = join(tmp, 'dest-staged')
    // an earlier run's staged file: the first 3 MiB of vol/recon.h5 under its staged name (the staging
    // module's: sha256 of the path, 32 hex digits, .part), and a stray name that is nobody's staged file
    const staging = join(dest, '.ferry-partial')
    mkdirSync(staging, { recursive: true })
    const stagedName = `${createHash('sha256').update('vol/recon.h5').digest('hex').slice(0, 32)}.part`
    writeFileSync(join(staging, stagedName), readFileSync(join(scanDir, 'vol/recon.h5')).subarray(0, 3 * MiB))
    writeFileSync(join(staging, 'stray.part'), 'not a staged file')
    const lookups: number[] = []
    const onProgress = (e: PullProgressEvent): void => { if (e.type === 'pull:held') lookups.push(e.stagedLookups) }
    const r = await pull({ root, dest, peers: [spec(source, { id: 'A' })], home: { catalog: home.catalog, blocks: home.blocks }, onProgress })
    expect(r.complete).toBe(true)
    expect(hashTree(dest)).toEqual(hashTree(scanDir))
    expect(existsSync(staging)).toBe(false)
    // one staged name looked at (of the 62 files to stage), its three leaves verified and kept
    expect(lookups).toEqual([1])
    expect(r.bytesResumed).toBe(3 * MiB)
    expect(r.bytesFetched).toBe(r.bytes - 3 * MiB)
    await home.close()
  })

  it('shares the load between two sources', async () => {
    const home = await newHome()
    const dest = join(tmp, 'dest-two')
    const r = await pull({ root, dest, peers: [spec(source, { id: 'A', delayMs: 1 }), spec(second, { id: 'B', delayMs: 1 })], home: { catalog: home.catalog, blocks: home.blocks } })
    expect(r.complete).toBe(true)
    expect(hashTree(dest)).toEqual(hashTree(scanDir))
    expect(r.fromPeers.A).toBeGreaterThan(r.bytes * 0.2)
    expect(r.fromPeers.B).toBeGreaterThan(r.bytes * 0.2)
    expect((r.fromPeers.A ?? 0) + (r.fromPeers.B ?? 0)).toBe(r.bytesFetched)
    await home.close()
  })

  it('a lying peer is banned and its share is fetched from the honest one', async () => {
    // The liar is a real exchange server over the source home whose leaf reader flips a byte in every leaf,
    // dialled by a real PeerClient over TCP: the wrong bytes cross the wire and the client's hash check
    // finds them (its record and inner nodes are honest, so it gets as far as serving leaves).
    let corrupted = 0
    const lying: LeafReader = async (h, cid, signal) => {
      const r = await readLeafHere(h, cid, signal)
      if (r.status !== 'ok' || r.bytes.byteLength === 0) return r
      const bytes = Uint8Array.from(r.bytes)
      bytes[bytes.length >> 1]! ^= 0xff
      corrupted++
      return { status: 'ok', bytes }
    }
    const server = await makeNode()
    const client = await makeNode()
    await startExchangeServer(server, { ...homeSources(source, lying), authorize: () => ({ allow: true }) })
    const liarId = server.peerId.toString()
    const liar: PeerSpec = { label: 'liar', connect: async () => new PeerClient(client, { peer: server.getMultiaddrs()[0]! }) as BlockPeer }
    const home = await newHome()
    const dest = join(tmp, 'dest-liar')
    const events: string[] = []
    try {
      const r = await pull({
        root,
        dest,
        home: { catalog: home.catalog, blocks: home.blocks },
        peers: [liar, spec(second, { id: 'honest', delayMs: 1 })],
        onProgress: (e) => { if (e.type === 'pull:peer') events.push(`${e.peer}:${e.state}${e.message !== undefined ? `: ${e.message}` : ''}`) }
      })
      expect(r.complete).toBe(true)
      expect(hashTree(dest)).toEqual(hashTree(scanDir))
      expect(corrupted).toBeGreaterThan(0) // the liar did send wrong bytes...
      // ...and was caught by their hash (the engine names a banned peer by its label)
      expect(events).toContainEqual(expect.stringMatching(new RegExp(`^liar:banned: Peer ${liarId} sent bytes that do not hash to `)))
      expect(r.fromPeers[liarId] ?? 0).toBe(0)
      expect(r.fromPeers.honest).toBe(r.bytesFetched)
    } finally {
      await home.close()
      await stopNodes()
    }
  })

  it('a source that dies mid-transfer: the other finishes the job', async () => {
    const home = await newHome()
    const dest = join(tmp, 'dest-dies')
    const r = await pull({
      root,
      dest,
      home: { catalog: home.catalog, blocks: home.blocks },
      deadlineMs: 5000,
      peers: [{ label: 'mortal', connect: async () => { if (mortalDead) throw new Error('connection refused'); mortalDead = true; return localPeer(source, { id: 'mortal', dieAfter: 10 }) } }, spec(second, { id: 'steady', delayMs: 3 })]
    })
    expect(r.complete).toBe(true)
    expect(hashTree(dest)).toEqual(hashTree(scanDir))
    expect(r.fromPeers.mortal).toBeGreaterThan(0)
    await home.close()
  })
  let mortalDead = false

  it('never overwrites a different file at the destination, and says so', async () => {
    const home = await newHome()
    const dest = join(tmp, 'dest-conflict')
    writeTree(dest, { 'proj/p001.tif': 'my own notes, not the projection' })
    const r = await pull({ root, dest, peers: [spec(source, { id: 'A' })], home: { catalog: home.catalog, blocks: home.blocks } })
    expect(r.complete).toBe(false)
    expect(r.problems).toEqual([{ path: 'proj/p001.tif', code: 'ERR_CONFLICT', message: 'exists at the destination with other content; not overwritten' }])
    expect(readFileSync(join(dest, 'proj/p001.tif'), 'utf8')).toBe('my own notes, not the projection')
    expect(hashTree(join(dest, 'vol'))).toEqual(hashTree(join(scanDir, 'vol')))
    await home.close()
  })

  it('refuses a record changed by a relay, and a validly signed entry list that does not describe the DAG', async () => {
    const home = await newHome()
    const dest = join(tmp, 'dest-tampered')
    const chmod = (e: ScanEntryInfo): ScanEntryInfo => e.path === 'proj/p007.tif' ? { ...e, mode: e.mode | 0o044 } : e
    await expect(pull({ root, dest, peers: [spec(source, { id: 'relay', tamperEntry: chmod })], home: { catalog: home.catalog, blocks: home.blocks } }))
      .rejects.toMatchObject({ code: 'ERR_BAD_SIGNATURE', details: { origin: source.peerId.toString(), from: 'relay' } })
    expect(existsSync(dest)).toBe(false)
    // the origin's own key signs a list whose CID for one file is another file's: the signature is fine, the DAG says otherwise
    const other = [...source.catalog.entries(source.catalog.getScan(root)!.id)].find((e) => e.path === 'proj/p001.tif')!.cid
    const swap = (e: ScanEntryInfo): ScanEntryInfo => e.path === 'proj/p000.tif' ? { ...e, cid: other } : e
    await expect(pull({ root, dest, peers: [spec(source, { id: 'A', tamperEntry: swap, resignWith: source.privateKey })], home: { catalog: home.catalog, blocks: home.blocks } }))
      .rejects.toMatchObject({ code: 'ERR_BAD_SIGNATURE', message: expect.stringContaining('does not match its DAG at "proj/p000.tif"') })
    expect(home.catalog.listScans()).toEqual([])
    // untouched, the same peer's record is accepted and stored with the origin's signature
    const r = await pull({ root, dest, peers: [spec(source, { id: 'A' })], home: { catalog: home.catalog, blocks: home.blocks } })
    expect(r.complete).toBe(true)
    const [copy] = home.catalog.listScans()
    expect(Buffer.from(copy!.signature!.bytes)).toEqual(Buffer.from(source.catalog.getScan(root)!.signature!.bytes))
    expect(await home.catalog.checkSignature(copy!, source.peerId.toString())).toEqual({ ok: true })
    expect(home.catalog.provenance(copy!.id)).toEqual([{ peer: 'A', bytes: r.bytes, fetched: expect.any(Number) }])
    await home.close()
  })

  it('copies leaves this node already holds instead of fetching them', async () => {
    const dest = join(tmp, 'dest-local')
    const r = await pull({ root, dest, peers: [], home: { catalog: second.catalog, blocks: second.blocks } })
    expect(r.complete).toBe(true)
    expect(r.bytesFetched).toBe(0)
    expect(r.bytesLocal).toBe(r.bytes)
    expect(hashTree(dest)).toEqual(hashTree(scanDir))
  })

  it('copies the leaves it holds and fetches the rest of the same file: each leaf counted once, the file placed', async () => {
    // a file whose first 6 MiB this node holds (in the scan above) and whose last 6 MiB only the source has:
    // the queue's window holds the local leaves too, so a leaf written twice (copied, then fetched) must not
    // end the fetch early (it did: the pull ended "complete" with the file never placed)
    const mixed = join(tmp, 'mixed')
    const held = readFileSync(join(scanDir, 'vol/recon.h5')).subarray(0, 6 * MiB)
    writeTree(mixed, { 'vol/recon.h5': Buffer.concat([held, randomBytes(6 * MiB)]), 'proj/p000.tif': readFileSync(join(scanDir, 'proj/p000.tif')) })
    const mixedRoot = await addScan(source, mixed, pool)
    const dest = join(tmp, 'dest-mixed')
    const r = await pull({ root: mixedRoot, dest, peers: [spec(source, { id: 'A' })], home: { catalog: second.catalog, blocks: second.blocks } })
    expect(r.complete).toBe(true)
    expect(hashTree(dest)).toEqual(hashTree(mixed))
    expect(r.bytesLocal).toBe(6 * MiB + statSync(join(mixed, 'proj/p000.tif')).size)
    expect(r.bytesFetched).toBe(6 * MiB)
  })
})

function countPlaced (dest: string): number {
  let n = 0
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      if (name === '.ferry-partial') continue
      const p = join(d, name)
      const st = lstatSync(p)
      if (st.isDirectory()) walk(p)
      else n++
    }
  }
  walk(dest)
  return n
}
