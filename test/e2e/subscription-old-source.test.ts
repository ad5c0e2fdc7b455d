/**
 * `ferry subscribe` to an older Ferry (test/support/old-ferry.js: a real node in its own process that
 * refuses /ferry/announce/1.0.0), with the real subscriber daemon: the scans there are replicated from
 * its catalog listing, the source shows as watching with no error, and the daemon says once that it
 * polls instead of retrying the refusal (packages/tasks/test/subscription-old-source.test.ts follows the
 * polling itself with a short interval).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ferry, initTestHome, json } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { MiB, bytes, cleanup, hashTree, tempDir, writeTree } from '../support/tree.js'
import { waitFor } from '../support/unit.js'

const daemons = new DaemonSet()

describe('a subscription to a source without announcements', () => {
  let tmp: string
  let A: { dir: string, id: string }
  let B: { dir: string, id: string }
  let old: ChildProcess
  let subscriber: Daemon
  const scans: Record<string, string> = {}

  beforeAll(async () => {
    tmp = tempDir('ferry-e2e-subs-old-')
    A = await initTestHome(tmp, 'old-source')
    B = await initTestHome(tmp, 'subscriber')
    await ferry(['trust', B.id, '--home', A.dir])
    for (const name of ['scan_0001', 'scan_0002']) {
      scans[name] = join(tmp, 'acq', name)
      writeTree(scans[name], { 'raw/proj_0000.tif': bytes(MiB + 11, `${name}/0`), 'meta.json': `{"scan":"${name}"}` })
      expect((await ferry(['add', scans[name], '--collection', 'visit', '--name', name, '--home', A.dir])).code).toBe(0)
    }
    old = spawn(process.execPath, [fileURLToPath(new URL('../support/old-ferry.js', import.meta.url)), A.dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    old.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
    await waitFor(() => /\/p2p\//.test(out), { timeoutMs: 60_000, what: 'the old source to print its address' })
    const addr = (out.match(/(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+)/) ?? [])[1] as string
    expect((await ferry(['peer', 'add', 'old', addr, '--home', B.dir])).code).toBe(0)
    subscriber = await daemons.start(B.dir)
  }, 120_000)
  afterAll(async () => {
    await daemons.stopAll()
    old?.kill('SIGKILL')
    cleanup(tmp)
  })

  it('replicates its scans from the catalog listing; the source is watching, with no error and no retry loop', async () => {
    const dest = join(tmp, 'visit')
    const r = await ferry(['subscribe', 'visit', dest, '--from', 'old', '--json', '--home', B.dir])
    expect(r.code, r.stderr).toBe(0)
    const subscription = async (): Promise<any> => json(await ferry(['subscriptions', '--json', '--home', B.dir])).subscriptions[0]
    let view: any
    await waitFor(async () => { view = await subscription(); return view?.state === 'OK' && view.counts.succeeded === 2 }, { timeoutMs: 90_000, intervalMs: 250, what: 'both scans replicated' })
    for (const name of Object.keys(scans)) expect(hashTree(join(dest, name))).toEqual(hashTree(scans[name]!))
    expect(view.sources).toMatchObject([{ name: 'old', state: 'watching', error: null, retryAt: null, listed: 2 }])
    const said = subscriber.output()
    expect(said.match(/does not serve announcements/g)).toHaveLength(1)
    expect(said).not.toContain('retrying')
  }, 120_000)
})
