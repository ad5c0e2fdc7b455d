/**
 * Several connections per source (issue 15): a real daemon and a real `ferry pull --connections 3` over
 * loopback TCP. The daemon's test hook (FERRY_TEST_CUT_CONNECTION_AFTER) aborts one of the connections
 * carrying blocks once it has served a sixth of the scan, with requests in flight on it: the pull must end
 * complete, every byte as at the source, the lost connection's requests fetched over the others, the
 * connection redialled, and more than one connection must have carried data.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ferry, initTestHome, json } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { MiB, cleanup, hashTree, tempDir, writeTree } from '../support/tree.js'

const daemons = new DaemonSet()
const FILES = 48

describe('a pull over several connections per peer', () => {
  let tmp: string
  let scan: string
  let root: string
  let total: number
  let puller: { dir: string, id: string }
  let source: Daemon

  beforeAll(async () => {
    tmp = tempDir('ferry-connections-')
    scan = join(tmp, '20261202_ESRF_ID19_0042')
    const spec: Record<string, number> = { 'meta/scan.nxs': 4096 }
    for (let i = 0; i < FILES; i++) spec[`raw/proj_${String(i).padStart(4, '0')}.tif`] = 2 * MiB + 7 * i
    writeTree(scan, spec)
    total = Object.values(spec).reduce((a, b) => a + b, 0)
    const A = await initTestHome(tmp, 'siteA')
    puller = await initTestHome(tmp, 'puller')
    root = json(await ferry(['add', scan, '--json', '--home', A.dir])).root
    await ferry(['trust', puller.id, '--home', A.dir])
    source = await daemons.start(A.dir, [], { FERRY_TEST_CUT_CONNECTION_AFTER: String(Math.floor(total / 6)) })
  }, 120_000)
  afterAll(async () => {
    await daemons.stopAll()
    cleanup(tmp)
  })

  it('loses one connection mid-transfer and still ends complete, every byte verified, over more than one connection', async () => {
    const dest = join(tmp, 'dest')
    const r = await ferry(['pull', root, dest, '--from', source.addrs[0] as string, '--connections', '3', '--home', puller.dir, '--json'], { timeoutMs: 180_000 })
    const out = json(r)
    expect(r.code, r.stderr).toBe(0)
    expect(out.complete).toBe(true)
    expect(hashTree(dest)).toEqual(hashTree(scan))
    // the daemon cut a connection that carried blocks, past a sixth of the scan, with others open
    const cut = /test hook: cutting connection \S+ from (\S+) after (\d+) bytes of leaves served \((\d+) connections carried blocks\)/.exec(source.output())
    expect(cut, source.output()).not.toBeNull()
    expect(cut?.[1]).toBe(puller.id)
    expect(Number(cut?.[2])).toBeLessThan(total)
    expect(Number(cut?.[3])).toBeGreaterThanOrEqual(2)
    // the puller saw that connection go, and came back on it
    expect(r.stderr).toMatch(/connection \d lost \(.+\); its requests go to the other connections, redialling/)
    expect(r.stderr).toMatch(/connection \d connected again/)
    // every leaf counted once per connection that carried it; more than one carried data
    const perConnection = out.fromConnections[source.peerId] as number[]
    expect(perConnection.length).toBe(3)
    expect(perConnection.filter((b) => b > 0).length).toBeGreaterThan(1)
    expect(perConnection.reduce((a, b) => a + b, 0)).toBe(out.fromPeers[source.peerId])
    expect(out.bytesFetched).toBeGreaterThanOrEqual(total)
  }, 240_000)

  it('--connections outside 1..8 is a usage error before any work (exit 2)', async () => {
    for (const n of ['0', '9', '2.5', 'many']) {
      const r = await ferry(['pull', root, join(tmp, `bad-${n}`), '--from', source.addrs[0] as string, '--connections', n, '--home', puller.dir])
      expect(r.code).toBe(2)
      expect(r.stderr).toContain('--connections takes a whole number from 1 to 8')
    }
  }, 60_000)
})
