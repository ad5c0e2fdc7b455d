/**
 * The CLI commands built on @ferry/node (`ferry daemon`, `trust`, `untrust`, `id`), run in this process as
 * command objects with a captured context: their output and the files they change, without the launcher
 * (test/e2e runs the real `ferry` binary).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { FerryError } from '@ferry/errors'
import { DAEMON_FILE } from '@ferry/node'
import { openHome } from '@ferry/store'
import { daemon } from '../dist/commands/daemon.js'
import { id } from '../dist/commands/id.js'
import { trust, untrust } from '../dist/commands/trust.js'
import { cleanup, makeHome } from '../../node/test/helpers.js'
import type { Home } from '@ferry/store'

afterEach(cleanup)

interface Captured { ctx: any, out: () => string, err: () => string }

function context (home: Home, json = false, signal = new AbortController().signal): Captured {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
  return { ctx: { home: home.dir, json, debug: false, stdout, stderr, signal }, out: () => out, err: () => err }
}

const OTHER = '12D3KooWLmQVhJxdYHpgTTeWMmrVG1xDKUgTW5PkkP9tYzzQLLSJ'

async function reload (home: Home): Promise<Home> {
  const h = await openHome(home.dir)
  const cfg = h.config
  await h.close()
  return { ...home, config: cfg } as Home
}

describe('ferry trust / untrust', () => {
  it('adds, names, lists and removes trusted peers', async () => {
    const home = await makeHome()
    let c = context(home)
    expect(await trust.run(c.ctx, [OTHER], { name: 'esrf' })).toBe(0)
    expect(c.out()).toContain(`Trusted ${OTHER} (esrf). It applies when the daemon runs`)
    expect((await reload(home)).config.trusted).toEqual([OTHER])
    expect((await reload(home)).config.peers).toEqual([{ name: 'esrf', id: OTHER, addrs: [] }])

    c = context(home)
    await trust.run(c.ctx, [OTHER], {})
    expect(c.out()).toContain('Already trusted')

    c = context(home)
    await trust.run(c.ctx, [], { list: true })
    expect(c.out()).toBe(`${OTHER}  esrf\n`)
    c = context(home, true)
    await trust.run(c.ctx, [], { list: true })
    expect(JSON.parse(c.out())).toEqual([{ id: OTHER, name: 'esrf' }])

    c = context(home)
    expect(await untrust.run(c.ctx, [OTHER], {})).toBe(0)
    expect(c.out()).toContain(`No longer trusted: ${OTHER}`)
    expect((await reload(home)).config.trusted).toEqual([])
    c = context(home, true)
    await untrust.run(c.ctx, [OTHER], {})
    expect(JSON.parse(c.out())).toEqual({ id: OTHER, removed: false })
  })

  it('rejects bad peer IDs, itself, and a missing argument with clear errors', async () => {
    const home = await makeHome()
    await expect(trust.run(context(home).ctx, ['12D3KooWbogus'], {})).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining('is not a peer ID') })
    await expect(trust.run(context(home).ctx, [home.peerId.toString()], {})).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringContaining('this node itself') })
    await expect(trust.run(context(home).ctx, [], {})).rejects.toMatchObject({ code: 'ERR_USAGE' })
    await expect(untrust.run(context(home).ctx, ['nope'], {})).rejects.toBeInstanceOf(FerryError)
  })
})

describe('ferry id', () => {
  it('prints the daemon\'s addresses from daemon.json while it runs', async () => {
    const home = await makeHome()
    let c = context(home, true)
    await id.run(c.ctx, [], {})
    expect(JSON.parse(c.out())).toMatchObject({ peerId: home.peerId.toString(), addresses: [] })

    const addr = `/ip4/127.0.0.1/tcp/4001/p2p/${home.peerId.toString()}`
    await fs.writeFile(path.join(home.dir, DAEMON_FILE), JSON.stringify({ pid: process.pid, peerId: home.peerId.toString(), addrs: [addr], started: new Date().toISOString() }))
    c = context(home)
    await id.run(c.ctx, [], {})
    expect(c.out()).toBe(`${home.peerId.toString()}\n${addr}\n`)
    c = context(home, true)
    await id.run(c.ctx, [], {})
    expect(JSON.parse(c.out()).addresses).toEqual([addr])
  })
})

describe('ferry daemon', () => {
  it('listens on --listen /ip4/127.0.0.1/tcp/0, prints a JSON line, and stops on the signal', async () => {
    const home = await makeHome()
    const controller = new AbortController()
    const c = context(home, true, controller.signal)
    const running = daemon.run(c.ctx, [], { listen: ['/ip4/127.0.0.1/tcp/0'] })
    for (let i = 0; i < 100 && c.out() === ''; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    const ready = JSON.parse(c.out()) as { peerId: string, addrs: string[] }
    expect(ready.peerId).toBe(home.peerId.toString())
    expect(ready.addrs[0]).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${ready.peerId}$`))
    expect(c.err()).toContain('Listening on:')
    controller.abort()
    expect(await running).toBe(0)
    await expect(fs.access(path.join(home.dir, DAEMON_FILE))).rejects.toThrow()
  })

  it('rejects a --listen that is not a multiaddr', async () => {
    const home = await makeHome()
    await expect(daemon.run(context(home).ctx, [], { listen: ['localhost:4001'] })).rejects.toMatchObject({ code: 'ERR_USAGE' })
  })
})
