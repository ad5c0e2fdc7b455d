import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HashPool } from '@ferry/dag'
import { initHome, type Home } from '@ferry/store'
import { InflightBudget, pull, type PullProgressEvent } from '@ferry/transfer'
import type { CID } from 'multiformats/cid'
import { localPeer } from './local-peer.js'
import { addScan } from './add-scan.js'
import { MiB, cleanup, hashTree, tempDir, writeTree } from '../../../test/support/tree.js'

/** The raw-leaf codec: what the fetch phase's lanes ask for (inner nodes are dag-pb, asked by the DAG phase). */
const RAW = 0x55

describe('InflightBudget', () => {
  it('grants in order while the bytes fit, and never more than the limit', async () => {
    const b = new InflightBudget(10)
    const signal = new AbortController().signal
    expect(await b.acquire(4, signal)).toBe(true)
    expect(await b.acquire(4, signal)).toBe(true)
    const order: string[] = []
    const big = b.acquire(6, signal).then((g) => { order.push(`big ${g}`) })
    // a small one that would fit waits behind the big one (first come, first served: no starvation)
    const small = b.acquire(2, signal).then((g) => { order.push(`small ${g}`) })
    await Promise.resolve()
    expect(b.waiting).toBe(2)
    expect(order).toEqual([])
    b.release(4) // 4 in flight: the big one (6) fits now, then the small one does not (12 > 10)
    await big
    expect(order).toEqual(['big true'])
    expect(b.inflight).toBe(10)
    b.release(4)
    await small
    expect(order).toEqual(['big true', 'small true'])
    expect(b.inflight).toBe(8)
    expect(b.maxInflight).toBe(10)
  })

  it('grants a request larger than the limit alone, once nothing else is in flight', async () => {
    const b = new InflightBudget(4)
    const signal = new AbortController().signal
    expect(await b.acquire(3, signal)).toBe(true)
    let granted = false
    const huge = b.acquire(9, signal).then((g) => { granted = g })
    await Promise.resolve()
    expect(granted).toBe(false)
    b.release(3)
    await huge
    expect(granted).toBe(true)
    expect(b.inflight).toBe(9)
  })

  it('an aborted wait counts nothing and lets the ones behind it through', async () => {
    const b = new InflightBudget(4)
    expect(await b.acquire(3, new AbortController().signal)).toBe(true)
    const ac = new AbortController()
    const first = b.acquire(4, ac.signal)
    const second = b.acquire(1, new AbortController().signal)
    ac.abort()
    expect(await first).toBe(false)
    expect(await second).toBe(true)
    expect(b.inflight).toBe(4)
    expect(b.waiting).toBe(0)
  })

  it('refuses a limit that is not a positive whole number', () => {
    expect(() => new InflightBudget(0)).toThrow(/in-flight budget/)
    expect(() => new InflightBudget(1.5)).toThrow(/in-flight budget/)
  })
})

describe('pulls sharing an in-flight budget', () => {
  let tmp: string
  let pool: HashPool
  let source: Home
  let scanA: string
  let scanB: string
  let rootA: CID
  let rootB: CID
  let n = 0
  const newHome = async (): Promise<Home> => await initHome(join(tmp, `home${n++}`))

  beforeAll(async () => {
    tmp = tempDir()
    pool = new HashPool({ workers: 2 })
    source = await newHome()
    // files of one leaf each (at most 1 MiB): a leaf is written and its file placed in the same step
    scanA = join(tmp, 'scanA')
    scanB = join(tmp, 'scanB')
    const files = (tag: number): Record<string, number> => {
      const f: Record<string, number> = {}
      for (let i = 0; i < 24; i++) f[`f${String(i).padStart(2, '0')}.bin`] = MiB - 1000 * tag - i
      return f
    }
    writeTree(scanA, files(1))
    writeTree(scanB, files(2))
    rootA = await addScan(source, scanA, pool)
    rootB = await addScan(source, scanB, pool)
  })
  afterAll(async () => {
    await pool.close()
    await source.close()
    cleanup(tmp)
  })

  /**
   * Two pulls at once from a slow peer, each with a window of 32 leaves; counted independently of the
   * budget: bytes of leaves asked of the peer minus bytes of files placed (each file is one leaf), at every
   * request. Returns the most seen in flight.
   */
  async function twoPulls (inflight: InflightBudget | undefined): Promise<number> {
    let asked = 0
    let placed = 0
    let most = 0
    const spec = (id: string): { label: string, connect: () => Promise<ReturnType<typeof localPeer>> } => {
      const peer = localPeer(source, { id, delayMs: 5 })
      const get = peer.get.bind(peer)
      return {
        label: id,
        connect: async () => ({
          ...peer,
          get: async (cid: CID, o?: { signal?: AbortSignal }) => {
            if (cid.code === RAW) {
              const size = source.catalog.findLeaf(cid)[0]?.length ?? 0
              asked += size
              most = Math.max(most, asked - placed)
            }
            return await get(cid, o)
          }
        })
      }
    }
    const onProgress = (e: PullProgressEvent): void => { if (e.type === 'pull:file') placed += e.size }
    const run = async (root: CID, name: string, id: string): Promise<void> => {
      const home = await newHome()
      const dest = join(tmp, `${name}-${n}`)
      const r = await pull({ root, dest, peers: [spec(id)], home: { catalog: home.catalog, blocks: home.blocks }, window: 32, connections: 1, onProgress, ...(inflight !== undefined ? { inflight } : {}) })
      expect(r.complete).toBe(true)
      expect(hashTree(dest)).toEqual(hashTree(name === 'a' ? scanA : scanB))
      await home.close()
    }
    await Promise.all([run(rootA, 'a', 'A1'), run(rootB, 'b', 'A2')])
    return most
  }

  it('keeps the bytes asked for and not yet written under the budget, and both pulls complete', async () => {
    const budget = new InflightBudget(3 * MiB)
    const most = await twoPulls(budget)
    expect(most).toBeGreaterThan(0)
    expect(most).toBeLessThanOrEqual(3 * MiB)
    expect(budget.maxInflight).toBeLessThanOrEqual(3 * MiB)
    expect(budget.inflight).toBe(0)
    expect(budget.waiting).toBe(0)
  })

  it('without a budget the same two pulls have far more in flight (what the test above guards)', async () => {
    const most = await twoPulls(undefined)
    expect(most).toBeGreaterThan(8 * MiB)
  })
})
