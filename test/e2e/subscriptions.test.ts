/**
 * Subscriptions (issue 11, item 5), with real daemons in their own processes: `ferry subscribe` replicates
 * the scans of a collection already at the source and each one `ferry add` makes later (the time from the
 * add's exit to the task's start is measured), catches up on a scan added while its daemon was down, keeps
 * two scans of one name apart, says why a collection the source does not grant us shows nothing (and does
 * not loop), and `ferry unsubscribe` stops new tasks.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openCatalog, type TaskRecord } from '@ferry/store'
import { ferry, initTestHome, json } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { MiB, bytes, cleanup, hashTree, tempDir, writeTree } from '../support/tree.js'

const daemons = new DaemonSet()

/** Every task in a home's catalog (the daemon, another process, writes them). */
function tasksOf (homeDir: string): TaskRecord[] {
  const c = openCatalog(join(homeDir, 'catalog.db'))
  try {
    return c.tasks.list()
  } finally {
    c.close()
  }
}

async function until<T> (fn: () => T | undefined | Promise<T | undefined>, what: string, ms = 60_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

describe('subscriptions', () => {
  let tmp: string
  let A: { dir: string, id: string }
  let B: { dir: string, id: string }
  let C: { dir: string, id: string }
  let source: Daemon
  let subscriber: Daemon
  let dest: string
  let subId: string
  const scans = new Map<string, string>() // scan name -> its directory at the source

  /** Writes a small scan (content seeded by `seed`) and adds it at the source; returns when `ferry add` exited. */
  const addScan = async (name: string, collection = 'visit', seed = name): Promise<{ root: string, at: number }> => {
    const dir = join(tmp, 'acq', seed)
    writeTree(dir, { 'raw/proj_0000.tif': bytes(MiB + 7, `${seed}/0`), 'raw/proj_0001.tif': bytes(300_000, `${seed}/1`), 'meta.json': `{"scan":"${name}"}` })
    scans.set(seed, dir)
    const r = json(await ferry(['add', dir, '--collection', collection, '--name', name, '--json', '--home', A.dir]))
    return { root: r.root as string, at: Date.now() }
  }
  const subscriptionsOf = async (): Promise<any[]> => json(await ferry(['subscriptions', '--json', '--home', B.dir])).subscriptions
  const taskFor = (destination: string): TaskRecord | undefined => tasksOf(B.dir).find((t) => t.destination === destination)
  const succeeded = async (destination: string): Promise<TaskRecord> => await until(() => {
    const t = taskFor(destination)
    if (t?.condition === 'FAILED' || t?.condition === 'CANCELLED') throw new Error(`task into ${destination} ${t.condition}: ${t.reason?.message ?? ''}`)
    return t?.condition === 'SUCCEEDED' ? t : undefined
  }, `the task into ${destination} to succeed`)

  beforeAll(async () => {
    tmp = tempDir('ferry-e2e-subs-')
    A = await initTestHome(tmp, 'source')
    B = await initTestHome(tmp, 'subscriber')
    C = await initTestHome(tmp, 'other')
    await ferry(['trust', B.id, '--home', A.dir])
    await addScan('scan_0001')
    await addScan('scan_0002')
    await addScan('secret_scan', 'secret')
    await ferry(['grant', 'secret', C.id, '--home', A.dir]) // only C may read it
    source = await daemons.start(A.dir)
    expect((await ferry(['peer', 'add', 'src', source.addr, '--home', B.dir])).code).toBe(0)
    subscriber = await daemons.start(B.dir)
    dest = join(tmp, 'visit')
  })
  afterAll(async () => {
    await daemons.stopAll()
    cleanup(tmp)
  })

  it('replicates the scans already there and each one added later, within seconds of its `ferry add`', async () => {
    const hooked = join(tmp, 'hooked.txt')
    const r = await ferry(['subscribe', 'visit', dest, '--from', 'src', '--on-done', `echo "$FERRY_CONDITION $FERRY_DEST" >> ${hooked}`, '--json', '--home', B.dir])
    expect(r.code, r.stderr).toBe(0)
    const out = json(r)
    expect(out).toMatchObject({ created: true, subscription: { collection: 'visit', destination: dest, from: ['src'], onDone: expect.stringContaining('FERRY_DEST') } })
    subId = out.subscription.id
    for (const name of ['scan_0001', 'scan_0002']) {
      await succeeded(join(dest, name))
      expect(hashTree(join(dest, name))).toEqual(hashTree(scans.get(name)!))
    }
    const latencies: number[] = []
    for (let i = 3; i <= 7; i++) {
      const name = `scan_000${i}`
      const { at } = await addScan(name)
      const started = await until(() => {
        const t = taskFor(join(dest, name))
        return t?.started != null ? Date.parse(t.started) : undefined
      }, `the task of ${name} to start`, 30_000, 10)
      latencies.push(started - at)
      await succeeded(join(dest, name))
      expect(hashTree(join(dest, name))).toEqual(hashTree(scans.get(name)!))
    }
    const lines = await until(() => {
      const text = existsSync(hooked) ? readFileSync(hooked, 'utf8') : ''
      return text.split('\n').filter(Boolean).length >= 7 ? text : undefined
    }, 'the --on-done hook of every task', 10_000)
    for (let i = 1; i <= 7; i++) expect(lines).toContain(`SUCCEEDED ${join(dest, `scan_000${i}`)}\n`)
    console.log(`subscription: ferry add exit -> task started: ${latencies.join(', ')} ms, median ${median(latencies)} ms`)
    expect(median(latencies)).toBeLessThan(2000)
    const [sub] = await subscriptionsOf()
    expect(sub).toMatchObject({ id: subId, state: 'OK', counts: { scans: 7, succeeded: 7 }, sources: [{ name: 'src', state: 'watching' }] })
    const text = (await ferry(['subscriptions', '--home', B.dir])).stdout
    expect(text).toContain(`${subId}  OK  visit -> ${dest}`)
    expect(text).toMatch(/src {2}watching/)
  })

  it('keeps two scans of one name apart: the second goes into <name>~<short root>', async () => {
    const { root } = await addScan('scan_0001', 'visit', 'scan_0001-again')
    const other = join(dest, `scan_0001~${root.slice(-8)}`)
    await succeeded(other)
    expect(hashTree(other)).toEqual(hashTree(scans.get('scan_0001-again')!))
    expect(hashTree(join(dest, 'scan_0001'))).toEqual(hashTree(scans.get('scan_0001')!)) // the first one untouched
  })

  it('picks up a scan added while the subscriber\'s daemon was down, and queues nothing twice', async () => {
    await subscriber.stop()
    await addScan('scan_0010')
    const before = tasksOf(B.dir).length
    subscriber = await daemons.start(B.dir)
    expect(subscriber.output()).toContain('Subscriptions: 1, watching their sources.')
    await succeeded(join(dest, 'scan_0010'))
    expect(hashTree(join(dest, 'scan_0010'))).toEqual(hashTree(scans.get('scan_0010')!))
    const after = tasksOf(B.dir)
    expect(after.length).toBe(before + 1)
    expect(new Set(after.map((t) => t.destination)).size).toBe(after.length)
  })

  it('a collection the source does not grant us: nothing replicated, WAITING with the reason, no loop', async () => {
    const secret = join(tmp, 'secret')
    const r = json(await ferry(['subscribe', 'secret', secret, '--from', 'src', '--json', '--home', B.dir]))
    const id = r.subscription.id
    const sub = await until(async () => (await subscriptionsOf()).find((s) => s.id === id && s.sources[0]?.lastListed !== null), 'the secret subscription to list its source')
    expect(sub).toMatchObject({ state: 'WAITING', counts: { scans: 0 }, sources: [{ state: 'watching', listed: 0, error: null }] })
    expect(sub.reason).toContain('does not grant it to this node')
    expect(sub.reason).toContain(`ferry grant secret ${B.id}`)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(tasksOf(B.dir).filter((t) => t.collection === 'secret')).toEqual([])
    const again = (await subscriptionsOf()).find((s) => s.id === id)
    expect(again.sources[0].since).toBe(sub.sources[0].since) // one session, still watching: no reconnect loop
    expect(subscriber.child.exitCode).toBeNull()
    expect((await ferry(['unsubscribe', id, '--home', B.dir])).code).toBe(0)
  })

  it('a source that does not trust us: STUCK with its refusal, retried with backoff, no crash', async () => {
    const untrusting = await daemons.start(C.dir)
    const r = json(await ferry(['subscribe', 'visit', join(tmp, 'from-c'), '--from', untrusting.addr, '--json', '--home', B.dir]))
    const id = r.subscription.id
    const sub = await until(async () => (await subscriptionsOf()).find((s) => s.id === id && s.sources[0]?.state === 'retrying'), 'the refusal')
    expect(sub).toMatchObject({ state: 'STUCK', counts: { scans: 0 }, sources: [{ peer: C.id, error: { code: 'ERR_PEER_REFUSED' } }] })
    expect(sub.reason).toContain('no source can be asked')
    expect(sub.sources[0].error.message).toContain(`ferry trust ${B.id}`)
    expect(Date.parse(sub.sources[0].retryAt)).toBeGreaterThan(Date.now() - 1000)
    expect(subscriber.child.exitCode).toBeNull()
    expect((await ferry(['unsubscribe', id, '--home', B.dir])).code).toBe(0)
    await untrusting.stop()
  })

  it('`ferry unsubscribe` stops new tasks; what was queued stays', async () => {
    const before = tasksOf(B.dir).length
    const r = await ferry(['unsubscribe', subId, '--json', '--home', B.dir])
    expect(r.code, r.stderr).toBe(0)
    expect(json(r)).toMatchObject({ removed: { id: subId }, cancelled: [] })
    await addScan('scan_0011')
    await new Promise((resolve) => setTimeout(resolve, 2500)) // announcements arrive within ~0.2 s
    expect(tasksOf(B.dir).length).toBe(before)
    expect(await subscriptionsOf()).toEqual([])
    const gone = await ferry(['unsubscribe', subId, '--home', B.dir])
    expect(gone.code).toBe(7)
    expect(gone.stderr).toContain(`No subscription ${subId}`)
  })
})
