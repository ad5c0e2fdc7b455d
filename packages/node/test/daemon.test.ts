/**
 * The daemon in a child process, as a user runs it: serving a scan to a client in this process, refusing
 * untrusted peers with zero data, picking up trust and new scans while running, and owning its home through
 * daemon.json.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { DAEMON_FILE, createFerryNode, readDaemonInfo, trustPeer, type FerryNode } from '@ferry/node'
import { openHome } from '@ferry/store'
import { FERRY_BIN, addScan, cleanup, makeHome, onCleanup, sleep, startDaemon, tempDir, writeTree } from './helpers.js'
import type { Home } from '@ferry/store'

afterEach(cleanup)

async function clientNode (): Promise<{ home: Home, node: FerryNode }> {
  const home = await makeHome()
  const node = await createFerryNode({ home, listen: [] })
  onCleanup(async () => { await node.stop() })
  return { home, node }
}

async function servedHome (): Promise<{ home: Home, dir: string, scan: Awaited<ReturnType<typeof addScan>> }> {
  const home = await makeHome()
  const dir = path.join(await tempDir(), 'scan')
  await writeTree(dir)
  return { home, dir, scan: await addScan(home, dir) }
}

describe('daemon', () => {
  it('serves a scan to a trusted client and writes, then removes, daemon.json', async () => {
    const { home, dir, scan } = await servedHome()
    const client = await clientNode()
    await trustPeer(home, client.home.peerId.toString())
    const daemon = await startDaemon(home.dir)
    expect(daemon.addrs.length).toBeGreaterThan(0)
    expect(daemon.addrs.every((a) => a.endsWith(`/p2p/${home.peerId.toString()}`))).toBe(true)

    const info = await readDaemonInfo(home.dir)
    expect(info).toMatchObject({ pid: daemon.child.pid, peerId: home.peerId.toString(), addrs: daemon.addrs })
    expect(Date.parse(info!.started)).toBeGreaterThan(Date.now() - 60_000)

    const peer = await client.node.dialPeer(daemon.addrs[0]!)
    const { record, entries } = await peer.getScan(scan.root)
    expect(record).toMatchObject({ name: 'scan', collection: 'c1', files: 3, origin: home.peerId.toString() })
    let n = 0
    for await (const _ of entries) n++
    expect(n).toBe(5)
    const blocks = await Promise.all(scan.leaves.map(async (c) => await peer.get(c)))
    expect(blocks.every((b) => b.status === 'ok')).toBe(true)
    const first = await peer.get(scan.files.get('volume.raw')![0]!)
    expect(first.status === 'ok' && Buffer.from(first.bytes).equals((await fs.readFile(path.join(dir, 'volume.raw'))).subarray(0, 1024 * 1024))).toBe(true)
    await peer.close()

    daemon.child.kill('SIGTERM')
    expect(await daemon.exited).toBe(0)
    expect(daemon.stdout()).toContain('Stopped.')
    await expect(fs.access(path.join(home.dir, DAEMON_FILE))).rejects.toThrow()
    expect(await readDaemonInfo(home.dir)).toBeUndefined()
  })

  it('refuses an untrusted peer with zero data bytes, then serves it once trusted while running', async () => {
    const { home, scan } = await servedHome()
    const client = await clientNode()
    const daemon = await startDaemon(home.dir)
    expect(daemon.stdout()).toContain('No trusted peers yet')
    const peer = await client.node.dialPeer(daemon.addrs[0]!)
    const refused = await Promise.all(scan.leaves.map(async (c) => await peer.get(c)))
    for (const r of refused) {
      expect(r.status).toBe('denied')
      expect(r.status !== 'ok' && r.message).toContain(`ferry trust ${client.home.peerId.toString()}`)
      expect('bytes' in r).toBe(false)
    }
    await expect(peer.getScan(scan.root)).rejects.toMatchObject({ code: 'ERR_PEER_REFUSED' })

    // `ferry trust` in another process: here, another handle on the same home.
    const other = await openHome(home.dir)
    await trustPeer(other, client.home.peerId.toString())
    await other.close()
    const r = await peer.get(scan.leaves[0]!)
    expect(r.status).toBe('ok')
  })

  it('serves a scan that `ferry add` commits in another process while it runs', async () => {
    const { home } = await servedHome()
    const client = await clientNode()
    await trustPeer(home, client.home.peerId.toString())
    const daemon = await startDaemon(home.dir)
    const peer = await client.node.dialPeer(daemon.addrs[0]!)

    const dir = path.join(await tempDir(), 'later')
    await writeTree(dir, 7)
    const add = spawn(process.execPath, [FERRY_BIN, 'add', dir, '--home', home.dir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    add.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
    expect(await new Promise((resolve) => add.on('exit', resolve))).toBe(0)
    const root = CID.parse((JSON.parse(out) as { root: string }).root)

    const { record, entries } = await peer.getScan(root)
    expect(record.root).toBe(root.toString())
    const files: string[] = []
    for await (const e of entries) if (e.type === 'file') files.push(e.path)
    expect(files).toEqual(['notes.txt', 'sub/proj.tif', 'volume.raw'])
    const notes = (await (async () => { for await (const e of (await peer.getScan(root)).entries) if (e.path === 'notes.txt') return e.cid })())!
    const r = await peer.get(notes)
    expect(r.status === 'ok' && Buffer.from(r.bytes).toString()).toBe('scan 7\n')
  })

  it('refuses a second daemon on the same home, and replaces a stale daemon.json', async () => {
    const { home } = await servedHome()
    const first = await startDaemon(home.dir)
    const second = await startDaemon(home.dir)
    expect(await second.exited).toBe(8) // ExitCode.IO
    expect(second.stderr()).toMatch(/ERR_DAEMON_RUNNING: A Ferry daemon \(pid \d+/)
    expect((await readDaemonInfo(home.dir))?.pid).toBe(first.child.pid)
    first.child.kill('SIGINT')
    expect(await first.exited).toBe(0)

    // A daemon killed hard leaves its file behind: the next one replaces it.
    const crashed = await startDaemon(home.dir)
    crashed.child.kill('SIGKILL')
    await crashed.exited
    const stale = JSON.parse(await fs.readFile(path.join(home.dir, DAEMON_FILE), 'utf8')) as { pid: number }
    expect(stale.pid).toBe(crashed.child.pid)
    expect(await readDaemonInfo(home.dir)).toBeUndefined()
    const next = await startDaemon(home.dir)
    expect(next.addrs.length).toBeGreaterThan(0)
    expect((await readDaemonInfo(home.dir))?.pid).toBe(next.child.pid)
    next.child.kill('SIGTERM')
    expect(await next.exited).toBe(0)
  })

  it('prints a loud warning in open mode', async () => {
    const { home } = await servedHome()
    const daemon = await startDaemon(home.dir, { FERRY_OPEN: '1' })
    expect(daemon.stdout()).toContain('WARNING: --open')
    daemon.child.kill('SIGTERM')
    await daemon.exited
    await sleep(10)
  })
})
