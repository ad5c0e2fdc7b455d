/**
 * During the experiment (issue 13, source side), with a real daemon in its own process and real files:
 * `ferry watch` publishes each complete file into the collection's open scan (its CID the importer's),
 * announces it to a subscribed peer at once, never publishes a file still growing, republishes a file
 * rewritten after it was published (and reports it), keeps the watch across a restart and catches up, and
 * `ferry seal` gives the root `ferry add` of the same directory gives in another home.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { importFile } from '@ferry/dag'
import { createFerryNode, type FerryNode } from '@ferry/node'
import {
  ANNOUNCE_PROTOCOL, CATALOG_PROTOCOL, decodeAnnounceServerMessage, decodeCatalogServerMessage, encodeAnnounceSubscribe, encodeFrame, encodeOpenEntriesRequest,
  type CatalogServerMessage, type PeerClient, type PublishedFileRow
} from '@ferry/exchange'
import { openHome, verifyOpenEntry, verifyOpenSeal, type Home, type PublishedEntry } from '@ferry/store'
import { ferry, initTestHome, json } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { apiOf, until } from '../support/api.js'
import { bytes, cleanup, tempDir, writeKeptOpen } from '../support/tree.js'
import { requireInCi } from '../support/ci.js'

const daemons = new DaemonSet()

/** The CID the importer gives the file at `abs`. */
async function importerCid (abs: string): Promise<string> {
  const r = await importFile(abs, 'f')
  return r.entry!.cid.toString()
}

/** Entries of the open scan (collection, name) as the daemon's catalog holds them (read from this process). */
async function published (homeDir: string, collection: string, name: string): Promise<PublishedEntry[]> {
  const home = await openHome(homeDir)
  try {
    const open = home.catalog.open.find(collection, name)
    return open === undefined ? [] : home.catalog.open.entries(open.id, -1, 100_000)
  } finally {
    await home.close()
  }
}

/** A raw /ferry/announce subscription asking for published files: every ANNOUNCE_FILE, with its arrival time. */
async function subscribeFiles (node: FerryNode, addr: string, collection: string): Promise<{ files: Array<{ file: PublishedFileRow, at: number }>, accepted: Promise<void>, close: () => Promise<void> }> {
  const stream = await node.libp2p.dialProtocol(multiaddr(addr), ANNOUNCE_PROTOCOL)
  const files: Array<{ file: PublishedFileRow, at: number }> = []
  let buf = new Uint8Array(0)
  let ready: () => void = () => {}
  const accepted = new Promise<void>((resolve) => { ready = resolve })
  stream.addEventListener('message', (evt) => {
    const parts = evt.data instanceof Uint8Array ? [evt.data] : [...evt.data]
    buf = Buffer.concat([buf, ...parts.map((p) => p.slice())])
    for (;;) {
      let len = 0; let shift = 0; let i = 0
      for (;;) {
        if (i >= buf.length) return
        const b = buf[i++] as number
        len += (b & 0x7f) * 2 ** shift
        shift += 7
        if ((b & 0x80) === 0) break
      }
      if (buf.length < i + len) return
      const msg = decodeAnnounceServerMessage(buf.subarray(i, i + len))
      buf = buf.subarray(i + len)
      if (msg.type === 'announce-accepted') ready()
      if (msg.type === 'announce-file') files.push({ file: msg.file, at: performance.now() })
    }
  })
  stream.send(encodeFrame(encodeAnnounceSubscribe(collection, true)))
  return { files, accepted, close: async () => { await stream.close().catch(() => {}) } }
}

/** One OPEN_ENTRIES_REQUEST on a raw catalog stream, and its answer. */
async function openEntries (node: FerryNode, addr: string, key: CID, fromSeq: number): Promise<Extract<CatalogServerMessage, { type: 'open-entries-page' }>> {
  const stream = await node.libp2p.dialProtocol(multiaddr(addr), CATALOG_PROTOCOL)
  const chunks: Uint8Array[] = []
  stream.addEventListener('message', (evt) => {
    for (const c of evt.data instanceof Uint8Array ? [evt.data] : [...evt.data]) chunks.push(c.slice())
  })
  const closed = new Promise<void>((resolve) => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
  stream.send(encodeFrame(encodeOpenEntriesRequest({ key, fromSeq, max: 1000 })))
  await stream.close().catch(() => {})
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 15_000))])
  const all = Buffer.concat(chunks)
  let len = 0; let shift = 0; let i = 0
  for (;;) {
    const b = all[i++] as number
    len += (b & 0x7f) * 2 ** shift
    shift += 7
    if ((b & 0x80) === 0) break
  }
  const msg = decodeCatalogServerMessage(all.subarray(i, i + len))
  if (msg.type !== 'open-entries-page') throw new Error(`expected an OPEN_ENTRIES_PAGE, got ${msg.type}`)
  return msg
}

describe('ferry watch, ferry seal', () => {
  let tmp: string
  let A: { dir: string, id: string }
  let B: { dir: string, id: string }
  let dA: Daemon
  let peerHome: Home
  let peerNode: FerryNode
  let client: PeerClient

  beforeAll(async () => {
    tmp = tempDir('ferry-watch-')
    A = await initTestHome(tmp, 'source')
    B = await initTestHome(tmp, 'peer')
    expect((await ferry(['trust', B.id, '--home', A.dir])).code).toBe(0)
    dA = await daemons.start(A.dir)
    peerHome = await openHome(B.dir)
    peerNode = await createFerryNode({ home: peerHome, listen: [] })
    client = await peerNode.dialPeer(dA.addr)
  })
  afterAll(async () => {
    await peerNode?.stop()
    await peerHome?.close()
    await daemons.stopAll()
    cleanup(tmp)
  })

  it('publishes each file as the writer closes it, with the importer\'s CID, announced to a subscriber and servable by CID', async () => {
    const dir = join(tmp, 'scan1')
    mkdirSync(join(dir, 'raw'), { recursive: true })
    const sub = await subscribeFiles(peerNode, dA.addr, 'live')
    await sub.accepted
    const w = await ferry(['watch', dir, '--collection', 'live', '--name', 'scan1', '--settle', '0.5', '--json', '--home', A.dir])
    expect(w.code, w.stderr).toBe(0)
    const sizes = [1000, 1024 * 1024 + 1, 3 * 1024 * 1024 + 5]
    const latencies: number[] = []
    for (let i = 0; i < sizes.length; i++) {
      const rel = `raw/p${i}.tif`
      writeFileSync(join(dir, rel), bytes(sizes[i]!, `p${i}`))
      const closedAt = performance.now()
      const got = await until(async () => sub.files.find((f) => f.file.path === rel), 20_000, `announcement of ${rel}`)
      latencies.push(got.at - closedAt)
      expect(got.file.cid.toString()).toBe(await importerCid(join(dir, rel)))
      expect(got.file).toMatchObject({ collection: 'live', name: 'scan1', origin: A.id, seq: i, size: sizes[i], version: 0 })
      expect(await verifyOpenEntry(got.file, got.file, got.file.signature, i)).toEqual({ ok: true })
      const block = await client.get(got.file.cid)
      expect(block.status).toBe('ok')
    }
    // a writer producing files while the daemon publishes them: 20 files, one every 100 ms, no waiting
    const burst = Array.from({ length: 20 }, (_, i) => ({ rel: `raw/b${String(i).padStart(2, '0')}.tif`, size: 50_000 + i * 70_001 }))
    for (const b of burst) {
      writeFileSync(join(dir, b.rel), bytes(b.size, b.rel))
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await until(async () => burst.every((b) => sub.files.some((f) => f.file.path === b.rel)) ? true : undefined, 30_000, 'the burst announced')
    for (const b of burst) {
      const f = sub.files.find((x) => x.file.path === b.rel)!.file
      expect(f.size).toBe(b.size)
      expect(f.cid.toString()).toBe(await importerCid(join(dir, b.rel)))
    }
    expect(sub.files.map((f) => f.file.seq)).toEqual(Array.from({ length: 23 }, (_, i) => i)) // every seq, in order, once

    // listed in the remote catalog as open, its key for a root, the files published so far
    const rows = []
    for await (const page of client.listCatalog({ collection: 'live' })) rows.push(...page.rows)
    const openRow = rows.find((r) => r.name === 'scan1')
    expect(openRow).toMatchObject({ state: 'open', files: 23, bytes: [...sizes, ...burst.map((b) => b.size)].reduce((a, b) => a + b, 0), origin: A.id })
    expect(openRow!.root.toString()).toBe(json(w).key)
    // a follower catching up: the entries from any seq on, each verifying against the row's identity
    const page = await openEntries(peerNode, dA.addr, CID.parse(json(w).key), 0)
    expect(page.state).toBe('open')
    expect(page.entries.map((e) => e.seq)).toEqual(Array.from({ length: 23 }, (_, i) => i))
    for (const e of page.entries) expect(await verifyOpenEntry(openRow!, e, e.signature, e.seq)).toEqual({ ok: true })
    expect((await openEntries(peerNode, dA.addr, CID.parse(json(w).key), 20)).entries).toEqual(page.entries.slice(20))
    console.log(`published-file announcement after the writer closed it (settle 0.5 s): ${latencies.map((l) => l.toFixed(0)).join(', ')} ms`)
    for (const l of latencies) expect(l).toBeLessThan(10_000)
    await sub.close()
  })

  it('never publishes a file still being written in pieces, and republishes (and reports) one rewritten after it was published', async () => {
    const dir = join(tmp, 'scan2')
    mkdirSync(dir, { recursive: true })
    expect((await ferry(['watch', dir, '--collection', 'live', '--name', 'scan2', '--home', A.dir])).code).toBe(0)
    const slow = join(dir, 'slow.bin')
    const piece = bytes(256 * 1024, 'slow')
    // 2 MiB in 8 pieces over ~4 s (twice the settle time) through one open descriptor, never 2 s apart
    await writeKeptOpen(slow, piece, 8, 500, async () => {
      expect((await published(A.dir, 'live', 'scan2')).filter((e) => e.path === 'slow.bin')).toEqual([])
    })
    const first = await until(async () => (await published(A.dir, 'live', 'scan2')).find((e) => e.path === 'slow.bin'), 20_000, 'slow.bin published')
    expect(first.size).toBe(8 * piece.length)
    expect(first.cid.toString()).toBe(await importerCid(slow))

    writeFileSync(slow, bytes(5000, 'rewritten'))
    const second = await until(async () => (await published(A.dir, 'live', 'scan2')).find((e) => e.path === 'slow.bin' && e.version === 1), 20_000, 'slow.bin republished')
    expect(second.size).toBe(5000)
    expect(second.cid.toString()).toBe(await importerCid(slow))
    expect((await published(A.dir, 'live', 'scan2')).every((e) => e.size === 8 * piece.length || e.size === 5000)).toBe(true)
    const { body } = await apiOf(A.dir).call('GET', '/v1/watches')
    const watch = body.watches.find((x: any) => x.name === 'scan2')
    expect(watch.reports.map((r: any) => r.path)).toEqual(['slow.bin'])
    expect(dA.output()).toMatch(/slow\.bin changed after it was published/)
    // the old version's first leaf, whose bytes are gone from the file: served only as the bytes that hashed to
    // its CID at publication (the daemon's leaf cache; the client checks them against it), never the new file's
    const oldBytes = Buffer.concat([piece, piece, piece, piece])
    const oldLeaf = CID.createV1(0x55, await sha256.digest(oldBytes))
    const old = await client.get(oldLeaf)
    expect(old.status).toBe('ok')
    expect(old.status === 'ok' && Buffer.from(old.bytes).equals(oldBytes)).toBe(true)
    const now = await client.get(second.cid)
    expect(now.status === 'ok' && Buffer.from(now.bytes).equals(readFileSync(slow))).toBe(true)
  })

  it('keeps the watch across a restart and publishes what was written while the daemon was down; seal equals ferry add', async () => {
    const dir = join(tmp, 'scan3')
    mkdirSync(join(dir, 'sub'), { recursive: true })
    const watched = await ferry(['watch', dir, '--collection', 'live', '--name', 'scan3', '--settle', '0.5', '--json', '--home', A.dir])
    expect(watched.code).toBe(0)
    writeFileSync(join(dir, 'a.bin'), bytes(4000, 'a'))
    await until(async () => (await published(A.dir, 'live', 'scan3')).find((e) => e.path === 'a.bin'), 20_000, 'a.bin published')
    await dA.stop()
    writeFileSync(join(dir, 'sub', 'b.bin'), bytes(2 * 1024 * 1024, 'b'))
    writeFileSync(join(dir, 'c.bin'), bytes(10, 'c'))
    dA = await daemons.start(A.dir)
    const entries = await until(async () => {
      const e = await published(A.dir, 'live', 'scan3')
      return e.length === 3 ? e : undefined
    }, 30_000, 'files written while down published')
    expect(entries.map((e) => e.path).sort()).toEqual(['a.bin', 'c.bin', 'sub/b.bin'])
    expect(entries.map((e) => e.seq)).toEqual([0, 1, 2])

    const sealed = await ferry(['seal', '--collection', 'live', '--name', 'scan3', '--json', '--home', A.dir])
    expect(sealed.code, sealed.stderr).toBe(0)
    const added = await ferry(['add', dir, '--collection', 'live', '--name', 'scan3', '--json', '--home', B.dir])
    expect(added.code, added.stderr).toBe(0)
    expect(json(sealed).root).toBe(json(added).root)
    expect(json(sealed).differs).toEqual([])
    // a follower learns the sealed root from the open scan's key
    const sealedPage = await openEntries(peerNode, dA.addr, CID.parse(json(watched).key), 0)
    expect(sealedPage.state).toBe('sealed')
    expect(sealedPage.seal?.root.toString()).toBe(json(added).root)
    expect(sealedPage.entries).toHaveLength(3)
    const identity = { origin: A.id, collection: 'live', name: 'scan3', created: (await openHome(A.dir).then(async (h) => { try { return h.catalog.open.find('live', 'scan3')!.created } finally { await h.close() } })) }
    expect(await verifyOpenSeal(identity, sealedPage.seal!, sealedPage.seal!.signature)).toEqual({ ok: true })
    const listed = await ferry(['scans', '--json', '--home', A.dir])
    expect(listed.stdout).toContain(json(added).root)
  })
  it('publishes a file as soon as its writer closes it, well before the settle time (30 s), never while it is open; a rename into place and a rewrite too', async (ctx) => {
    if (spawnSync('inotifywait', ['--help'], { stdio: 'ignore' }).error !== undefined) requireInCi(ctx, 'needs inotifywait (Debian package inotify-tools) for close events')
    const dir = join(tmp, 'scan4')
    mkdirSync(join(dir, 'raw'), { recursive: true })
    const w = await ferry(['watch', dir, '--collection', 'live', '--name', 'scan4', '--settle', '30', '--json', '--home', A.dir])
    expect(w.code, w.stderr).toBe(0)
    const shown = await ferry(['watches', '--json', '--home', A.dir])
    expect(json(shown).watches.find((x: { name: string }) => x.name === 'scan4')).toMatchObject({ closeEvents: true })
    const entries = async (rel: string): Promise<PublishedEntry[]> => (await published(A.dir, 'live', 'scan4')).filter((e) => e.path === rel)
    // 9 pieces of 256 KiB over ~4 s through one open descriptor
    const frame = join(dir, 'raw', 'frame 0001\n.h5') // a space and a newline in the name: parsed exactly
    const size = await writeKeptOpen(frame, bytes(256 * 1024, 'open'), 9, 500, async () => {
      expect(await entries('raw/frame 0001\n.h5')).toEqual([])
    })
    // published on close: the settle time (30 s) is twice the wait below
    const first = await until(async () => (await entries('raw/frame 0001\n.h5'))[0], 15_000, 'the closed frame published')
    expect(first.size).toBe(size)
    expect(first.cid.toString()).toBe(await importerCid(frame))
    // a file written under a temporary name and renamed into place (IN_MOVED_TO)
    writeFileSync(join(dir, 'raw', '.part-0002'), bytes(300_000, 'renamed'))
    renameSync(join(dir, 'raw', '.part-0002'), join(dir, 'raw', 'frame0002.h5'))
    const renamed = await until(async () => (await entries('raw/frame0002.h5'))[0], 15_000, 'the renamed frame published')
    expect(renamed.cid.toString()).toBe(await importerCid(join(dir, 'raw', 'frame0002.h5')))
    // opened for writing again after it was published: a new version, reported, as promptly
    writeFileSync(frame, bytes(5000, 'again'))
    const second = await until(async () => (await entries('raw/frame 0001\n.h5')).find((e) => e.version === 1), 15_000, 'the rewritten frame republished')
    expect(second.cid.toString()).toBe(await importerCid(frame))
    expect(dA.output()).toMatch(/frame 0001\n\.h5 changed after it was published/)
    expect((await published(A.dir, 'live', 'scan4')).map((e) => e.path).sort()).toEqual(['raw/frame 0001\n.h5', 'raw/frame 0001\n.h5', 'raw/frame0002.h5'])
  })

  it('falls back to the settle time when inotifywait fails (here: the inotify watch limit), and the daemon goes on', async () => {
    const bin = join(tmp, 'failing-bin')
    mkdirSync(bin, { recursive: true })
    // what inotifywait prints and does when max_user_watches is reached
    writeFileSync(join(bin, 'inotifywait'), '#!/bin/sh\necho "Failed to watch $*; upper limit on inotify watches reached!" >&2\nexit 1\n', { mode: 0o755 })
    const D = await initTestHome(tmp, 'fallback')
    const dD = await daemons.start(D.dir, [], { PATH: `${bin}:${process.env.PATH ?? ''}` })
    const dir = join(tmp, 'scan5')
    mkdirSync(dir, { recursive: true })
    expect((await ferry(['watch', dir, '--collection', 'live', '--name', 'scan5', '--settle', '0.5', '--home', D.dir])).code).toBe(0)
    writeFileSync(join(dir, 'a.bin'), bytes(70_000, 'fallback'))
    const e = await until(async () => (await published(D.dir, 'live', 'scan5')).find((x) => x.path === 'a.bin'), 20_000, 'a.bin published after the settle time')
    expect(e.cid.toString()).toBe(await importerCid(join(dir, 'a.bin')))
    expect(dD.output()).toMatch(/no close events \(inotifywait exited \(code 1\): Failed to watch .*upper limit on inotify watches reached!\); files are published once unchanged for the settle time/)
    expect(dD.child.exitCode).toBe(null)
    const shown = await ferry(['watches', '--home', D.dir])
    expect(shown.stdout).toMatch(/live\/scan5 .* published after 0\.5 s unchanged \(no close events: see the daemon's log\)/)
    await dD.stop()
  })
})
