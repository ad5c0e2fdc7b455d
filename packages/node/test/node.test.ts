/**
 * createFerryNode in this process: two nodes on loopback, trust decided per request from config.json,
 * blocks read and verified on worker pools, and clear errors for bad addresses.
 */
import { setTimeout as delay } from 'node:timers/promises'
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FerryError } from '@ferry/errors'
import { CONFIG_RECHECK_MS, createFerryNode, notTrustedMessage, parsePeerId, trustPeer, untrustPeer, usesNativeCipher, type FerryNode } from '@ferry/node'
import { addScan, cleanup, makeHome, onCleanup, tempDir, writeTree } from './helpers.js'
import type { Home } from '@ferry/store'
import { rejection } from '../../../test/support/unit.js'

afterEach(cleanup)

/** Waits (polling every 50 ms) until `ok()`, failing after `ms`. */
async function until (ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await delay(50)
  }
}

async function node (home: Home, init: Partial<Parameters<typeof createFerryNode>[0]> = {}): Promise<FerryNode> {
  const n = await createFerryNode({ home, listen: ['/ip4/127.0.0.1/tcp/0'], ...init })
  onCleanup(async () => { await n.stop() })
  return n
}

async function served (): Promise<{ home: Home, dir: string, scan: Awaited<ReturnType<typeof addScan>>, server: FerryNode, clientHome: Home, client: FerryNode }> {
  const home = await makeHome()
  const dir = path.join(await tempDir(), 'scan')
  await writeTree(dir)
  const scan = await addScan(home, dir)
  const server = await node(home)
  const clientHome = await makeHome()
  const client = await node(clientHome, { listen: [] })
  return { home, dir, scan, server, clientHome, client }
}

describe('createFerryNode', () => {
  it('uses Node\'s native chacha20-poly1305 in Noise', () => {
    expect(usesNativeCipher()).toBe(true)
  })

  it('serves a trusted peer blocks and scans, verified on worker threads', async () => {
    const { home, dir, scan, server, clientHome, client } = await served()
    await trustPeer(home, clientHome.peerId.toString())
    const peer = await client.dialPeer(server.addrs()[0]!)
    expect(peer.id).toBe(home.peerId.toString())
    const results = await Promise.all(scan.leaves.map(async (cid) => await peer.get(cid)))
    expect(results.every((r) => r.status === 'ok')).toBe(true)
    const volumeLeaves = await Promise.all(scan.files.get('volume.raw')!.map(async (cid) => await peer.get(cid)))
    const volume = Buffer.concat(volumeLeaves.map((r) => r.status === 'ok' ? r.bytes : new Uint8Array()))
    expect(volume.equals(await fs.readFile(path.join(dir, 'volume.raw')))).toBe(true)
    const { record, entries } = await peer.getScan(scan.root)
    expect(record.root).toBe(scan.root.toString())
    const paths: string[] = []
    for await (const e of entries) paths.push(e.path)
    expect(paths).toEqual(['', 'notes.txt', 'sub', 'sub/proj.tif', 'volume.raw'])
    expect(server.server.stats.blocksSent).toBe(scan.leaves.length + volumeLeaves.length)
  })

  it('keeps a connection of its own for the next such client; one discarded after a failure, or idle too long, is closed', async () => {
    const { home, dir, scan, server, clientHome } = await served()
    const client = await node(clientHome, { listen: [], linkIdleMs: 1500 })
    await trustPeer(home, clientHome.peerId.toString())
    const addr = server.addrs()[0]!
    const ids = (): string[] => client.libp2p.getConnections(server.peerId).map((c) => c.id).sort()
    const volume = await fs.readFile(path.join(dir, 'volume.raw'))
    const firstLeaf = async (peer: Awaited<ReturnType<FerryNode['dialPeer']>>): Promise<void> => {
      const r = await peer.get(scan.files.get('volume.raw')![0]!)
      expect(r.status === 'ok' && Buffer.from(r.bytes).equals(volume.subarray(0, r.bytes.length))).toBe(true)
    }
    const shared = await client.dialPeer(addr)
    await firstLeaf(shared)
    const a = await client.dialPeer(addr, { own: true })
    await firstLeaf(a)
    const two = ids()
    expect(two).toHaveLength(2)
    await a.close()
    expect(ids()).toEqual(two) // kept, idle
    const b = await client.dialPeer(addr, { own: true }) as Awaited<ReturnType<FerryNode['dialPeer']>> & { discard: () => Promise<void> }
    expect(ids()).toEqual(two) // the idle one, not a new dial
    await firstLeaf(b)
    await b.discard()
    await until(() => ids().length === 1)
    const c = await client.dialPeer(addr, { own: true })
    await firstLeaf(c)
    const again = ids()
    expect(again).toHaveLength(2)
    expect(again.filter((id) => !two.includes(id))).toHaveLength(1) // a new connection
    await c.close()
    await until(() => ids().length === 1, 10_000) // closed once idle for linkIdleMs
    await shared.close()
  }, 30_000)

  it('refuses an untrusted peer with zero data bytes and tells it what to do', async () => {
    const { home, scan, server, clientHome, client } = await served()
    const peer = await client.dialPeer(server.addrs()[0]!)
    const r = await peer.get(scan.leaves[0]!)
    const message = notTrustedMessage(clientHome.peerId.toString(), home.peerId.toString())
    expect(r).toEqual({ status: 'denied', message })
    expect(message).toContain(`ferry trust ${clientHome.peerId.toString()}`)
    const err = await rejection(peer.getScan(scan.root))
    expect(err.code).toBe('ERR_PEER_REFUSED')
    expect(err.message).toBe(message)
    expect(server.server.stats.bytesSent).toBe(0)
  })

  it('applies trust to the next request and untrust within CONFIG_RECHECK_MS, without a restart', async () => {
    const { home, scan, server, clientHome, client } = await served()
    const peer = await client.dialPeer(server.addrs()[0]!)
    expect((await peer.get(scan.leaves[0]!)).status).toBe('denied')
    await trustPeer(home, clientHome.peerId.toString(), { name: 'beamline' })
    expect((await peer.get(scan.leaves[0]!)).status).toBe('ok')
    await untrustPeer(home, clientHome.peerId.toString())
    await delay(CONFIG_RECHECK_MS + 20)
    expect((await peer.get(scan.leaves[1]!)).status).toBe('denied')
  })

  it('serves everyone in open mode', async () => {
    const home = await makeHome()
    const dir = path.join(await tempDir(), 'scan')
    await writeTree(dir)
    const scan = await addScan(home, dir)
    const server = await node(home, { open: true })
    const client = await node(await makeHome(), { listen: [] })
    const peer = await client.dialPeer(server.addrs()[0]!)
    expect((await peer.get(scan.leaves[0]!)).status).toBe('ok')
  })

  it('reports a leaf whose source changed (worker reader) and one that is gone, never serving either', async () => {
    const { home, dir, scan, server, clientHome, client } = await served()
    await trustPeer(home, clientHome.peerId.toString())
    const peer = await client.dialPeer(server.addrs()[0]!)
    const notes = scan.files.get('notes.txt')![0]!
    expect((await peer.get(notes)).status).toBe('ok')
    await fs.writeFile(path.join(dir, 'notes.txt'), 'SCAN 1\n')
    const changed = await peer.get(notes)
    expect(changed.status).toBe('changed')
    await fs.rm(path.join(dir, 'volume.raw'))
    const gone = await peer.get(scan.files.get('volume.raw')![0]!)
    expect(gone.status).toBe('changed')
    expect(gone.status !== 'ok' && gone.message).toContain('volume.raw was deleted or moved since it was imported')
  })

  it('gives one-line errors for bad and unreachable addresses', async () => {
    const client = await node(await makeHome(), { listen: [] })
    expect((await rejection(client.dialPeer('not-an-address'))).code).toBe('ERR_INVALID_ARGUMENT')
    expect((await rejection(client.dialPeer('/ip4/127.0.0.1/tcp/1'))).code).toBe('ERR_INVALID_ARGUMENT') // no /p2p/
    const stranger = (await makeHome()).peerId.toString()
    const err = await rejection(client.dialPeer(`/ip4/127.0.0.1/tcp/1/p2p/${stranger}`, { timeoutMs: 5_000 }))
    expect(err.code).toMatch(/ERR_NETWORK|ERR_TIMEOUT/)
  })

  it('fails with ERR_NETWORK naming the address when the port is taken', async () => {
    const busy = net.createServer().listen(0, '127.0.0.1')
    await new Promise((resolve) => busy.on('listening', resolve))
    onCleanup(async () => { busy.close() })
    const port = (busy.address() as net.AddressInfo).port
    const err = await rejection(createFerryNode({ home: await makeHome(), listen: [`/ip4/127.0.0.1/tcp/${port}`] }))
    expect(err.code).toBe('ERR_NETWORK')
    expect(err.message).toContain(`/ip4/127.0.0.1/tcp/${port}`)
    expect(err.message).toContain('EADDRINUSE')
    expect(err.message.split('\n')).toHaveLength(1)
  })

  it('validates peer IDs', () => {
    expect(() => parsePeerId('12D3KooWnope')).toThrow(/is not a peer ID/)
    expect(() => parsePeerId('bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq')).toThrow(FerryError)
  })
})

describe('docs/protocol.md', () => {
  it('documents the node\'s yamux settings with their values', async () => {
    const node = await import('@ferry/node')
    const doc = await fs.readFile(new URL('../../../docs/protocol.md', import.meta.url), 'utf8')
    for (const name of ['YAMUX_INITIAL_STREAM_WINDOW', 'YAMUX_MAX_STREAM_WINDOW', 'YAMUX_MAX_READ_BUFFER'] as const) {
      expect(doc).toContain(`| \`${name}\` | ${node[name]} |`)
    }
  })
})
