/** The address book (peers by name) on a real home's config.json, and `--from` resolution. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FerryError } from '@ferry/errors'
import { initHome, writeFileAtomic } from '@ferry/store'
import { addPeer, listPeers, parsePeerAddr, removePeer, resolvePeerAddrs } from '@ferry/node'
import { cleanup, tempDir } from './helpers.js'

afterAll(cleanup)

const ID = '12D3KooWHxZHUgrRw54ZXovzJeZ1Qd6x1xpCgSNWXvJvbyKMtzsi'
const OTHER = '12D3KooWFk6vL2f7YGeZ39zz8PH5RoffPZFyg4jUYqfPHpgxja6a'

async function fresh (): Promise<string> {
  const dir = join(await tempDir(), 'home')
  const home = await initHome(dir)
  await home.close()
  return dir
}

function code (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return err instanceof FerryError ? err.code : 'not a FerryError'
  }
  return undefined
}

describe('the address book', () => {
  it('parses multiaddrs ending in /p2p/ and nothing else', () => {
    expect(parsePeerAddr(`/ip4/192.0.2.1/tcp/4001/p2p/${ID}`)).toEqual({ id: ID, addr: '/ip4/192.0.2.1/tcp/4001' })
    expect(parsePeerAddr(`/dns4/ferry.example.org/tcp/4001/p2p/${ID}`).addr).toBe('/dns4/ferry.example.org/tcp/4001')
    for (const bad of ['/ip4/192.0.2.1/tcp/4001', `/p2p/${ID}`, 'esrf', '/ip4/192.0.2.1/tcp/4001/p2p/nope', `/ip9/1/p2p/${ID}`]) {
      expect(code(() => parsePeerAddr(bad)), bad).toBe('ERR_USAGE')
    }
  })

  it('adds, merges, refuses conflicts, removes, and keeps the rest of config.json', async () => {
    const dir = await fresh()
    const cfgFile = join(dir, 'config.json')
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'))
    await writeFileAtomic(cfgFile, JSON.stringify({ ...cfg, trusted: [OTHER], peers: [{ id: OTHER, addrs: [] }], future: { kept: true } }))
    const first = await addPeer(dir, 'esrf', `/ip4/192.0.2.1/tcp/4001/p2p/${ID}`)
    expect(first).toEqual({ changed: true, peer: { name: 'esrf', id: ID, addrs: [`/ip4/192.0.2.1/tcp/4001/p2p/${ID}`] } })
    expect((await addPeer(dir, 'esrf', `/ip4/192.0.2.1/tcp/4001/p2p/${ID}`)).changed).toBe(false)
    const merged = await addPeer(dir, 'esrf', `/ip4/192.0.2.2/tcp/4001/p2p/${ID}`)
    expect(merged.peer.addrs).toEqual([`/ip4/192.0.2.1/tcp/4001/p2p/${ID}`, `/ip4/192.0.2.2/tcp/4001/p2p/${ID}`])
    await expect(addPeer(dir, 'esrf', `/ip4/192.0.2.3/tcp/1/p2p/${OTHER}`)).rejects.toMatchObject({ code: 'ERR_CONFLICT' })
    await expect(addPeer(dir, 'other-name', `/ip4/192.0.2.3/tcp/1/p2p/${ID}`)).rejects.toMatchObject({ code: 'ERR_CONFLICT' })
    await expect(addPeer(dir, 'Bad', `/ip4/192.0.2.3/tcp/1/p2p/${ID}`)).rejects.toMatchObject({ code: 'ERR_USAGE' })
    await expect(addPeer(dir, 'me', `/ip4/192.0.2.3/tcp/1/p2p/${ID}`, ID)).rejects.toMatchObject({ code: 'ERR_USAGE' })
    // the unnamed entry of a trusted peer gets its name, and stays trusted
    await addPeer(dir, 'soleil', `/ip4/192.0.2.9/tcp/4001/p2p/${OTHER}`)
    expect((await listPeers(dir)).map((p) => p.name)).toEqual(['soleil', 'esrf'])
    const saved = JSON.parse(readFileSync(cfgFile, 'utf8'))
    expect(saved.trusted).toEqual([OTHER])
    expect(saved.future).toEqual({ kept: true })
    expect(saved.peers).toHaveLength(2)
    expect((await removePeer(dir, 'esrf')).id).toBe(ID)
    await expect(removePeer(dir, 'esrf')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    expect(JSON.parse(readFileSync(cfgFile, 'utf8')).trusted).toEqual([OTHER]) // removing never untrusts
  })

  it('resolves --from names to their addresses and passes multiaddrs through', () => {
    const cfg = { peers: [{ name: 'esrf', id: ID, addrs: ['/ip4/192.0.2.1/tcp/4001', '/ip4/192.0.2.2/tcp/4001'] }, { name: 'empty', id: OTHER, addrs: [] }] }
    expect(resolvePeerAddrs(cfg, 'esrf')).toEqual([`/ip4/192.0.2.1/tcp/4001/p2p/${ID}`, `/ip4/192.0.2.2/tcp/4001/p2p/${ID}`])
    expect(resolvePeerAddrs(cfg, `/ip4/192.0.2.7/tcp/1/p2p/${OTHER}`)).toEqual([`/ip4/192.0.2.7/tcp/1/p2p/${OTHER}`])
    expect(code(() => resolvePeerAddrs(cfg, 'nobody'))).toBe('ERR_USAGE')
    expect(code(() => resolvePeerAddrs(cfg, 'empty'))).toBe('ERR_USAGE')
  })
})
