/**
 * Remote catalogs and announcements (issue 11, items 4 and 5), with a real daemon in its own process:
 * `ferry remote` lists what a peer may read and nothing of a collection granted to another peer; a listing
 * of 250 scans in pages of 100 gives every scan once, in order; a hostile page request is refused with
 * ERROR LIMIT; an untrusted peer gets ERROR DENIED; a scan committed by `ferry add` (another process) is
 * announced within a bounded time to the subscribers that may read it, and to no other.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { multiaddr } from '@multiformats/multiaddr'
import { createFerryNode, type FerryNode } from '@ferry/node'
import {
  CATALOG_PROTOCOL, MAX_CATALOG_CLIENT_FRAME_BYTES, MAX_CATALOG_PAGE_ROWS, decodeCatalogServerMessage, encodeCatalogRequest, encodeFrame,
  type PeerClient, type RemoteCatalogRow
} from '@ferry/exchange'
import { openHome, type Home } from '@ferry/store'
import { ferry, initTestHome, json } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { cleanup, tempDir, writeTree } from '../support/tree.js'
import { frames } from '../support/unit.js'

const daemons = new DaemonSet()
const MANY = 250

/** A libp2p node with `homeDir`'s identity (a peer of the daemon), and a client for the daemon. */
interface Peer { home: Home, node: FerryNode, client: PeerClient, stop: () => Promise<void> }

async function peerOf (homeDir: string, addr: string): Promise<Peer> {
  const home = await openHome(homeDir)
  const node = await createFerryNode({ home, listen: [] })
  const client = await node.dialPeer(addr)
  return { home, node, client, stop: async () => { await node.stop(); await home.close() } }
}

/** Sends `payload` as one frame on a raw catalog stream and returns every byte the server sent until it closed. */
async function rawCatalog (p: Peer, addr: string, payload: Uint8Array): Promise<Uint8Array> {
  const stream = await p.node.libp2p.dialProtocol(multiaddr(addr), CATALOG_PROTOCOL)
  const chunks: Uint8Array[] = []
  stream.addEventListener('message', (evt) => {
    const data = evt.data
    if (data instanceof Uint8Array) chunks.push(data.slice())
    else for (const c of data) chunks.push(c.slice())
  })
  const closed = new Promise<void>((resolve) => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
  stream.send(encodeFrame(payload))
  await stream.close().catch(() => {})
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 15_000))])
  return Buffer.concat(chunks)
}

/** 250 scans of collection "many" written straight into the catalog (no files: the listing reads only records). */
async function addMany (homeDir: string): Promise<void> {
  const home = await openHome(homeDir)
  try {
    for (let i = 0; i < MANY; i++) {
      const name = `scan-${String(i).padStart(3, '0')}`
      const root = CID.createV1(0x70, await sha256.digest(new TextEncoder().encode(name)))
      const w = home.catalog.createScanWriter({ collection: 'many', name, sourcePath: `/beamline/${name}`, origin: home.peerId.toString(), created: 1_700_000_000_000 + i })
      w.commit({ root, files: i, directories: 1, symlinks: 0, bytes: i * 1000, skipped: [] })
    }
  } finally {
    await home.close()
  }
}

/** The next announcement from `it`, or undefined after `ms`. */
async function nextWithin (it: AsyncIterator<RemoteCatalogRow>, ms: number): Promise<{ row?: RemoteCatalogRow, at: number }> {
  let timer: NodeJS.Timeout | undefined
  const r = await Promise.race([
    it.next().then((x) => ({ row: x.done === true ? undefined : x.value, at: performance.now() })),
    new Promise<{ at: number }>((resolve) => { timer = setTimeout(() => { resolve({ at: performance.now() }) }, ms) })
  ])
  clearTimeout(timer)
  return r
}

describe('remote catalogs and announcements', () => {
  let tmp: string
  let A: { dir: string, id: string }
  let alice: { dir: string, id: string }
  let bob: { dir: string, id: string }
  let carol: { dir: string, id: string }
  let dA: Daemon
  let publicRoot: string
  let secretRoot: string

  beforeAll(async () => {
    tmp = tempDir()
    writeTree(join(tmp, 'public-scan'), { 'raw/p0.tif': 1000, 'raw/p1.tif': 2345 })
    writeTree(join(tmp, 'secret-scan'), { 'recon/a.h5': 4096 })
    A = await initTestHome(tmp, 'siteA')
    alice = await initTestHome(tmp, 'alice')
    bob = await initTestHome(tmp, 'bob')
    carol = await initTestHome(tmp, 'carol') // never trusted
    publicRoot = json(await ferry(['add', join(tmp, 'public-scan'), '--collection', 'public', '--name', 'p-scan', '--json', '--home', A.dir])).root
    secretRoot = json(await ferry(['add', join(tmp, 'secret-scan'), '--collection', 'secret', '--name', 's-scan', '--json', '--home', A.dir])).root
    await addMany(A.dir)
    for (const p of [alice, bob]) expect((await ferry(['trust', p.id, '--home', A.dir])).code).toBe(0)
    expect((await ferry(['grant', 'secret', alice.id, '--home', A.dir])).code).toBe(0)
    dA = await daemons.start(A.dir)
  })
  afterAll(async () => {
    await daemons.stopAll()
    cleanup(tmp)
  })

  it('`ferry remote` lists what the peer may read, exactly, and nothing of a collection granted to another peer', async () => {
    const bobs = json<any[]>(await ferry(['remote', dA.addr, '--json', '--home', bob.dir]))
    expect(bobs).toHaveLength(1 + MANY)
    expect(bobs.some((r) => r.collection === 'secret' || r.root === secretRoot)).toBe(false)
    expect(bobs[0]).toEqual({
      root: publicRoot,
      collection: 'public',
      name: 'p-scan',
      origin: A.id,
      files: 2,
      directories: 2,
      symlinks: 0,
      bytes: 3345,
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      skipped: 0,
      state: 'sealed'
    })
    // asking for the collection by name shows nothing either: invisible, not refused
    const named = await ferry(['remote', dA.addr, 'secret', '--json', '--home', bob.dir])
    expect(named.code).toBe(0)
    expect(json(named)).toEqual([])

    const alices = json<any[]>(await ferry(['remote', dA.addr, 'secret', '--json', '--home', alice.dir]))
    expect(alices.map((r) => [r.collection, r.name, r.root, r.files, r.bytes, r.state])).toEqual([['secret', 's-scan', secretRoot, 1, 4096, 'sealed']])

    const table = await ferry(['remote', dA.addr, 'public', '--home', bob.dir])
    expect(table.code).toBe(0)
    const lines = table.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^COLLECTION\s+NAME\s+ROOT\s+FILES\s+SIZE\s+CREATED\s+STATE$/)
    expect(lines.slice(1)).toHaveLength(1)
    expect(lines[1]).toMatch(new RegExp(`^public\\s+p-scan\\s+${publicRoot}\\s+2\\s+3\\.35 kB\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+sealed$`))
  })

  it('a peer named in the address book is dialled at its address; a name without one is a usage error', async () => {
    const cfgFile = join(bob.dir, 'config.json')
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'))
    cfg.peers = [{ name: 'siteA', id: A.id, addrs: [dA.addr.split('/p2p/')[0]] }, { name: 'nowhere', id: carol.id, addrs: [] }]
    writeFileSync(cfgFile, JSON.stringify(cfg, null, 2))
    const named = json<any[]>(await ferry(['remote', 'siteA', 'public', '--json', '--home', bob.dir]))
    expect(named.map((r) => r.root)).toEqual([publicRoot])
    const none = await ferry(['remote', 'nowhere', '--home', bob.dir])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('has no address in the address book')
    expect((await ferry(['remote', 'unknown-site', '--home', bob.dir])).code).toBe(2)
  })

  it('250 scans in pages of 100: every scan exactly once, in order, from the CLI and the client', async () => {
    const cli = json<any[]>(await ferry(['remote', dA.addr, 'many', '--json', '--home', bob.dir]))
    const names = Array.from({ length: MANY }, (_, i) => `scan-${String(i).padStart(3, '0')}`)
    expect(cli.map((r) => r.name)).toEqual(names)
    const limited = json<any[]>(await ferry(['remote', dA.addr, 'many', '--limit', '7', '--json', '--home', bob.dir]))
    expect(limited.map((r) => r.name)).toEqual(names.slice(0, 7))

    const p = await peerOf(bob.dir, dA.addr)
    try {
      const sizes: number[] = []
      const seen: string[] = []
      for await (const page of p.client.listCatalog({ collection: 'many', pageSize: 100 })) {
        sizes.push(page.rows.length)
        seen.push(...page.rows.map((r) => r.name))
      }
      expect(sizes).toEqual([100, 100, 50])
      expect(seen).toEqual(names)
      const prefixed: string[] = []
      for await (const page of p.client.listCatalog({ prefix: 'scan-24', pageSize: 3 })) prefixed.push(...page.rows.map((r) => r.name))
      expect(prefixed).toEqual(names.slice(240))
      await expect(p.client.listCatalog({ pageSize: MAX_CATALOG_PAGE_ROWS + 1 })[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    } finally {
      await p.stop()
    }
  })

  it('a hostile page request is refused with ERROR LIMIT, an oversize frame with ERROR PROTOCOL, an untrusted peer with ERROR DENIED', async () => {
    const p = await peerOf(bob.dir, dA.addr)
    try {
      const over = frames(await rawCatalog(p, dA.addr, encodeCatalogRequest({ collection: null, prefix: '', cursor: new Uint8Array(0), pageSize: 1_000_000 })))
      expect(over).toHaveLength(1)
      expect(decodeCatalogServerMessage(over[0]!)).toEqual({ type: 'error', code: 'limit', message: `catalog page size 1000000 exceeds the limit of ${MAX_CATALOG_PAGE_ROWS} rows` })
      const huge = new Uint8Array(MAX_CATALOG_CLIENT_FRAME_BYTES + 1)
      huge[0] = 0x20
      const big = frames(await rawCatalog(p, dA.addr, huge))
      expect(decodeCatalogServerMessage(big[0]!)).toMatchObject({ type: 'error', code: 'protocol' })
    } finally {
      await p.stop()
    }
    const r = await ferry(['remote', dA.addr, '--home', carol.dir])
    expect(r.code).toBe(6)
    expect(r.stderr).toContain(`ferry trust ${carol.id}`)
    expect(r.stdout).toBe('')
    const c = await peerOf(carol.dir, dA.addr)
    try {
      const denied = frames(await rawCatalog(c, dA.addr, encodeCatalogRequest({ collection: null, prefix: '', cursor: new Uint8Array(0), pageSize: 10 })))
      expect(denied).toHaveLength(1)
      expect(decodeCatalogServerMessage(denied[0]!)).toMatchObject({ type: 'error', code: 'denied', message: expect.stringContaining('is not trusted by') })
    } finally {
      await c.stop()
    }
  })

  it('a scan added at the source is announced within 5 s to subscribers that may read it, and not to one that may not', async () => {
    const a = await peerOf(alice.dir, dA.addr)
    const b = await peerOf(bob.dir, dA.addr)
    const stop = new AbortController()
    try {
      // next() opens the stream; onSubscribed says the source has accepted it (from then on nothing is missed)
      const watch = (p: Peer): { it: AsyncIterator<RemoteCatalogRow>, ready: Promise<void> } => {
        let ready: () => void = () => {}
        const accepted = new Promise<void>((resolve) => { ready = resolve })
        return { it: p.client.watchAnnouncements({ signal: stop.signal, onSubscribed: () => { ready() } })[Symbol.asyncIterator](), ready: accepted }
      }
      const wa = watch(a)
      const wb = watch(b)
      const ia = wa.it
      const ib = wb.it
      let pa = ia.next()
      let pb = ib.next()
      await Promise.all([wa.ready, wb.ready])

      const latencies: number[] = []
      for (let i = 0; i < 5; i++) {
        writeTree(join(tmp, `new-${i}`), { [`f${i}.bin`]: 1000 + i })
        const added = await ferry(['add', join(tmp, `new-${i}`), '--collection', 'public', '--name', `new-${i}`, '--json', '--home', A.dir])
        const doneAt = performance.now()
        const root = json(added).root
        const [ra, rb] = await Promise.all([pa, pb])
        const arrived = performance.now()
        expect(ra.value).toMatchObject({ root, collection: 'public', name: `new-${i}`, files: 1, bytes: 1000 + i, origin: A.id, state: 'sealed' })
        expect(rb.value).toMatchObject({ root, name: `new-${i}` })
        latencies.push(arrived - doneAt)
        pa = ia.next()
        pb = ib.next()
      }
      latencies.sort((x, y) => x - y)
      const median = latencies[2]!
      console.log(`announcement after \`ferry add\` exits: median ${median.toFixed(0)} ms, all ${latencies.map((l) => l.toFixed(0)).join(', ')} ms`)
      expect(latencies[4]!).toBeLessThan(5000)

      // a scan in the collection granted to alice: alice hears of it, bob does not (his next one is the public scan after it)
      writeTree(join(tmp, 'secret-2'), { 'x.h5': 77 })
      const secret2 = json(await ferry(['add', join(tmp, 'secret-2'), '--collection', 'secret', '--name', 'secret-2', '--json', '--home', A.dir])).root
      expect((await pa).value).toMatchObject({ root: secret2, collection: 'secret' })
      const quiet = await nextWithin({ next: async () => await pb } as AsyncIterator<RemoteCatalogRow>, 2000)
      expect(quiet.row).toBeUndefined()
      writeTree(join(tmp, 'public-2'), { 'y.tif': 78 })
      const public2 = json(await ferry(['add', join(tmp, 'public-2'), '--collection', 'public', '--name', 'public-2', '--json', '--home', A.dir])).root
      expect((await pb).value).toMatchObject({ root: public2, collection: 'public' })
    } finally {
      stop.abort()
      await a.stop()
      await b.stop()
    }
  })
})
