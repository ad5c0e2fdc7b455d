import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { isFerryError } from '@ferry/errors'
import { WorkerPool } from '@ferry/workers'

const WORKER = new URL('./fixtures/test-worker.js', import.meta.url)
const pools: Array<WorkerPool<any, any>> = []
function pool (workers: number, options: { maxQueuedPerWorker?: number, onWorkerError?: (e: Error) => Error } = {}): WorkerPool<any, any> {
  const p = new WorkerPool<any, any>(WORKER, { workers, name: 'test pool', ...options })
  pools.push(p)
  return p
}
afterEach(async () => { await Promise.all(pools.splice(0).map(async (p) => { await p.close() })) })

describe('WorkerPool', () => {
  it('moves buffers to the worker and back without copying them', async () => {
    const p = pool(1)
    const bytes = new Uint8Array(1 << 20).fill(3)
    const reply = await p.run({ op: 'sum', buffer: bytes.buffer }, [bytes.buffer])
    expect(reply.sum).toBe(3 * (1 << 20))
    expect(bytes.byteLength).toBe(0) // detached: the memory moved to the worker
    expect(new Uint8Array(reply.buffer).every((b: number) => b === 3)).toBe(true)
    expect(reply.buffer.byteLength).toBe(1 << 20)
  })

  it('spreads concurrent requests over its workers', async () => {
    const p = pool(2)
    expect(p.size).toBe(2)
    const replies = await Promise.all([1, 2, 3, 4].map(async () => await p.run({ op: 'sleep', ms: 50 })))
    expect(new Set(replies.map((r) => r.threadId)).size).toBe(2)
  })

  it('holds callers back once a worker has maxQueuedPerWorker requests', async () => {
    const p = pool(1, { maxQueuedPerWorker: 1 })
    const started: number[] = []
    const runs = [0, 1, 2].map(async (i) => {
      const r = await p.run({ op: 'sleep', ms: 40 })
      started.push(i)
      return r.at as number
    })
    const ends = await Promise.all(runs)
    // One at a time: each request finished at least one sleep after the one before.
    const sorted = [...ends].sort((a, b) => a - b)
    expect(sorted[1]! - sorted[0]!).toBeGreaterThanOrEqual(35)
    expect(sorted[2]! - sorted[1]!).toBeGreaterThanOrEqual(35)
    expect(started).toEqual([0, 1, 2])
  })

  it('rejects a waiting request whose signal aborts, with ERR_ABORTED', async () => {
    const p = pool(1, { maxQueuedPerWorker: 1 })
    const first = p.run({ op: 'sleep', ms: 100 })
    const ac = new AbortController()
    const second = p.run({ op: 'sleep', ms: 1 }, [], ac.signal)
    ac.abort()
    await expect(first).resolves.toMatchObject({})
    const err = await second.catch((e: unknown) => e)
    expect(isFerryError(err, 'ERR_ABORTED')).toBe(true)
  })

  it('fails every pending request when a worker crashes, through onWorkerError', async () => {
    const p = pool(1, { onWorkerError: (e) => new Error(`wrapped: ${e.message}`) })
    const slow = p.run({ op: 'sleep', ms: 30 })
    const crash = p.run({ op: 'crash' })
    await expect(slow).resolves.toMatchObject({})
    await expect(crash).rejects.toThrow('wrapped: worker crashed on purpose')
  })

  it('rejects pending and later requests once closed', async () => {
    const p = pool(1)
    const pending = p.run({ op: 'sleep', ms: 200 }).catch((e: unknown) => e)
    await p.close()
    const err = await pending
    expect(isFerryError(err, 'ERR_ABORTED')).toBe(true)
    expect((err as Error).message).toContain('test pool closed')
    const later = await p.run({ op: 'sleep', ms: 1 }).catch((e: unknown) => e)
    expect(isFerryError(later, 'ERR_ABORTED')).toBe(true)
  })

  it('never holds the process open while idle', async () => {
    const script = fileURLToPath(new URL('./fixtures/idle-pool.js', import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 20_000 })
    expect(JSON.parse(stdout)).toHaveProperty('threadId')
  })
})
