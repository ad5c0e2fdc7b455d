/**
 * A subscription to an older Ferry: a real node in its own process (test/support/old-ferry.js) that refuses
 * the announce protocol. The watcher must fall back to listing the source's catalog every pollMs: the scans
 * there are replicated, a scan added later is picked up by the next listing, the source shows as watching
 * with no error, and the refusal is logged once, not retried with a backoff.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openHome, type Home } from '@ferry/store'
import { createFerryNode, type FerryNode } from '@ferry/node'
import type { BlockPeer } from '@ferry/transfer'
import { createSubscriptionService, createTaskService, type CatalogPeer, type SubscriptionService, type TaskService } from '@ferry/tasks'
import { ferry, initTestHome, json } from '../../../test/support/ferry.js'
import { MiB, bytes, cleanup, hashTree, tempDir, writeTree } from '../../../test/support/tree.js'
import { waitFor } from '../../../test/support/unit.js'

const POLL_MS = 500

describe('a subscription to a source without the announce protocol', () => {
  let tmp: string
  let src: { dir: string, id: string }
  let sub: { dir: string, id: string }
  let old: ChildProcess
  let addr: string
  let home: Home
  let node: FerryNode
  let tasks: TaskService
  let subs: SubscriptionService
  const log: string[] = []

  const addScan = async (name: string): Promise<string> => {
    const dir = join(tmp, 'acq', name)
    writeTree(dir, { 'proj_0000.tif': bytes(MiB + 3, `${name}/0`), 'proj_0001.tif': bytes(200_000, `${name}/1`) })
    expect(json(await ferry(['add', dir, '--collection', 'visit', '--name', name, '--json', '--home', src.dir])).root).toBeTypeOf('string')
    return dir
  }

  beforeAll(async () => {
    tmp = tempDir('ferry-subs-old-')
    src = await initTestHome(tmp, 'old-source')
    sub = await initTestHome(tmp, 'subscriber')
    await ferry(['trust', sub.id, '--home', src.dir])
    await addScan('scan_0001')
    old = spawn(process.execPath, [fileURLToPath(new URL('../../../test/support/old-ferry.js', import.meta.url)), src.dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    old.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
    await waitFor(() => /\/p2p\//.test(out), { timeoutMs: 60_000, what: 'the old source to print its address' })
    addr = (out.match(/(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+)/) ?? [])[1] as string
    home = await openHome(sub.dir)
    node = await createFerryNode({ home, listen: [] })
    tasks = createTaskService({ home, dialPeer: async (a, signal) => (await node.dialPeer(a, { signal })) as BlockPeer, persistMs: 200, pollMs: 200 })
    subs = createSubscriptionService({
      catalog: home.catalog,
      tasks,
      dial: async (a, signal) => (await node.dialPeer(a, { signal })) as CatalogPeer,
      peers: async () => [{ name: 'old', id: src.id, addrs: [addr] }],
      pollMs: POLL_MS,
      retryInitialMs: 50,
      retryMaxMs: 200,
      log: (line) => { log.push(line) }
    })
  }, 120_000)
  afterAll(async () => {
    await subs?.close()
    await tasks?.close()
    await node?.stop()
    await home?.close()
    old?.kill('SIGKILL')
    cleanup(tmp)
  })

  it('lists its catalog every pollMs instead: the scans there and one added later arrive, with no error and no backoff', async () => {
    const dest = join(tmp, 'visit')
    const { subscription } = await subs.create({ collection: 'visit', destination: dest, from: ['old'] })
    const succeeded = (name: string) => async (): Promise<boolean> => tasks.list().some((t) => t.destination === join(dest, name) && t.condition === 'SUCCEEDED')
    await waitFor(succeeded('scan_0001'), { timeoutMs: 60_000, what: 'the scan already at the old source to be replicated' })
    expect(hashTree(join(dest, 'scan_0001'))).toEqual(hashTree(join(tmp, 'acq', 'scan_0001')))
    // listed every POLL_MS: between listings `watching`, during one `listing`; never `retrying`, never an error
    const healthy = (): void => {
      const sources = subs.get(subscription.id)?.sources
      expect(sources).toMatchObject([{ name: 'old', error: null, retryAt: null }])
      expect(['listing', 'watching']).toContain(sources?.[0]?.state)
    }
    healthy()
    const listedAt = subs.get(subscription.id)?.sources[0]?.lastListed

    const later = await addScan('scan_0002') // not announced: only a listing finds it
    await waitFor(succeeded('scan_0002'), { timeoutMs: 60_000, what: 'the scan added later, from the next listing' })
    expect(hashTree(join(dest, 'scan_0002'))).toEqual(hashTree(later))
    healthy()
    expect(subs.get(subscription.id)?.sources[0]?.lastListed).not.toBe(listedAt)
    await new Promise((resolve) => setTimeout(resolve, 3 * POLL_MS)) // a few more listings
    healthy()
    expect(log.filter((l) => l.includes('does not serve announcements'))).toHaveLength(1)
    expect(log.filter((l) => l.includes('retrying'))).toEqual([])
  }, 180_000)
})
