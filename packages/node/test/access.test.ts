/**
 * The access gate: per-collection grants on top of the trusted list, decided from the catalog for every
 * block and scan request, reloaded from config.json without a restart. Real homes, real catalogs, real
 * imports; the last tests put two real nodes on loopback and count what the server sent.
 */
import Database from 'better-sqlite3'
import { setTimeout as delay } from 'node:timers/promises'
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { generateKey } from '@libp2p/pnet'
import { CONFIG_RECHECK_MS, createFerryNode, grantPeer, newSwarmKeyText, openCollection, parseSwarmKey, readSwarmKey, revokePeer, TrustGate, trustPeer, writeSwarmKey, type FerryNode, type RefusalKind } from '@ferry/node'
import { BLOCKS_PROTOCOL, SCAN_PROTOCOL, type AccessDecision } from '@ferry/exchange'
import { MIGRATIONS, openCatalog } from '@ferry/store'
import { addScan, cleanup, makeHome, onCleanup, tempDir, writeTree } from './helpers.js'
import type { Home } from '@ferry/store'
import type { Logger, PeerId } from '@libp2p/interface'

afterEach(cleanup)

const silent = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => silent }) as unknown as Logger

async function newPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

async function rawCid (text: string): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(text)))
}

interface World {
  home: Home
  /** Scan in the restricted collection 'secret'. */
  secret: Awaited<ReturnType<typeof addScan>>
  /** Scan in the open collection 'public'. */
  open: Awaited<ReturnType<typeof addScan>>
  alice: PeerId
  bob: PeerId
  gate: TrustGate
  refusals: Array<{ peer: string, kind: RefusalKind }>
}

/** A home with a 'secret' scan granted to alice only and a 'public' scan; alice and bob both trusted. */
async function world (open = false): Promise<World> {
  const home = await makeHome()
  const dirs = await tempDir()
  await writeTree(path.join(dirs, 'secret'), 1)
  await writeTree(path.join(dirs, 'public'), 2)
  const secret = await addScan(home, path.join(dirs, 'secret'), 'secret', 'secret')
  const pub = await addScan(home, path.join(dirs, 'public'), 'public', 'public')
  const alice = await newPeer()
  const bob = await newPeer()
  await trustPeer(home, alice.toString())
  await trustPeer(home, bob.toString())
  await grantPeer(home, 'secret', alice.toString())
  const refusals: World['refusals'] = []
  const gate = new TrustGate(home, { open, log: silent, onRefused: (peer, kind) => { refusals.push({ peer, kind }) } })
  return { home, secret, open: pub, alice, bob, gate, refusals }
}

const block = (cid: CID): { protocol: string, cid: CID } => ({ protocol: BLOCKS_PROTOCOL, cid })
const scan = (root: CID): { protocol: string, root: CID } => ({ protocol: SCAN_PROTOCOL, root })

function denied (d: AccessDecision): string {
  expect(d.allow).toBe(false)
  return d.allow ? '' : d.reason
}

describe('TrustGate with grants', () => {
  it('lets the grantee read the granted collection and every trusted peer read the open one', async () => {
    const w = await world()
    for (const peer of [w.alice, w.bob]) {
      for (const cid of [...w.open.leaves, ...w.open.nodes]) expect(await w.gate.authorize(peer, block(cid))).toEqual({ allow: true })
      expect(await w.gate.authorize(peer, scan(w.open.root))).toEqual({ allow: true })
    }
    for (const cid of [...w.secret.leaves, ...w.secret.nodes]) expect(await w.gate.authorize(w.alice, block(cid))).toEqual({ allow: true })
    expect(await w.gate.authorize(w.alice, scan(w.secret.root))).toEqual({ allow: true })
    expect(w.refusals).toEqual([])
  })

  it('refuses a trusted peer every leaf, inner node (the manifest) and scan record of a collection outside its grant', async () => {
    const w = await world()
    expect(w.secret.nodes.length).toBeGreaterThanOrEqual(3) // root dir, sub dir, the multi-chunk file
    for (const cid of [...w.secret.leaves, ...w.secret.nodes]) {
      const reason = denied(await w.gate.authorize(w.bob, block(cid)))
      expect(reason).toContain(`not permitted: block ${cid.toString()} is in collection "secret"`)
      expect(reason).toContain(`ferry grant secret ${w.bob.toString()}`)
    }
    expect(denied(await w.gate.authorize(w.bob, scan(w.secret.root)))).toContain(`scan ${w.secret.root.toString()} is in collection "secret"`)
    expect(w.refusals.every((r) => r.peer === w.bob.toString() && typeof r.kind === 'object' && r.kind.collection === 'secret')).toBe(true)
    expect(w.refusals).toHaveLength(w.secret.leaves.length + w.secret.nodes.length + 1)
  })

  it('still refuses an untrusted peer first, whatever the grants say', async () => {
    const w = await world()
    const stranger = await newPeer()
    await grantPeer(w.home, 'secret', stranger.toString())
    for (const req of [block(w.secret.leaves[0]!), block(w.open.leaves[0]!), scan(w.open.root), { protocol: BLOCKS_PROTOCOL }]) {
      expect(denied(await w.gate.authorize(stranger, req))).toContain(`ferry trust ${stranger.toString()}`)
    }
  })

  it('serves a block held by both a restricted and an open scan (any readable collection is enough)', async () => {
    const w = await world()
    const dir = path.join(await tempDir(), 'copy')
    await writeTree(dir, 1) // same bytes as the secret scan, so the same root, nodes and leaves
    const copy = await addScan(w.home, dir, 'copy', 'public')
    expect(copy.root.equals(w.secret.root)).toBe(true)
    for (const cid of [...copy.leaves, ...copy.nodes]) expect(await w.gate.authorize(w.bob, block(cid))).toEqual({ allow: true })
    expect(await w.gate.authorize(w.bob, scan(copy.root))).toEqual({ allow: true })
  })

  it('refuses a block that belongs to no scan once grants exist, unless open; lets an unknown root through (NOT_FOUND follows)', async () => {
    const w = await world()
    const stray = await rawCid('in no scan')
    expect(denied(await w.gate.authorize(w.alice, block(stray)))).toContain('belongs to no scan')
    expect(await w.gate.authorize(w.alice, scan(await rawCid('no such root')))).toEqual({ allow: true })
    const open = new TrustGate(w.home, { open: true, log: silent })
    expect(await open.authorize(w.alice, block(stray))).toEqual({ allow: true })
    // without any grant nothing is looked up: a trusted peer gets everything, as before grants existed
    await openCollection(w.home, 'secret')
    expect(await w.gate.authorize(w.bob, block(stray))).toEqual({ allow: true })
    expect(await w.gate.authorize(w.bob, block(w.secret.leaves[0]!))).toEqual({ allow: true })
  })

  it('applies grants in open mode too (open decides who may connect, not what they may read)', async () => {
    const w = await world(true)
    const stranger = await newPeer()
    expect(await w.gate.authorize(stranger, block(w.open.leaves[0]!))).toEqual({ allow: true })
    expect(denied(await w.gate.authorize(stranger, block(w.secret.leaves[0]!)))).toContain('not permitted')
  })

  it('picks up grant, revoke and --everyone from config.json (restrictions within CONFIG_RECHECK_MS); revoking the last grantee closes, never opens', async () => {
    const w = await world()
    const leaf = w.secret.leaves[0]!
    expect(await w.gate.authorize(w.alice, block(leaf))).toEqual({ allow: true })
    expect(await revokePeer(w.home, 'secret', w.alice.toString())).toBe(true)
    expect(w.home.config.grants).toEqual({ secret: [] })
    await delay(CONFIG_RECHECK_MS + 20)
    denied(await w.gate.authorize(w.alice, block(leaf)))
    denied(await w.gate.authorize(w.bob, block(leaf)))
    expect(await grantPeer(w.home, 'secret', w.bob.toString())).toBe(true)
    expect(await w.gate.authorize(w.bob, block(leaf))).toEqual({ allow: true }) // a grant counts at once: refusals re-check
    denied(await w.gate.authorize(w.alice, block(leaf)))
    expect(await openCollection(w.home, 'secret')).toBe(true)
    expect(await w.gate.authorize(w.alice, block(leaf))).toEqual({ allow: true })
  })

  it('keeps the last good lists when config.json is broken mid-edit', async () => {
    const w = await world()
    const leaf = w.secret.leaves[0]!
    denied(await w.gate.authorize(w.bob, block(leaf)))
    await fs.writeFile(path.join(w.home.dir, 'config.json'), '{ "version": 1, "trusted": [')
    denied(await w.gate.authorize(w.bob, block(leaf)))
    expect(await w.gate.authorize(w.alice, block(leaf))).toEqual({ allow: true })
  })

  it('rejects grants of malformed PeerIds and empty collection names', async () => {
    const home = await makeHome()
    await expect(grantPeer(home, 'c', 'nope')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    await expect(grantPeer(home, '', (await newPeer()).toString())).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    await expect(home.saveConfig({ ...home.config, grants: { c: ['nope'] } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    await expect(home.saveConfig({ ...home.config, grants: ['x'] as unknown as Record<string, string[]> })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
  })
})

describe('catalog schema 3', () => {
  it('maps the directory and file nodes of scans recorded before it (backfill from entries)', async () => {
    const home = await makeHome()
    const dir = path.join(await tempDir(), 'old')
    await writeTree(dir, 3)
    const file = path.join(await tempDir(), 'catalog.db')
    // a catalog as Ferry before schema 3 left it: written with the SQL of that time, not today's writer
    openCatalog(file, { migrations: MIGRATIONS.slice(0, 2) }).close()
    const { importDirectory } = await import('@ferry/dag')
    const nodes: CID[] = []
    const entries: Array<{ path: string, type: string, size: number, mode: number, mtimeMs: number, cid: CID, target?: string }> = []
    const r = await importDirectory(dir, {
      sink: {
        putBlocks: (bs) => { nodes.push(...bs.map((b) => b.cid)) },
        addEntry: (e) => { entries.push(e) },
        addSource: () => {}
      }
    })
    const db = new Database(file)
    const scanId = db.prepare("INSERT INTO scans (root, collection, name, source_path, origin, files, directories, bytes, created, state) VALUES (?, 'legacy', 'old', ?, ?, ?, ?, ?, ?, 'complete')")
      .run(r.root.toString(), dir, home.peerId.toString(), r.files, r.directories, r.bytes, Date.now()).lastInsertRowid
    const insert = db.prepare('INSERT INTO entries (scan_id, path, type, size, mode, mtime_ms, cid, target) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    for (const e of entries) insert.run(scanId, e.path, e.type, e.size, e.mode, e.mtimeMs, Buffer.from(e.cid.bytes), e.target ?? null)
    db.close()
    const upgraded = openCatalog(file)
    onCleanup(async () => { upgraded.close() })
    expect(upgraded.migrated).toEqual(MIGRATIONS.slice(2).map((m) => m.version))
    for (const cid of nodes) expect(upgraded.blockCollections(cid)).toEqual(['legacy'])
    expect(upgraded.rootCollections(r.root)).toEqual(['legacy'])
  })
})

describe('grants between two nodes', () => {
  async function node (home: Home, init: Partial<Parameters<typeof createFerryNode>[0]> = {}): Promise<FerryNode> {
    const n = await createFerryNode({ home, listen: ['/ip4/127.0.0.1/tcp/0'], ...init })
    onCleanup(async () => { await n.stop() })
    return n
  }

  it('a trusted peer outside the grant gets DENIED and zero bytes for leaves, inner nodes and the scan', async () => {
    const home = await makeHome()
    const dir = path.join(await tempDir(), 'scan')
    await writeTree(dir)
    const s = await addScan(home, dir, 'scan', 'secret')
    const server = await node(home)
    const bobHome = await makeHome()
    const bob = await node(bobHome, { listen: [] })
    await trustPeer(home, bobHome.peerId.toString())
    const peer = await bob.dialPeer(server.addrs()[0]!)
    expect((await peer.get(s.leaves[0]!)).status).toBe('ok') // open collection: served as before
    const before = { ...server.server.stats }
    await grantPeer(home, 'secret', (await newPeer()).toString())
    await delay(CONFIG_RECHECK_MS + 20) // a restriction applies within CONFIG_RECHECK_MS
    for (const cid of [s.root, ...s.leaves]) {
      const r = await peer.get(cid)
      expect(r.status).toBe('denied')
      expect(r.status === 'denied' ? r.message : '').toContain('is in collection "secret"')
    }
    await expect(peer.getScan(s.root)).rejects.toMatchObject({ code: 'ERR_PEER_REFUSED', message: expect.stringContaining('not permitted') })
    expect(server.server.stats.bytesSent).toBe(before.bytesSent)
    expect(server.server.stats.blocksSent).toBe(before.blocksSent)
    expect(server.server.stats.refused).toBeGreaterThanOrEqual(1 + s.leaves.length + 1)
  })
})

describe('swarm.key', () => {
  it('reads keys made by libp2p\'s generateKey and writes keys in the same format, 0600, never over an existing one without force', async () => {
    const theirs = new Uint8Array(95)
    generateKey(theirs)
    const text = new TextDecoder().decode(theirs)
    const parsed = parseSwarmKey(text, 'theirs')
    expect(new TextDecoder().decode(parsed.bytes)).toBe(text)
    expect(parsed.fingerprint).toMatch(/^[0-9a-f]{16}$/)
    const home = await makeHome()
    expect(await readSwarmKey(home.dir)).toBeUndefined()
    const written = await writeSwarmKey(home.dir, text)
    expect(written.fingerprint).toBe(parsed.fingerprint)
    expect((await fs.stat(path.join(home.dir, 'swarm.key'))).mode & 0o777).toBe(0o600)
    await expect(writeSwarmKey(home.dir, newSwarmKeyText())).rejects.toMatchObject({ code: 'ERR_HOME_EXISTS' })
    const replaced = await writeSwarmKey(home.dir, newSwarmKeyText(), { force: true })
    expect(replaced.fingerprint).not.toBe(parsed.fingerprint)
    expect((await readSwarmKey(home.dir))?.fingerprint).toBe(replaced.fingerprint)
    expect(() => parseSwarmKey('/key/swarm/psk/1.0.0/\n/base16/\nabcd', 'short')).toThrow(/is not a swarm key/)
    await fs.writeFile(path.join(home.dir, 'swarm.key'), 'garbage')
    await expect(readSwarmKey(home.dir)).rejects.toMatchObject({ code: 'ERR_HOME_CORRUPT' })
  })
})
