/**
 * Durable tasks in the real `ferry daemon` (issue 11, items 2 and 6): a task queued in the puller's catalog
 * is run by its daemon, survives `kill -9` of that daemon and resumes without refetching what it had, and
 * its collection's hook from config.json runs with the task in its environment.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openCatalog, type TaskRecord } from '@ferry/store'
import { queueTask } from '@ferry/tasks'
import { ferry, initTestHome, json } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { MiB, bytesUnder, cleanup, hashTree, tempDir, writeTree } from '../support/tree.js'

const daemons = new DaemonSet()

/** Reads a task from a home's catalog (another process, the daemon, writes it). */
function readTask (homeDir: string, taskId: string): TaskRecord | undefined {
  const c = openCatalog(join(homeDir, 'catalog.db'))
  try {
    return c.tasks.get(taskId)
  } finally {
    c.close()
  }
}

async function until<T> (fn: () => T | undefined, what: string, ms = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

describe('tasks in the daemon', () => {
  let tmp: string
  let scan: string
  let root: string
  let source: Daemon
  let puller: { dir: string, id: string }
  let A: { dir: string, id: string }
  const total = 60 * MiB + 40 * (MiB + 4096)

  beforeAll(async () => {
    tmp = tempDir('ferry-e2e-tasks-')
    scan = join(tmp, '20261201_i13_0007')
    const spec: Record<string, number> = { 'recon/vol.h5': 60 * MiB }
    for (let i = 0; i < 40; i++) spec[`raw/proj_${String(i).padStart(4, '0')}.tif`] = MiB + 4096
    writeTree(scan, spec)
    A = await initTestHome(tmp, 'source')
    puller = await initTestHome(tmp, 'puller')
    root = json(await ferry(['add', scan, '--collection', 'i13_visit', '--json', '--home', A.dir])).root
    await ferry(['trust', puller.id, '--home', A.dir])
    source = await daemons.start(A.dir)
  })
  afterAll(async () => {
    await daemons.stopAll()
    cleanup(tmp)
  })

  it('kill -9 of the daemon mid-task, restarted: the task resumes, succeeds, and fetches nothing twice; the hook runs', async () => {
    const envFile = join(tmp, 'hook.env')
    const cfgFile = join(puller.dir, 'config.json')
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'))
    writeFileSync(cfgFile, JSON.stringify({ ...cfg, hooks: { i13_visit: `env | grep ^FERRY_ | sort > ${envFile}` } }))
    const dest = join(tmp, 'replica')
    const c = openCatalog(join(puller.dir, 'catalog.db'))
    const { task } = queueTask(c.tasks, { root, destination: dest, sources: [source.addr], collection: 'i13_visit', label: 'visit 7' })
    c.close()

    let d = await daemons.start(puller.dir)
    // the daemon picks the queued task up and runs it; killed once 40% is through
    await until(() => (bytesUnder(dest, { allocated: true }) >= total * 0.4 ? true : undefined), '40% on disk', 60_000, 10)
    await d.kill()
    const before = bytesUnder(dest, { allocated: true })
    const cut = readTask(puller.dir, task.taskId)
    expect(cut).toMatchObject({ condition: 'ACTIVE', attempts: 1 })
    expect(before).toBeLessThan(total)

    d = await daemons.start(puller.dir)
    const done = await until(() => {
      const t = readTask(puller.dir, task.taskId)
      return t?.condition === 'ACTIVE' || t?.condition === 'QUEUED' ? undefined : t
    }, 'the task to end')
    expect(done).toMatchObject({ condition: 'SUCCEEDED', label: 'visit 7', files: 41, succeeded: 41, failed: 0, pending: 0, bytesTotal: total, attempts: 2 })
    expect(hashTree(dest)).toEqual(hashTree(scan))
    // the resumed run fetched only what was not on disk: the rest was in place or staged and re-verified
    const run = done.lastRun
    expect(run).not.toBeNull()
    expect((run?.bytesFetched ?? 0) + (run?.bytesPresent ?? 0) + (run?.bytesResumed ?? 0) + (run?.bytesLocal ?? 0)).toBe(total)
    expect((run?.bytesPresent ?? 0) + (run?.bytesResumed ?? 0)).toBeGreaterThan(0)
    // what it found is (nearly) all that was on disk at the kill: lost are at most the leaves cut mid-write
    expect(run?.bytesFetched).toBeLessThanOrEqual(total - before + 0.02 * total + 4 * MiB)
    // the run's seconds per phase: every phase, in order, together within the run's own time
    expect(Object.keys(run?.phases ?? {})).toEqual(['record', 'dag', 'reconcile', 'space', 'fetch', 'place', 'finish'])
    const phaseSum = Object.values(run?.phases ?? {}).reduce((a, b) => a + b, 0)
    expect(phaseSum).toBeGreaterThan(0)
    expect(phaseSum).toBeLessThanOrEqual((run?.seconds ?? 0) + 0.01)
    const c2 = openCatalog(join(puller.dir, 'catalog.db'))
    const kinds = c2.tasks.events(task.taskId).map((e) => e.kind)
    c2.close()
    expect(kinds).toEqual(expect.arrayContaining(['created', 'attempt', 'resumed', 'ended']))
    // the daemon says so just after the catalog records it: wait for the line, do not race it
    expect(await until(() => d.output().includes(`Task ${task.taskId} SUCCEEDED`) ? true : undefined, 'the daemon to log the end', 10_000)).toBe(true)

    // the collection's hook from config.json, with the task in its environment
    const env = await until(() => {
      try {
        const text = readFileSync(envFile, 'utf8')
        return text.includes('FERRY_TASK_ID') ? text : undefined
      } catch {
        return undefined
      }
    }, 'the hook', 10_000)
    expect(env).toContain(`FERRY_TASK_ID=${task.taskId}\n`)
    expect(env).toContain('FERRY_CONDITION=SUCCEEDED\n')
    expect(env).toContain(`FERRY_ROOT=${root}\n`)
    expect(env).toContain(`FERRY_DEST=${dest}\n`)
    expect(env).toContain('FERRY_COLLECTION=i13_visit\n')
    expect(env).toContain('FERRY_FILES=41\n')
    expect(env).toContain(`FERRY_BYTES=${total}\n`)
    expect(env).toContain('FERRY_FAILED=0\n')
    await d.stop()
    writeFileSync(cfgFile, JSON.stringify(cfg))
  })

  it('a daemon stopped with SIGTERM mid-task leaves it ACTIVE; the next start resumes it', async () => {
    const other = join(tmp, '20261201_i13_0008')
    writeTree(other, { 'recon/vol.h5': 80 * MiB })
    const otherRoot = json(await ferry(['add', other, '--json', '--home', A.dir])).root
    const dest = join(tmp, 'replica-2')
    let d = await daemons.start(puller.dir)
    const c = openCatalog(join(puller.dir, 'catalog.db'))
    const { task } = queueTask(c.tasks, { root: otherRoot, destination: dest, sources: [source.addr] })
    c.close()
    await until(() => (bytesUnder(dest, { allocated: true }) >= 20 * MiB ? true : undefined), '20 MiB on disk', 60_000, 10)
    await d.stop()
    expect(d.child.exitCode).toBe(0)
    expect(readTask(puller.dir, task.taskId)).toMatchObject({ condition: 'ACTIVE', completed: null })
    d = await daemons.start(puller.dir)
    await until(() => (d.output().includes('Tasks: 1 queued or active, resuming.') ? true : undefined), 'the daemon to say it resumes', 10_000)
    const done = await until(() => {
      const t = readTask(puller.dir, task.taskId)
      return t?.condition === 'ACTIVE' || t?.condition === 'QUEUED' ? undefined : t
    }, 'the task to end')
    expect(done, JSON.stringify({ reason: done.reason, lastRun: done.lastRun })).toMatchObject({ condition: 'SUCCEEDED', attempts: 2 })
    expect((done.lastRun?.bytesPresent ?? 0) + (done.lastRun?.bytesResumed ?? 0)).toBeGreaterThan(0)
    expect(hashTree(dest)).toEqual(hashTree(other))
    const c2 = openCatalog(join(puller.dir, 'catalog.db'))
    expect(c2.tasks.events(task.taskId).map((e) => e.kind)).toEqual(expect.arrayContaining(['interrupted', 'resumed']))
    c2.close()
    await d.stop()
  })
})
